using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ViTCompiler.Serving.Endpoints;

namespace ViTCompiler.Serving;

/// <summary>What the endpoints share.</summary>
internal sealed record ServiceState(ServedModel Model, ServeOptions Options, ImageUploads Uploads, BatchScheduler Scheduler, ServeMetrics Metrics, DateTimeOffset Started);

/// <summary>
/// The classification service: Kestrel on one address, the endpoints (docs/SERVE.md), and the batching loop that owns
/// the model. Start it with <see cref="StartAsync"/>; <see cref="RunAsync"/> also waits for SIGTERM or Ctrl-C, after
/// which it stops accepting connections, answers the requests it holds, and returns.
/// </summary>
public sealed class VitServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ServiceState _state;
    private readonly Action<string> _log;
    private bool _started, _stopped;

    private VitServer(WebApplication app, ServiceState state, Action<string> log)
    {
        _app = app;
        _state = state;
        _log = log;
    }

    /// <summary>The counters <c>/metrics</c> shows.</summary>
    public ServeMetrics Metrics => _state.Metrics;

    /// <summary>The options it runs with.</summary>
    public ServeOptions Options => _state.Options;

    /// <summary>The address it listens on (with the port chosen when <see cref="ServeOptions.Port"/> was 0), once started.</summary>
    public Uri Address =>
        new(_app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());

    /// <summary>Builds the service; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="model">The model to serve.</param>
    /// <param name="options">Address, batching and limits; checked here.</param>
    /// <param name="log">Where to report failures that no caller sees (a bug in a request, a forward pass that threw); default: nowhere.</param>
    /// <exception cref="ArgumentException">An option or the model is unusable; the message names it.</exception>
    public static VitServer Create(ServedModel model, ServeOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        model.Validate();
        options.Validate();
        log ??= static _ => { };

        // Args and content root set here, so nothing from the working folder (appsettings.json) changes how it runs.
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        // Requests in flight get their deadline to finish after SIGTERM, then one second more.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromMilliseconds(options.TimeoutMs + 1000));
        builder.Services.Configure<FormOptions>(o =>
        {
            o.MultipartBodyLengthLimit = options.MaxBodyBytes;
            o.MemoryBufferThreshold = (int)Math.Min(int.MaxValue, options.MaxBodyBytes + 1); // uploads stay in memory, never in a temp file
            o.ValueCountLimit = 16;
            o.MultipartHeadersLengthLimit = 16 << 10;
        });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes + (64 << 10); // room for multipart framing; the body itself is checked exactly
            kestrel.Limits.MaxRequestHeadersTotalSize = 32 << 10;
            kestrel.Listen(ListenAddress(options.Host), options.Port);
        });

        WebApplication app = builder.Build();
        var metrics = new ServeMetrics();
        var state = new ServiceState(model, options, new ImageUploads(model, options, metrics), new BatchScheduler(model.Model, options, metrics), metrics, DateTimeOffset.UtcNow);
        app.Use((context, next) => Guard(context, next, state, log));
        app.UseStatusCodePages(WriteStatusProblem);
        if (options.ApiKey is string key) app.Use((context, next) => RequireKey(context, next, key));
        PageEndpoints.Map(app);
        ServiceEndpoints.Map(app, state);
        ClassifyEndpoints.Map(app, state);
        return new VitServer(app, state, log);
    }

    /// <summary>Starts the batching loop and Kestrel; returns once it listens.</summary>
    public async Task StartAsync(CancellationToken cancel = default)
    {
        if (_started) throw new InvalidOperationException("The server was already started.");
        _started = true;
        _state.Scheduler.Start();
        await _app.StartAsync(cancel).ConfigureAwait(false);
    }

    /// <summary>Starts, then runs until SIGTERM, Ctrl-C or <paramref name="cancel"/>; then shuts down gracefully (<see cref="StopAsync"/>).</summary>
    public async Task RunAsync(Action<Uri>? listening = null, CancellationToken cancel = default)
    {
        await StartAsync(cancel).ConfigureAwait(false);
        listening?.Invoke(Address);
        await _app.WaitForShutdownAsync(cancel).ConfigureAwait(false);
        await StopAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Stops accepting connections, lets the requests in flight finish (each within its deadline), then ends the batching
    /// loop once every queued image has run.
    /// </summary>
    public async Task StopAsync()
    {
        if (_stopped) return;
        _stopped = true;
        await _app.StopAsync().ConfigureAwait(false);
        await _state.Scheduler.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>Stops it if it runs, and releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_started) await StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private static IPAddress ListenAddress(string host) =>
        host == "*" ? IPAddress.IPv6Any
        : string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
        : IPAddress.Parse(host);

    /// <summary>Counts and times every request, and turns what a handler throws into problem details.</summary>
    private static async Task Guard(HttpContext context, RequestDelegate next, ServiceState state, Action<string> log)
    {
        long started = Stopwatch.GetTimestamp();
        string route = ServeMetrics.RouteOf(context.Request.Path.Value);
        state.Metrics.RequestStarted();
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (ServeProblem problem)
        {
            if (problem.RetryAfterSeconds is int seconds && !context.Response.HasStarted) context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await WriteProblem(context, problem.Status, problem.Title, problem.Message).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own refusals: a body above its limit (413), a client too slow to send it (408), bad framing (400).
            string detail = e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? $"The body is above the limit of {state.Options.MaxBodyBytes:N0} bytes."
                : e.Message;
            await WriteProblem(context, e.StatusCode, e.StatusCode == 413 ? "Payload too large" : "Bad request", detail).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left; nobody is there to answer. 499 as nginx counts it.
            context.Response.StatusCode = 499;
        }
        catch (Exception e)
        {
            log($"vit serve: internal error on {context.Request.Method} {route}: {e.GetType().Name}: {e.Message}");
            await WriteProblem(context, 500, "Internal server error", "The server failed to answer this request; it was logged.").ConfigureAwait(false);
        }
        finally
        {
            state.Metrics.RequestFinished(route, context.Response.StatusCode, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    /// <summary>404 and 405 (and any other bare status) get a body saying what went wrong.</summary>
    private static Task WriteStatusProblem(StatusCodeContext status)
    {
        HttpContext context = status.HttpContext;
        (string title, string detail) = context.Response.StatusCode switch
        {
            404 => ("Not found", $"There is no {Shown(context.Request.Path.Value)}; the endpoints are GET /, GET /healthz, GET /metrics, GET /v1/model, POST /v1/classify and POST /v1/explain."),
            405 => ("Method not allowed", $"{Shown(context.Request.Path.Value)} does not take {Shown(context.Request.Method)}; it takes {context.Response.Headers.Allow}."),
            int code => (ReasonPhrases.GetReasonPhrase(code), ReasonPhrases.GetReasonPhrase(code)),
        };
        return WriteProblem(context, context.Response.StatusCode, title, detail);
    }

    private static Task RequireKey(HttpContext context, RequestDelegate next, string key)
    {
        if (!context.Request.Path.StartsWithSegments("/v1", StringComparison.Ordinal)) return next(context);
        string? given = context.Request.Headers["X-Api-Key"];
        string? authorization = context.Request.Headers.Authorization;
        if (given is null && authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) given = authorization[7..].Trim();
        if (given is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(key))) return next(context);
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return WriteProblem(context, 401, "Unauthorized",
            given is null ? "This server needs an API key: send 'Authorization: Bearer KEY' or 'X-Api-Key: KEY'." : "The API key is wrong.");
    }

    internal static Task WriteProblem(HttpContext context, int status, string title, string detail)
    {
        if (context.Response.HasStarted)
        {
            context.Abort();
            return Task.CompletedTask;
        }
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new ProblemResponse(title, status, detail), ServeJsonContext.Default.ProblemResponse,
            "application/problem+json", context.RequestAborted);
    }

    /// <summary>A request's path or method as quoted back: printable ASCII, at most 80 characters.</summary>
    private static string Shown(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "(empty)";
        var shown = new StringBuilder(Math.Min(text.Length, 80));
        foreach (char c in text.AsSpan(0, Math.Min(text.Length, 80))) shown.Append(c is >= ' ' and <= '~' ? c : '?');
        if (text.Length > 80) shown.Append('…');
        return shown.ToString();
    }
}
