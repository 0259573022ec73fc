using System.Globalization;
using ViTCompiler.Data;
using ViTCompiler.Training;

namespace FashionMnistSample;

/// <summary>The command line, parsed by hand (no package needed for a dozen flags).</summary>
internal sealed class Arguments
{
    public static string Usage { get; } = $"""
        Trains a small Vision Transformer on Fashion-MNIST, then classifies a few test images.

        usage: FashionMnist [options]

          --full             the 15-minute recipe (the deep hybrid, {TrainerOptions.FashionMnistFull.Epochs} epochs with crops and flips,
                             about 14 minutes on two quiet cores) instead of the short one ({Recipe.Epochs} epochs, 1-2 minutes)
          --data DIR         the data set from DIR (the four IDX files, plain or .gz) instead of the one shipped in
                             {FashionMnist.ShippedFolder} ({FashionMnist.EnvironmentVariable} names one too); with the t10k
                             files alone, its last {FashionMnist.DividedTestImages:N0} images are for testing, the others for training
          --model NAME       hybrid (the paper's hybrid: a convolutional stem, then a two-block encoder; the default),
                             deep (the same with a five-convolution stem; the default with --full)
                             or vit (the pure ViT on 4 × 4 pixel patches)
          --epochs N         passes over the training images (default {Recipe.Epochs}, with --full {TrainerOptions.FashionMnistFull.Epochs})
          --steps N          stop after N updates instead (for quick checks)
          --batch N          images per update (default {Recipe.BatchSize})
          --accumulate K     split each update's batch into K micro-batches (same update, less memory; default 1)
          --lr X             peak learning rate (default {Recipe.LearningRate:G3})
          --seed N           seeds the initialisation, shuffling, augmentation and dropout (default 0)
          --threads N        threads for the model (default: all cores, or VIT_THREADS)
          --checkpoint FILE  where checkpoints go (default: the --resume file, else artifacts/fashion-vit.safetensors)
          --metrics FILE     JSON-lines metrics log (default artifacts/fashion-vit.metrics.jsonl)
          --resume FILE      continue the run saved in FILE (its settings are reused; flags given here override them)
          --help             this text

        Ctrl-C saves a checkpoint at the next step and exits; run again with --resume to continue.
        """;

    private static TrainerOptions Recipe => TrainerOptions.FashionMnist;

    public bool Full { get; private set; }
    /// <summary>"hybrid", "deep" or "vit"; when not given, "deep" with <see cref="Full"/> and "hybrid" without.</summary>
    public string Model => _model ?? (Full ? "deep" : "hybrid");
    public string? DataFolder { get; private set; }
    public int? Epochs { get; private set; }
    public long? Steps { get; private set; }
    public int? Batch { get; private set; }
    public int? Accumulate { get; private set; }
    public float? LearningRate { get; private set; }
    public ulong? Seed { get; private set; }
    public int? Threads { get; private set; }
    public string Checkpoint => _checkpoint ?? Resume ?? Path.Combine("artifacts", "fashion-vit.safetensors");
    public string Metrics { get; private set; } = Path.Combine("artifacts", "fashion-vit.metrics.jsonl");
    public string? Resume { get; private set; }
    public bool Help { get; private set; }

    /// <summary>The run-shaping flags given (null where not), to apply over the recipe or a resumed checkpoint's settings.</summary>
    public TrainerOverrides Overrides => new() { Epochs = Epochs, MaxSteps = Steps, BatchSize = Batch, Accumulate = Accumulate, LearningRate = LearningRate, Seed = Seed };

    private string? _checkpoint, _model;

    /// <summary>Parses <paramref name="args"/>; throws <see cref="ArgumentException"/> with a message for the user.</summary>
    public static Arguments Parse(string[] args)
    {
        var a = new Arguments();
        for (int i = 0; i < args.Length; i++)
        {
            string flag = args[i];
            string Value()
            {
                if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    throw new ArgumentException($"{flag} needs a value.");
                return args[++i];
            }
            switch (flag)
            {
                case "--full": a.Full = true; break;
                case "--model":
                    string model = Value();
                    a._model = model is "hybrid" or "deep" or "vit" ? model : throw new ArgumentException($"--model must be hybrid, deep or vit; got '{model}'.");
                    break;
                case "--data": a.DataFolder = Value(); break;
                case "--epochs": a.Epochs = Positive(flag, Value()); break;
                case "--steps": a.Steps = Positive(flag, Value()); break;
                case "--batch": a.Batch = Positive(flag, Value()); break;
                case "--accumulate": a.Accumulate = Positive(flag, Value()); break;
                case "--lr": a.LearningRate = Rate(flag, Value()); break;
                case "--seed":
                    string seed = Value();
                    a.Seed = ulong.TryParse(seed, NumberStyles.None, CultureInfo.InvariantCulture, out ulong s) ? s
                        : throw new ArgumentException($"--seed must be a whole number ≥ 0; got '{seed}'.");
                    break;
                case "--threads": a.Threads = Positive(flag, Value()); break;
                case "--checkpoint": a._checkpoint = Value(); break;
                case "--metrics": a.Metrics = Value(); break;
                case "--resume": a.Resume = Value(); break;
                case "--help" or "-h" or "-?": a.Help = true; break;
                default: throw new ArgumentException($"Unknown argument '{flag}'. Run with --help for the options.");
            }
        }
        return a;
    }

    private static int Positive(string flag, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n
            : throw new ArgumentException($"{flag} must be a positive whole number; got '{text}'.");

    private static float Rate(string flag, string text) =>
        float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float x) && x > 0 && float.IsFinite(x) ? x
            : throw new ArgumentException($"{flag} must be a positive number such as 1e-3; got '{text}'.");
}
