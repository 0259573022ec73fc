using ViTCompiler.Data;
using Xunit;

namespace ViTCompiler.Tests.Data;

public class LabeledImagesTests
{
    /// <summary>N images of C × H × W whose every byte is (image index × 16 + position), and label = index % classes.</summary>
    internal static LabeledImages Numbered(int count, int channels = 1, int height = 2, int width = 2, int classes = 3)
    {
        int perImage = channels * height * width;
        byte[] pixels = new byte[count * perImage];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i / perImage * 16 + i % perImage);
        int[] labels = Enumerable.Range(0, count).Select(i => i % classes).ToArray();
        return new LabeledImages(pixels, labels, channels, height, width, classes);
    }

    [Fact]
    public void Inconsistent_inputs_are_rejected_with_the_reason()
    {
        Assert.Contains("3 labels need 12 pixel bytes", Assert.Throws<ArgumentException>(() => new LabeledImages(new byte[11], [0, 1, 2], 1, 2, 2, 3)).Message);
        Assert.Contains("Label 5 of image 1 is outside [0, 3)", Assert.Throws<ArgumentException>(() => new LabeledImages(new byte[8], [0, 5], 1, 2, 2, 3)).Message);
        Assert.Contains("Label -1", Assert.Throws<ArgumentException>(() => new LabeledImages(new byte[4], [-1], 1, 2, 2, 3)).Message);
        Assert.Contains("2 class names were given for 3 classes", Assert.Throws<ArgumentException>(() => new LabeledImages(new byte[4], [0], 1, 2, 2, 3, ["a", "b"])).Message);
        Assert.Contains("must be positive", Assert.Throws<ArgumentException>(() => new LabeledImages([], [], 0, 2, 2, 3)).Message);
        Assert.Contains("classes must be positive", Assert.Throws<ArgumentException>(() => new LabeledImages([], [], 1, 2, 2, 0)).Message);
    }

    [Fact]
    public void Slices_selections_and_splits_copy_the_right_images()
    {
        LabeledImages set = Numbered(5);
        Assert.Equal("5 images, 1 × 2 × 2, 3 classes", set.ToString());

        LabeledImages middle = set.Slice(1, 3);
        Assert.Equal(3, middle.Count);
        Assert.Equal(set.Image(1).ToArray(), middle.Image(0).ToArray());
        Assert.Equal([1, 2, 0], middle.Labels.ToArray());

        LabeledImages picked = set.Select([4, 0, 4]);
        Assert.Equal(set.Image(4).ToArray(), picked.Image(0).ToArray());
        Assert.Equal(set.Image(0).ToArray(), picked.Image(1).ToArray());
        Assert.Equal([1, 0, 1], picked.Labels.ToArray());

        (LabeledImages train, LabeledImages validation) = set.SplitLast(2);
        Assert.Equal((3, 2), (train.Count, validation.Count));
        Assert.Equal(set.Image(3).ToArray(), validation.Image(0).ToArray());

        (LabeledImages first, LabeledImages rest) = set.SplitFirst(1);
        Assert.Equal((1, 4), (first.Count, rest.Count));
        Assert.Equal(set.Image(1).ToArray(), rest.Image(0).ToArray());

        Assert.Equal([2, 2, 1], set.CountPerClass());
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Slice(4, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Select([5]));
        Assert.Throws<ArgumentOutOfRangeException>(() => set.SplitLast(6));
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Image(5));
    }
}
