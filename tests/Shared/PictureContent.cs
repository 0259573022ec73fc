using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace ViTCompiler.Testing;

/// <summary>What a drawn figure holds, for tests that a picture shows something: a blank or flat image has few colours and no dark pixels (text, axes).</summary>
public static class PictureContent
{
    /// <summary>Distinct colours, and pixels darker than R + G + B = 200.</summary>
    public static (int Colours, int Dark) Count(Image<Rgba32> image)
    {
        var colours = new HashSet<Rgba32>();
        int dark = 0;
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
                foreach (Rgba32 p in rows.GetRowSpan(y))
                {
                    colours.Add(p);
                    if (p.R + p.G + p.B < 200) dark++;
                }
        });
        return (colours.Count, dark);
    }
}
