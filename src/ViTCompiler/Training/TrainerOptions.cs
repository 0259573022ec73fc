using System.Text.Json;
using System.Text.Json.Serialization;
using ViTCompiler.Data;

namespace ViTCompiler.Training;

/// <summary>Which optimiser a <see cref="Trainer"/> uses (in JSON: <c>"adamw"</c>, <c>"sgd"</c>).</summary>
public enum OptimizerKind
{
    /// <summary><see cref="Training.AdamW"/>: pre-training and training from scratch.</summary>
    [JsonStringEnumMemberName("adamw")] AdamW,
    /// <summary><see cref="Training.Sgd"/> with momentum: the paper's fine-tuning.</summary>
    [JsonStringEnumMemberName("sgd")] Sgd,
}

/// <summary>
/// Everything a <see cref="Trainer"/> needs to know. The settings that shape the run (the optimiser, schedule,
/// regularisation, batching, seed, length) are saved in every checkpoint, and a resume checks them against these; the
/// rest (logging, paths, threads) may change between sessions.
/// </summary>
public sealed record TrainerOptions
{
    // ---- length -------------------------------------------------------------------------------------------------

    /// <summary>Passes over the training set; ignored when <see cref="MaxSteps"/> is positive.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>When positive, the run is exactly this many updates (epochs continue as the data allows).</summary>
    public long MaxSteps { get; init; }

    /// <summary>Images per update: the global batch, however many micro-batches and processes it is split over.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>
    /// Gradient accumulation: micro-batches per update (≥ 1). Each update's <see cref="BatchSize"/> images are split into
    /// this many micro-batches (per process, under MPI) whose gradients are summed before the one optimiser step, so a
    /// large global batch runs in the memory of a small one. The update is the same quantity — the gradient of the mean
    /// loss over the global batch — for any value, up to float summation order; dropout masks are drawn per micro-batch.
    /// </summary>
    public int Accumulate { get; init; } = 1;

    // ---- optimiser and schedule ------------------------------------------------------------------------------------

    /// <summary>The optimiser.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;

    /// <summary>Peak learning rate, reached at the end of the warm-up.</summary>
    public float LearningRate { get; init; } = 1e-3f;

    /// <summary>Learning rate at the end of the run (the schedule's floor).</summary>
    public float MinLearningRate { get; init; }

    /// <summary>Updates of linear warm-up.</summary>
    public long WarmupSteps { get; init; }

    /// <summary>Shape of the decay after the warm-up.</summary>
    public LearningRateDecay Decay { get; init; } = LearningRateDecay.Cosine;

    /// <summary>Weight decay λ, on weight matrices only (AdamW: decoupled; SGD: L2 added to the gradient).</summary>
    public float WeightDecay { get; init; } = 0.05f;

    /// <summary>SGD's momentum μ (ignored by AdamW).</summary>
    public float Momentum { get; init; } = 0.9f;

    /// <summary>Global-norm gradient clipping limit; 0 turns clipping off. The paper clips at 1.</summary>
    public float GradientClipNorm { get; init; } = GradientClipping.DefaultMaxNorm;

    // ---- regularisation ---------------------------------------------------------------------------------------------

    /// <summary>Label smoothing ε.</summary>
    public float LabelSmoothing { get; init; }

    /// <summary>Dropout probability (see <see cref="TrainStepOptions.Dropout"/>).</summary>
    public float Dropout { get; init; }

    /// <summary>Stochastic-depth probability (see <see cref="TrainStepOptions.DropPath"/>).</summary>
    public float DropPath { get; init; }

    // ---- data -------------------------------------------------------------------------------------------------------

    /// <summary>Seeds the shuffling, the augmentation and the dropout masks (not the model's initialisation).</summary>
    public ulong Seed { get; init; }

    /// <summary>Random-crop padding in pixels for training images (0 = off); see <see cref="BatcherOptions.CropPadding"/>.</summary>
    public int CropPadding { get; init; } = 2;

    /// <summary>Mirror training images left–right at random.</summary>
    public bool HorizontalFlip { get; init; } = true;

    /// <summary>Skip each epoch's last, incomplete batch, so every update sees <see cref="BatchSize"/> images.</summary>
    public bool DropLastBatch { get; init; } = true;

    /// <summary>Pixel normalisation for training and evaluation.</summary>
    public ChannelNormalization Normalization { get; init; } = ChannelNormalization.None;

    // ---- reporting and saving (free to change between sessions) ----------------------------------------------------

    /// <summary>Images per forward pass when evaluating.</summary>
    public int EvaluationBatchSize { get; init; } = 256;

    /// <summary>
    /// The evaluation at the run's end (and <see cref="Trainer.Evaluate"/>) averages each test image's logits with its
    /// mirror image's (test-time flip; see <see cref="Evaluator"/>), at twice the forward passes; the evaluations after
    /// earlier epochs stay plain, tracking progress at half the cost. Training is unchanged.
    /// </summary>
    public bool TestTimeFlip { get; init; }

    /// <summary>Steps between <see cref="TrainingProgressKind.Interval"/> progress reports and metrics records.</summary>
    public int LogEverySteps { get; init; } = 50;

    /// <summary>Where checkpoints are written (atomically, replacing the previous one); null for none.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Save a checkpoint at the end of every epoch (needs <see cref="CheckpointPath"/>).</summary>
    public bool CheckpointEveryEpoch { get; init; } = true;

    /// <summary>When positive, also save a checkpoint every this many steps.</summary>
    public long CheckpointEverySteps { get; init; }

    /// <summary>JSON-lines metrics file, appended to (see <see cref="MetricsLog"/>); null for none.</summary>
    public string? MetricsPath { get; init; }

    /// <summary>Threads for the model's passes; null keeps the model's setting. Bit-exact replay needs the same count.</summary>
    public int? Threads { get; init; }

    /// <summary>
    /// The recipe for training a small ViT from scratch on Fashion-MNIST, which the FashionMnist sample and
    /// <c>vit train</c> start from: 2 epochs of batches of 32; AdamW peaking at 2e-3 after 20 warm-up steps, cosine decay
    /// to 1e-5, weight decay 0.05, clipping at 1; no augmentation and no label smoothing; Fashion-MNIST's normalisation;
    /// a progress report and metrics record every 100 steps.
    /// </summary>
    /// <remarks>
    /// Sized for the README's main command, 3 minutes on two cores including the build: the sample's two-block hybrid
    /// trains 2 epochs of the 60,000 training images in 32 seconds on two quiet Zen 3 cores (87.65 % test accuracy; the
    /// whole command 0:51–1:05 from a fresh clone, 1:51 on a busier host). In so short a run the model under-fits (training and test accuracy are
    /// equal), so augmentation and label smoothing only slow it down, and small batches learn more per image than large
    /// ones (docs/TRAINING.md records what was tried and what each gave). Add paths and threads with <c>with</c>; apply a
    /// user's choices (on a new or a resumed run) with <see cref="TrainerOverrides"/>.
    /// </remarks>
    public static TrainerOptions FashionMnist { get; } = new()
    {
        Epochs = 2,
        BatchSize = 32,
        Optimizer = OptimizerKind.AdamW,
        LearningRate = 2e-3f,
        WarmupSteps = 20,
        MinLearningRate = 1e-5f,
        Decay = LearningRateDecay.Cosine,
        WeightDecay = 0.05f,
        GradientClipNorm = 1f,
        LabelSmoothing = 0,
        CropPadding = 0,
        HorizontalFlip = false,
        Normalization = ChannelNormalization.FashionMnist,
        LogEverySteps = 100,
    };

    /// <summary>
    /// <see cref="FashionMnist"/> for the 15-minute budget instead of 3 (the FashionMnist sample's <c>--full</c>, which
    /// trains the deep hybrid with it): 16 epochs with 1-pixel random crops and flips, the last evaluation with the
    /// test-time flip.
    /// </summary>
    /// <remarks>
    /// In a run this long the deep hybrid over-fits without augmentation and under-fits with 2-pixel crops; 1-pixel crops
    /// were ahead of 2-pixel ones (same seed) at every epoch, by 0.6 points at the end (93.09 against 92.51 %). The flip
    /// at test time added 0.1–0.5 points at the end of every run measured. Label smoothing 0.1, weight averaging and a
    /// wider MLP gave nothing measurable here (docs/TRAINING.md has the runs epoch by epoch and what was tried).
    /// </remarks>
    public static TrainerOptions FashionMnistFull { get; } = FashionMnist with { Epochs = 16, CropPadding = 1, HorizontalFlip = true, TestTimeFlip = true };

    /// <summary>
    /// The paper's fine-tuning recipe (§3.2, appendix B.1.1): SGD with momentum 0.9, no weight decay, cosine decay,
    /// clipping at 1, for <paramref name="steps"/> updates at peak rate <paramref name="learningRate"/>.
    /// </summary>
    public static TrainerOptions FineTuning(float learningRate, long steps, int batchSize = 128) => new()
    {
        Optimizer = OptimizerKind.Sgd, LearningRate = learningRate, MaxSteps = steps, BatchSize = batchSize,
        WeightDecay = 0, Momentum = 0.9f, Decay = LearningRateDecay.Cosine, GradientClipNorm = 1,
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that cannot work.</summary>
    public TrainerOptions Validate()
    {
        string? problem = Problem();
        return problem is null ? this : throw new ArgumentException($"Invalid trainer options: {problem}.");
    }

    private string? Problem()
    {
        if (MaxSteps < 0) return $"MaxSteps must be 0 (use Epochs) or positive (got {MaxSteps})";
        if (MaxSteps == 0 && Epochs <= 0) return $"Epochs must be positive when MaxSteps is 0 (got {Epochs})";
        if (BatchSize <= 0) return $"BatchSize must be positive (got {BatchSize})";
        if (Accumulate <= 0 || Accumulate > BatchSize) return $"Accumulate must be between 1 and BatchSize {BatchSize} (got {Accumulate})";
        if (Optimizer is not (OptimizerKind.AdamW or OptimizerKind.Sgd)) return $"Optimizer {(int)Optimizer} is not an OptimizerKind";
        if (!(LearningRate >= 0) || !float.IsFinite(LearningRate)) return $"LearningRate must be zero or a positive finite number (got {LearningRate})";
        if (!(MinLearningRate >= 0) || MinLearningRate > LearningRate) return $"MinLearningRate must be between 0 and LearningRate {LearningRate} (got {MinLearningRate})";
        if (WarmupSteps < 0) return $"WarmupSteps cannot be negative (got {WarmupSteps})";
        if (Decay is not (LearningRateDecay.Cosine or LearningRateDecay.Linear or LearningRateDecay.Constant)) return $"Decay {(int)Decay} is not a LearningRateDecay";
        if (!(WeightDecay >= 0) || !float.IsFinite(WeightDecay)) return $"WeightDecay must be zero or a positive finite number (got {WeightDecay})";
        if (!(Momentum >= 0 && Momentum < 1)) return $"Momentum must be in [0, 1) (got {Momentum})";
        if (!(GradientClipNorm >= 0) || !float.IsFinite(GradientClipNorm)) return $"GradientClipNorm must be 0 (off) or a positive finite number (got {GradientClipNorm})";
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1)) return $"LabelSmoothing must be in [0, 1) (got {LabelSmoothing})";
        if (!(Dropout >= 0 && Dropout < 1)) return $"Dropout must be in [0, 1) (got {Dropout})";
        if (!(DropPath >= 0 && DropPath < 1)) return $"DropPath must be in [0, 1) (got {DropPath})";
        if (CropPadding < 0) return $"CropPadding cannot be negative (got {CropPadding})";
        if (Normalization is null) return "Normalization is null (use ChannelNormalization.None for plain 0–1 pixels)";
        if (EvaluationBatchSize <= 0) return $"EvaluationBatchSize must be positive (got {EvaluationBatchSize})";
        if (LogEverySteps <= 0) return $"LogEverySteps must be positive (got {LogEverySteps})";
        if (CheckpointEverySteps < 0) return $"CheckpointEverySteps cannot be negative (got {CheckpointEverySteps})";
        if (Threads is int t && t <= 0) return $"Threads must be positive (got {t})";
        return null;
    }

    /// <summary>
    /// The settings that shape the run, as a JSON object with snake_case keys — what checkpoints store under
    /// <c>trainer.settings</c> (System.Text.Json source generation: no reflection, NativeAOT-safe).
    /// </summary>
    public string ToSettingsJson() => JsonSerializer.Serialize(ToSettings(), TrainingJsonContext.Default.TrainerSettingsJson);

    /// <summary>
    /// These options with the run-shaping settings replaced by those in <paramref name="json"/> (as written by
    /// <see cref="ToSettingsJson"/>); reporting and saving options are kept, and so is any setting the text lacks.
    /// </summary>
    /// <exception cref="FormatException">The text is not such an object; the message names the key.</exception>
    public TrainerOptions WithSettingsJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        TrainerSettingsJson? s;
        try
        {
            s = JsonSerializer.Deserialize(json, TrainingJsonContext.Default.TrainerSettingsJson);
        }
        catch (JsonException e)
        {
            throw new FormatException(e.Path is null or "$"
                ? $"The trainer settings are not a JSON object of settings ({e.Message})."
                : $"The trainer setting '{e.Path.TrimStart('$', '.')}' has an unusable value ({e.Message}).", e);
        }
        if (s is null) throw new FormatException("The trainer settings are JSON null, not an object.");
        TrainerOptions o = this with
        {
            Epochs = s.Epochs ?? Epochs,
            MaxSteps = s.MaxSteps ?? MaxSteps,
            BatchSize = s.BatchSize ?? BatchSize,
            Accumulate = s.Accumulate ?? Accumulate,
            Optimizer = s.Optimizer ?? Optimizer,
            LearningRate = s.LearningRate ?? LearningRate,
            MinLearningRate = s.MinLearningRate ?? MinLearningRate,
            WarmupSteps = s.WarmupSteps ?? WarmupSteps,
            Decay = s.Decay ?? Decay,
            WeightDecay = s.WeightDecay ?? WeightDecay,
            Momentum = s.Momentum ?? Momentum,
            GradientClipNorm = s.GradientClipNorm ?? GradientClipNorm,
            LabelSmoothing = s.LabelSmoothing ?? LabelSmoothing,
            Dropout = s.Dropout ?? Dropout,
            DropPath = s.DropPath ?? DropPath,
            Seed = s.Seed ?? Seed,
            CropPadding = s.CropPadding ?? CropPadding,
            HorizontalFlip = s.HorizontalFlip ?? HorizontalFlip,
            DropLastBatch = s.DropLastBatch ?? DropLastBatch,
        };
        if (s.NormalizationMean is float[] mean && s.NormalizationStd is float[] std)
        {
            try { o = o with { Normalization = new ChannelNormalization(mean, std) }; }
            catch (ArgumentException e) { throw new FormatException($"The saved normalisation is unusable: {e.Message}"); }
        }
        return o;
    }

    /// <summary>
    /// The run-shaping settings that differ between these options and <paramref name="other"/>, as
    /// "name: this value → other value" with the names and values of <see cref="ToSettingsJson"/> (empty when a
    /// resumed run would replay the saved one exactly).
    /// </summary>
    public IReadOnlyList<string> SettingsDifferences(TrainerOptions other)
    {
        ArgumentNullException.ThrowIfNull(other);
        JsonElement mine = JsonSerializer.SerializeToElement(ToSettings(), TrainingJsonContext.Default.TrainerSettingsJson);
        JsonElement theirs = JsonSerializer.SerializeToElement(other.ToSettings(), TrainingJsonContext.Default.TrainerSettingsJson);
        var list = new List<string>();
        // A setting left out at its default (accumulate 1) is absent from one side.
        string Value(JsonElement settings, string name) => settings.TryGetProperty(name, out JsonElement v) ? v.GetRawText() : "1";
        foreach (JsonProperty p in mine.EnumerateObject())
        {
            string value = p.Value.GetRawText(), otherValue = Value(theirs, p.Name);
            if (otherValue != value) list.Add($"{p.Name}: {value} → {otherValue}");
        }
        foreach (JsonProperty p in theirs.EnumerateObject())
            if (!mine.TryGetProperty(p.Name, out _)) list.Add($"{p.Name}: {Value(mine, p.Name)} → {p.Value.GetRawText()}");
        return list;
    }

    private TrainerSettingsJson ToSettings() => new()
    {
        Epochs = Epochs, MaxSteps = MaxSteps, BatchSize = BatchSize, Accumulate = Accumulate == 1 ? null : Accumulate, Optimizer = Optimizer, LearningRate = LearningRate,
        MinLearningRate = MinLearningRate, WarmupSteps = WarmupSteps, Decay = Decay, WeightDecay = WeightDecay, Momentum = Momentum,
        GradientClipNorm = GradientClipNorm, LabelSmoothing = LabelSmoothing, Dropout = Dropout, DropPath = DropPath, Seed = Seed,
        CropPadding = CropPadding, HorizontalFlip = HorizontalFlip, DropLastBatch = DropLastBatch,
        NormalizationMean = Normalization.Mean.ToArray(), NormalizationStd = Normalization.Std.ToArray(),
    };
}
