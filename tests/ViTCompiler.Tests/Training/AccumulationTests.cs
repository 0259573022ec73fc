using ViTCompiler.Data;
using ViTCompiler.Tests.Data;
using ViTCompiler.Training;
using Xunit;
using Xunit.Abstractions;

namespace ViTCompiler.Tests.Training;

/// <summary>
/// Gradient accumulation: K micro-batches of B/K images must make the same update as one batch of B — the gradient of
/// the mean loss over the B images — so a run's losses and parameters match the one-batch run up to float summation
/// order (docs/DISTRIBUTED.md, "Tolerance", states the bounds checked here).
/// </summary>
public class AccumulationTests(ITestOutputHelper output)
{
    /// <summary>Relative difference allowed in a step's mean loss.</summary>
    internal const double LossTolerance = 1e-4;

    /// <summary>Absolute difference allowed in a parameter after the run (a tenth of one AdamW step at the learning rate 2e-3: AdamW divides by √v, so where a gradient is nearly zero, rounding noise becomes a step of up to the learning rate).</summary>
    internal const double ParameterTolerance = 2e-4;

    private static TrainerOptions Options(int accumulate) => new()
    {
        MaxSteps = 8, BatchSize = 16, Accumulate = accumulate, LearningRate = 2e-3f, WarmupSteps = 2, LabelSmoothing = 0.1f,
        Seed = 3, CropPadding = 2, HorizontalFlip = true, Normalization = ChannelNormalization.FashionMnist, Threads = 2,
        Optimizer = OptimizerKind.AdamW,
    };

    internal static (float[] Losses, float[] Parameters) Train(TrainerOptions options)
    {
        (LabeledImages train, LabeledImages test) = TrainerTests.Tiny();
        var model = new FashionSmall(seed: 1);
        using var trainer = new Trainer(model, train, test, options);
        var losses = new List<float>();
        trainer.StepCompleted += info => losses.Add(info.Loss);
        Assert.True(trainer.Run().Completed);
        return (losses.ToArray(), model.Parameters.ToArray());
    }

    [Theory]
    [InlineData(2)]   // 2 × 8
    [InlineData(4)]   // 4 × 4
    [InlineData(3)]   // 5, 5 and 6 images: unequal parts, weighted by their sizes
    public void Micro_batches_make_the_same_updates_as_one_batch(int accumulate)
    {
        (float[] expectedLosses, float[] expected) = Train(Options(1));
        (float[] losses, float[] parameters) = Train(Options(accumulate));
        Assert.Equal(expectedLosses.Length, losses.Length);
        double lossDiff = 0, paramDiff = 0;
        for (int i = 0; i < losses.Length; i++) lossDiff = Math.Max(lossDiff, Math.Abs(losses[i] - expectedLosses[i]) / Math.Abs(expectedLosses[i]));
        for (int i = 0; i < parameters.Length; i++) paramDiff = Math.Max(paramDiff, Math.Abs(parameters[i] - expected[i]));
        output.WriteLine($"accumulate {accumulate}: largest relative loss difference {lossDiff:E2}, largest parameter difference {paramDiff:E2}");
        Assert.True(lossDiff <= LossTolerance, $"loss differs by {lossDiff:E2} (relative)");
        Assert.True(paramDiff <= ParameterTolerance, $"a parameter differs by {paramDiff:E2}");
        // The runs did train: not two copies of the initial weights.
        Assert.True(expected.Zip(new FashionSmall(seed: 1).Parameters.ToArray()).Max(p => Math.Abs(p.First - p.Second)) > 5 * ParameterTolerance);
    }

    [Fact]
    public void Accumulate_is_validated_saved_and_may_change_on_resume()
    {
        Assert.Contains("Accumulate", Assert.Throws<ArgumentException>(() => Options(0).Validate()).Message);
        Assert.Contains("Accumulate", Assert.Throws<ArgumentException>(() => Options(17).Validate()).Message);
        Assert.Equal(4, new TrainerOptions().WithSettingsJson(Options(4).ToSettingsJson()).Accumulate);
        Assert.Equal(5, new TrainerOverrides { Accumulate = 5 }.ApplyTo(Options(1)).Accumulate);

        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "run.safetensors");
        (LabeledImages train, LabeledImages test) = TrainerTests.Tiny();
        using (var first = new Trainer(new FashionSmall(seed: 1), train, test, Options(2) with { CheckpointPath = path }))
        {
            first.Run(stopAtStep: 3);
            first.SaveCheckpoint(path);
        }
        Assert.Equal(2, Trainer.ReadSettings(path).Accumulate);
        var notes = new List<string>();
        using var resumed = new Trainer(new FashionSmall(seed: 1), train, test, Options(4) with { CheckpointPath = path },
            new Progress(p => { if (p.Message is string m) notes.Add(m); }));
        Assert.Empty(resumed.Resume(path));
        Assert.Contains(notes, n => n.Contains("2 micro-batches") && n.Contains("uses 4"));
    }

    private sealed class Progress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
