using System.Diagnostics;
using System.Threading.Channels;
using ViTCompiler.Analysis;

namespace ViTCompiler.Serving;

/// <summary>One decoded image waiting for a forward pass.</summary>
/// <param name="pixels">The model's input for it (C × S × S normalised floats).</param>
/// <param name="explain">Whether the attention maps are wanted too.</param>
/// <param name="cancel">Set when the caller left or the deadline passed: the image is then dropped, not run.</param>
internal sealed class BatchJob(float[] pixels, bool explain, CancellationToken cancel)
{
    public float[] Pixels { get; } = pixels;
    public bool Explain { get; } = explain;
    public CancellationToken Cancel { get; } = cancel;
    public long QueuedAt { get; } = Stopwatch.GetTimestamp();
    public TaskCompletionSource<BatchResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>What one image's forward pass gave.</summary>
/// <param name="Logits">The class scores.</param>
/// <param name="Attention">The attention maps as <see cref="AttentionMaps"/> reads them, when asked for.</param>
/// <param name="BatchSize">Images in the forward pass it shared.</param>
/// <param name="QueueSeconds">Time from queued to the start of that pass.</param>
internal sealed record BatchResult(float[] Logits, float[]? Attention, int BatchSize, double QueueSeconds);

/// <summary>
/// Dynamic batching: decoded images wait in a bounded queue; one loop takes what is queued and, while other uploads are
/// still being decoded, waits up to <see cref="ServeOptions.MaxWaitMs"/> for more (up to <see cref="ServeOptions.MaxBatch"/>), runs them as one forward
/// pass, and hands each caller its own row. The model is only ever called from this loop, so it needs no locking.
/// Images that want attention maps run in a pass of their own, which captures them (it costs layers × heads × tokens²
/// floats per image).
/// </summary>
internal sealed class BatchScheduler
{
    private readonly IVitClassifier _model;
    private readonly ServeOptions _options;
    private readonly ServeMetrics _metrics;
    private readonly Channel<BatchJob> _queue;
    private readonly int _pixelsPerImage, _classes, _attentionPerImage;
    private readonly float[] _pixels, _logits;
    private float[]? _attention;
    private Task? _loop;

    public BatchScheduler(IVitClassifier model, ServeOptions options, ServeMetrics metrics)
    {
        _model = model;
        _options = options;
        _metrics = metrics;
        _queue = Channel.CreateBounded<BatchJob>(new BoundedChannelOptions(options.QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        VitConfig config = model.Config;
        _pixelsPerImage = config.PixelsPerImage;
        _classes = config.Classes;
        _attentionPerImage = AttentionMaps.FloatsPerImage(config);
        _pixels = new float[checked(options.MaxBatch * _pixelsPerImage)];
        _logits = new float[checked(options.MaxBatch * _classes)];
    }

    /// <summary>Starts the loop; it runs until <see cref="CompleteAsync"/>.</summary>
    public void Start() => _loop = Task.Run(RunAsync);

    /// <summary>Queues <paramref name="job"/>, or returns false when the queue is full (or closed).</summary>
    public bool TryEnqueue(BatchJob job)
    {
        if (!_queue.Writer.TryWrite(job)) return false;
        _metrics.Queued();
        return true;
    }

    /// <summary>Accepts nothing more, runs what is queued, and returns when the loop has ended.</summary>
    public Task CompleteAsync()
    {
        _queue.Writer.TryComplete();
        return _loop ?? Task.CompletedTask;
    }

    private async Task RunAsync()
    {
        var batch = new List<BatchJob>(_options.MaxBatch);
        ChannelReader<BatchJob> reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < _options.MaxBatch && reader.TryRead(out BatchJob? job)) batch.Add(job);
            if (batch.Count == 0) continue;
            if (batch.Count < _options.MaxBatch && _options.MaxWaitMs > 0)
            {
                long until = Stopwatch.GetTimestamp() + _options.MaxWaitMs * Stopwatch.Frequency / 1000;
                while (batch.Count < _options.MaxBatch)
                {
                    if (reader.TryRead(out BatchJob? more))
                    {
                        batch.Add(more);
                        continue;
                    }
                    // Wait only while an upload is on its way: a lone client's request runs at once instead of idling.
                    if (_metrics.Decoding == 0) break;
                    TimeSpan left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), until);
                    if (left <= TimeSpan.Zero) break;
                    using var wait = new CancellationTokenSource(left);
                    try
                    {
                        if (!await reader.WaitToReadAsync(wait.Token).ConfigureAwait(false)) break; // closed: run what we have
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            }
            _metrics.Dequeued(batch.Count);
            Run(batch);
        }
    }

    /// <summary>Runs the live jobs of <paramref name="batch"/>: plain ones in one pass, those wanting attention in another.</summary>
    private void Run(List<BatchJob> batch)
    {
        var plain = new List<BatchJob>(batch.Count);
        var explain = new List<BatchJob>();
        foreach (BatchJob job in batch)
        {
            if (job.Cancel.IsCancellationRequested) job.Done.TrySetCanceled(job.Cancel);
            else (job.Explain ? explain : plain).Add(job);
        }
        if (plain.Count > 0) Forward(plain, capture: false);
        if (explain.Count > 0) Forward(explain, capture: true);
    }

    private void Forward(List<BatchJob> jobs, bool capture)
    {
        int count = jobs.Count;
        long started = Stopwatch.GetTimestamp();
        try
        {
            for (int i = 0; i < count; i++) jobs[i].Pixels.AsSpan().CopyTo(_pixels.AsSpan(i * _pixelsPerImage, _pixelsPerImage));
            ReadOnlySpan<float> pixels = _pixels.AsSpan(0, count * _pixelsPerImage);
            Span<float> logits = _logits.AsSpan(0, count * _classes);
            if (capture)
            {
                int needed = checked(count * _attentionPerImage);
                if (_attention is null || _attention.Length < needed) _attention = new float[needed];
                _model.Forward(pixels, count, logits, _attention.AsSpan(0, needed));
            }
            else _model.Forward(pixels, count, logits);
        }
        catch (Exception e)
        {
            foreach (BatchJob job in jobs) job.Done.TrySetException(e);
            return;
        }
        _metrics.ForwardDone(count, Stopwatch.GetElapsedTime(started).TotalSeconds);
        for (int i = 0; i < count; i++)
        {
            BatchJob job = jobs[i];
            float[]? attention = capture ? _attention!.AsSpan(i * _attentionPerImage, _attentionPerImage).ToArray() : null;
            double queued = Stopwatch.GetElapsedTime(job.QueuedAt, started).TotalSeconds;
            job.Done.TrySetResult(new BatchResult(_logits.AsSpan(i * _classes, _classes).ToArray(), attention, count, queued));
        }
    }
}
