using ViTCompiler.Data;
using Xunit;

namespace ViTCompiler.Tests.Data;

public class ImageBatcherTests
{
    /// <summary>Runs <paramref name="batches"/> calls of TryNextBatch and records everything they produced.</summary>
    private static List<(bool More, int Count, float[] Pixels, int[] Labels)> Run(ImageBatcher batcher, int batches)
    {
        var result = new List<(bool, int, float[], int[])>();
        float[] pixels = new float[batcher.FloatsPerBatch];
        int[] labels = new int[batcher.Options.BatchSize];
        for (int b = 0; b < batches; b++)
        {
            Array.Clear(pixels);
            Array.Clear(labels);
            bool more = batcher.TryNextBatch(pixels, labels, out int count);
            result.Add((more, count, (float[])pixels.Clone(), (int[])labels.Clone()));
        }
        return result;
    }

    private static void AssertSame(List<(bool More, int Count, float[] Pixels, int[] Labels)> a, List<(bool More, int Count, float[] Pixels, int[] Labels)> b)
    {
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].More, b[i].More);
            Assert.Equal(a[i].Count, b[i].Count);
            Assert.Equal(a[i].Labels, b[i].Labels);
            Assert.Equal(a[i].Pixels, b[i].Pixels);
        }
    }

    private static BatcherOptions Augmenting(ulong seed, int batchSize = 4) => new()
    {
        BatchSize = batchSize, Seed = seed, Shuffle = true, CropPadding = 1, HorizontalFlip = true,
        Normalization = new ChannelNormalization([0.25f], [0.5f]),
    };

    [Fact]
    public void The_same_seed_gives_the_same_batches_and_another_seed_does_not()
    {
        LabeledImages set = LabeledImagesTests.Numbered(10, channels: 2, height: 3, width: 3);
        var first = Run(new ImageBatcher(set, Augmenting(7)), 12);
        var again = Run(new ImageBatcher(set, Augmenting(7)), 12);
        var other = Run(new ImageBatcher(set, Augmenting(8)), 12);
        AssertSame(first, again);
        Assert.NotEqual(first.SelectMany(b => b.Labels), other.SelectMany(b => b.Labels));
    }

    [Fact]
    public void Each_epoch_visits_every_image_once_in_a_new_order_and_then_reports_its_end()
    {
        const int count = 10;
        LabeledImages set = LabeledImagesTests.Numbered(count, classes: count); // label = image index
        var batcher = new ImageBatcher(set, new BatcherOptions { BatchSize = 4, Shuffle = true, Seed = 3 });
        Assert.Equal(3, batcher.BatchesPerEpoch);

        var orders = new List<int[]>();
        for (int epoch = 0; epoch < 3; epoch++)
        {
            Assert.Equal(epoch, batcher.Epoch);
            var batches = Run(batcher, 4);
            Assert.Equal([true, true, true, false], batches.Select(b => b.More));
            Assert.Equal([4, 4, 2, 0], batches.Select(b => b.Count));
            int[] order = batches.SelectMany(b => b.Labels.Take(b.Count)).ToArray();
            Assert.Equal(Enumerable.Range(0, count), order.Order());
            orders.Add(order);
        }
        Assert.NotEqual(orders[0], orders[1]);
        Assert.NotEqual(orders[1], orders[2]);
    }

    [Fact]
    public void The_shuffle_is_the_documented_Fisher_Yates_from_the_seed()
    {
        LabeledImages set = LabeledImagesTests.Numbered(9, classes: 9);
        var batcher = new ImageBatcher(set, new BatcherOptions { BatchSize = 9, Shuffle = true, Seed = 42 });

        var random = new VitRandom(42);
        int[] expected = Enumerable.Range(0, 9).ToArray();
        for (int i = expected.Length - 1; i > 0; i--)
        {
            int j = random.NextInt(i + 1);
            (expected[i], expected[j]) = (expected[j], expected[i]);
        }
        Assert.Equal(expected, batcher.Order.ToArray());
        Assert.Equal(expected, Run(batcher, 1)[0].Labels);
    }

    [Theory]
    [InlineData(0)]   // at the very start
    [InlineData(2)]   // mid-epoch
    [InlineData(3)]   // after the last batch, before the end-of-epoch call
    [InlineData(4)]   // just after the epoch rolled over
    [InlineData(6)]   // mid second epoch
    public void Restoring_a_saved_state_continues_exactly(int batchesBeforeSaving)
    {
        LabeledImages set = LabeledImagesTests.Numbered(11, channels: 1, height: 3, width: 4, classes: 11);
        var original = new ImageBatcher(set, Augmenting(99));
        Run(original, batchesBeforeSaving);
        ulong[] state = new ulong[ImageBatcher.StateLength];
        original.GetState(state);
        (int epoch, int position) = (original.Epoch, original.Position);
        var continued = Run(original, 9);

        // A fresh batcher (made with the same options, then restored) must replay the same continuation.
        var resumed = new ImageBatcher(set, Augmenting(99));
        Run(resumed, 1); // its own position must not matter
        resumed.SetState(state);
        Assert.Equal((epoch, position), (resumed.Epoch, resumed.Position));
        AssertSame(continued, Run(resumed, 9));
    }

    [Fact]
    public void A_state_from_other_data_or_options_is_refused()
    {
        LabeledImages set = LabeledImagesTests.Numbered(8);
        ulong[] state = new ulong[ImageBatcher.StateLength];
        new ImageBatcher(set, Augmenting(1)).GetState(state);

        Assert.Contains("8 images; this batcher has 7",
            Assert.Throws<ArgumentException>(() => new ImageBatcher(LabeledImagesTests.Numbered(7), Augmenting(1)).SetState(state)).Message);
        Assert.Contains("CropPadding=1",
            Assert.Throws<ArgumentException>(() => new ImageBatcher(set, Augmenting(1) with { CropPadding = 0 }).SetState(state)).Message);
        Assert.Contains("not an ImageBatcher state",
            Assert.Throws<ArgumentException>(() => new ImageBatcher(set, Augmenting(1)).SetState(new ulong[ImageBatcher.StateLength])).Message);
    }

    /// <summary>A 1 × 3 × 4 image with distinct values 10, 20, … 120 (row-major).</summary>
    private static LabeledImages HandMade() =>
        new(Enumerable.Range(1, 12).Select(i => (byte)(10 * i)).ToArray(), [0], 1, 3, 4, 1);

    /// <summary>The augmentation spelled out independently: pad with zeros, crop at (top, left), mirror.</summary>
    private static float[] Expected(LabeledImages image, int padding, int top, int left, bool flip)
    {
        int h = image.Height, w = image.Width;
        byte[,] padded = new byte[h + 2 * padding, w + 2 * padding];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) padded[y + padding, x + padding] = image.Image(0)[y * w + x];
        float[] result = new float[h * w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int cx = flip ? w - 1 - x : x;
                result[y * w + x] = padded[y + top, cx + left];
            }
        return result;
    }

    private static float[] AsBytes(float[] normalised) => normalised.Select(v => MathF.Round(v * 255f)).ToArray();

    [Fact]
    public void A_horizontal_flip_mirrors_each_row_about_half_the_time()
    {
        LabeledImages image = HandMade();
        var batcher = new ImageBatcher(image, new BatcherOptions { BatchSize = 1, HorizontalFlip = true, Seed = 5 });
        float[] original = Expected(image, 0, 0, 0, false), mirrored = Expected(image, 0, 0, 0, true);
        Assert.Equal([40f, 30, 20, 10, 80, 70, 60, 50, 120, 110, 100, 90], mirrored);

        int flips = 0;
        const int epochs = 400;
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            var batches = Run(batcher, 2);
            float[] got = AsBytes(batches[0].Pixels);
            if (got.SequenceEqual(mirrored)) flips++;
            else Assert.Equal(original, got);
        }
        Assert.InRange(flips, epochs / 2 - 50, epochs / 2 + 50);
    }

    [Fact]
    public void A_padded_crop_shifts_the_image_and_fills_with_zeros_at_every_offset()
    {
        LabeledImages image = HandMade();
        const int padding = 1;
        var batcher = new ImageBatcher(image, new BatcherOptions { BatchSize = 1, CropPadding = padding, Seed = 11 });
        // Shifted one pixel down and right: the first row and column are padding.
        Assert.Equal([0f, 0, 0, 0, 0, 10, 20, 30, 0, 50, 60, 70], Expected(image, padding, 0, 0, false));

        var seen = new HashSet<(int, int)>();
        for (int epoch = 0; epoch < 200; epoch++)
        {
            float[] got = AsBytes(Run(batcher, 2)[0].Pixels);
            var matches = (from top in Enumerable.Range(0, 2 * padding + 1)
                           from left in Enumerable.Range(0, 2 * padding + 1)
                           where Expected(image, padding, top, left, false).SequenceEqual(got)
                           select (top, left)).ToList();
            Assert.Single(matches);
            seen.Add(matches[0]);
        }
        Assert.Equal(9, seen.Count);
    }

    [Fact]
    public void Augmentation_draws_follow_the_documented_order()
    {
        // Two images, shuffled, crop padding 2 and flips: replay the documented draws with our own generator.
        LabeledImages set = new(Enumerable.Range(0, 24).Select(i => (byte)(i * 10)).ToArray(), [0, 1], 1, 3, 4, 2);
        const int padding = 2;
        var options = new BatcherOptions { BatchSize = 2, Shuffle = true, CropPadding = padding, HorizontalFlip = true, Seed = 2024 };
        var batcher = new ImageBatcher(set, options);
        var random = new VitRandom(2024);
        for (int epoch = 0; epoch < 20; epoch++)
        {
            int[] order = [0, 1];
            int j = random.NextInt(2);
            (order[1], order[j]) = (order[j], order[1]);
            var batch = Run(batcher, 2)[0];
            for (int i = 0; i < 2; i++)
            {
                int top = random.NextInt(2 * padding + 1), left = random.NextInt(2 * padding + 1);
                bool flip = random.NextDouble() < 0.5;
                Assert.Equal(order[i], batch.Labels[i]);
                Assert.Equal(Expected(set.Slice(order[i], 1), padding, top, left, flip), AsBytes(batch.Pixels[(i * 12)..((i + 1) * 12)]));
            }
        }
    }

    [Fact]
    public void Normalisation_applies_per_channel_including_to_the_padding()
    {
        // 2 channels of one 1 × 2 image: channel 0 = (0, 255), channel 1 = (51, 102).
        LabeledImages set = new([0, 255, 51, 102], [0], 2, 1, 2, 1);
        var norm = new ChannelNormalization([0.5f, 0.2f], [0.5f, 0.1f]);
        float[] pixels = new float[4];
        int[] labels = new int[1];
        new ImageBatcher(set, BatcherOptions.Evaluation(1, norm)).TryNextBatch(pixels, labels, out _);
        Assert.Equal(-1f, pixels[0], 6);
        Assert.Equal(1f, pixels[1], 6);
        Assert.Equal((0.2f - 0.2f) / 0.1f, pixels[2], 5);
        Assert.Equal((0.4f - 0.2f) / 0.1f, pixels[3], 5);

        // Padding is byte 0, so it normalises to −mean/std, like torchvision's pad-then-normalise.
        var shifted = new ImageBatcher(set, new BatcherOptions { BatchSize = 1, CropPadding = 1, Normalization = norm, Seed = 1 });
        bool sawPadding = false;
        for (int i = 0; i < 50 && !sawPadding; i++)
        {
            shifted.TryNextBatch(pixels, labels, out _);
            shifted.TryNextBatch(pixels, labels, out _);
            sawPadding = pixels[2] == -2f && pixels[3] == -2f; // a whole channel-1 row of padding
        }
        Assert.True(sawPadding);
    }

    [Fact]
    public void ChannelNormalization_presets_have_the_published_values()
    {
        Assert.Equal(-1f, ChannelNormalization.Google.Apply(2, 0));
        Assert.Equal(1f, ChannelNormalization.Google.Apply(0, 255));
        Assert.Equal((1 - 0.485) / 0.229, ChannelNormalization.ImageNet.Apply(0, 255), 5);
        Assert.Equal((0 - 0.406) / 0.225, ChannelNormalization.ImageNet.Apply(2, 0), 5);
        Assert.Equal((128 / 255.0 - 0.456) / 0.224, ChannelNormalization.ImageNet.Apply(1, 128), 5);
        Assert.Equal(100 / 255.0, ChannelNormalization.None.Apply(0, 100), 6);
        Assert.Contains("3 (mean, std) pairs but the images have 1 channel",
            Assert.Throws<ArgumentException>(() => new ImageBatcher(LabeledImagesTests.Numbered(2), BatcherOptions.Evaluation(1, ChannelNormalization.ImageNet))).Message);
        Assert.Throws<ArgumentException>(() => new ChannelNormalization([0.5f], [0f]));
        Assert.Throws<ArgumentException>(() => new ChannelNormalization([0.5f, 0.5f], [1f]));
    }

    [Fact]
    public void Evaluation_keeps_the_stored_order_and_pixels()
    {
        LabeledImages set = LabeledImagesTests.Numbered(5, classes: 5);
        var batcher = new ImageBatcher(set, BatcherOptions.Evaluation(2, ChannelNormalization.None));
        var batches = Run(batcher, 4);
        Assert.Equal([0, 1, 2, 3, 4], batches.SelectMany(b => b.Labels.Take(b.Count)));
        Assert.Equal(set.Pixels.ToArray().Select(b => (float)b), batches.Take(3).SelectMany(b => AsBytes(b.Pixels).Take(b.Count * 4)));
        Assert.False(batches[3].More);
    }

    [Fact]
    public void DropLast_skips_the_partial_batch()
    {
        LabeledImages set = LabeledImagesTests.Numbered(10);
        var batcher = new ImageBatcher(set, new BatcherOptions { BatchSize = 4, DropLast = true, Shuffle = true });
        Assert.Equal(2, batcher.BatchesPerEpoch);
        Assert.Equal([4, 4, 0], Run(batcher, 3).Select(b => b.Count));
        Assert.Contains("leaves no complete batch",
            Assert.Throws<ArgumentException>(() => new ImageBatcher(set, new BatcherOptions { BatchSize = 11, DropLast = true })).Message);
    }

    [Fact]
    public void Bad_buffers_and_options_are_refused()
    {
        LabeledImages set = LabeledImagesTests.Numbered(4);
        var batcher = new ImageBatcher(set, new BatcherOptions { BatchSize = 2 });
        Assert.Contains("needs 8", Assert.Throws<ArgumentException>(() => batcher.TryNextBatch(new float[7], new int[2], out _)).Message);
        Assert.Contains("needs 2", Assert.Throws<ArgumentException>(() => batcher.TryNextBatch(new float[8], new int[1], out _)).Message);
        Assert.Throws<ArgumentException>(() => new ImageBatcher(set, new BatcherOptions { BatchSize = 0 }));
        Assert.Throws<ArgumentException>(() => new ImageBatcher(set, new BatcherOptions { CropPadding = 3 }));
        Assert.Throws<ArgumentException>(() => new ImageBatcher(set.Slice(0, 0), new BatcherOptions()));
    }

    [Fact]
    public void Batches_allocate_nothing()
    {
        LabeledImages set = LabeledImagesTests.Numbered(64, channels: 3, height: 8, width: 8);
        var batcher = new ImageBatcher(set, Augmenting(3, batchSize: 16) with { Normalization = ChannelNormalization.ImageNet });
        float[] pixels = new float[batcher.FloatsPerBatch];
        int[] labels = new int[16];
        for (int i = 0; i < 20; i++) batcher.TryNextBatch(pixels, labels, out _); // warm up, incl. epoch roll-overs
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) batcher.TryNextBatch(pixels, labels, out _);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void The_shipped_test_split_batches_for_training()
    {
        string folder = FashionMnist.FindShippedTestSplit()!;
        (LabeledImages train, LabeledImages validation) = FashionMnist.LoadTest(folder).SplitLast(1000);
        Assert.Equal((9000, 1000), (train.Count, validation.Count));
        var batcher = new ImageBatcher(train, BatcherOptions.Training(128, 1, ChannelNormalization.FashionMnist));
        Assert.Equal(71, batcher.BatchesPerEpoch);
        float[] pixels = new float[batcher.FloatsPerBatch];
        int[] labels = new int[128];
        Assert.True(batcher.TryNextBatch(pixels, labels, out int count));
        Assert.Equal(128, count);
        float low = -0.2860f / 0.3530f, high = (1 - 0.2860f) / 0.3530f;
        Assert.All(pixels, v => Assert.InRange(v, low - 1e-5f, high + 1e-5f));
        Assert.All(labels, l => Assert.InRange(l, 0, 9));
    }
}
