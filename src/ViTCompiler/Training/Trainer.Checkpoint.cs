using System.Globalization;
using System.Text.Json;
using ViTCompiler.Data;
using ViTCompiler.IO;

namespace ViTCompiler.Training;

// Checkpoints: what a resumed run needs, written through VitCheckpoint (one safetensors file, saved atomically).
//
//   tensors   the parameters under their timm names; optimiser blocks (optimizer.m, optimizer.v or optimizer.momentum)
//   metadata  trainer.format    "vitcompiler-trainer/1"
//             trainer.settings  TrainerOptions.ToSettingsJson(): what shapes the run, checked on resume
//             trainer.step      updates completed
//             trainer.epoch     epochs completed (informational; the batcher state is authoritative)
//             trainer.rng       the dropout-seed generator, 4 hex words
//             trainer.batcher   ImageBatcher.GetState, 13 hex words
//             trainer.sums      running sums behind the metrics (JSON)
//             trainer.elapsed_seconds, trainer.threads, trainer.ranks, trainer.engine, trainer.train_images (informational)
//             optimizer.name, optimizer.step
public sealed partial class Trainer
{
    /// <summary>Metadata key marking a checkpoint that a <see cref="Trainer"/> can resume.</summary>
    public const string FormatKey = "trainer.format";

    private WriterLock? _checkpointLock;

    /// <summary>The current trainer-state format.</summary>
    public const string FormatVersion = "vitcompiler-trainer/1";

    /// <summary>Metadata key of the run-shaping settings (<see cref="TrainerOptions.ToSettingsJson"/>).</summary>
    public const string SettingsKey = "trainer.settings";

    /// <summary>
    /// Writes a checkpoint of the run as it stands (between two updates) to <paramref name="path"/>, atomically: the
    /// previous file is replaced only once the new one is complete. The folder is created if needed. Under MPI every rank
    /// checks the state and only rank 0 writes (the state is the same on every rank).
    /// </summary>
    /// <exception cref="TrainingDivergedException">A parameter or optimiser value is not finite; nothing was written.</exception>
    public void SaveCheckpoint(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (_broken is not null) throw new InvalidOperationException(_broken);
        // Never replace a good checkpoint with a broken model.
        int bad = FineTuning.IndexOfNonFinite(_model.Parameters);
        if (bad >= 0) throw Diverged(_step, "parameters", _model.Parameters[bad], _lastLearningRate);
        OptimizerState state = Optimizer.ExportState();
        foreach ((string name, float[] block) in state.Blocks)
        {
            int i = FineTuning.IndexOfNonFinite(block);
            if (i >= 0) throw Diverged(_step, $"optimizer state ({name})", block[i], _lastLearningRate);
        }
        if (!IsWriter)
        {
            _lastCheckpoint = path;
            _lastCheckpointStep = _step;
            return;
        }

        Span<ulong> words = stackalloc ulong[ImageBatcher.StateLength];
        _batcher.GetState(words);
        string batcher = Hex(words);
        _random.GetState(words[..4]);
        string rng = Hex(words[..4]);

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [FormatKey] = FormatVersion,
            [SettingsKey] = Options.ToSettingsJson(),
            ["trainer.step"] = Text(_step),
            ["trainer.epoch"] = Text(_step / StepsPerEpoch),
            ["trainer.rng"] = rng,
            ["trainer.batcher"] = batcher,
            ["trainer.sums"] = SumsJson(),
            ["trainer.elapsed_seconds"] = ElapsedSeconds.ToString("R", CultureInfo.InvariantCulture),
            ["trainer.threads"] = Text(_model.Threads),
            ["trainer.ranks"] = Text(_communicator.Size),
            ["trainer.engine"] = _model.Engine,
            ["trainer.train_images"] = Text(_batcher.Images.Count),
            ["optimizer.name"] = state.Optimizer,
            ["optimizer.step"] = Text(state.Step),
        };
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        VitCheckpoint.Save(full, _model, state.Blocks, metadata);
        _lastCheckpoint = path;
        _lastCheckpointStep = _step;
    }

    /// <summary>
    /// As a run starts, before any work: claims <see cref="TrainerOptions.CheckpointPath"/> for this trainer (a lock file
    /// beside it, so a second run writing the same checkpoint is refused with the holder's process id), which also proves
    /// its folder writable, and deletes temporary files an interrupted save of it left behind.
    /// </summary>
    /// <exception cref="IOException">The checkpoint cannot be written there, or another run is writing it.</exception>
    private void ClaimCheckpoint()
    {
        if (Options.CheckpointPath is not string path || _checkpointLock is not null) return;
        string full;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            full = AtomicFile.CheckTarget(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // "The file '/x/a' already exists" is what creating /x/a/b says when a is a file: say it the user's way.
            string? blocking = Path.GetDirectoryName(Path.GetFullPath(path));
            while (blocking is not null && !File.Exists(blocking) && !Directory.Exists(blocking)) blocking = Path.GetDirectoryName(blocking);
            string why = blocking is not null && File.Exists(blocking) ? $"'{blocking}' is a file, not a folder" : e.Message.TrimEnd('.');
            throw new IOException($"Cannot write checkpoints to '{path}': {why}. Choose another checkpoint path (checked before training, so no work is lost).", e);
        }
        _checkpointLock = WriterLock.Acquire(full, $"training checkpoint of {_model.Config}");
        int removed = AtomicFile.DeleteLeftovers(full);
        if (removed > 0) Report(TrainingProgressKind.Note, default, $"Removed {removed} temporary file{(removed == 1 ? "" : "s")} that an interrupted save of '{path}' left behind.");
    }

    /// <summary>Releases what <see cref="ClaimCheckpoint"/> took.</summary>
    private void ReleaseCheckpoint()
    {
        _checkpointLock?.Dispose();
        _checkpointLock = null;
    }

    private void SaveCheckpointIfNew(string path)
    {
        if (_lastCheckpointStep == _step && _lastCheckpoint == path) return;
        SaveCheckpoint(path);
    }

    /// <summary>
    /// Continues the run saved in <paramref name="path"/>: loads the parameters into the model and restores the optimiser,
    /// the batcher, the generators, the step and the metric sums, so that <see cref="Run(CancellationToken)"/> carries on
    /// exactly as the saving run would have. Call it on a new trainer built with the same data and settings.
    /// </summary>
    /// <param name="path">A checkpoint written by <see cref="SaveCheckpoint"/>.</param>
    /// <param name="allowChangedSettings">
    /// Accept run-shaping settings that differ from the checkpoint's (e.g. more epochs, or another learning rate); the run
    /// then continues sensibly but no longer replays the original. Batch size, augmentation and the optimiser kind must
    /// match regardless.
    /// </param>
    /// <returns>The settings that differ, "name: saved → now" (empty for an exact replay).</returns>
    /// <exception cref="WeightsFileException">The file is unreadable, is not a trainer checkpoint, or does not fit the model.</exception>
    /// <exception cref="InvalidOperationException">The settings differ and <paramref name="allowChangedSettings"/> is false, or the training data differs.</exception>
    public IReadOnlyList<string> Resume(string path, bool allowChangedSettings = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (_broken is not null) throw new InvalidOperationException(_broken);
        if (_step != 0 || Optimizer.StepCount != 0)
            throw new InvalidOperationException($"This trainer has already taken {_step} steps; resume on a new Trainer.");

        VitCheckpoint checkpoint = VitCheckpoint.Load(path);
        IReadOnlyDictionary<string, string> meta = checkpoint.Metadata;
        if (!meta.TryGetValue(FormatKey, out string? format))
            throw new WeightsFileException(path,
                "holds weights but no trainer state (it was not written by a Trainer), so training cannot resume from it. " +
                "Load it as weights with VitCheckpoint.LoadInto, or fine-tune from it with FineTuning.TransferWeights.");
        if (format != FormatVersion)
            throw new WeightsFileException(path, $"holds trainer state in format '{format}'; this version resumes '{FormatVersion}'.");

        // Read and check everything before changing anything.
        TrainerOptions saved = ReadSettings(path, meta);
        // The micro-batch count does not change what an update computes (only its rounding and dropout masks), so it may
        // change freely, e.g. to fit another machine's memory; it is noted below, not treated as a changed setting.
        IReadOnlyList<string> differences = (saved with { Accumulate = Options.Accumulate }).SettingsDifferences(Options);
        var fatal = new List<string>();
        if (saved.BatchSize != Options.BatchSize) fatal.Add($"batch size {saved.BatchSize} → {Options.BatchSize}");
        if (saved.CropPadding != Options.CropPadding || saved.HorizontalFlip != Options.HorizontalFlip || saved.DropLastBatch != Options.DropLastBatch)
            fatal.Add("augmentation (crop padding, flips or dropping the last batch)");
        if (saved.Optimizer != Options.Optimizer) fatal.Add($"optimizer {saved.Optimizer} → {Options.Optimizer}");
        if (fatal.Count > 0)
            throw new InvalidOperationException(
                $"Cannot resume from '{path}': the run changed its {string.Join(", ", fatal)}, which the saved state depends on. Resume with the checkpoint's settings.");
        if (differences.Count > 0 && !allowChangedSettings)
            throw new InvalidOperationException(
                $"'{path}' was trained with other settings ({string.Join("; ", differences)}). Use the same settings to replay the run exactly, " +
                "or pass allowChangedSettings: true to continue with the new ones.");

        long step = Long(path, meta, "trainer.step");
        long optimizerStep = Long(path, meta, "optimizer.step");
        string optimizerName = Required(path, meta, "optimizer.name");
        ulong[] batcher = Words(path, meta, "trainer.batcher", ImageBatcher.StateLength);
        ulong[] rng = Words(path, meta, "trainer.rng", 4);
        VitRandom random;
        try { random = VitRandom.FromState(rng); }
        catch (ArgumentException e) { throw new WeightsFileException(path, $"metadata 'trainer.rng' is not a generator state ({e.Message})"); }
        if (step < 0 || step > TotalSteps && !allowChangedSettings)
            throw new WeightsFileException(path, $"is at step {step}, outside this run's {TotalSteps} steps");
        (Span epochSpan, Span intervalSpan, Span lastEpoch, float lastRate, double lastNorm) = ReadSums(path, meta);
        double elapsed = meta.TryGetValue("trainer.elapsed_seconds", out string? e2) && double.TryParse(e2, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) ? seconds : 0;

        var state = new OptimizerState(optimizerName, optimizerStep, checkpoint.Blocks);
        try
        {
            checkpoint.ApplyTo(_model);    // checks the configuration and that every value is finite before writing
            Optimizer.ImportState(state);  // checks names and lengths before copying
            _batcher.SetState(batcher);    // checks the image count and options before moving
        }
        catch (ArgumentException e)
        {
            _broken = $"Resuming from '{path}' failed part-way ({e.Message}); create a new Trainer.";
            throw new WeightsFileException(path, $"cannot be resumed here: {e.Message}", e);
        }
        catch (Exception e)
        {
            _broken = $"Resuming from '{path}' failed part-way ({e.Message}); create a new Trainer.";
            throw;
        }
        _random = random;
        _step = step;
        (_epochSpan, _intervalSpan, _lastEpochSummary, _lastLearningRate, _lastGradientNorm) = (epochSpan, intervalSpan, lastEpoch, lastRate, lastNorm);
        _previousSessionsSeconds = elapsed;
        _lastCheckpoint = path;
        _lastCheckpointStep = step;

        if (saved.Accumulate != Options.Accumulate)
            Report(TrainingProgressKind.Note, default, $"Note: the checkpoint was trained in {saved.Accumulate} micro-batches per update and this run uses {Options.Accumulate}; the updates are the same up to float rounding (and dropout masks), not bit for bit.");
        string savedRanks = meta.TryGetValue("trainer.ranks", out string? r) ? r : "1";
        if (savedRanks != Text(_communicator.Size))
            Report(TrainingProgressKind.Note, default, $"Note: the checkpoint was trained on {savedRanks} rank(s) and this run uses {_communicator.Size}; the run continues with the same global batch, and the updates equal the original's up to float rounding (and dropout masks, unless ranks × accumulate is unchanged), not bit for bit.");
        if (meta.TryGetValue("trainer.threads", out string? threads) && threads != Text(_model.Threads))
            Report(TrainingProgressKind.Note, default, $"Note: the checkpoint was trained with {threads} threads and this run uses {_model.Threads}; bit-exact replay is only promised for the same count.");
        return differences;
    }

    /// <summary>
    /// The run-shaping settings recorded in a trainer checkpoint, applied over <paramref name="baseOptions"/> (whose
    /// reporting and saving options are kept) — e.g. to resume a run without repeating its command-line flags.
    /// </summary>
    /// <exception cref="WeightsFileException">The file is not a trainer checkpoint or its settings are unreadable.</exception>
    public static TrainerOptions ReadSettings(string path, TrainerOptions? baseOptions = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        if (!file.Metadata.ContainsKey(FormatKey))
            throw new WeightsFileException(path, "holds no trainer state (it was not written by a Trainer), so it records no training settings.");
        return ReadSettings(path, file.Metadata, baseOptions);
    }

    private static TrainerOptions ReadSettings(string path, IReadOnlyDictionary<string, string> meta, TrainerOptions? baseOptions = null)
    {
        string json = Required(path, meta, SettingsKey);
        try
        {
            return (baseOptions ?? new TrainerOptions()).WithSettingsJson(json);
        }
        catch (FormatException e)
        {
            throw new WeightsFileException(path, $"metadata '{SettingsKey}' is unusable: {e.Message}");
        }
    }

    private string SumsJson() => JsonSerializer.Serialize(
        new TrainerSumsJson(Sums(_epochSpan), Sums(_intervalSpan), Sums(_lastEpochSummary), _lastLearningRate, _lastGradientNorm),
        TrainingJsonContext.Default.TrainerSumsJson);

    private static SpanSumsJson Sums(in Span s) => new(s.Loss, s.Correct, s.Images, s.TrainSeconds);

    private static (Span Epoch, Span Interval, Span LastEpoch, float LastRate, double LastNorm) ReadSums(string path, IReadOnlyDictionary<string, string> meta)
    {
        // The sums only feed the metrics: a file without them (or without some of them) still resumes, with fresh sums.
        if (!meta.TryGetValue("trainer.sums", out string? text)) return default;
        TrainerSumsJson? sums;
        try
        {
            sums = JsonSerializer.Deserialize(text, TrainingJsonContext.Default.TrainerSumsJson);
        }
        catch (JsonException e)
        {
            throw new WeightsFileException(path, $"metadata 'trainer.sums' is unusable ({e.Message})");
        }
        if (sums is null) return default;
        return (Span(sums.Epoch), Span(sums.Interval), Span(sums.LastEpoch), sums.LastLr, sums.LastGradNorm);

        static Span Span(SpanSumsJson s) => new() { Loss = s.Loss, Correct = s.Correct, Images = s.Images, TrainSeconds = s.TrainSeconds };
    }

    private static string Required(string path, IReadOnlyDictionary<string, string> meta, string key) =>
        meta.TryGetValue(key, out string? value) ? value
            : throw new WeightsFileException(path, $"has no '{key}' metadata; the trainer state is incomplete (was the file edited?)");

    private static long Long(string path, IReadOnlyDictionary<string, string> meta, string key)
    {
        string text = Required(path, meta, key);
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? value
            : throw new WeightsFileException(path, $"metadata '{key}' is '{text}', not a step count");
    }

    private static ulong[] Words(string path, IReadOnlyDictionary<string, string> meta, string key, int count)
    {
        string[] parts = Required(path, meta, key).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        ulong[] words = new ulong[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!ulong.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out words[i]))
                throw new WeightsFileException(path, $"metadata '{key}' word {i} is '{parts[i]}', not a hexadecimal number");
        return words.Length == count ? words
            : throw new WeightsFileException(path, $"metadata '{key}' holds {words.Length} words; {count} are expected");
    }

    private static string Hex(ReadOnlySpan<ulong> words)
    {
        var parts = new string[words.Length];
        for (int i = 0; i < words.Length; i++) parts[i] = words[i].ToString("X16", CultureInfo.InvariantCulture);
        return string.Join(' ', parts);
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}
