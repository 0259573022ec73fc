using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using ViTCompiler.Analysis;
using ViTCompiler.Plots;

namespace ViTCompiler.Serving.Endpoints;

/// <summary><c>POST /v1/classify</c> (top-k as JSON) and <c>POST /v1/explain</c> (the attention-rollout overlay as PNG).</summary>
internal static class ClassifyEndpoints
{
    // ScottPlot figures are drawn one at a time: drawing is short next to a forward pass, and SkiaSharp's font
    // handling is then never exercised from several threads.
    private static readonly Lock s_drawing = new();

    public static void Map(IEndpointRouteBuilder routes, ServiceState state)
    {
        routes.MapPost("/v1/classify", (HttpContext context) => ClassifyAsync(context, state));
        routes.MapPost("/v1/explain", (HttpContext context) => ExplainAsync(context, state));
    }

    private static async Task ClassifyAsync(HttpContext context, ServiceState state)
    {
        long arrived = Stopwatch.GetTimestamp();
        int top = Top(context.Request, state.Model.Config.Classes);
        (float[] _, BatchResult result) = await RunAsync(context, state, explain: false).ConfigureAwait(false);
        ClassScore[] scores = Scores(result.Logits, top, state.Model.Labels);
        var response = new ClassifyResponse(state.Model.Name, scores, result.BatchSize, Milliseconds(result.QueueSeconds),
            Milliseconds(Stopwatch.GetElapsedTime(arrived).TotalSeconds));
        await Results.Json(response, ServeJsonContext.Default.ClassifyResponse).ExecuteAsync(context).ConfigureAwait(false);
    }

    private static async Task ExplainAsync(HttpContext context, ServiceState state)
    {
        (float[] pixels, BatchResult result) = await RunAsync(context, state, explain: true).ConfigureAwait(false);
        VitConfig config = state.Model.Config;
        (int index, double probability) = Predictions.TopK(result.Logits, 1)[0];
        string label = state.Model.Labels[index];
        PatchMap rollout = AttentionMaps.Rollout(config, result.Attention);
        var input = InputImage.FromModelInput(pixels, config, state.Uploads.Preprocessing.Normalization);
        byte[] png;
        lock (s_drawing) png = AnalysisFigures.Rollout(rollout, input, string.Create(CultureInfo.InvariantCulture, $"{label} ({probability * 100:0.#}%)")).ToPng();
        // The prediction travels in headers too, so a caller gets both from one request. Header values are ASCII.
        context.Response.Headers["X-Vit-Class"] = index.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["X-Vit-Probability"] = Math.Round(probability, 6).ToString(CultureInfo.InvariantCulture);
        await Results.Bytes(png, "image/png").ExecuteAsync(context).ConfigureAwait(false);
    }

    /// <summary>Decodes the upload, queues it, and waits for its forward pass within the request's deadline.</summary>
    private static async Task<(float[] Pixels, BatchResult Result)> RunAsync(HttpContext context, ServiceState state, bool explain)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        deadline.CancelAfter(state.Options.TimeoutMs);
        float[] pixels = await state.Uploads.DecodeAsync(context.Request, deadline.Token).ConfigureAwait(false);
        var job = new BatchJob(pixels, explain, deadline.Token);
        if (!state.Scheduler.TryEnqueue(job))
            throw ServeProblem.Busy($"The queue is full ({state.Options.QueueCapacity} images waiting); try again shortly.", 1);
        try
        {
            return (pixels, await job.Done.Task.WaitAsync(deadline.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            throw ServeProblem.Busy($"The request's deadline ({state.Options.TimeoutMs:N0} ms) passed before its forward pass finished; the server is overloaded.", 1);
        }
    }

    /// <summary><c>?top=k</c>: 1 to the number of classes (default 5, or all when there are fewer).</summary>
    private static int Top(HttpRequest request, int classes)
    {
        string? text = request.Query["top"];
        if (text is null) return Math.Min(5, classes);
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int top) || top < 1 || top > classes)
            throw ServeProblem.BadRequest($"top must be a whole number from 1 to the model's {classes} classes; got '{Truncate(text)}'.");
        return top;
    }

    internal static ClassScore[] Scores(float[] logits, int top, IReadOnlyList<string> labels) =>
        Predictions.TopK(logits, top).Select(b => new ClassScore(b.Index, labels[b.Index], Math.Round(b.Probability, 6))).ToArray();

    private static double Milliseconds(double seconds) => Math.Round(seconds * 1000, 3);

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
