using System.Net;

namespace ViTCompiler.Serving;

/// <summary>How <c>vit serve</c> listens, batches and limits what it accepts. Checked by <see cref="Validate"/> at start-up.</summary>
public sealed record ServeOptions
{
    /// <summary>Default <see cref="MaxBodyBytes"/>: 16 MiB.</summary>
    public const long DefaultMaxBodyBytes = 16L << 20;

    /// <summary>Default <see cref="MaxPixels"/>: 40 megapixels, 120 MB decoded to RGB.</summary>
    public const long DefaultMaxPixels = 40_000_000;

    /// <summary>The address to bind: 127.0.0.1 (the default) serves only this machine.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The TCP port; 0 picks a free one (see <see cref="VitServer.Address"/>).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>Most images in one forward pass.</summary>
    public int MaxBatch { get; init; } = 16;

    /// <summary>How long the first image of a batch waits for others, in milliseconds (0: run whatever is queued at once).</summary>
    public int MaxWaitMs { get; init; } = 5;

    /// <summary>Most decoded images waiting for a forward pass; more are refused with 503 and Retry-After.</summary>
    public int QueueCapacity { get; init; } = 256;

    /// <summary>Per-request deadline in milliseconds, from arrival to answer; a request past it gets 503.</summary>
    public int TimeoutMs { get; init; } = 30_000;

    /// <summary>Largest request body (at most 1 GiB); larger gets 413.</summary>
    public long MaxBodyBytes { get; init; } = DefaultMaxBodyBytes;

    /// <summary>Most pixels an image's header may declare; more gets 422 before anything is decoded.</summary>
    public long MaxPixels { get; init; } = DefaultMaxPixels;

    /// <summary>
    /// Uploads read and decoded at once (default: the processor count, at least 2). Each holds at most
    /// <see cref="MaxBodyBytes"/> plus one decoded image, so this bounds the memory uploads can take.
    /// </summary>
    public int DecodeSlots { get; init; } = Math.Max(2, Environment.ProcessorCount);

    /// <summary>
    /// The key <c>/v1/*</c> requests must send (<c>Authorization: Bearer KEY</c> or <c>X-Api-Key: KEY</c>); required
    /// when <see cref="Host"/> is not a loopback address.
    /// </summary>
    public string? ApiKey { get; init; }

    /// <summary>Whether <see cref="Host"/> is a loopback address or <c>localhost</c>.</summary>
    public bool IsLoopback =>
        string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(Host, out IPAddress? address) && IPAddress.IsLoopback(address));

    /// <summary>Returns these options, or throws <see cref="ArgumentException"/> naming the first unusable one.</summary>
    public ServeOptions Validate()
    {
        if (string.IsNullOrWhiteSpace(Host)) throw new ArgumentException("The host is empty; give an address such as 127.0.0.1.");
        if (!IsLoopback && !IPAddress.TryParse(Host, out _) && Host != "*")
            throw new ArgumentException($"The host '{Host}' is not an IP address; give one (0.0.0.0 for every interface, 127.0.0.1 for this machine only).");
        if (Port is < 0 or > 65535) throw new ArgumentException($"The port must be between 0 and 65535; got {Port}.");
        if (MaxBatch < 1) throw new ArgumentException($"The largest batch must be at least 1; got {MaxBatch}.");
        if (MaxWaitMs is < 0 or > 10_000) throw new ArgumentException($"The batch wait must be between 0 and 10000 ms; got {MaxWaitMs}.");
        if (QueueCapacity < 1) throw new ArgumentException($"The queue must hold at least 1 image; got {QueueCapacity}.");
        if (TimeoutMs < 1) throw new ArgumentException($"The request timeout must be positive; got {TimeoutMs} ms.");
        if (MaxBodyBytes is < 1 or > 1L << 30) throw new ArgumentException($"The body limit must be between 1 byte and 1 GiB; got {MaxBodyBytes:N0}.");
        if (MaxPixels < 1) throw new ArgumentException($"The pixel limit must be positive; got {MaxPixels}.");
        if (DecodeSlots < 1) throw new ArgumentException($"There must be at least one decode slot; got {DecodeSlots}.");
        if (ApiKey is { Length: < 16 }) throw new ArgumentException("The API key is shorter than 16 characters; use a long random one (e.g. `openssl rand -hex 24`).");
        if (!IsLoopback && ApiKey is null)
            throw new ArgumentException($"Serving on {Host}, beyond this machine, needs an API key (--api-key or the VIT_API_KEY environment variable).");
        return this;
    }
}
