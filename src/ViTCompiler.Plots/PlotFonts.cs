using System.Runtime.InteropServices;

namespace ViTCompiler.Plots;

/// <summary>
/// The typeface of every label. ScottPlot asks SkiaSharp for a system sans-serif font, but the SkiaSharp build it
/// brings has no fontconfig and picks whatever font it meets first (often a serif); DejaVu Sans, from Debian's
/// <c>fonts-dejavu-core</c>, is asked for by name instead when it is installed.
/// </summary>
internal static class PlotFonts
{
    public const string Preferred = "DejaVu Sans";

    private static readonly Lazy<string?> s_problem = new(Initialize);

    /// <summary>
    /// Chooses the font once. Throws <see cref="DllNotFoundException"/>, with a message that says what to do, when
    /// SkiaSharp's native library cannot be loaded.
    /// </summary>
    public static void Check()
    {
        if (s_problem.Value is string problem) throw new DllNotFoundException(problem);
    }

    private static string? Initialize()
    {
        try
        {
            if (ScottPlot.Fonts.GetTypeface(Preferred, bold: false, italic: false)?.FamilyName == Preferred) ScottPlot.Fonts.Default = Preferred;
            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or MarshalDirectiveException)
        {
            // The loader's message lists every path it tried, one per line; the first line says what failed.
            string reason = e.GetBaseException().Message.Split('\n')[0].TrimEnd(' ', ':', '.');
            return "Drawing needs SkiaSharp's native libraries (libSkiaSharp and libHarfBuzzSharp), which build and publish put beside " +
                   $"the program, and they could not be loaded ({reason}). Copy both from the build or publish folder next to the executable.";
        }
    }
}
