using System.Buffers.Binary;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;

namespace ViTCompiler.Tests.Imaging;

/// <summary>Small images written with ImageSharp, and hand-crafted hostile ones.</summary>
internal static class TestImages
{
    public static readonly Rgb24 Red = new(255, 0, 0), Green = new(0, 255, 0), Blue = new(0, 0, 255), White = new(255, 255, 255);

    /// <summary>An image whose pixel (x, y) is <paramref name="colour"/>(x, y).</summary>
    public static Image<Rgb24> Make(int width, int height, Func<int, int, Rgb24> colour)
    {
        var image = new Image<Rgb24>(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) image[x, y] = colour(x, y);
        return image;
    }

    /// <summary>A 4 × 2 image: top row red, green, blue, white; bottom row (200, 100, 50) ×4.</summary>
    public static Image<Rgb24> Quad() => Make(4, 2, (x, y) => y == 1 ? new Rgb24(200, 100, 50) : x switch { 0 => Red, 1 => Green, 2 => Blue, _ => White });

    public static IImageEncoder Encoder(string extension) => extension switch
    {
        ".png" => new PngEncoder(),
        ".jpg" => new JpegEncoder { Quality = 100 },
        ".bmp" => new BmpEncoder { BitsPerPixel = BmpBitsPerPixel.Pixel24 },
        ".gif" => new GifEncoder(),
        ".webp" => new WebpEncoder { FileFormat = WebpFileFormatType.Lossless },
        _ => throw new ArgumentException(extension),
    };

    public static string Save(Image image, string path)
    {
        image.Save(path, Encoder(Path.GetExtension(path)));
        return path;
    }

    public static byte[] Encode(Image image, string extension, IImageEncoder? encoder = null)
    {
        using var stream = new MemoryStream();
        image.Save(stream, encoder ?? Encoder(extension));
        return stream.ToArray();
    }

    /// <summary>
    /// A valid PNG (by default 2 × 2) whose IHDR claims <paramref name="width"/> × <paramref name="height"/>, with a
    /// correct CRC so the header reads as genuine, but only the pixel data of the original.
    /// </summary>
    public static byte[] PngClaiming(int width, int height, byte[]? original = null)
    {
        using var small = Make(2, 2, (_, _) => Red);
        byte[] png = original is null ? Encode(small, ".png") : (byte[])original.Clone();
        // Signature (8) | length (4) "IHDR" (4) | width (4) height (4) … | CRC (4) over type + data (17 bytes).
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), height);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), Crc32(png.AsSpan(12, 17)));
        return png;
    }

    /// <summary>The CRC-32 of PNG chunks (polynomial 0xEDB88320, reflected).</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>A noisy image, so its compressed data is long enough to cut in the middle.</summary>
    public static Image<Rgb24> Noise(int width, int height, ulong seed)
    {
        var random = new VitRandom(seed);
        return Make(width, height, (_, _) => new Rgb24((byte)random.NextInt(256), (byte)random.NextInt(256), (byte)random.NextInt(256)));
    }
}
