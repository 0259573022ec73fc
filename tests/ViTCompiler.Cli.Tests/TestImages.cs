using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace ViTCompiler.Cli.Tests;

/// <summary>Small images drawn by the tests: PNG and JPEG with different content, and a damaged file.</summary>
public static class TestImages
{
    /// <summary>A grey 28 × 28 PNG: a bright vertical bar (a trouser, if you squint) on black.</summary>
    public static string Png(string path)
    {
        using var image = new Image<L8>(28, 28);
        for (int y = 2; y < 26; y++)
            for (int x = 10; x < 18; x++)
                image[x, y] = new L8((byte)(160 + 3 * y));
        image.Save(path, new PngEncoder());
        return path;
    }

    /// <summary>A 40 × 30 colour JPEG with a diagonal gradient and a disc.</summary>
    public static string Jpeg(string path)
    {
        using var image = new Image<Rgb24>(40, 30);
        for (int y = 0; y < 30; y++)
            for (int x = 0; x < 40; x++)
            {
                bool disc = (x - 25) * (x - 25) + (y - 12) * (y - 12) < 60;
                image[x, y] = disc ? new Rgb24(250, 240, 30) : new Rgb24((byte)(x * 6), (byte)(y * 8), 90);
            }
        image.Save(path, new JpegEncoder { Quality = 90 });
        return path;
    }

    /// <summary>A PNG signature followed by garbage: identifies as PNG, fails to decode.</summary>
    public static string Corrupt(string path)
    {
        byte[] bytes = new byte[200];
        new Random(5).NextBytes(bytes);
        byte[] signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        signature.CopyTo(bytes, 0);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
