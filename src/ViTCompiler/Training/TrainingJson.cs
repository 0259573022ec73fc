using System.Text.Json.Serialization;

namespace ViTCompiler.Training;

// The JSON the training code writes and reads back, as typed models serialised by System.Text.Json's source generator
// (no reflection, so NativeAOT-safe). Keys are the snake_case of the property names; the files written before these
// models existed used the same keys and value formats, so old checkpoints and metrics logs still read.

/// <summary>
/// The run-shaping settings of a <see cref="TrainerOptions"/>, as checkpoints store them under <c>trainer.settings</c>.
/// Every value is nullable so that a key missing from an older file keeps the value it is read over.
/// </summary>
internal sealed record TrainerSettingsJson
{
    public int? Epochs { get; init; }
    public long? MaxSteps { get; init; }
    public int? BatchSize { get; init; }

    /// <summary>Left out when 1, so a run without accumulation writes what versions before it wrote.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Accumulate { get; init; }
    public OptimizerKind? Optimizer { get; init; }
    public float? LearningRate { get; init; }
    public float? MinLearningRate { get; init; }
    public long? WarmupSteps { get; init; }
    public LearningRateDecay? Decay { get; init; }
    public float? WeightDecay { get; init; }
    public float? Momentum { get; init; }
    public float? GradientClipNorm { get; init; }
    public float? LabelSmoothing { get; init; }
    public float? Dropout { get; init; }
    public float? DropPath { get; init; }

    /// <summary>A string: JSON readers in other languages keep only 53 bits of an integer.</summary>
    [JsonNumberHandling(JsonNumberHandling.WriteAsString | JsonNumberHandling.AllowReadingFromString)]
    public ulong? Seed { get; init; }

    public int? CropPadding { get; init; }
    public bool? HorizontalFlip { get; init; }
    public bool? DropLastBatch { get; init; }
    public float[]? NormalizationMean { get; init; }
    public float[]? NormalizationStd { get; init; }
}

/// <summary>The running sums behind a trainer's metrics, as checkpoints store them under <c>trainer.sums</c>.</summary>
internal sealed record TrainerSumsJson(SpanSumsJson Epoch, SpanSumsJson Interval, SpanSumsJson LastEpoch, float LastLr, double LastGradNorm);

/// <summary>Sums over a span of steps (see <c>Trainer.Span</c>).</summary>
internal readonly record struct SpanSumsJson(double Loss, long Correct, long Images, double TrainSeconds);

/// <summary>
/// One line of a <see cref="MetricsLog"/>. The three always-present measurements are null when not finite (JSON has no
/// NaN); the optional ones are left out when they do not apply to the record (or are not finite).
/// </summary>
internal readonly record struct MetricsLineJson(
    string Kind,
    long Step,
    double Epoch,
    [property: JsonPropertyName("lr")] double? LearningRate,
    double? Loss,
    double? TrainAccuracy,
    [property: JsonPropertyName("grad_norm"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? GradientNorm,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? TestLoss,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? TestAccuracy,
    double ImagesPerSecond,
    double ElapsedSeconds);

/// <summary>Just the step of a metrics line: what trimming a log for a resumed run needs.</summary>
internal sealed record MetricsStepJson(long? Step);

/// <summary>The source-generated serialisers for the training JSON.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, UseStringEnumConverter = true)]
[JsonSerializable(typeof(TrainerSettingsJson))]
[JsonSerializable(typeof(TrainerSumsJson))]
[JsonSerializable(typeof(MetricsLineJson))]
[JsonSerializable(typeof(MetricsStepJson))]
internal sealed partial class TrainingJsonContext : JsonSerializerContext;
