using System.Diagnostics;
using System.Globalization;
using ViTCompiler.Data;
using ViTCompiler.Training;

namespace ViTCompiler.Benchmarks;

// The candidate models of docs/TRAINING.md's recipe search. "wide2" became the sample's FashionHybridVit and "deep2c77"
// its FashionDeepHybridVit (the 15-minute model); "hybrid6" is the one they replaced.

/// <summary>The sample's hybrid until 2026-12: 16 channels (stride 1), 32 (stride 2) onto 14 × 14, patch 2, 6 blocks.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 16, 32 }, StemStrides = new[] { 1, 2 }, StemGroups = 8, Patch = 2,
    Layers = 6, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionHybrid6 { }

/// <summary>A wider stem onto a 7 × 7 map (1 × 1 patches), 6 blocks.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 32, 64 }, StemStrides = new[] { 2, 2 }, StemGroups = 8, Patch = 1,
    Layers = 6, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionHybridWide { }

/// <summary>A wide stem onto a 7 × 7 map and a 4-layer encoder.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 32, 64 }, StemStrides = new[] { 2, 2 }, StemGroups = 8, Patch = 1,
    Layers = 4, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionHybridWide4 { }

/// <summary>Three stem convolutions (32, 64, 64; strides 1, 2, 2) onto a 7 × 7 map, 2 layers.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 32, 64, 64 }, StemStrides = new[] { 1, 2, 2 }, StemGroups = 8, Patch = 1,
    Layers = 2, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionHybridDeep2 { }

/// <summary>The wide stem, 2 layers of width 96 (6 heads, MLP 192).</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 32, 64 }, StemStrides = new[] { 2, 2 }, StemGroups = 8, Patch = 1,
    Layers = 2, Hidden = 96, Heads = 6, MlpDim = 192, Classes = 10)]
public partial class FashionHybridWide2D96 { }

/// <summary>Three stem convolutions (32, 64, 64; strides 1, 2, 2) onto a 7 × 7 map, 1 × 1 patches, 4 layers.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 32, 64, 64 }, StemStrides = new[] { 1, 2, 2 }, StemGroups = 8, Patch = 1,
    Layers = 4, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionHybridDeep { }

/// <summary>A thin three-convolution stem (16, 32, 64; strides 1, 2, 2) onto a 7 × 7 map, 2 layers.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 16, 32, 64 }, StemStrides = new[] { 1, 2, 2 }, StemGroups = 8, Patch = 1,
    Layers = 2, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionHybridThin3 { }

/// <summary>thin3 with an MLP of 256.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 16, 32, 64 }, StemStrides = new[] { 1, 2, 2 }, StemGroups = 8, Patch = 1,
    Layers = 2, Hidden = 64, Heads = 4, MlpDim = 256, Classes = 10)]
public partial class FashionHybridThin3M { }

/// <summary>A four-convolution stem (16, 32, 32, 64; strides 1, 2, 1, 2) onto a 7 × 7 map, 2 layers.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 16, 32, 32, 64 }, StemStrides = new[] { 1, 2, 1, 2 }, StemGroups = 8, Patch = 1,
    Layers = 2, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionHybridThin4 { }

/// <summary>The wide stem onto a 7 × 7 map, 3 layers of width 64.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 32, 64 }, StemStrides = new[] { 2, 2 }, StemGroups = 8, Patch = 1,
    Layers = 3, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionHybridWide3 { }

/// <summary>A wider stem (48, 96; strides 2, 2) onto a 7 × 7 map, 2 layers of width 96 (6 heads, MLP 192).</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 48, 96 }, StemStrides = new[] { 2, 2 }, StemGroups = 8, Patch = 1,
    Layers = 2, Hidden = 96, Heads = 6, MlpDim = 192, Classes = 10)]
public partial class FashionHybridWider2 { }

/// <summary>deep2 with a fourth convolution (64) at 7 × 7.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 32, 64, 64, 64 }, StemStrides = new[] { 1, 2, 2, 1 }, StemGroups = 8, Patch = 1,
    Layers = 2, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionHybridDeep2C7 { }

/// <summary>Four convolutions (32, 64, 64, 128; strides 1, 2, 1, 2): two at 14 × 14, onto a 7 × 7 × 128 map, 2 layers.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 32, 64, 64, 128 }, StemStrides = new[] { 1, 2, 1, 2 }, StemGroups = 8, Patch = 1,
    Layers = 2, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionHybridDeep3 { }

/// <summary>deep2 with 96 channels in its second and third convolutions.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 32, 96, 96 }, StemStrides = new[] { 1, 2, 2 }, StemGroups = 8, Patch = 1,
    Layers = 2, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionHybridDeep2W { }

/// <summary>deep2c7 with 96 channels at 7 × 7.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 32, 64, 96, 96 }, StemStrides = new[] { 1, 2, 2, 1 }, StemGroups = 8, Patch = 1,
    Layers = 2, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionHybridDeep2C7W { }

/// <summary>The sample's stem (32/2, 64/2) with two more convolutions (64) at 7 × 7.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 32, 64, 64, 64 }, StemStrides = new[] { 2, 2, 1, 1 }, StemGroups = 8, Patch = 1,
    Layers = 2, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionHybridWideC77 { }

/// <summary>deep2c77 with its first convolution at stride 2 and its second at stride 1 (no 28 × 28 map).</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 32, 64, 64, 64, 64 }, StemStrides = new[] { 2, 1, 2, 1, 1 }, StemGroups = 8, Patch = 1,
    Layers = 2, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionHybridS2C77 { }

/// <summary>deep2c77 (<c>FashionDeepHybridVit</c>) with an MLP of 256 (4 × the width, the paper's ratio) instead of 128.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 32, 64, 64, 64, 64 }, StemStrides = new[] { 1, 2, 2, 1, 1 }, StemGroups = 8, Patch = 1,
    Layers = 2, Hidden = 64, Heads = 4, MlpDim = 256, Classes = 10)]
public partial class FashionHybridDeep2C77M { }
/// <summary>hybrid6 with mean pooling instead of the [class] token.</summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 16, 32 }, StemStrides = new[] { 1, 2 }, StemGroups = 8, Patch = 2,
    Layers = 6, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10, Pooling = VitPooling.Mean)]
public partial class FashionHybridGap { }

/// <summary>
/// `recipe MODEL [key=value ...]`: one Fashion-MNIST training run on the full split from <see cref="StartingRecipe"/> with
/// the given changes (lr, minlr, warmup, epochs, steps, batch, smoothing, crop, flip, wd, clip, droppath, seed, train=N to
/// use the first N training images, ema=DECAY to also measure averaged weights), printing one line: settings, test accuracy, seconds; the metrics log (each epoch's
/// test accuracy) is written to recipe-MODEL.jsonl in the temporary folder. The recipe search recorded in
/// docs/TRAINING.md.
/// </summary>
public static class RecipeRuns
{
    /// <summary>
    /// Where docs/TRAINING.md's search started: the Fashion recipe before it (14 epochs of 128, AdamW 3e-3, 2-pixel crops,
    /// flips and label smoothing 0.05). Kept here as the baseline the table's changes are relative to; the recipes in use
    /// are <see cref="TrainerOptions.FashionMnist"/> and <see cref="TrainerOptions.FashionMnistFull"/>.
    /// </summary>
    private static TrainerOptions StartingRecipe => TrainerOptions.FashionMnist with
    {
        Epochs = 14, BatchSize = 128, LearningRate = 3e-3f, LabelSmoothing = 0.05f, CropPadding = 2, HorizontalFlip = true,
    };

    public static int Run(string[] args)
    {
        string name = args[1];
        TrainerOptions options = StartingRecipe;
        int trainImages = 0;
        float emaDecay = 0;
        string folder = FashionMnist.FindFullDataset() ?? throw new DirectoryNotFoundException("full Fashion-MNIST not found");
        foreach (string pair in args[2..])
        {
            string[] kv = pair.Split('=', 2);
            float f = float.Parse(kv[1], CultureInfo.InvariantCulture);
            options = kv[0] switch
            {
                "lr" => options with { LearningRate = f },
                "minlr" => options with { MinLearningRate = f },
                "warmup" => options with { WarmupSteps = (long)f },
                "epochs" => options with { Epochs = (int)f },
                "steps" => options with { MaxSteps = (long)f },
                "batch" => options with { BatchSize = (int)f },
                "smoothing" => options with { LabelSmoothing = f },
                "crop" => options with { CropPadding = (int)f },
                "flip" => options with { HorizontalFlip = f != 0 },
                "wd" => options with { WeightDecay = f },
                "clip" => options with { GradientClipNorm = f },
                "droppath" => options with { DropPath = f },
                "seed" => options with { Seed = (ulong)f },
                "train" or "ema" => options,
                _ => throw new ArgumentException($"unknown setting {kv[0]}"),
            };
            if (kv[0] == "train") trainImages = (int)f;
            if (kv[0] == "ema") emaDecay = f;
        }
        // Per-epoch test accuracy and elapsed time go to a metrics log in the temporary folder.
        string metrics = Path.Combine(Path.GetTempPath(), $"recipe-{name}.jsonl");
        options = options with { LogEverySteps = 1_000_000, CheckpointEveryEpoch = false, MetricsPath = metrics };
        (LabeledImages train, LabeledImages test) = FashionMnist.Load(folder);
        if (trainImages > 0) train = train.Slice(0, trainImages);
        CompiledVit model = name switch
        {
            "hybrid6" => new FashionHybrid6(seed: options.Seed),
            "wide2" => new FashionMnistSample.FashionHybridVit(seed: options.Seed),
            "vit" => new FashionMnistSample.FashionVit(seed: options.Seed),
            "wide" => new FashionHybridWide(seed: options.Seed),
            "gap" => new FashionHybridGap(seed: options.Seed),
            "wide4" => new FashionHybridWide4(seed: options.Seed),
            "deep" => new FashionHybridDeep(seed: options.Seed),
            "deep2" => new FashionHybridDeep2(seed: options.Seed),
            "wide2d96" => new FashionHybridWide2D96(seed: options.Seed),
            "thin3" => new FashionHybridThin3(seed: options.Seed),
            "thin3m" => new FashionHybridThin3M(seed: options.Seed),
            "thin4" => new FashionHybridThin4(seed: options.Seed),
            "wide3" => new FashionHybridWide3(seed: options.Seed),
            "wider2" => new FashionHybridWider2(seed: options.Seed),
            "deep2c7" => new FashionHybridDeep2C7(seed: options.Seed),
            "deep3" => new FashionHybridDeep3(seed: options.Seed),
            "deep2w" => new FashionHybridDeep2W(seed: options.Seed),
            "deep2c77" => new FashionMnistSample.FashionDeepHybridVit(seed: options.Seed),
            "deep2c7w" => new FashionHybridDeep2C7W(seed: options.Seed),
            "widec77" => new FashionHybridWideC77(seed: options.Seed),
            "s2c77" => new FashionHybridS2C77(seed: options.Seed),
            "deep2c77m" => new FashionHybridDeep2C77M(seed: options.Seed),
            _ => throw new ArgumentException($"unknown model {name}"),
        };
        using var trainer = new Trainer(model, train, test, options);
        Measure(trainer, model, test, options, emaDecay);
        var clock = Stopwatch.StartNew();
        TrainingResult result = trainer.Run(CancellationToken.None);
        EvaluationResult final = result.Test ?? trainer.Evaluate()!.Value;
        Console.WriteLine($"{name} {string.Join(' ', args[2..])}: test {final.Accuracy:P2} train-acc {result.TrainAccuracy:P1} " +
            $"steps {result.Step} {clock.Elapsed.TotalSeconds:F0} s {result.ImagesPerSecond:F0} img/s (per epoch: {metrics})");
        return 0;
    }

    // Measurements beside the trainer's own evaluation, printed at each epoch's end: the test accuracy with the flip
    // (Evaluator's testTimeFlip) and, with ema=DECAY, that of an exponential moving average of the weights (decay
    // min(DECAY, (1 + t) / (10 + t)) after update t) with and without the flip. docs/TRAINING.md has what they gave;
    // weight averaging gave nothing at the end of a cosine schedule, so the trainer does not offer it.
    private static void Measure(Trainer trainer, CompiledVit model, LabeledImages test, TrainerOptions options, float emaDecay)
    {
        float[]? average = null;
        var plain = new Evaluator(test, options.Normalization);
        var flipped = new Evaluator(test, options.Normalization, testTimeFlip: true);
        trainer.StepCompleted += info =>
        {
            ReadOnlySpan<float> p = model.Parameters;
            if (emaDecay > 0)
            {
                if (average is null) average = p.ToArray();
                else System.Numerics.Tensors.TensorPrimitives.Lerp(average, p, 1 - Math.Min(emaDecay, (1f + info.Step) / (10f + info.Step)), average);
            }
            if (info.Step % trainer.StepsPerEpoch != 0) return;
            string line = $"epoch {info.Step / trainer.StepsPerEpoch}: with the flip {100 * flipped.Evaluate(model).Accuracy:F2} %";
            if (average is not null)
            {
                float[] saved = p.ToArray();
                using (var edit = model.EditParameters()) average.CopyTo(edit.Values);
                line += $", averaged weights {100 * plain.Evaluate(model).Accuracy:F2} %, with the flip {100 * flipped.Evaluate(model).Accuracy:F2} %";
                using (var edit = model.EditParameters()) saved.CopyTo(edit.Values);
            }
            Console.WriteLine(line);
        };
    }
}
