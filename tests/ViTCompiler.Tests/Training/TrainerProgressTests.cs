using System.Text.Json;
using ViTCompiler.Data;
using ViTCompiler.Tests.Data;
using ViTCompiler.Training;
using Xunit;

namespace ViTCompiler.Tests.Training;

/// <summary>Keeps every report, as it arrives (on the training thread).</summary>
internal sealed class ProgressRecorder : IProgress<TrainingProgress>
{
    public List<TrainingProgress> Reports { get; } = [];

    public void Report(TrainingProgress value) => Reports.Add(value);
}

/// <summary>Tests that swap <see cref="Console.Out"/> and <see cref="Console.Error"/>, which no other test may run beside.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "Console";
}

[Collection(ConsoleCollection.Name)]
public class TrainerProgressTests
{
    [Fact]
    public void A_custom_progress_receives_the_run_in_order_and_nothing_reaches_the_console()
    {
        // 96 images in batches of 16: 6 steps per epoch; 8 steps in all, a log interval every 4.
        using var folder = new TempFolder();
        TrainerOptions options = TrainerTests.ReplayOptions(folder.Path) with { MaxSteps = 8 };
        (LabeledImages train, LabeledImages test) = TrainerTests.Tiny();
        var recorder = new ProgressRecorder();
        var batchLosses = new List<double>();
        var rates = new List<float>();

        TextWriter stdout = Console.Out, stderr = Console.Error;
        var console = new StringWriter();
        TrainingResult result;
        Console.SetOut(console);
        Console.SetError(console);
        try
        {
            using var trainer = new Trainer(new FashionSmall(seed: 1), train, test, options, recorder);
            trainer.StepCompleted += s => { batchLosses.Add(s.Loss); rates.Add(s.LearningRate); };
            result = trainer.Run();
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
        Assert.Equal("", console.ToString());
        Assert.True(result.Completed);

        List<TrainingProgress> r = recorder.Reports;
        Assert.Equal(
            ["Started@0", "Step@1", "Step@2", "Step@3", "Step@4", "Interval@4", "Step@5", "Step@6", "EpochEnded@6",
             "Step@7", "Step@8", "Interval@8", "EpochEnded@8", "Finished@8"],
            r.Select(p => $"{p.Kind}@{p.Step}"));
        Assert.All(r, p => Assert.Equal((8L, 2), (p.TotalSteps, p.TotalEpochs)));
        Assert.Contains("step 1 to 8 of 8", r[0].Message);
        Assert.Null(r[^1].Message);
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1], r.Skip(1).Select(p => p.Epoch));
        Assert.True(r.Zip(r.Skip(1)).All(pair => pair.First.ElapsedSeconds <= pair.Second.ElapsedSeconds), "elapsed time went backwards");

        // Every update's report carries that update's learning rate; a step's loss is the running mean of its epoch.
        TrainingProgress[] steps = r.Where(p => p.Kind == TrainingProgressKind.Step).ToArray();
        Assert.Equal(rates, steps.Select(p => p.LearningRate));
        Assert.Equal(batchLosses.Take(3).Average(), steps[2].Loss, 1e-9);
        Assert.Equal(batchLosses.Skip(6).Take(2).Average(), steps[7].Loss, 1e-9);
        Assert.All(steps, p => Assert.True(p.ImagesPerSecond > 0 && double.IsFinite(p.EtaSeconds) && p.Test is null));

        // The interval and epoch reports are what the metrics log records, and the epoch ends carry the evaluation.
        TrainingProgress[] summaries = r.Where(p => p.Kind is TrainingProgressKind.Interval or TrainingProgressKind.EpochEnded).ToArray();
        string[] lines = File.ReadAllLines(options.MetricsPath!);
        Assert.Equal(lines.Length, summaries.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            using JsonDocument d = JsonDocument.Parse(lines[i]);
            Assert.Equal(d.RootElement.GetProperty("step").GetInt64(), summaries[i].Step);
            Assert.Equal(d.RootElement.GetProperty("loss").GetDouble(), summaries[i].Loss, 1e-12);
            Assert.Equal(d.RootElement.GetProperty("train_accuracy").GetDouble(), summaries[i].Accuracy, 1e-12);
        }
        Assert.Equal(batchLosses.Take(6).Average(), summaries[1].Loss, 1e-9);
        foreach (TrainingProgress epochEnd in r.Where(p => p.Kind == TrainingProgressKind.EpochEnded))
        {
            Assert.NotNull(epochEnd.Test);
            Assert.Equal(test.Count, epochEnd.Test.Value.Images);
        }
        Assert.Equal(result.Test, r.Last(p => p.Kind == TrainingProgressKind.EpochEnded).Test);
    }
}
