using System.Text.Json.Serialization;

namespace ViTCompiler.Serving;

// What the service answers, as JSON: keys the snake_case of the property names, nulls left out. Serialised by
// System.Text.Json's source generator (no reflection: NativeAOT-safe). docs/SERVE.md describes every field.

/// <summary><c>POST /v1/classify</c>.</summary>
/// <param name="Model">The served model's name.</param>
/// <param name="Top">The most probable classes, most probable first.</param>
/// <param name="BatchSize">How many images shared this image's forward pass.</param>
/// <param name="QueueMs">Time from decoded to the start of its forward pass.</param>
/// <param name="ElapsedMs">Time from the request's arrival to the answer.</param>
internal sealed record ClassifyResponse(string Model, IReadOnlyList<ClassScore> Top, int BatchSize, double QueueMs, double ElapsedMs);

/// <summary>One of an image's most probable classes.</summary>
internal sealed record ClassScore(int Index, string Label, double Probability);

/// <summary>An error, as RFC 9457 problem details (<c>application/problem+json</c>).</summary>
internal sealed record ProblemResponse(string Title, int Status, string Detail, string? Type = null);

/// <summary><c>GET /healthz</c>.</summary>
internal sealed record HealthResponse(string Status, string Model, long UptimeSeconds);

/// <summary><c>GET /v1/model</c>.</summary>
internal sealed record ModelResponse(string Name, string Engine, int Threads, ModelConfigJson Config, PreprocessingJson Preprocessing, IReadOnlyList<string> Labels,
    BatchingJson Batching, LimitsJson Limits);

/// <summary>The model's shape.</summary>
internal sealed record ModelConfigJson(int ImageSize, int Channels, int Patch, int Layers, int Hidden, int Heads, int MlpDim, int Classes, string Pooling,
    int Tokens, long Parameters);

/// <summary>How an upload becomes the model's input.</summary>
internal sealed record PreprocessingJson(int Size, string Color, string Resize, int ShorterSide, string Resampling, float[] Mean, float[] Std);

/// <summary>The batching settings.</summary>
internal sealed record BatchingJson(int MaxBatch, int MaxWaitMs, int QueueCapacity, int TimeoutMs);

/// <summary>What uploads may be.</summary>
internal sealed record LimitsJson(long MaxBodyBytes, long MaxPixels, bool ApiKeyRequired);

/// <summary>The source-generated serialisers for everything the service writes.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ClassifyResponse))]
[JsonSerializable(typeof(ProblemResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(ModelResponse))]
internal sealed partial class ServeJsonContext : JsonSerializerContext;
