using SixLabors.ImageSharp.Metadata.Profiles.Exif;

namespace ViTCompiler.Cli;

/// <summary>Types NativeAOT must compile that no code of ours would otherwise make it see.</summary>
internal static class AotRoots
{
    /// <summary>
    /// ImageSharp 2.1 reads EXIF value types with <c>Enum.GetValues(typeof(ExifDataType))</c>, which under NativeAOT needs
    /// the <c>ExifDataType[]</c> type to have been compiled; nothing creates one, so every TIFF and every JPEG, PNG or
    /// WebP carrying EXIF metadata failed to decode in the published binary ("ExifDataType[] is missing native code").
    /// Creating one here makes the compiler generate it. (This is the IL3050 warning ILC reports inside ImageSharp.)
    /// </summary>
    private static readonly Array[] s_arrays = [new ExifDataType[1]];

    /// <summary>Called once at start-up so that the arrays above are reachable.</summary>
    public static void Keep() => GC.KeepAlive(s_arrays);
}
