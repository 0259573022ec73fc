using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using ViTCompiler.Data;
using ViTCompiler.Imaging;
using ViTCompiler.Tests.Data;
using Xunit;

namespace ViTCompiler.Tests.Imaging;

public class ImageLoaderTests
{
    /// <summary>Exact bytes, no resizing: the 4 × 2 quad as a 4 × 4 "direct" resize would change it, so use its own size.</summary>
    private static ImagePreprocessing Unscaled(int size, ColorMode color = ColorMode.Rgb) => new()
    {
        Size = size, Color = color, Resampling = Resampling.Nearest, Normalization = ChannelNormalization.None,
    };

    private static byte[] LoadBytes(ImageLoader loader, string path)
    {
        byte[] bytes = new byte[loader.ValuesPerImage];
        loader.LoadBytes(path, bytes);
        return bytes;
    }

    /// <summary>A 2 × 2 image: red, green / blue, (200, 100, 50).</summary>
    private static Image<Rgb24> Square() => TestImages.Make(2, 2, (x, y) => (x, y) switch
    {
        (0, 0) => TestImages.Red,
        (1, 0) => TestImages.Green,
        (0, 1) => TestImages.Blue,
        _ => new Rgb24(200, 100, 50),
    });

    [Theory]
    [InlineData(".png")]
    [InlineData(".bmp")]
    [InlineData(".gif")]
    [InlineData(".webp")]
    public void Lossless_formats_load_as_planar_RGB_with_exact_values(string extension)
    {
        using var temp = new TempFolder();
        using var image = Square();
        string path = TestImages.Save(image, temp.File("square" + extension));

        byte[] chw = LoadBytes(new ImageLoader(Unscaled(2)), path);
        // Planes R, G, B; each row-major over (0,0) (1,0) (0,1) (1,1).
        byte[] expected = [255, 0, 0, 200, /* G */ 0, 255, 0, 100, /* B */ 0, 0, 255, 50];
        if (extension == ".gif")
        {
            // GIF stores a palette; allow the quantiser a little room on the one non-primary colour.
            Assert.Equal(expected.Length, chw.Length);
            for (int i = 0; i < chw.Length; i++) Assert.InRange(chw[i], expected[i] - 8, expected[i] + 8);
        }
        else
        {
            Assert.Equal(expected, chw);
        }
    }

    [Fact]
    public void Jpeg_loads_with_colours_close_to_the_original()
    {
        using var temp = new TempFolder();
        // Large flat areas, so compression artefacts stay small away from the edges.
        using var image = TestImages.Make(32, 32, (x, _) => x < 16 ? TestImages.Red : TestImages.Blue);
        string path = TestImages.Save(image, temp.File("halves.jpg"));

        byte[] chw = LoadBytes(new ImageLoader(Unscaled(32)), path);
        int plane = 32 * 32;
        int at(int channel, int x, int y) => chw[channel * plane + y * 32 + x];
        Assert.InRange(at(0, 4, 16), 235, 255);  // red half: R high, B low
        Assert.InRange(at(2, 4, 16), 0, 20);
        Assert.InRange(at(0, 28, 16), 0, 20);    // blue half: R low, B high
        Assert.InRange(at(2, 28, 16), 235, 255);
    }

    [Fact]
    public void Grey_uses_PIL_luma_weights_and_keeps_grey_images_unchanged()
    {
        using var temp = new TempFolder();
        using var colour = Square();
        string path = TestImages.Save(colour, temp.File("square.png"));
        byte[] grey = LoadBytes(new ImageLoader(Unscaled(2, ColorMode.Grey)), path);
        // PIL: L = (19595 R + 38470 G + 7471 B + 32768) >> 16.
        static byte L(int r, int g, int b) => (byte)((r * 19595 + g * 38470 + b * 7471 + 32768) >> 16);
        Assert.Equal([L(255, 0, 0), L(0, 255, 0), L(0, 0, 255), L(200, 100, 50)], grey);
        Assert.Equal([76, 150, 29, 124], grey);

        using var greyImage = new Image<L8>(3, 1);
        greyImage[0, 0] = new L8(0);
        greyImage[1, 0] = new L8(77);
        greyImage[2, 0] = new L8(255);
        string greyPath = temp.File("grey.png");
        greyImage.SaveAsPng(greyPath);
        var loader = new ImageLoader(Unscaled(3, ColorMode.Grey) with { Resize = ResizeStrategy.Direct });
        byte[] bytes = LoadBytes(loader, greyPath); // 3 × 1 stretched to 3 × 3 by nearest: rows repeat
        Assert.Equal([0, 77, 255, 0, 77, 255, 0, 77, 255], bytes);
        // As RGB, a grey image has three equal planes.
        byte[] rgb = LoadBytes(new ImageLoader(Unscaled(3)), greyPath);
        Assert.Equal(rgb[..9], rgb[9..18]);
        Assert.Equal(rgb[..9], rgb[18..]);
    }

    [Fact]
    public void Normalisation_presets_give_the_expected_numbers()
    {
        using var temp = new TempFolder();
        using var image = Square();
        string path = TestImages.Save(image, temp.File("square.png"));

        float[] google = new float[12];
        new ImageLoader(Unscaled(2) with { Normalization = ChannelNormalization.Google }).Load(path, google);
        Assert.Equal(1f, google[0]);                                  // R of red
        Assert.Equal(-1f, google[1]);                                 // R of green
        Assert.Equal(200 / 255f * 2 - 1, google[3], 5);               // R of (200, 100, 50)

        float[] imageNet = new float[12];
        new ImageLoader(Unscaled(2) with { Normalization = ChannelNormalization.ImageNet }).Load(path, imageNet);
        Assert.Equal((1 - 0.485) / 0.229, imageNet[0], 5);
        Assert.Equal((100 / 255.0 - 0.456) / 0.224, imageNet[4 + 3], 5);
        Assert.Equal((50 / 255.0 - 0.406) / 0.225, imageNet[8 + 3], 5);
        Assert.Equal((0 - 0.406) / 0.225, imageNet[8 + 0], 5);

        Assert.Contains("3 (mean, std) pairs", Assert.Throws<ArgumentException>(() =>
            new ImageLoader(Unscaled(2, ColorMode.Grey) with { Normalization = ChannelNormalization.ImageNet })).Message);
    }

    [Fact]
    public void Direct_resize_stretches_to_a_square()
    {
        using var temp = new TempFolder();
        // 40 × 20: left half red, right half blue.
        using var image = TestImages.Make(40, 20, (x, _) => x < 20 ? TestImages.Red : TestImages.Blue);
        string path = TestImages.Save(image, temp.File("wide.png"));
        byte[] chw = LoadBytes(new ImageLoader(Unscaled(10)), path);
        Assert.Equal(3 * 10 * 10, chw.Length);
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 10; x++)
            {
                Assert.Equal(x < 5 ? 255 : 0, chw[y * 10 + x]);       // R plane
                Assert.Equal(x < 5 ? 0 : 255, chw[200 + y * 10 + x]); // B plane
            }
    }

    [Theory]
    [InlineData(40, 20)] // landscape: bands are columns
    [InlineData(20, 40)] // portrait: bands are rows
    public void Shorter_side_then_centre_crop_keeps_the_middle(int width, int height)
    {
        using var temp = new TempFolder();
        // Three bands along the longer side: 10 green, 20 red, 10 blue.
        bool landscape = width > height;
        using var image = TestImages.Make(width, height, (x, y) =>
        {
            int along = landscape ? x : y;
            return along < 10 ? TestImages.Green : along < 30 ? TestImages.Red : TestImages.Blue;
        });
        string path = TestImages.Save(image, temp.File("bands.png"));
        // Shorter side 20 → 10: the image becomes 20 × 10 (or 10 × 20), whose middle 10 × 10 is the red band.
        var options = Unscaled(10) with { Resize = ResizeStrategy.ShorterSideThenCenterCrop };
        byte[] chw = LoadBytes(new ImageLoader(options), path);
        Assert.All(chw[..100], v => Assert.Equal(255, v));   // R
        Assert.All(chw[100..], v => Assert.Equal(0, v));     // G, B

        // A larger shorter side than the crop: 40 × 20 → shorter side 14 → 28 × 14, crop 10 × 10 from (left 9, top 2).
        byte[] wider = LoadBytes(new ImageLoader(options with { ShorterSide = 14 }), path);
        Assert.All(wider[..100], v => Assert.Equal(255, v));
    }

    [Fact]
    public void Centre_crop_offsets_round_down_like_HuggingFace()
    {
        using var temp = new TempFolder();
        // 5 × 4 with a distinct value per column; shorter side stays 4, crop 3 × 3: left = (5 − 3) / 2 = 1, top = (4 − 3) / 2 = 0.
        using var image = TestImages.Make(5, 4, (x, y) => new Rgb24((byte)(10 * x), (byte)(10 * y), 0));
        string path = TestImages.Save(image, temp.File("odd.png"));
        var options = Unscaled(3) with { Resize = ResizeStrategy.ShorterSideThenCenterCrop, ShorterSide = 4 };
        byte[] chw = LoadBytes(new ImageLoader(options), path);
        Assert.Equal([10, 20, 30, 10, 20, 30, 10, 20, 30], chw[..9]);   // R = columns 1..3
        Assert.Equal([0, 0, 0, 10, 10, 10, 20, 20, 20], chw[9..18]);    // G = rows 0..2
    }

    [Theory]
    [InlineData(Resampling.Bilinear)]
    [InlineData(Resampling.Bicubic)]
    [InlineData(Resampling.Nearest)]
    [InlineData(Resampling.Lanczos)]
    [InlineData(Resampling.Box)]
    public void Every_resampler_resizes_a_flat_image_to_the_same_flat_image(Resampling resampling)
    {
        using var temp = new TempFolder();
        using var image = TestImages.Make(37, 23, (_, _) => new Rgb24(90, 140, 210));
        string path = TestImages.Save(image, temp.File("flat.png"));
        byte[] chw = LoadBytes(new ImageLoader(Unscaled(16) with { Resampling = resampling }), path);
        Assert.All(chw[..256], v => Assert.InRange(v, 89, 91));
        Assert.All(chw[256..512], v => Assert.InRange(v, 139, 141));
        Assert.All(chw[512..], v => Assert.InRange(v, 209, 211));
    }

    [Fact]
    public void Presets_and_HuggingFace_resample_codes()
    {
        ImagePreprocessing google = ImagePreprocessing.Google();
        Assert.Equal((224, ResizeStrategy.Direct, Resampling.Bilinear, ColorMode.Rgb), (google.Size, google.Resize, google.Resampling, google.Color));
        Assert.Same(ChannelNormalization.Google, google.Normalization);
        ImagePreprocessing timm = ImagePreprocessing.Timm();
        Assert.Equal((224, 256, ResizeStrategy.ShorterSideThenCenterCrop, Resampling.Bicubic), (timm.Size, timm.ShorterSide, timm.Resize, timm.Resampling));
        Assert.Same(ChannelNormalization.ImageNet, timm.Normalization);
        Assert.Equal(3 * 224 * 224, timm.ValuesPerImage);

        Assert.Equal(Resampling.Nearest, ImagePreprocessing.ResamplingFromPil(0));
        Assert.Equal(Resampling.Lanczos, ImagePreprocessing.ResamplingFromPil(1));
        Assert.Equal(Resampling.Bilinear, ImagePreprocessing.ResamplingFromPil(2));
        Assert.Equal(Resampling.Bicubic, ImagePreprocessing.ResamplingFromPil(3));
        Assert.Equal(Resampling.Box, ImagePreprocessing.ResamplingFromPil(4));
        Assert.Contains("Hamming", Assert.Throws<NotSupportedException>(() => ImagePreprocessing.ResamplingFromPil(5)).Message);

        Assert.Contains("ShorterSide (100) must be at least Size (224)",
            Assert.Throws<ArgumentException>(() => new ImageLoader(new ImagePreprocessing { ShorterSide = 100 })).Message);
    }

    [Fact]
    public void Images_in_memory_load_like_files()
    {
        using var image = Square();
        byte[] encoded = TestImages.Encode(image, ".png");
        float[] fromMemory = new float[12];
        var loader = new ImageLoader(Unscaled(2) with { Normalization = ChannelNormalization.Google });
        loader.Load(encoded, "upload.png", fromMemory);
        Assert.Equal(1f, fromMemory[0]);
        var e = Assert.Throws<ImageLoadException>(() => loader.Load(new byte[] { 1, 2, 3 }, "upload.png", fromMemory));
        Assert.Equal("upload.png", e.Path);
    }

    [Fact]
    public void A_batch_keeps_the_good_images_in_order_and_lists_the_bad_ones()
    {
        using var temp = new TempFolder();
        using var red = TestImages.Make(6, 6, (_, _) => TestImages.Red);
        using var blue = TestImages.Make(9, 5, (_, _) => TestImages.Blue);
        string first = TestImages.Save(red, temp.File("a.png"));
        string missing = temp.File("missing.png");
        string garbage = temp.File("garbage.png");
        File.WriteAllBytes(garbage, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        string second = TestImages.Save(blue, temp.File("b.bmp"));

        var loader = new ImageLoader(Unscaled(4) with { Normalization = ChannelNormalization.Google });
        ImageBatch batch = loader.LoadBatch([first, missing, garbage, second]);

        Assert.Equal(2, batch.Count);
        Assert.Equal([first, second], batch.Paths);
        Assert.Equal([0, 3], batch.SourceIndices);
        Assert.Equal(2 * 48, batch.Pixels.Length);
        Assert.Equal(1f, batch.Pixels[0]);       // image 0, R
        Assert.Equal(-1f, batch.Pixels[48]);     // image 1, R
        Assert.Equal(1f, batch.Pixels[48 + 32]); // image 1, B
        Assert.Equal([missing, garbage], batch.Failures.Select(f => f.Path));
        Assert.Contains("does not exist", batch.Failures[0].Error);
        Assert.Contains("not an image", batch.Failures[1].Error);
        Assert.Contains(garbage, batch.Failures[1].ToString());

        // Into a caller's buffer: no new pixel array.
        float[] buffer = new float[4 * 48];
        ImageBatch reused = loader.LoadBatch([first, missing, garbage, second], buffer);
        Assert.Same(buffer, reused.Pixels);
        Assert.Equal(batch.Pixels, buffer[..96]);
        Assert.Throws<ArgumentException>(() => loader.LoadBatch([first, second], new float[95]));
    }
}
