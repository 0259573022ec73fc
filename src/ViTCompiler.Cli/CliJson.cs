using System.Text.Json.Serialization;

namespace ViTCompiler.Cli;

// What each command prints with --json: one object per line, keys the snake_case of the property names, null values
// left out. Serialised by System.Text.Json's source generator (no reflection: NativeAOT-safe). docs/CLI.md describes
// every field; keep the two in step.

/// <summary><c>vit train --json</c>: one object at the end of the session.</summary>
internal sealed record TrainJson(
    long Steps, long TotalSteps, bool Completed, bool Cancelled, double? TrainLoss, double TrainAccuracy,
    int? TestImages, double? TestAccuracy, double? TestLoss, double ImagesPerSecond, double ElapsedSeconds, string? Checkpoint, int Ranks);

/// <summary><c>vit eval --json</c>.</summary>
internal sealed record EvalJson(string Weights, int Images, int Correct, double Accuracy, double Loss, bool TestTimeFlip);

/// <summary><c>vit probe --json</c>.</summary>
internal sealed record ProbeJson(string Weights, int Shots, int Classes, int Features, double L2, int FitImages, int TestImages, int Correct,
    double Accuracy, double ElapsedSeconds, IReadOnlyList<string>? Labels);

/// <summary><c>vit bench --json</c>.</summary>
internal sealed record BenchJson(
    string? Preset, string Engine, int Batch, int Threads, int Runs, int Warmup, double MedianMs, double MinMs,
    double PerImageMs, double PerImageMinMs, double ImagesPerSecond, long FlopsPerImage, double GflopPerSecond);

/// <summary><c>vit classify --json</c>: one object per image.</summary>
internal sealed record ClassifyJson(string Image, IReadOnlyList<ClassScoreJson> Top);

/// <summary>One of an image's most probable classes.</summary>
internal sealed record ClassScoreJson(int Index, string Label, double Probability);

/// <summary><c>vit explain --json</c>: one object per image.</summary>
internal sealed record ExplainJson(string Image, IReadOnlyList<ClassScoreJson> Top, double[][] Rollout, int Layer, string RolloutPng, string HeadsPng);

/// <summary><c>vit inspect --json</c>, and its <c>inspect.json</c>.</summary>
internal sealed record InspectJson(string Weights, string Model, EmbeddingFiltersJson EmbeddingFilters, PositionSimilarityJson PositionSimilarity, AttentionDistanceJson? AttentionDistance);

/// <summary>The principal components of the patch-embedding filters.</summary>
internal sealed record EmbeddingFiltersJson(int Components, double[] ExplainedRatio, string Png, string Csv);

/// <summary>How the position embeddings' similarity follows the patch grid.</summary>
internal sealed record PositionSimilarityJson(double SameRowOrColumn, double Elsewhere, double NearestInRowOrColumn, double ChanceNearestInRowOrColumn, string Png, string Csv);

/// <summary>Mean attention distance in pixels as [layer][head].</summary>
internal sealed record AttentionDistanceJson(int Images, double[][] Pixels, double UniformPixels, string Png, string Csv);

/// <summary><c>vit selftest --json</c>: one object per preset.</summary>
internal sealed record SelfTestJson(
    string Preset, string Engine, int Batch, double ForwardError, double? GradientError, string? WorstTensor, bool Passed);

/// <summary><c>vit info --json</c>.</summary>
internal sealed record InfoJson(
    string Name, string Source, string? Format, int ImageSize, int Channels, int Patch, int Layers, int Hidden, int Heads,
    int MlpDim, int Classes, string Pooling, double LayerNormEpsilon, bool QkvBias, int Tokens, long Parameters,
    long MacsPerImage, long FlopsPerImage, long ParameterBytes, long ActivationBytesPerImage, string Engine,
    string? CompiledClass, string Isa, IReadOnlyList<string> CpuFeatures, string Runtime, int Threads, string Variant,
    string VariantReason, int[]? StemChannels = null, int[]? StemStrides = null, int? StemGroups = null, string? Schedule = null);

/// <summary>The source-generated serialisers for everything vit writes as JSON.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TrainJson))]
[JsonSerializable(typeof(EvalJson))]
[JsonSerializable(typeof(ProbeJson))]
[JsonSerializable(typeof(BenchJson))]
[JsonSerializable(typeof(ClassifyJson))]
[JsonSerializable(typeof(ExplainJson))]
[JsonSerializable(typeof(InspectJson))]
[JsonSerializable(typeof(SelfTestJson))]
[JsonSerializable(typeof(InfoJson))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
