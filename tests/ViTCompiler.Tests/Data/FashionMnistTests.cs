using ViTCompiler.Data;
using Xunit;

namespace ViTCompiler.Tests.Data;

public class FashionMnistTests
{
    private static string ShippedFolder() =>
        FashionMnist.FindShippedTestSplit() ?? throw new InvalidOperationException($"{FashionMnist.ShippedFolder} was not found above {AppContext.BaseDirectory}.");

    [Fact]
    public void The_shipped_test_split_loads()
    {
        LabeledImages test = FashionMnist.LoadTest(ShippedFolder());

        Assert.Equal(10_000, test.Count);
        Assert.Equal((1, 28, 28, 10), (test.Channels, test.Height, test.Width, test.Classes));
        Assert.Equal(FashionMnist.ClassNames, test.ClassNames);
        // The first labels of t10k, and its exact balance, as published.
        Assert.Equal([9, 2, 1, 1, 6, 1, 4, 6, 5, 7], test.Labels[..10].ToArray());
        Assert.Equal("Ankle boot", test.ClassName(test.Label(0)));
        Assert.All(test.CountPerClass(), n => Assert.Equal(1000, n));
        // The first image: its pixel sum and a row through the middle of the boot.
        Assert.Equal(33456, test.Image(0).ToArray().Sum(b => (int)b));
        Assert.Equal(Convert.FromHexString("00000000000002040100000062886E6D6EA28790959FA7909EA97700"), test.Image(0).Slice(14 * 28, 28).ToArray());
    }

    [Fact]
    public void The_class_names_are_the_published_ones()
    {
        Assert.Equal(["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"], FashionMnist.ClassNames);
    }

    [Fact]
    public void A_folder_without_the_files_says_what_is_missing_and_where_to_get_it()
    {
        using var temp = new TempFolder();
        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.LoadTrain(temp.Path));
        Assert.Contains("train-images-idx3-ubyte", e.Message);
        Assert.Contains(temp.Path, e.Message);
        Assert.Contains("dataset-fashion-mnist", e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => FashionMnist.LoadTest(Path.Combine(temp.Path, "nope")));
    }

    [Fact]
    public void Plain_and_gzip_names_are_both_found_and_the_test_split_needs_no_training_files()
    {
        using var temp = new TempFolder();
        byte[] pixels = new byte[2 * 28 * 28];
        pixels[5] = 200;
        Idx.WriteImages(temp.File("t10k-images-idx3-ubyte"), pixels, 2, 28, 28);
        Idx.WriteLabels(temp.File("t10k-labels-idx1-ubyte.gz"), [3, 8]);

        LabeledImages test = FashionMnist.LoadTest(temp.Path);
        Assert.Equal(2, test.Count);
        Assert.Equal("Bag", test.ClassName(test.Label(1)));
        Assert.False(FashionMnist.HasFullDataset(temp.Path));
    }

    [Fact]
    public void FindFullDataset_follows_the_environment_variable_and_refuses_a_wrong_one()
    {
        string? saved = Environment.GetEnvironmentVariable(FashionMnist.EnvironmentVariable);
        using var temp = new TempFolder();
        try
        {
            Environment.SetEnvironmentVariable(FashionMnist.EnvironmentVariable, temp.Path);
            var e = Assert.Throws<DirectoryNotFoundException>(() => FashionMnist.FindFullDataset());
            Assert.Contains(FashionMnist.EnvironmentVariable, e.Message);
            Assert.Contains(temp.Path, e.Message);

            byte[] pixels = new byte[3 * 28 * 28];
            foreach (string split in new[] { "train", "t10k" })
            {
                Idx.WriteImages(temp.File($"{split}-images-idx3-ubyte.gz"), pixels, 3, 28, 28);
                Idx.WriteLabels(temp.File($"{split}-labels-idx1-ubyte.gz"), [0, 4, 9]);
            }
            Assert.Equal(Path.GetFullPath(temp.Path), FashionMnist.FindFullDataset());
            (LabeledImages train, LabeledImages test) = FashionMnist.Load(FashionMnist.FindFullDataset()!);
            Assert.Equal((3, 3), (train.Count, test.Count));

            // Without the variable: the repository's data/fashion-mnist, which ships all four files, comes before the
            // Debian package's folder.
            Environment.SetEnvironmentVariable(FashionMnist.EnvironmentVariable, null);
            string? found = FashionMnist.FindFullDataset();
            Assert.Equal(FashionMnist.FindShippedTestSplit(), found);
            Assert.True(FashionMnist.HasFullDataset(found!));
        }
        finally
        {
            Environment.SetEnvironmentVariable(FashionMnist.EnvironmentVariable, saved);
        }
    }

    [Fact]
    public void The_shipped_training_split_is_the_published_one()
    {
        LabeledImages train = FashionMnist.LoadTrain(FashionMnist.FindShippedTestSplit()!);
        Assert.Equal(60_000, train.Count);
        Assert.All(train.CountPerClass(), n => Assert.Equal(6000, n));
        // The published training statistics, which ChannelNormalization.FashionMnist quotes.
        double mean = 0, square = 0;
        foreach (byte b in train.Pixels) { mean += b; square += b * b; }
        mean /= train.Pixels.Length * 255.0;
        double std = Math.Sqrt(square / (train.Pixels.Length * 65025.0) - mean * mean);
        Assert.Equal(ChannelNormalization.FashionMnist.Mean[0], mean, 4);
        Assert.Equal(ChannelNormalization.FashionMnist.Std[0], std, 4);
    }
}
