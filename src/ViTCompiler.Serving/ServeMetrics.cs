using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace ViTCompiler.Serving;

/// <summary>
/// The service's counters, written in Prometheus' text exposition format (version 0.0.4) by <see cref="WriteText"/>.
/// Written here rather than through a metrics package: a handful of counters and histograms need no reflection, so
/// the NativeAOT <c>vit</c> stays free of trim warnings.
/// </summary>
public sealed class ServeMetrics
{
    /// <summary>The routes requests are counted under; anything else is counted as "other", so a scan cannot grow the label set.</summary>
    internal static readonly string[] Routes = ["/", "/app.js", "/style.css", "/healthz", "/metrics", "/v1/model", "/v1/classify", "/v1/explain"];

    private static readonly double[] s_latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
    private static readonly double[] s_batchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256];

    private readonly ConcurrentDictionary<(string Route, int Status), StrongBox<long>> _requests = new();
    private readonly ConcurrentDictionary<string, Histogram> _latency = new(StringComparer.Ordinal);
    private readonly Histogram _batchSize = new(s_batchBuckets);
    private readonly Histogram _forwardSeconds = new(s_latencyBuckets);
    private long _queueDepth, _forwardCalls, _images, _inFlight, _decoding;

    /// <summary>Images decoded and waiting for a forward pass.</summary>
    public long QueueDepth => Interlocked.Read(ref _queueDepth);

    /// <summary>Uploads being read or decoded (or waiting for a decode slot): images that may join the next batch.</summary>
    public long Decoding => Interlocked.Read(ref _decoding);

    /// <summary>Forward passes run so far.</summary>
    public long ForwardCalls => Interlocked.Read(ref _forwardCalls);

    /// <summary>Images that went through a forward pass.</summary>
    public long Images => Interlocked.Read(ref _images);

    /// <summary>Requests being answered now.</summary>
    public long InFlight => Interlocked.Read(ref _inFlight);

    /// <summary>Requests answered with <paramref name="status"/> on <paramref name="route"/> so far.</summary>
    public long Requests(string route, int status) => _requests.TryGetValue((route, status), out StrongBox<long>? box) ? Interlocked.Read(ref box.Value) : 0;

    internal static string RouteOf(string? path) => Array.IndexOf(Routes, path) >= 0 ? path! : "other";

    internal void RequestStarted() => Interlocked.Increment(ref _inFlight);

    internal void RequestFinished(string route, int status, double seconds)
    {
        Interlocked.Decrement(ref _inFlight);
        StrongBox<long> box = _requests.GetOrAdd((route, status), static _ => new StrongBox<long>());
        Interlocked.Increment(ref box.Value);
        _latency.GetOrAdd(route, static _ => new Histogram(s_latencyBuckets)).Observe(seconds);
    }

    internal void DecodeStarted() => Interlocked.Increment(ref _decoding);

    internal void DecodeFinished() => Interlocked.Decrement(ref _decoding);

    internal void Queued() => Interlocked.Increment(ref _queueDepth);

    internal void Dequeued(int count) => Interlocked.Add(ref _queueDepth, -count);

    internal void ForwardDone(int batch, double seconds)
    {
        Interlocked.Increment(ref _forwardCalls);
        Interlocked.Add(ref _images, batch);
        _batchSize.Observe(batch);
        _forwardSeconds.Observe(seconds);
    }

    /// <summary>Everything, in Prometheus' text format.</summary>
    public string WriteText()
    {
        var text = new StringBuilder();
        text.Append("# HELP vit_requests_total HTTP requests answered, by route and status.\n# TYPE vit_requests_total counter\n");
        foreach (KeyValuePair<(string Route, int Status), StrongBox<long>> entry in _requests.OrderBy(e => e.Key.Route, StringComparer.Ordinal).ThenBy(e => e.Key.Status))
            text.Append(CultureInfo.InvariantCulture, $"vit_requests_total{{route=\"{entry.Key.Route}\",status=\"{entry.Key.Status}\"}} {Interlocked.Read(ref entry.Value.Value)}\n");
        text.Append("# HELP vit_request_duration_seconds Time from a request's arrival to its answer.\n# TYPE vit_request_duration_seconds histogram\n");
        foreach (KeyValuePair<string, Histogram> entry in _latency.OrderBy(e => e.Key, StringComparer.Ordinal))
            entry.Value.Write(text, "vit_request_duration_seconds", $"route=\"{entry.Key}\",");
        text.Append("# HELP vit_batch_size Images per forward pass.\n# TYPE vit_batch_size histogram\n");
        _batchSize.Write(text, "vit_batch_size", "");
        text.Append("# HELP vit_forward_seconds Time of one batched forward pass.\n# TYPE vit_forward_seconds histogram\n");
        _forwardSeconds.Write(text, "vit_forward_seconds", "");
        text.Append(CultureInfo.InvariantCulture, $"# HELP vit_queue_depth Decoded images waiting for a forward pass.\n# TYPE vit_queue_depth gauge\nvit_queue_depth {QueueDepth}\n");
        text.Append(CultureInfo.InvariantCulture, $"# HELP vit_uploads_decoding Uploads being read or decoded.\n# TYPE vit_uploads_decoding gauge\nvit_uploads_decoding {Decoding}\n");
        text.Append(CultureInfo.InvariantCulture, $"# HELP vit_requests_in_flight Requests being answered.\n# TYPE vit_requests_in_flight gauge\nvit_requests_in_flight {InFlight}\n");
        text.Append(CultureInfo.InvariantCulture, $"# HELP vit_images_total Images classified or explained.\n# TYPE vit_images_total counter\nvit_images_total {Images}\n");
        return text.ToString();
    }

    /// <summary>A cumulative histogram with fixed upper bounds.</summary>
    private sealed class Histogram(double[] bounds)
    {
        private readonly long[] _counts = new long[bounds.Length + 1];
        private double _sum;
        private long _count;

        public void Observe(double value)
        {
            int bucket = 0;
            while (bucket < bounds.Length && value > bounds[bucket]) bucket++;
            lock (_counts)
            {
                _counts[bucket]++;
                _sum += value;
                _count++;
            }
        }

        public void Write(StringBuilder text, string name, string labels)
        {
            long[] counts;
            double sum;
            long count;
            lock (_counts)
            {
                counts = (long[])_counts.Clone();
                sum = _sum;
                count = _count;
            }
            long cumulative = 0;
            for (int i = 0; i < bounds.Length; i++)
            {
                cumulative += counts[i];
                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels}le=\"{bounds[i]}\"}} {cumulative}\n");
            }
            text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels}le=\"+Inf\"}} {count}\n");
            string bare = labels.TrimEnd(',');
            string braces = bare.Length == 0 ? "" : "{" + bare + "}";
            text.Append(CultureInfo.InvariantCulture, $"{name}_sum{braces} {sum}\n{name}_count{braces} {count}\n");
        }
    }
}
