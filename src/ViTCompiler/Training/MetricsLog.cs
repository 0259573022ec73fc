using System.Buffers;
using System.Text.Json;
using ViTCompiler.IO;

namespace ViTCompiler.Training;

/// <summary>What a <see cref="MetricsLog"/> line holds. Values that do not apply to a record are null and left out.</summary>
/// <param name="Kind"><c>"step"</c> for a record every <see cref="TrainerOptions.LogEverySteps"/> steps, <c>"epoch"</c> at the end of each epoch (and of the run).</param>
/// <param name="Step">Updates completed.</param>
/// <param name="Epoch">Epochs completed, fractional within an epoch (step / steps per epoch).</param>
/// <param name="LearningRate">Learning rate of the last update.</param>
/// <param name="Loss">Mean training loss since the previous record of the same kind (with label smoothing, dropout and augmentation as trained).</param>
/// <param name="TrainAccuracy">Fraction of training images classified right over the same span, in [0, 1].</param>
/// <param name="GradientNorm">Global gradient norm of the last update, before clipping.</param>
/// <param name="TestLoss">Mean cross-entropy on the test set (epoch records).</param>
/// <param name="TestAccuracy">Test accuracy in [0, 1] (epoch records).</param>
/// <param name="ImagesPerSecond">Training throughput over the span, not counting evaluation and checkpoints.</param>
/// <param name="ElapsedSeconds">Wall-clock seconds since the run began, carried across resumes.</param>
public readonly record struct MetricsRecord(
    string Kind, long Step, double Epoch, double LearningRate, double Loss, double TrainAccuracy, double? GradientNorm,
    double? TestLoss, double? TestAccuracy, double ImagesPerSecond, double ElapsedSeconds);

/// <summary>
/// Training metrics as JSON lines: one object per line, so a plot (or <c>jq</c>, or pandas' <c>read_json(lines=True)</c>)
/// can read a run while it is still going.
/// </summary>
/// <remarks>
/// <para>Fields, in this order (see <see cref="MetricsRecord"/>): <c>kind</c> ("step" or "epoch"), <c>step</c>,
/// <c>epoch</c>, <c>lr</c>, <c>loss</c>, <c>train_accuracy</c>, <c>grad_norm</c> (step records), <c>test_loss</c> and
/// <c>test_accuracy</c> (epoch records with a test set), <c>images_per_second</c>, <c>elapsed_seconds</c>. Accuracies are
/// fractions in [0, 1]; losses are in nats. JSON has no NaN or infinity: a diverging run's <c>lr</c>, <c>loss</c> or
/// <c>train_accuracy</c> is written as null, and an optional field that is not finite is left out.</para>
/// <para>Example: <c>{"kind":"step","step":50,"epoch":0.8,"lr":0.00098,"loss":1.734,"train_accuracy":0.391,"grad_norm":1.93,"images_per_second":612.4,"elapsed_seconds":10.6}</c></para>
/// <para>Opening a log for a run at step s keeps only the lines of steps up to s, so a resumed run's log reads as one
/// uninterrupted run (records written after the checkpoint by the interrupted session are dropped).</para>
/// </remarks>
public sealed class MetricsLog : IDisposable
{
    private readonly FileStream _stream;
    private readonly ArrayBufferWriter<byte> _buffer = new(512);
    private readonly Utf8JsonWriter _json;

    /// <summary>Opens <paramref name="path"/> for appending, first dropping lines for steps after <paramref name="resumeStep"/>.</summary>
    /// <param name="path">The log file; created with its folder if needed.</param>
    /// <param name="resumeStep">The step the run continues from: 0 starts a fresh log.</param>
    public MetricsLog(string path, long resumeStep = 0)
    {
        ArgumentNullException.ThrowIfNull(path);
        Path = System.IO.Path.GetFullPath(path);
        string? folder = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        if (File.Exists(Path)) KeepUpTo(Path, resumeStep);
        _stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
        _json = new Utf8JsonWriter(_buffer);
    }

    /// <summary>The log file's full path.</summary>
    public string Path { get; }

    /// <summary>Appends one record as a line and flushes it, so a crash loses nothing written before.</summary>
    public void Write(in MetricsRecord record)
    {
        var line = new MetricsLineJson(record.Kind, record.Step, Math.Round(record.Epoch, 6), Finite(record.LearningRate),
            Finite(record.Loss), Finite(record.TrainAccuracy), Finite(record.GradientNorm), Finite(record.TestLoss),
            Finite(record.TestAccuracy), Math.Round(record.ImagesPerSecond, 1), Math.Round(record.ElapsedSeconds, 3));
        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
        JsonSerializer.Serialize(_json, line, TrainingJsonContext.Default.MetricsLineJson);
        _json.Flush();
        _stream.Write(_buffer.WrittenSpan);
        _stream.WriteByte((byte)'\n');
        _stream.Flush();
    }

    private static double? Finite(double? value) => value is double v && double.IsFinite(v) ? v : null;

    /// <summary>Rewrites the file (atomically) without the lines whose step is after <paramref name="step"/>.</summary>
    private static void KeepUpTo(string path, long step)
    {
        string[] lines = File.ReadAllLines(path);
        var kept = new List<string>(lines.Length);
        foreach (string line in lines)
        {
            if (line.Length == 0) continue;
            long? lineStep = null;
            try
            {
                lineStep = JsonSerializer.Deserialize(line, TrainingJsonContext.Default.MetricsStepJson)?.Step;
            }
            catch (JsonException)
            {
                // A line cut short by a crash (or not a record at all): drop it.
            }
            if (lineStep is long l && l <= step) kept.Add(line);
        }
        if (kept.Count == lines.Length) return;
        AtomicFile.WriteText(path, kept.Count == 0 ? "" : string.Join('\n', kept) + "\n");
    }

    /// <summary>Closes the file.</summary>
    public void Dispose()
    {
        _json.Dispose();
        _stream.Dispose();
    }
}
