using ViTCompiler.Infrastructure;
using ViTCompiler.Reference;
using Xunit;
using Xunit.Abstractions;

namespace ViTCompiler.Tests;

/// <summary>
/// The image-parallel schedule (CompiledVit.ImageParallel.cs): batches larger than a model's shard size are trained as
/// shards, one per thread, whose gradients are summed in shard order; forward passes run one shard of images per thread.
/// Batches here are chosen to make several uneven shards.
/// </summary>
public class ScheduleTests(ITestOutputHelper output)
{
    // (model, batch): FashionSmall 16 images per shard (50 tokens) → 12 + 12 + 13; TinyWide (65 tokens, MLP 768: a
    // weight-gradient product 768 wide, once too wide for one thread's scratch) 12 → 3 shards; ManyTokens (197 tokens) 4
    // → 3 shards; HybridSmall 16 → 2 shards.
    public static IEnumerable<object[]> Sharded => new[]
    {
        new object[] { nameof(FashionSmall), 37 },
        new object[] { nameof(TinyWide), 25 },
        new object[] { nameof(ManyTokens), 9 },
        new object[] { nameof(HybridSmall), 19 },
    };

    [Theory]
    [MemberData(nameof(Sharded))]
    public void Training_is_bit_identical_for_any_thread_count(string name, int batch)
    {
        CompiledVit model = TestModels.All[name]();
        Assert.True(model.ShardImages > 0 && batch > model.ShardImages, $"{name} should train image-parallel with several shards at batch {batch}");
        TestData.Randomize(model, 3);
        float[] pixels = TestData.Pixels(model.Config, batch, 4);
        int[] labels = Enumerable.Range(0, batch).Select(i => (i * 5 + 1) % model.Config.Classes).ToArray();
        (float Loss, float[] Logits, float[] Gradients) Run(int threads)
        {
            model.Threads = threads;
            float[] logits = new float[batch * model.Config.Classes];
            model.Gradients.Clear();
            float loss = model.TrainStep(pixels, labels, batch, GradientCheck.Regularised, logits);
            return (loss, logits, model.Gradients.ToArray());
        }
        var one = Run(1);
        var two = Run(Math.Max(2, Environment.ProcessorCount));
        var again = Run(1);
        Assert.Equal(one.Loss, two.Loss);
        Assert.Equal(one.Logits, two.Logits);
        Assert.Equal(one.Gradients, two.Gradients);
        Assert.Equal(one.Gradients, again.Gradients); // the replicas' blocks are cleared between steps
    }

    /// <summary>
    /// Without dropout the sharded step is just the gradient of the batch's mean loss: the reference engine's over the
    /// whole batch. With dropout each shard draws its masks from <see cref="Dropout.ShardSeed"/>, and the reference run
    /// shard by shard with those seeds and weighted by shard size must agree.
    /// </summary>
    [Theory]
    [InlineData(nameof(FashionSmall), 37, false)]
    [InlineData(nameof(FashionSmall), 37, true)]
    [InlineData(nameof(ManyTokens), 9, true)]
    [InlineData(nameof(HybridSmall), 19, true)]
    public void Sharded_gradients_match_the_reference(string name, int batch, bool regularised)
    {
        CompiledVit model = TestModels.All[name]();
        VitConfig c = model.Config;
        TestData.Randomize(model, 21);
        float[] pixels = TestData.Pixels(c, batch, 22);
        int[] labels = Enumerable.Range(0, batch).Select(i => (i * 7 + 3) % c.Classes).ToArray();
        TrainStepOptions options = regularised ? GradientCheck.Regularised : new TrainStepOptions(LabelSmoothing: 0.1f);
        model.Gradients.Clear();
        float loss = model.TrainStep(pixels, labels, batch, options, default);

        double[] parameters = TestData.ToDouble(model.Parameters);
        double[] expected = new double[c.ParameterCount];
        double expectedLoss = 0;
        if (!regularised)
        {
            expectedLoss = ReferenceVit.ForwardBackward(c, parameters, pixels, labels, batch, options, expected);
        }
        else
        {
            int shards = (batch + model.ShardImages - 1) / model.ShardImages;
            for (int s = 0; s < shards; s++)
            {
                int first = batch * s / shards, images = batch * (s + 1) / shards - first;
                double[] part = new double[c.ParameterCount];
                double partLoss = ReferenceVit.ForwardBackward(c, parameters, pixels.AsSpan(first * c.PixelsPerImage, images * c.PixelsPerImage),
                    labels.AsSpan(first, images), images, options with { Seed = Dropout.ShardSeed(options.Seed, s) }, part);
                expectedLoss += partLoss * images / batch;
                for (int i = 0; i < part.Length; i++) expected[i] += part[i] * images / batch;
            }
        }
        Assert.True(Math.Abs(loss - expectedLoss) < 1e-5 * Math.Max(1, Math.Abs(expectedLoss)), $"loss {loss} vs reference {expectedLoss}");
        double worst = 0;
        string worstName = "";
        foreach (ParameterTensor t in c.Layout)
        {
            double error = TestData.RelativeError(t.Of((ReadOnlySpan<float>)model.Gradients), expected.AsSpan(t.Offset, t.Count));
            if (error > worst || double.IsNaN(error)) { worst = error; worstName = t.Name; }
        }
        output.WriteLine($"{name} batch {batch}, shards of {model.ShardImages}: worst gradient {worst:E2} ({worstName})");
        Assert.True(worst < GradientCheck.Tolerance, $"{worstName}: {worst:E2}");
    }

    [Fact]
    public void Part_seeds_differ_from_the_step_seed_and_from_each_other_at_two_levels()
    {
        const ulong seed = 1234;
        Assert.Equal(seed, Dropout.MicroBatchSeed(seed, 0));
        Assert.Equal(seed, Dropout.ShardSeed(seed, 0));
        var seen = new HashSet<ulong>();
        for (int part = 0; part < 8; part++)
            for (int shard = 0; shard < 8; shard++)
                Assert.True(seen.Add(Dropout.ShardSeed(Dropout.MicroBatchSeed(seed, part), shard)), $"part {part} shard {shard} repeats a seed");
    }

    [Fact]
    public void Image_parallel_forward_captures_the_same_attention_as_one_thread()
    {
        var model = new FashionSmall();
        TestData.Randomize(model, 9);
        const int batch = 5;
        float[] pixels = TestData.Pixels(model.Config, batch, 10);
        long perImage = (long)model.Config.Layers * model.Config.Heads * model.Config.Tokens * model.Config.Tokens;
        (float[] Logits, float[] Attention) Run(int threads)
        {
            model.Threads = threads;
            float[] logits = new float[batch * model.Config.Classes], attention = new float[batch * perImage];
            model.Forward(pixels, batch, logits, attention);
            return (logits, attention);
        }
        var one = Run(1);
        var two = Run(Math.Max(2, Environment.ProcessorCount));
        Assert.Equal(one.Logits, two.Logits);
        Assert.Equal(one.Attention, two.Attention);
        Assert.Contains(one.Attention.Skip((int)((batch - 1) * perImage)), v => v != 0); // the last shard's images were captured
    }

    [Fact]
    public void The_schedule_is_described()
    {
        Assert.StartsWith("image-parallel (training shards of 16 images", new FashionSmall().Schedule);
    }
}
