using System.Globalization;
using System.Text;
using System.Text.Json;
using ViTCompiler.Data;

namespace ViTCompiler.Training;

/// <summary>Which optimiser a <see cref="Trainer"/> uses.</summary>
public enum OptimizerKind
{
    /// <summary><see cref="Training.AdamW"/>: pre-training and training from scratch.</summary>
    AdamW,
    /// <summary><see cref="Training.Sgd"/> with momentum: the paper's fine-tuning.</summary>
    Sgd,
}

/// <summary>How a <see cref="Trainer"/> reports progress on its output.</summary>
public enum ProgressDisplay
{
    /// <summary>A live progress bar when the output is an interactive console, periodic lines otherwise (CI logs, files).</summary>
    Auto,
    /// <summary>Always the live bar (rewrites one line with carriage returns).</summary>
    Bar,
    /// <summary>One plain line every <see cref="TrainerOptions.LogEverySteps"/> steps and one per epoch.</summary>
    Lines,
    /// <summary>Nothing but errors.</summary>
    None,
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

    /// <summary>Images per update.</summary>
    public int BatchSize { get; init; } = 128;

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

    /// <summary>Steps between progress lines and metrics records.</summary>
    public int LogEverySteps { get; init; } = 50;

    /// <summary>How progress is shown on the output.</summary>
    public ProgressDisplay Progress { get; init; } = ProgressDisplay.Auto;

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
        if (Progress is not (ProgressDisplay.Auto or ProgressDisplay.Bar or ProgressDisplay.Lines or ProgressDisplay.None)) return $"Progress {(int)Progress} is not a ProgressDisplay";
        if (CheckpointEverySteps < 0) return $"CheckpointEverySteps cannot be negative (got {CheckpointEverySteps})";
        if (Threads is int t && t <= 0) return $"Threads must be positive (got {t})";
        return null;
    }

    /// <summary>
    /// The settings that shape the run, as a JSON object with snake_case keys — what checkpoints store under
    /// <c>trainer.settings</c>. Written with <see cref="Utf8JsonWriter"/> (no reflection, NativeAOT-safe).
    /// </summary>
    public string ToSettingsJson()
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("epochs", Epochs);
            json.WriteNumber("max_steps", MaxSteps);
            json.WriteNumber("batch_size", BatchSize);
            json.WriteString("optimizer", Optimizer == OptimizerKind.Sgd ? "sgd" : "adamw");
            json.WriteNumber("learning_rate", LearningRate);
            json.WriteNumber("min_learning_rate", MinLearningRate);
            json.WriteNumber("warmup_steps", WarmupSteps);
            json.WriteString("decay", Decay.ToString().ToLowerInvariant());
            json.WriteNumber("weight_decay", WeightDecay);
            json.WriteNumber("momentum", Momentum);
            json.WriteNumber("gradient_clip_norm", GradientClipNorm);
            json.WriteNumber("label_smoothing", LabelSmoothing);
            json.WriteNumber("dropout", Dropout);
            json.WriteNumber("drop_path", DropPath);
            json.WriteString("seed", Seed.ToString(CultureInfo.InvariantCulture)); // a string: JSON readers lose 64-bit integers
            json.WriteNumber("crop_padding", CropPadding);
            json.WriteBoolean("horizontal_flip", HorizontalFlip);
            json.WriteBoolean("drop_last_batch", DropLastBatch);
            json.WriteStartArray("normalization_mean");
            foreach (float m in Normalization.Mean) json.WriteNumberValue(m);
            json.WriteEndArray();
            json.WriteStartArray("normalization_std");
            foreach (float s in Normalization.Std) json.WriteNumberValue(s);
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// These options with the run-shaping settings replaced by those in <paramref name="json"/> (as written by
    /// <see cref="ToSettingsJson"/>); reporting and saving options are kept.
    /// </summary>
    /// <exception cref="FormatException">The text is not such an object; the message names the key.</exception>
    public TrainerOptions WithSettingsJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new FormatException($"The trainer settings are not valid JSON ({e.Message})."); }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException($"The trainer settings are a JSON {root.ValueKind}, not an object.");
            TrainerOptions o = this;
            float[]? mean = null, std = null;
            foreach (JsonProperty p in root.EnumerateObject())
            {
                try
                {
                    if (p.Name == "normalization_mean") { mean = Floats(p.Value); continue; }
                    if (p.Name == "normalization_std") { std = Floats(p.Value); continue; }
                    o = p.Name switch
                    {
                        "epochs" => o with { Epochs = p.Value.GetInt32() },
                        "max_steps" => o with { MaxSteps = p.Value.GetInt64() },
                        "batch_size" => o with { BatchSize = p.Value.GetInt32() },
                        "optimizer" => o with { Optimizer = ParseOptimizer(p.Value.GetString()) },
                        "learning_rate" => o with { LearningRate = p.Value.GetSingle() },
                        "min_learning_rate" => o with { MinLearningRate = p.Value.GetSingle() },
                        "warmup_steps" => o with { WarmupSteps = p.Value.GetInt64() },
                        "decay" => o with { Decay = ParseDecay(p.Value.GetString()) },
                        "weight_decay" => o with { WeightDecay = p.Value.GetSingle() },
                        "momentum" => o with { Momentum = p.Value.GetSingle() },
                        "gradient_clip_norm" => o with { GradientClipNorm = p.Value.GetSingle() },
                        "label_smoothing" => o with { LabelSmoothing = p.Value.GetSingle() },
                        "dropout" => o with { Dropout = p.Value.GetSingle() },
                        "drop_path" => o with { DropPath = p.Value.GetSingle() },
                        "seed" => o with { Seed = ulong.Parse(p.Value.GetString() ?? "", NumberStyles.None, CultureInfo.InvariantCulture) },
                        "crop_padding" => o with { CropPadding = p.Value.GetInt32() },
                        "horizontal_flip" => o with { HorizontalFlip = p.Value.GetBoolean() },
                        "drop_last_batch" => o with { DropLastBatch = p.Value.GetBoolean() },
                        _ => o, // a key from a newer version: ignore rather than refuse to resume
                    };
                }
                catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException or ArgumentException)
                {
                    throw new FormatException($"The trainer setting '{p.Name}' has an unusable value {p.Value.GetRawText()} ({e.Message}).");
                }
            }
            if (mean is not null && std is not null)
            {
                try { o = o with { Normalization = new ChannelNormalization(mean, std) }; }
                catch (ArgumentException e) { throw new FormatException($"The saved normalisation is unusable: {e.Message}"); }
            }
            return o;
        }
    }

    /// <summary>
    /// The run-shaping settings that differ between these options and <paramref name="other"/>, as
    /// "name: this value → other value" (empty when a resumed run would replay the saved one exactly).
    /// </summary>
    public IReadOnlyList<string> SettingsDifferences(TrainerOptions other)
    {
        ArgumentNullException.ThrowIfNull(other);
        Dictionary<string, string> mine = Flatten(ToSettingsJson()), theirs = Flatten(other.ToSettingsJson());
        var list = new List<string>();
        foreach ((string key, string value) in mine)
        {
            string otherValue = theirs.TryGetValue(key, out string? v) ? v : "(absent)";
            if (otherValue != value) list.Add($"{key}: {value} → {otherValue}");
        }
        return list;
    }

    private static Dictionary<string, string> Flatten(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty p in document.RootElement.EnumerateObject()) result[p.Name] = p.Value.GetRawText();
        return result;
    }

    private static float[] Floats(JsonElement array)
    {
        var list = new List<float>();
        foreach (JsonElement e in array.EnumerateArray()) list.Add(e.GetSingle());
        return [.. list];
    }

    private static OptimizerKind ParseOptimizer(string? name) => name switch
    {
        "adamw" => OptimizerKind.AdamW,
        "sgd" => OptimizerKind.Sgd,
        _ => throw new FormatException($"unknown optimizer '{name}' (expected adamw or sgd)"),
    };

    private static LearningRateDecay ParseDecay(string? name) => name switch
    {
        "cosine" => LearningRateDecay.Cosine,
        "linear" => LearningRateDecay.Linear,
        "constant" => LearningRateDecay.Constant,
        _ => throw new FormatException($"unknown decay '{name}' (expected cosine, linear or constant)"),
    };
}
