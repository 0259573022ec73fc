namespace ViTCompiler.Imaging;

/// <summary>Placeholder so the project builds before its first real type lands; remove when one exists.</summary>
internal static class ImagingInfo
{
}
