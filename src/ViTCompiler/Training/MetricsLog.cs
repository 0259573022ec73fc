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
/// fractions in [0, 1]; losses are in nats.</para>
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
        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
        _json.WriteStartObject();
        _json.WriteString("kind", record.Kind);
        _json.WriteNumber("step", record.Step);
        _json.WriteNumber("epoch", Math.Round(record.Epoch, 6));
        WriteNumber("lr", record.LearningRate);
        WriteNumber("loss", record.Loss);
        WriteNumber("train_accuracy", record.TrainAccuracy);
        if (record.GradientNorm is double norm) WriteNumber("grad_norm", norm);
        if (record.TestLoss is double testLoss) WriteNumber("test_loss", testLoss);
        if (record.TestAccuracy is double testAccuracy) WriteNumber("test_accuracy", testAccuracy);
        _json.WriteNumber("images_per_second", Math.Round(record.ImagesPerSecond, 1));
        _json.WriteNumber("elapsed_seconds", Math.Round(record.ElapsedSeconds, 3));
        _json.WriteEndObject();
        _json.Flush();
        _stream.Write(_buffer.WrittenSpan);
        _stream.WriteByte((byte)'\n');
        _stream.Flush();
    }

    // JSON has no NaN or infinity; a diverging run's values are written as null rather than breaking the file.
    private void WriteNumber(string name, double value)
    {
        if (double.IsFinite(value)) _json.WriteNumber(name, value);
        else _json.WriteNull(name);
    }

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
                using JsonDocument document = JsonDocument.Parse(line);
                if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("step", out JsonElement s) && s.TryGetInt64(out long v))
                    lineStep = v;
            }
            catch (JsonException)
            {
                // A line cut short by a crash: drop it.
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
