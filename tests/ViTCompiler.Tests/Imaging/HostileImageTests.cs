using SixLabors.ImageSharp;
using ViTCompiler.Data;
using ViTCompiler.Imaging;
using ViTCompiler.Tests.Data;
using Xunit;

namespace ViTCompiler.Tests.Imaging;

/// <summary>Files built to break a decoder: each must fail with one clear error naming the file, and nothing else.</summary>
public class HostileImageTests
{
    private static readonly ImagePreprocessing s_options = new() { Size = 8, Normalization = ChannelNormalization.Google };

    private static ImageLoadException Refused(string path, ImagePreprocessing? options = null)
    {
        var loader = new ImageLoader(options ?? s_options);
        var e = Assert.Throws<ImageLoadException>(() => loader.Load(path, new float[loader.ValuesPerImage]));
        Assert.Equal(path, e.Path);
        Assert.StartsWith($"Image '{path}': ", e.Message);
        return e;
    }

    [Fact]
    public void A_truncated_png_is_reported_as_damaged()
    {
        using var temp = new TempFolder();
        using var noise = TestImages.Noise(64, 64, 1);
        byte[] png = TestImages.Encode(noise, ".png");
        string path = temp.File("truncated.png");
        File.WriteAllBytes(path, png[..(png.Length / 2)]);
        Assert.Contains("PNG data", Refused(path).Problem);
    }

    [Fact]
    public void A_truncated_jpeg_is_reported_as_damaged()
    {
        using var temp = new TempFolder();
        using var noise = TestImages.Noise(64, 64, 2);
        byte[] jpeg = TestImages.Encode(noise, ".jpg");
        string path = temp.File("truncated.jpg");
        File.WriteAllBytes(path, jpeg[..(jpeg.Length / 3)]);
        Assert.Contains("JPEG data is truncated", Refused(path).Problem);

        // On request the decoder makes what it can of it, as PIL does with LOAD_TRUNCATED_IMAGES.
        var lenient = new ImageLoader(s_options with { AllowTruncatedJpeg = true });
        lenient.Load(path, new float[lenient.ValuesPerImage]);

        // Cut inside the header segments, before any image data: refused even then.
        File.WriteAllBytes(path, jpeg[..40]);
        Refused(path, s_options with { AllowTruncatedJpeg = true });
    }

    [Fact]
    public void Random_bytes_named_png_are_not_an_image()
    {
        using var temp = new TempFolder();
        string path = temp.File("random.png");
        var random = new VitRandom(5);
        byte[] bytes = new byte[4096];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)random.NextInt(256);
        bytes[0] = 0x42; // not accidentally a BMP/GIF/PNG signature
        File.WriteAllBytes(path, bytes);
        ImageLoadException e = Refused(path);
        Assert.Contains("not an image in a supported format", e.Problem);
        Assert.Contains("starts with the bytes 42", e.Problem);
    }

    [Fact]
    public void An_empty_file_is_reported_as_empty()
    {
        using var temp = new TempFolder();
        string path = temp.File("empty.jpg");
        File.WriteAllBytes(path, []);
        Assert.Contains("empty (0 bytes)", Refused(path).Problem);
    }

    [Fact]
    public void A_header_claiming_huge_dimensions_is_refused_before_decoding()
    {
        using var temp = new TempFolder();
        string path = temp.File("bomb.png");
        File.WriteAllBytes(path, TestImages.PngClaiming(100_000, 100_000));
        // The header really does say so: ImageSharp's own Identify reads these dimensions.
        IImageInfo info = Image.Identify(path);
        Assert.Equal((100_000, 100_000), (info.Width, info.Height));

        ImageLoadException e = Refused(path);
        Assert.Contains("declares 100,000 × 100,000 = 10,000,000,000 pixels", e.Problem);
        Assert.Contains("not decoded", e.Problem);
        Assert.Null(e.InnerException);

        // The limit is configurable: 2 × 2 is fine at the default, refused under a limit of 3 pixels.
        using var small = TestImages.Make(2, 2, (_, _) => TestImages.Red);
        string tiny = TestImages.Save(small, temp.File("tiny.png"));
        Assert.Contains("above the limit of 3", Refused(tiny, s_options with { MaxPixels = 3 }).Problem);
    }

    [Fact]
    public void A_file_above_the_byte_limit_is_not_read()
    {
        using var temp = new TempFolder();
        using var noise = TestImages.Noise(32, 32, 3);
        string path = TestImages.Save(noise, temp.File("big.png"));
        Assert.Contains("MaxFileBytes", Refused(path, s_options with { MaxFileBytes = 100 }).Problem);
    }

    [Fact]
    public void An_extreme_aspect_ratio_is_refused_before_scaling_it_up()
    {
        using var temp = new TempFolder();
        using var strip = TestImages.Make(1, 3000, (_, _) => TestImages.Red);
        string path = TestImages.Save(strip, temp.File("strip.png"));
        var options = s_options with { Size = 224, Resize = ResizeStrategy.ShorterSideThenCenterCrop };
        Assert.Contains("aspect ratio", Refused(path, options).Problem);
    }

    [Fact]
    public void A_wrong_extension_is_reported_unless_allowed()
    {
        using var temp = new TempFolder();
        using var image = TestImages.Make(8, 8, (_, _) => TestImages.Green);
        string path = temp.File("really-a-png.jpg");
        File.WriteAllBytes(path, TestImages.Encode(image, ".png"));
        ImageLoadException e = Refused(path);
        Assert.Contains("the name says JPEG (.jpg) but the content is PNG", e.Problem);

        var lenient = new ImageLoader(s_options with { AllowExtensionMismatch = true });
        float[] pixels = new float[lenient.ValuesPerImage];
        lenient.Load(path, pixels);
        Assert.Equal(1f, pixels[64]); // G plane

        // Text with an image extension is simply not an image.
        string text = temp.File("notes.jpg");
        File.WriteAllText(text, "these are not the pixels you are looking for");
        Assert.Contains("not an image", Refused(text).Problem);
    }

    [Fact]
    public void Missing_files_and_folders_are_reported()
    {
        using var temp = new TempFolder();
        Assert.Contains("does not exist", Refused(temp.File("nothing-here.png")).Problem);
        Assert.Contains("folder, not an image", Refused(temp.Path).Problem);
    }

    [Fact]
    public void The_batch_loader_survives_every_hostile_file()
    {
        using var temp = new TempFolder();
        using var good = TestImages.Make(8, 8, (_, _) => TestImages.Blue);
        using var noise = TestImages.Noise(64, 64, 4);
        byte[] png = TestImages.Encode(noise, ".png");

        var paths = new List<string> { TestImages.Save(good, temp.File("good-1.png")) };
        File.WriteAllBytes(temp.File("truncated.png"), png[..(png.Length / 2)]);
        File.WriteAllBytes(temp.File("random.png"), [0x42, 7, 1, 200, 13, 99, 0, 0, 5]);
        File.WriteAllBytes(temp.File("empty.png"), []);
        File.WriteAllBytes(temp.File("bomb.png"), TestImages.PngClaiming(100_000, 100_000));
        File.WriteAllBytes(temp.File("misnamed.gif"), TestImages.Encode(good, ".png"));
        string[] hostile = ["truncated.png", "random.png", "empty.png", "bomb.png", "misnamed.gif", "absent.png"];
        paths.AddRange(hostile.Select(temp.File));
        paths.Add(TestImages.Save(good, temp.File("good-2.bmp")));

        ImageBatch batch = new ImageLoader(s_options).LoadBatch(paths);
        Assert.Equal(2, batch.Count);
        Assert.Equal([paths[0], paths[^1]], batch.Paths);
        Assert.Equal(hostile.Select(temp.File), batch.Failures.Select(f => f.Path));
        Assert.All(batch.Failures, f => Assert.Contains(f.Path, f.Exception.Message));
        Assert.All(batch.Pixels[(2 * 64)..(3 * 64)], v => Assert.Equal(1f, v)); // image 0, B plane
    }
}
