using System.Diagnostics;
using FashionMnistSample;
using ViTCompiler;
using ViTCompiler.Data;
using ViTCompiler.IO;
using ViTCompiler.Training;

// Train FashionHybridVit (FashionDeepHybridVit with --full, or FashionVit) on Fashion-MNIST with a progress bar, report test accuracy, save a checkpoint, classify a few images.
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

    // The library's Fashion-MNIST recipe (AdamW, warm-up and cosine decay; 2 epochs, or the 15-minute one with --full), with the flags
    // given on the command line. A resumed run continues with the settings its checkpoint recorded;
    // flags given now win.
    TrainerOptions recipe = (arguments.Full ? TrainerOptions.FashionMnistFull : TrainerOptions.FashionMnist) with
    {
        CheckpointPath = arguments.Checkpoint, MetricsPath = arguments.Metrics, Threads = arguments.Threads,
    };
    TrainerOptions options = arguments.Overrides.ApplyTo(arguments.Resume is null ? recipe : Trainer.ReadSettings(arguments.Resume, recipe));

    CompiledVit model = arguments.Model switch
    {
        "vit" => new FashionVit(seed: options.Seed),
        "deep" => new FashionDeepHybridVit(seed: options.Seed),
        _ => new FashionHybridVit(seed: options.Seed),
    };
    Console.WriteLine($"Model: {model.Config}, {model.Config.ParameterCount:N0} parameters, {model.Engine}.");
    using var trainer = new Trainer(model, train, test, options, new ConsoleProgress());
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
    Console.WriteLine($"Test {final} after {result.Step:N0} steps; this session took {ConsoleProgress.FormatDuration(clock.Elapsed.TotalSeconds)} " +
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
    // The four files: from --data, VIT_FASHION_MNIST, the repository's data/fashion-mnist or the Debian package.
    string? folder = arguments.DataFolder ?? FashionMnist.FindFullDataset();
    if (folder is not null && FashionMnist.HasFullDataset(folder))
    {
        (LabeledImages train, LabeledImages test) = FashionMnist.Load(folder);
        return (train, test, folder);
    }
    // Only the test split at hand (a --data folder, or a checkout without the training files): divide it.
    string shipped = folder ?? FashionMnist.FindShippedTestSplit() ?? FashionMnist.FindShippedTestSplit(Environment.CurrentDirectory)
        ?? throw new DirectoryNotFoundException(
            $"No Fashion-MNIST files were found: not in {FashionMnist.ShippedFolder} above {AppContext.BaseDirectory} or the current folder, " +
            $"nor in {FashionMnist.EnvironmentVariable} or {FashionMnist.DebianPackageFolder}. Run the sample from inside the repository, or pass --data DIR.");
    (LabeledImages first, LabeledImages last) = FashionMnist.LoadDividedTestSplit(shipped);
    return (first, last, $"{shipped} (t10k split {first.Count:N0} / {last.Count:N0}: the training files are not there)");
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
