using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using ViTCompiler.Data;
using ViTCompiler.Imaging;
using ViTCompiler.Tests.Data;
using ViTCompiler.Tests.Imaging;
using Xunit;

namespace ViTCompiler.Tests.Reliability;

/// <summary>
/// Issue 10, case 2: a PNG cut anywhere from 30 % to 99 % of its length was decoded with the missing rows black and
/// classified, exit 0, as something else. ImageSharp writes the pixels in many IDAT chunks and stops quietly at the end
/// of the file; only a cut inside the first chunk was noticed.
/// </summary>
public class TruncatedPngTests
{
    private static readonly ImagePreprocessing s_options = new() { Size = 8, Normalization = ChannelNormalization.Google };

    /// <summary>A 400 × 300 photo-like PNG: smooth gradients plus noise, so it compresses into many IDAT chunks, as the did.</summary>
    private static byte[] Photo()
    {
        var random = new VitRandom(3);
        using Image<Rgb24> image = TestImages.Make(400, 300, (x, y) => new Rgb24((byte)(x / 2 + random.NextInt(24)), (byte)(y * 3 / 4 + random.NextInt(24)), (byte)((x + y) / 3)));
        return TestImages.Encode(image, ".png");
    }

    private static ImageLoadException Refused(string path)
    {
        var loader = new ImageLoader(s_options);
        var e = Assert.Throws<ImageLoadException>(() => loader.Load(path, new float[loader.ValuesPerImage]));
        Assert.Equal(path, e.Path);
        return e;
    }

    [Theory]
    [InlineData(0.30)]
    [InlineData(0.50)]
    [InlineData(0.75)]
    [InlineData(0.99)]
    public void A_png_cut_anywhere_is_refused_as_truncated(double kept)
    {
        using var temp = new TempFolder();
        byte[] png = Photo();
        string path = temp.File("cut.png");
        File.WriteAllBytes(path, png[..(int)(png.Length * kept)]);
        Assert.Contains("PNG data is truncated", Refused(path).Problem);
    }

    [Fact]
    public void A_png_cut_exactly_between_chunks_is_refused_for_its_missing_end_chunk()
    {
        using var temp = new TempFolder();
        byte[] png = Photo();
        string path = temp.File("no-iend.png");
        File.WriteAllBytes(path, png[..^12]); // the 12-byte IEND chunk
        Assert.Contains("without the end chunk (IEND)", Refused(path).Problem);
    }

    [Fact]
    public void A_flipped_bit_in_an_ancillary_chunk_fails_its_checksum()
    {
        using var temp = new TempFolder();
        byte[] png = HostileFiles.WithChunks(Photo(), HostileFiles.Chunk("tEXt", "Title\0a photo"u8));
        png[33 + 8 + 2] ^= 0x20; // inside the text
        string path = temp.File("flipped.png");
        File.WriteAllBytes(path, png);
        Assert.Contains("chunk 'tEXt' at byte 33 fails its checksum (CRC)", Refused(path).Problem);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_png_whose_header_asks_for_more_image_data_than_it_holds_is_refused(bool interlaced)
    {
        // Found by the hostile corpus: whole chunks, right checksums, but IHDR says 2060 wide where the data is for 12.
        // ImageSharp 2.1 filled the missing rows black, and on an interlaced file looped forever (206 bytes hung vit).
        using var temp = new TempFolder();
        using Image<Rgb24> small = TestImages.Make(12, 10, (x, y) => new Rgb24((byte)(x * 20), (byte)(y * 25), 90));
        byte[] png = TestImages.Encode(small, ".png", interlaced ? new PngEncoder { InterlaceMethod = PngInterlaceMode.Adam7 } : null);
        string path = temp.File("short.png");
        File.WriteAllBytes(path, TestImages.PngClaiming(2060, 10, png));

        ImageLoadException? e = null;
        Exception? other = SpecialFiles.Within(20, () => e = Refused(path));
        Assert.Null(other);
        Assert.Contains("PNG image data is truncated", e!.Problem);
    }

    [Fact]
    public void A_whole_png_still_loads_with_text_and_trailing_bytes()
    {
        using var temp = new TempFolder();
        byte[] png = [.. HostileFiles.WithChunks(Photo(), HostileFiles.Chunk("tEXt", "Title\0a photo"u8)), .. "trailing junk"u8];
        string path = temp.File("ok.png");
        File.WriteAllBytes(path, png);
        var loader = new ImageLoader(s_options);
        loader.Load(path, new float[loader.ValuesPerImage]);
    }
}
