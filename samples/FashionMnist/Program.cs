using System.Diagnostics;
using FashionMnistSample;
using ViTCompiler;
using ViTCompiler.Data;
using ViTCompiler.IO;
using ViTCompiler.Training;

// Train FashionVit on Fashion-MNIST with a progress bar, report test accuracy, save a checkpoint, classify a few images.
// Run: dotnet run -c Release --project samples/FashionMnist [-- --epochs 1]

Arguments arguments;
try
{
    arguments = Arguments.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
if (arguments.Help)
{
    Console.WriteLine(Arguments.Usage);
    return 0;
}

try
{
    (LabeledImages train, LabeledImages test, string source) = LoadData(arguments);
    Console.WriteLine($"Data: {source}: {train.Count:N0} training and {test.Count:N0} test images.");

    TrainerOptions options = Options(arguments);
    if (arguments.Resume is not null)
    {
        // The checkpoint's own settings, so a resumed run continues as it was started; flags given now override them.
        options = Override(Trainer.ReadSettings(arguments.Resume, options), arguments);
    }

    var model = new FashionVit(seed: options.Seed);
    Console.WriteLine($"Model: {model.Config}, {model.Config.ParameterCount:N0} parameters, {model.Engine}.");
    using var trainer = new Trainer(model, train, test, options);
    if (arguments.Resume is not null)
    {
        IReadOnlyList<string> changed = trainer.Resume(arguments.Resume, allowChangedSettings: true);
        Console.WriteLine($"Resumed from {arguments.Resume} at step {trainer.Step:N0} of {trainer.TotalSteps:N0}" +
            (changed.Count == 0 ? " (same settings: an exact continuation)." : $", with changed settings: {string.Join("; ", changed)}."));
    }

    using var ctrlC = ConsoleCancellation.Install();
    var clock = Stopwatch.StartNew();
    TrainingResult result = trainer.Run(ctrlC.Token);
    clock.Stop();

    if (result.Cancelled)
    {
        Console.WriteLine($"To continue: --resume {options.CheckpointPath}");
        return 130;
    }
    EvaluationResult final = result.Test ?? trainer.Evaluate()!.Value;
    Console.WriteLine();
    Console.WriteLine($"Test {final} after {result.Step:N0} steps; this session took {ProgressText(clock.Elapsed)} " +
        $"({result.ImagesPerSecond:N0} training images/s at batch {options.BatchSize}).");
    Console.WriteLine($"Checkpoint: {Path.GetFullPath(options.CheckpointPath!)}");
    Console.WriteLine($"Metrics:    {Path.GetFullPath(options.MetricsPath!)}");
    Console.WriteLine();
    Classify(model, test, count: 8, options.Normalization);
    return 0;
}
catch (TrainingDivergedException e)
{
    Console.Error.WriteLine();
    Console.Error.WriteLine(e.Message);
    return 1;
}
catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or UnauthorizedAccessException)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}

static (LabeledImages Train, LabeledImages Test, string Source) LoadData(Arguments arguments)
{
    if (arguments.Full)
    {
        string folder = arguments.DataFolder ?? FashionMnist.FindFullDataset() ?? throw new DirectoryNotFoundException(
            "The full Fashion-MNIST data set was not found. Install the Debian package dataset-fashion-mnist, set " +
            $"{FashionMnist.EnvironmentVariable} to a folder with the four IDX files, or pass --data DIR. " +
            "Without --full the sample trains on the test split shipped in data/fashion-mnist.");
        (LabeledImages train, LabeledImages test) = FashionMnist.Load(folder);
        return (train, test, folder);
    }
    string shipped = FashionMnist.FindShippedTestSplit() ?? FashionMnist.FindShippedTestSplit(Environment.CurrentDirectory)
        ?? throw new DirectoryNotFoundException(
            $"The shipped test split ({FashionMnist.ShippedFolder}) was not found above {AppContext.BaseDirectory} or the current folder. " +
            "Run the sample from inside the repository, or pass --full / --data DIR.");
    // t10k is in random order, so its last 2,000 images are a fair test set for a model trained on the first 8,000.
    (LabeledImages first, LabeledImages last) = FashionMnist.LoadTest(shipped).SplitLast(2000);
    return (first, last, $"{shipped} (t10k split 8,000 / 2,000)");
}

// Defaults sized so that a run finishes in about three minutes on two cores and is well past chance after one epoch.
static TrainerOptions Options(Arguments a) => Override(new TrainerOptions
{
    Epochs = 5,
    BatchSize = 128,
    Optimizer = OptimizerKind.AdamW,
    LearningRate = 3e-3f,
    WarmupSteps = 20,
    MinLearningRate = 1e-5f,
    Decay = LearningRateDecay.Cosine,
    WeightDecay = 0.05f,
    GradientClipNorm = 1f,
    LabelSmoothing = 0.05f,
    CropPadding = 2,
    HorizontalFlip = true,
    Normalization = ChannelNormalization.FashionMnist,
    LogEverySteps = 20,
}, a) with { CheckpointPath = a.Checkpoint, MetricsPath = a.Metrics };

static TrainerOptions Override(TrainerOptions o, Arguments a)
{
    if (a.Epochs is int epochs) o = o with { Epochs = epochs, MaxSteps = a.Steps ?? 0 };
    if (a.Steps is long steps) o = o with { MaxSteps = steps };
    if (a.Batch is int batch) o = o with { BatchSize = batch };
    if (a.LearningRate is float lr) o = o with { LearningRate = lr, MinLearningRate = Math.Min(o.MinLearningRate, lr) };
    if (a.Seed is ulong seed) o = o with { Seed = seed };
    if (a.Threads is int threads) o = o with { Threads = threads };
    return o with { CheckpointPath = a.Checkpoint, MetricsPath = a.Metrics };
}

static void Classify(IVitClassifier model, LabeledImages test, int count, ChannelNormalization normalization)
{
    count = Math.Min(count, test.Count);
    var batcher = new ImageBatcher(test.Slice(0, count), BatcherOptions.Evaluation(count, normalization));
    float[] pixels = new float[batcher.FloatsPerBatch];
    int[] labels = new int[count];
    batcher.TryNextBatch(pixels, labels, out _);
    int classes = model.Config.Classes;
    float[] logits = new float[count * classes];
    model.Forward(pixels, count, logits);

    Console.WriteLine($"The first {count} test images:");
    for (int i = 0; i < count; i++)
    {
        ReadOnlySpan<float> row = logits.AsSpan(i * classes, classes);
        int predicted = Evaluator.ArgMax(row);
        double confidence = Math.Exp(-Evaluator.CrossEntropy(row, predicted));
        string mark = predicted == labels[i] ? "✓" : "✗";
        Console.WriteLine($"  {mark} predicted {test.ClassName(predicted),-12} ({confidence,4:P0})   true {test.ClassName(labels[i])}");
    }
}

static string ProgressText(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}" : $"{t.Minutes}:{t.Seconds:00}";
