using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using ViTCompiler.Imaging;

namespace ViTCompiler.Serving.Endpoints;

/// <summary><c>GET /healthz</c>, <c>GET /v1/model</c> and <c>GET /metrics</c>.</summary>
internal static class ServiceEndpoints
{
    public static void Map(IEndpointRouteBuilder routes, ServiceState state)
    {
        routes.MapGet("/healthz", (HttpContext context) => Results.Json(
            new HealthResponse("ok", state.Model.Name, (long)(DateTimeOffset.UtcNow - state.Started).TotalSeconds), ServeJsonContext.Default.HealthResponse).ExecuteAsync(context));
        routes.MapGet("/v1/model", (HttpContext context) => Results.Json(Describe(state), ServeJsonContext.Default.ModelResponse).ExecuteAsync(context));
        routes.MapGet("/metrics", (HttpContext context) =>
            Results.Text(state.Metrics.WriteText(), "text/plain; version=0.0.4; charset=utf-8").ExecuteAsync(context));
    }

    private static ModelResponse Describe(ServiceState state)
    {
        VitConfig c = state.Model.Config;
        ImagePreprocessing p = state.Uploads.Preprocessing;
        ServeOptions o = state.Options;
        return new ModelResponse(
            state.Model.Name, state.Model.Model.Engine, state.Model.Model.Threads,
            new ModelConfigJson(c.ImageSize, c.Channels, c.Patch, c.Layers, c.Hidden, c.Heads, c.MlpWidth, c.Classes,
                c.HasClassToken ? "class_token" : "mean", c.Tokens, c.ParameterCount),
            new PreprocessingJson(p.Size, p.Color == ColorMode.Grey ? "grey" : "rgb", p.Resize == ResizeStrategy.Direct ? "direct" : "shorter_side_then_centre_crop",
                p.EffectiveShorterSide, p.Resampling.ToString().ToLowerInvariant(), p.Normalization.Mean.ToArray(), p.Normalization.Std.ToArray()),
            state.Model.Labels,
            new BatchingJson(o.MaxBatch, o.MaxWaitMs, o.QueueCapacity, o.TimeoutMs),
            new LimitsJson(o.MaxBodyBytes, o.MaxPixels, o.ApiKey is not null));
    }
}
