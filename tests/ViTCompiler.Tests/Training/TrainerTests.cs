using System.Security.Cryptography;
using System.Text.Json;
using ViTCompiler.Data;
using ViTCompiler.IO;
using ViTCompiler.Tests.Data;
using ViTCompiler.Training;
using Xunit;
using Xunit.Abstractions;

namespace ViTCompiler.Tests.Training;

public class TrainerTests(ITestOutputHelper output)
{
    private static readonly Lazy<LabeledImages> s_t10k = new(() =>
        FashionMnist.LoadTest(FashionMnist.FindShippedTestSplit()
            ?? throw new InvalidOperationException($"{FashionMnist.ShippedFolder} was not found above {AppContext.BaseDirectory}.")));

    /// <summary>96 training images (6 steps of 16 per epoch) and 64 test images from the real t10k split.</summary>
    internal static (LabeledImages Train, LabeledImages Test) Tiny() => (s_t10k.Value.Slice(0, 96), s_t10k.Value.Slice(9000, 64));

    /// <summary>A run that uses every source of randomness: shuffling, crops, flips, dropout, drop-path, smoothing.</summary>
    internal static TrainerOptions ReplayOptions(string folder) => new()
    {
        MaxSteps = 14, BatchSize = 16, LearningRate = 2e-3f, WarmupSteps = 3, MinLearningRate = 1e-5f,
        LabelSmoothing = 0.1f, Dropout = 0.1f, DropPath = 0.1f, Seed = 7, CropPadding = 2, HorizontalFlip = true,
        Normalization = ChannelNormalization.FashionMnist, LogEverySteps = 4,
        CheckpointPath = Path.Combine(folder, "run.safetensors"), MetricsPath = Path.Combine(folder, "metrics.jsonl"),
        Threads = 2,
    };

    private static int[] Bits(ReadOnlySpan<float> values) => System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(values).ToArray();

    /// <summary>The metrics that do not depend on timing, one string per record.</summary>
    private static List<string> Replayable(string metricsPath) => File.ReadAllLines(metricsPath).Select(line =>
    {
        using JsonDocument d = JsonDocument.Parse(line);
        JsonElement r = d.RootElement;
        string Field(string name) => r.TryGetProperty(name, out JsonElement e) ? e.GetRawText() : "-";
        return string.Join(' ', Field("kind"), Field("step"), Field("epoch"), Field("lr"), Field("loss"), Field("train_accuracy"),
            Field("grad_norm"), Field("test_loss"), Field("test_accuracy"));
    }).ToList();

    private (int[] Parameters, List<string> Metrics) TrainStraight(TrainerOptions options)
    {
        (LabeledImages train, LabeledImages test) = Tiny();
        var model = new FashionSmall(seed: 1);
        using var trainer = new Trainer(model, train, test, options);
        TrainingResult result = trainer.Run();
        Assert.True(result.Completed);
        Assert.Equal(14, result.Step);
        return (Bits(model.Parameters), Replayable(options.MetricsPath!));
    }

    [Theory]
    [InlineData(6)]  // at an epoch boundary
    [InlineData(9)]  // in the middle of an epoch, between two log lines
    public void A_resumed_run_reproduces_the_uninterrupted_one_bit_for_bit(int stopAt)
    {
        using var straightFolder = new TempFolder();
        (int[] expected, List<string> expectedMetrics) = TrainStraight(ReplayOptions(straightFolder.Path));

        using var folder = new TempFolder();
        TrainerOptions options = ReplayOptions(folder.Path);
        (LabeledImages train, LabeledImages test) = Tiny();
        {
            var model = new FashionSmall(seed: 1);
            using var first = new Trainer(model, train, test, options);
            TrainingResult partial = first.Run(stopAtStep: stopAt);
            Assert.False(partial.Completed);
            first.SaveCheckpoint(options.CheckpointPath!);
            // The interrupted session carries on a little before it "crashes": its extra metrics must not survive the resume.
            first.Run(stopAtStep: stopAt + 2);
        }

        var fresh = new FashionSmall(seed: 99); // different weights: the checkpoint must replace them all
        using var resumed = new Trainer(fresh, train, test, options);
        Assert.Empty(resumed.Resume(options.CheckpointPath!));
        Assert.Equal(stopAt, resumed.Step);
        resumed.Run();

        Assert.Equal(expected, Bits(fresh.Parameters));
        Assert.Equal(expectedMetrics, Replayable(options.MetricsPath!));
    }

    [Fact]
    public void Cancelling_saves_a_checkpoint_at_the_next_step_boundary_and_stops()
    {
        using var straightFolder = new TempFolder();
        (int[] expected, _) = TrainStraight(ReplayOptions(straightFolder.Path));

        using var folder = new TempFolder();
        TrainerOptions options = ReplayOptions(folder.Path);
        (LabeledImages train, LabeledImages test) = Tiny();
        using var cancel = new CancellationTokenSource();
        var model = new FashionSmall(seed: 1);
        var reports = new ProgressRecorder();
        using (var trainer = new Trainer(model, train, test, options, reports))
        {
            trainer.StepCompleted += step => { if (step.Step == 5) cancel.Cancel(); };
            TrainingResult result = trainer.Run(cancel.Token);
            Assert.True(result.Cancelled);
            Assert.False(result.Completed);
            Assert.Equal(5, result.Step);
            Assert.Equal(options.CheckpointPath, result.Checkpoint);
        }
        TrainingProgress last = reports.Reports[^1];
        Assert.Equal(TrainingProgressKind.Finished, last.Kind);
        Assert.Equal(5, last.Step);
        Assert.Contains($"checkpoint saved to {options.CheckpointPath}", last.Message);
        VitCheckpoint saved = VitCheckpoint.Load(options.CheckpointPath!);
        Assert.Equal("5", saved.Metadata["trainer.step"]);
        Assert.Equal(Bits(model.Parameters), Bits(saved.Parameters));

        using var resumed = new Trainer(new FashionSmall(), train, test, options);
        resumed.Resume(options.CheckpointPath!);
        resumed.Run();
        Assert.Equal(expected, Bits(resumed.Model.Parameters));
    }

    [Fact]
    public void A_checkpoint_request_is_honoured_at_the_next_step_boundary()
    {
        using var folder = new TempFolder();
        TrainerOptions options = ReplayOptions(folder.Path) with { CheckpointEveryEpoch = false, MaxSteps = 4 };
        (LabeledImages train, LabeledImages test) = Tiny();
        using var trainer = new Trainer(new FashionSmall(), train, test, options);
        trainer.StepCompleted += step => { if (step.Step == 2) trainer.RequestCheckpoint(); };
        trainer.Run(stopAtStep: 3);
        Assert.Equal("2", VitCheckpoint.Load(options.CheckpointPath!).Metadata["trainer.step"]);
    }

    [Fact]
    public void Divergence_stops_with_a_clear_error_and_leaves_the_last_checkpoint_intact()
    {
        using var folder = new TempFolder();
        TrainerOptions good = ReplayOptions(folder.Path) with { MaxSteps = 0, Epochs = 1 };
        (LabeledImages train, LabeledImages test) = Tiny();
        using (var trainer = new Trainer(new FashionSmall(seed: 1), train, test, good))
            trainer.Run();
        string path = good.CheckpointPath!;
        byte[] hash = SHA256.HashData(File.ReadAllBytes(path));

        // Continue at an absurd learning rate: one AdamW step moves every weight by ~1e30, the next forward overflows.
        TrainerOptions bad = good with { Epochs = 3, LearningRate = 1e30f, WarmupSteps = 0 };
        var model = new FashionSmall();
        using var diverging = new Trainer(model, train, test, bad);
        diverging.Resume(path, allowChangedSettings: true);
        var e = Assert.Throws<TrainingDivergedException>(() => diverging.Run());
        output.WriteLine(e.Message);
        Assert.True(e.Step > 6, $"diverged at step {e.Step}");
        Assert.Contains(e.Quantity, new[] { "loss", "gradient norm", "test loss" });
        Assert.Contains($"step {e.Step}", e.Message);
        Assert.Contains(e.Quantity, e.Message);
        Assert.Contains(path, e.Message);
        Assert.Equal(path, e.LastCheckpoint);
        Assert.Equal(6, e.LastCheckpointStep);

        // The good checkpoint is byte-for-byte what it was, and still resumes.
        Assert.Equal(hash, SHA256.HashData(File.ReadAllBytes(path)));
        using var again = new Trainer(new FashionSmall(), train, test, good with { Epochs = 2 });
        again.Resume(path, allowChangedSettings: true);
        Assert.Equal(6, again.Step);
        Assert.True(again.Run().Completed);

        // A broken trainer refuses to go on rather than train from a half-taken step.
        Assert.Throws<InvalidOperationException>(() => diverging.Run());
    }

    [Fact]
    public void A_model_with_NaN_weights_is_never_written_over_a_checkpoint()
    {
        using var folder = new TempFolder();
        TrainerOptions options = ReplayOptions(folder.Path) with { MaxSteps = 2 };
        (LabeledImages train, LabeledImages test) = Tiny();
        var model = new FashionSmall();
        using var trainer = new Trainer(model, train, test, options);
        trainer.Run(stopAtStep: 1);
        trainer.SaveCheckpoint(options.CheckpointPath!);
        byte[] before = File.ReadAllBytes(options.CheckpointPath!);

        using (ParameterEdit edit = model.EditParameters()) edit[model.Config.Layout["blocks.0.attn.proj.weight"]][0] = float.PositiveInfinity;
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.SaveCheckpoint(options.CheckpointPath!));
        Assert.Equal("parameters", e.Quantity);
        Assert.Equal(before, File.ReadAllBytes(options.CheckpointPath!));
    }

    [Fact]
    public void Resuming_with_other_settings_is_refused_unless_allowed()
    {
        using var folder = new TempFolder();
        TrainerOptions options = ReplayOptions(folder.Path) with { MaxSteps = 2 };
        (LabeledImages train, LabeledImages test) = Tiny();
        using (var trainer = new Trainer(new FashionSmall(), train, test, options)) trainer.Run();

        using var changed = new Trainer(new FashionSmall(), train, test, options with { LearningRate = 5e-3f });
        var e = Assert.Throws<InvalidOperationException>(() => changed.Resume(options.CheckpointPath!));
        Assert.Contains("learning_rate: 0.002 → 0.005", e.Message);
        Assert.Contains("allowChangedSettings", e.Message);

        using var otherBatch = new Trainer(new FashionSmall(), train, test, options with { BatchSize = 8 });
        e = Assert.Throws<InvalidOperationException>(() => otherBatch.Resume(options.CheckpointPath!, allowChangedSettings: true));
        Assert.Contains("batch size 16 → 8", e.Message);

        // The settings a checkpoint records can be read back, e.g. to resume without repeating them.
        TrainerOptions read = Trainer.ReadSettings(options.CheckpointPath!, new TrainerOptions());
        Assert.Empty(read.SettingsDifferences(options));
    }

    [Fact]
    public void A_plain_weights_file_cannot_be_resumed_and_says_why()
    {
        using var folder = new TempFolder();
        string path = folder.File("weights.safetensors");
        var model = new FashionSmall();
        VitCheckpoint.Save(path, model);
        (LabeledImages train, LabeledImages test) = Tiny();
        using var trainer = new Trainer(new FashionSmall(), train, test, ReplayOptions(folder.Path));
        var e = Assert.Throws<WeightsFileException>(() => trainer.Resume(path));
        Assert.Contains("no trainer state", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Images_of_the_wrong_size_are_refused_with_both_sizes_named()
    {
        var images = new LabeledImages(new byte[2 * 32 * 32], [0, 1], 1, 32, 32, 10);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(new FashionSmall(), images, null, new TrainerOptions { BatchSize = 2 }));
        Assert.Contains("1 × 32 × 32", e.Message);
        Assert.Contains("1 × 28 × 28", e.Message);
    }

    [Fact]
    public void Settings_round_trip_through_json()
    {
        var options = new TrainerOptions
        {
            Epochs = 3, MaxSteps = 17, BatchSize = 5, Optimizer = OptimizerKind.Sgd, LearningRate = 0.03f, MinLearningRate = 1e-4f,
            WarmupSteps = 4, Decay = LearningRateDecay.Linear, WeightDecay = 1e-4f, Momentum = 0.8f, GradientClipNorm = 0,
            LabelSmoothing = 0.1f, Dropout = 0.2f, DropPath = 0.05f, Seed = ulong.MaxValue, CropPadding = 3, HorizontalFlip = false,
            DropLastBatch = false, Normalization = ChannelNormalization.ImageNet,
        };
        TrainerOptions back = new TrainerOptions().WithSettingsJson(options.ToSettingsJson());
        Assert.Empty(back.SettingsDifferences(options));
        Assert.Equal(options with { Normalization = back.Normalization }, back);
        Assert.Equal(ChannelNormalization.ImageNet.Std.ToArray(), back.Normalization.Std.ToArray());

        // Byte for byte what the hand-written Utf8JsonWriter code wrote before source generation (captured from it).
        const string written = """{"epochs":3,"max_steps":17,"batch_size":5,"optimizer":"sgd","learning_rate":0.03,"min_learning_rate":0.0001,"warmup_steps":4,"decay":"linear","weight_decay":0.0001,"momentum":0.8,"gradient_clip_norm":0,"label_smoothing":0.1,"dropout":0.2,"drop_path":0.05,"seed":"18446744073709551615","crop_padding":3,"horizontal_flip":false,"drop_last_batch":false,"normalization_mean":[0.485,0.456,0.406],"normalization_std":[0.229,0.224,0.225]}""";
        Assert.Equal(written, options.ToSettingsJson());
    }

    [Fact]
    public void Unusable_settings_are_refused_naming_the_key_and_missing_ones_keep_the_base_value()
    {
        var e = Assert.Throws<FormatException>(() => new TrainerOptions().WithSettingsJson("""{"epochs":2,"optimizer":"adam"}"""));
        Assert.Contains("'optimizer'", e.Message);
        e = Assert.Throws<FormatException>(() => new TrainerOptions().WithSettingsJson("""{"seed":"-1"}"""));
        Assert.Contains("'seed'", e.Message);
        Assert.Throws<FormatException>(() => new TrainerOptions().WithSettingsJson("[1, 2]"));
        Assert.Throws<FormatException>(() => new TrainerOptions().WithSettingsJson("{\"epochs\":"));

        // An older file without a key keeps the value it is read over; a key from a newer version is ignored.
        TrainerOptions read = new TrainerOptions { Dropout = 0.3f, Epochs = 9 }.WithSettingsJson("""{"epochs":4,"seed":12,"from_the_future":true}""");
        Assert.Equal(4, read.Epochs);
        Assert.Equal(12UL, read.Seed);
        Assert.Equal(0.3f, read.Dropout);
    }

    [Fact]
    public void A_checkpoint_written_before_source_generation_still_resumes_exactly()
    {
        using var straightFolder = new TempFolder();
        (int[] expected, _) = TrainStraight(ReplayOptions(straightFolder.Path));

        // Metadata as the hand-written writers stored it for this very run at step 9 (captured from them; the seconds
        // are that machine's). The parameters, optimiser and batcher state are unchanged binary tensors and hex words.
        const string settings = """{"epochs":10,"max_steps":14,"batch_size":16,"optimizer":"adamw","learning_rate":0.002,"min_learning_rate":1E-05,"warmup_steps":3,"decay":"cosine","weight_decay":0.05,"momentum":0.9,"gradient_clip_norm":1,"label_smoothing":0.1,"dropout":0.1,"drop_path":0.1,"seed":"7","crop_padding":2,"horizontal_flip":true,"drop_last_batch":true,"normalization_mean":[0.286],"normalization_std":[0.353]}""";
        const string sums = """{"epoch":{"loss":106.48704528808594,"correct":11,"images":48,"train_seconds":0.6693595},"interval":{"loss":35.8330078125,"correct":3,"images":16,"train_seconds":0.2708527},"last_epoch":{"loss":220.26249313354492,"correct":12,"images":96,"train_seconds":1.6341145000000001},"last_lr":0.0011466034,"last_grad_norm":6.196558409570561}""";
        using var folder = new TempFolder();
        TrainerOptions options = ReplayOptions(folder.Path) with { MetricsPath = null };
        (LabeledImages train, LabeledImages test) = Tiny();
        using (var first = new Trainer(new FashionSmall(seed: 1), train, test, options))
        {
            first.Run(stopAtStep: 9);
            first.SaveCheckpoint(options.CheckpointPath!);
        }
        VitCheckpoint old = VitCheckpoint.Load(options.CheckpointPath!);
        Assert.Equal(settings, old.Metadata[Trainer.SettingsKey]);
        old.Metadata["trainer.sums"] = sums;
        old.Save(options.CheckpointPath!);

        using var resumed = new Trainer(new FashionSmall(seed: 99), train, test, options);
        Assert.Empty(resumed.Resume(options.CheckpointPath!));
        // The sums read back are written back unchanged.
        string again = folder.File("again.safetensors");
        resumed.SaveCheckpoint(again);
        Assert.Equal(sums, VitCheckpoint.Load(again).Metadata["trainer.sums"]);
        resumed.Run();
        Assert.Equal(expected, Bits(resumed.Model.Parameters));
    }

    [Fact]
    public void Flags_apply_over_a_recipe_or_a_checkpoint_and_only_where_given()
    {
        TrainerOptions saved = TrainerOptions.FashionMnist with { MaxSteps = 300, Seed = 5, Threads = 3 };
        Assert.Equal(saved, new TrainerOverrides().ApplyTo(saved));

        // An epoch count given now replaces a recorded step count; a step count given with it wins.
        TrainerOptions epochs = new TrainerOverrides { Epochs = 2 }.ApplyTo(saved);
        Assert.Equal((2, 0L), (epochs.Epochs, epochs.MaxSteps));
        TrainerOptions both = new TrainerOverrides { Epochs = 2, MaxSteps = 40 }.ApplyTo(saved);
        Assert.Equal((2, 40L), (both.Epochs, both.MaxSteps));

        // A peak below the schedule's floor lowers the floor, so the options stay valid.
        TrainerOptions low = new TrainerOverrides { LearningRate = 1e-6f }.ApplyTo(saved).Validate();
        Assert.Equal((1e-6f, 1e-6f), (low.LearningRate, low.MinLearningRate));
        TrainerOptions high = new TrainerOverrides { LearningRate = 0.01f }.ApplyTo(saved);
        Assert.Equal(saved.MinLearningRate, high.MinLearningRate);

        TrainerOptions all = new TrainerOverrides
        {
            BatchSize = 32, Optimizer = OptimizerKind.Sgd, Seed = 9, Normalization = ChannelNormalization.Google,
        }.ApplyTo(saved);
        Assert.Equal(saved with { BatchSize = 32, Optimizer = OptimizerKind.Sgd, Seed = 9, Normalization = ChannelNormalization.Google }, all);
    }

    [Fact]
    public void Progress_lines_and_metrics_records_have_the_documented_fields()
    {
        using var folder = new TempFolder();
        TrainerOptions options = ReplayOptions(folder.Path) with { MaxSteps = 8 };
        (LabeledImages train, LabeledImages test) = Tiny();
        var log = new StringWriter();
        using (var trainer = new Trainer(new FashionSmall(), train, test, options, new ConsoleProgress(log, ProgressDisplay.Lines))) trainer.Run();
        string text = log.ToString();
        output.WriteLine(text);
        Assert.Contains("step 4/8", text);
        Assert.Contains("img/s", text);
        Assert.Contains("ETA", text);
        Assert.Contains("epoch 1/2 (step 6)", text);
        Assert.DoesNotContain('\r', text);

        string[] lines = File.ReadAllLines(options.MetricsPath!);
        var kinds = new List<string>();
        foreach (string line in lines)
        {
            using JsonDocument d = JsonDocument.Parse(line);
            JsonElement r = d.RootElement;
            kinds.Add($"{r.GetProperty("kind").GetString()}@{r.GetProperty("step").GetInt64()}");
            foreach (string field in new[] { "epoch", "lr", "loss", "train_accuracy", "images_per_second", "elapsed_seconds" })
                Assert.True(r.TryGetProperty(field, out _), $"'{field}' missing from {line}");
            Assert.Equal(r.GetProperty("kind").GetString() == "epoch", r.TryGetProperty("test_accuracy", out _));
        }
        Assert.Equal(["step@4", "epoch@6", "step@8", "epoch@8"], kinds);
    }

    [Fact]
    public void The_live_bar_redraws_one_line_in_place()
    {
        using var folder = new TempFolder();
        TrainerOptions options = ReplayOptions(folder.Path) with { MaxSteps = 3, CheckpointPath = null };
        (LabeledImages train, LabeledImages test) = Tiny();
        var screen = new StringWriter();
        using (var trainer = new Trainer(new FashionSmall(), train, test, options, new ConsoleProgress(screen, ProgressDisplay.Bar))) trainer.Run();
        string text = screen.ToString();
        output.WriteLine(text.Replace("\r", "⏎\n"));
        Assert.Contains("\repoch 1/1 [", text);
        Assert.Contains("█", text);
        Assert.Contains("] 1/3", text);
        Assert.Contains("img/s", text);
        Assert.Contains("ETA", text);
        Assert.DoesNotContain("step 1/3", text); // no periodic lines in bar mode
        Assert.Contains("epoch 1/1 (step 3): train loss", text);
    }

    [Fact]
    public void Training_steps_allocate_nothing_once_warm()
    {
        // 16 steps per epoch, so steps 4 to 10 hold no epoch end, no log line and no checkpoint: only the step itself.
        LabeledImages train = s_t10k.Value.Slice(0, 256);
        var options = new TrainerOptions
        {
            MaxSteps = 12, BatchSize = 16, Dropout = 0.1f, DropPath = 0.1f, LabelSmoothing = 0.1f, LogEverySteps = 1000,
            Normalization = ChannelNormalization.FashionMnist,
        };
        using var trainer = new Trainer(new FashionSmall(), train, null, options);
        long before = 0, after = 0;
        trainer.StepCompleted += s =>
        {
            if (s.Step == 4) before = GC.GetAllocatedBytesForCurrentThread();
            if (s.Step == 10) after = GC.GetAllocatedBytesForCurrentThread();
        };
        trainer.Run();
        Assert.True(after - before == 0, $"six training steps allocated {after - before:N0} bytes");
    }

    /// <summary>
    /// Real learning: a two-layer model on 2,000 real images for 80 steps of 32 (about 1.3 epochs) reaches about 53% test
    /// accuracy (chance is 10%) with the seeds below; the bounds leave room for other instruction sets' rounding.
    /// </summary>
    [Fact]
    public void Training_on_real_images_lowers_the_loss_and_beats_chance()
    {
        LabeledImages train = s_t10k.Value.Slice(0, 2000), test = s_t10k.Value.Slice(9000, 1000);
        var model = new FashionSmall(seed: 3);
        var options = new TrainerOptions
        {
            MaxSteps = 80, BatchSize = 32, LearningRate = 5e-3f, WarmupSteps = 5, WeightDecay = 0.05f, CropPadding = 0,
            HorizontalFlip = false, Normalization = ChannelNormalization.FashionMnist, LogEverySteps = 20, Seed = 3,
        };
        var losses = new List<float>();
        var log = new StringWriter();
        using var trainer = new Trainer(model, train, test, options, new ConsoleProgress(log, ProgressDisplay.Lines));
        trainer.StepCompleted += s => losses.Add(s.Loss);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        TrainingResult result = trainer.Run();
        output.WriteLine(log.ToString());
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s, {result.ImagesPerSecond:F0} img/s, test {result.Test}");

        double first = losses.Take(10).Average(), last = losses.TakeLast(10).Average();
        Assert.True(first > 2.0, $"initial loss {first:F3} should be near ln 10 = 2.30");
        Assert.True(last < 0.75 * first, $"loss went from {first:F3} to {last:F3}");
        Assert.NotNull(result.Test);
        Assert.True(result.Test.Value.Accuracy > 0.4, $"test accuracy {result.Test.Value.Accuracy:P1} (chance is 10%)");
    }
}
