using SixLabors.ImageSharp.PixelFormats;
using ViTCompiler.Data;
using ViTCompiler.Imaging;
using ViTCompiler.Tests.Data;
using Xunit;

namespace ViTCompiler.Tests.Imaging;

public class ImageFolderTests
{
    [Fact]
    public void Classes_come_from_sorted_folder_names_and_bad_files_are_reported()
    {
        using var temp = new TempFolder();
        using var red = TestImages.Make(12, 6, (_, _) => TestImages.Red);
        using var green = TestImages.Make(5, 5, (_, _) => TestImages.Green);
        using var blue = TestImages.Make(7, 9, (_, _) => TestImages.Blue);
        // "Zebra" sorts before "cat" ordinally (upper case first), whatever the machine's culture says.
        TestImages.Save(red, temp.File("cat/b.png"));
        TestImages.Save(red, temp.File("cat/a.jpg"));
        TestImages.Save(green, temp.File("cat/nested/deeper/c.bmp"));
        TestImages.Save(blue, temp.File("dog/x.gif"));
        File.WriteAllBytes(temp.File("dog/broken.png"), [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 0, 0]);
        File.WriteAllText(temp.File("dog/readme.txt"), "not an image");
        TestImages.Save(green, temp.File("Zebra/z.webp"));
        File.WriteAllText(temp.File("labels.csv"), "files in the root are not a class");
        Directory.CreateDirectory(temp.File("empty-class"));

        var options = new ImagePreprocessing { Size = 4, Resampling = Resampling.Nearest, Normalization = ChannelNormalization.ImageNet };
        ImageFolderDataset data = ImageFolder.Load(temp.Path, options);
        LabeledImages images = data.Images;

        Assert.Equal(["Zebra", "cat", "dog", "empty-class"], images.ClassNames);
        Assert.Equal((5, 3, 4, 4), (images.Count, images.Channels, images.Height, images.Width));
        string[] expectedPaths = ["Zebra/z.webp", "cat/a.jpg", "cat/b.png", "cat/nested/deeper/c.bmp", "dog/x.gif"];
        Assert.Equal(expectedPaths.Select(temp.File), data.Paths);
        Assert.Equal([0, 1, 1, 1, 2], images.Labels.ToArray());
        Assert.Equal([1, 3, 1, 0], images.CountPerClass());

        // Stored as bytes, not normalised: the PNG in "cat" is pure red.
        Assert.All(images.Image(2)[..16].ToArray(), v => Assert.Equal(255, v));
        Assert.All(images.Image(2)[16..].ToArray(), v => Assert.Equal(0, v));

        ImageLoadFailure failure = Assert.Single(data.Failures);
        Assert.Equal(temp.File("dog/broken.png"), failure.Path);
        Assert.Equal([temp.File("dog/readme.txt")], data.Ignored);
    }

    [Fact]
    public void Grey_folders_load_one_channel_and_batch_directly()
    {
        using var temp = new TempFolder();
        using var image = TestImages.Make(3, 3, (x, y) => new Rgb24((byte)(x * 100), (byte)(x * 100), (byte)(x * 100)));
        TestImages.Save(image, temp.File("only/one.png"));
        ImageFolderDataset data = ImageFolder.Load(temp.Path, new ImagePreprocessing { Size = 3, Color = ColorMode.Grey });
        Assert.Equal(1, data.Images.Channels);
        Assert.Equal([0, 100, 200, 0, 100, 200, 0, 100, 200], data.Images.Image(0).ToArray());

        var batcher = new ImageBatcher(data.Images, BatcherOptions.Evaluation(1, ChannelNormalization.None));
        float[] pixels = new float[9];
        Assert.True(batcher.TryNextBatch(pixels, new int[1], out _));
        Assert.Equal(100 / 255f, pixels[1], 6);
    }

    [Fact]
    public void A_missing_or_flat_root_is_explained()
    {
        using var temp = new TempFolder();
        Assert.Throws<DirectoryNotFoundException>(() => ImageFolder.Load(temp.File("absent"), new ImagePreprocessing()));
        File.WriteAllText(temp.File("picture.png"), "x");
        var e = Assert.Throws<InvalidDataException>(() => ImageFolder.Load(temp.Path, new ImagePreprocessing()));
        Assert.Contains("one subfolder per class", e.Message);
    }
}
