namespace ViTCompiler.Data;

/// <summary>How an <see cref="ImageBatcher"/> orders, augments and normalises images.</summary>
public sealed record BatcherOptions
{
    /// <summary>Images per batch (the last batch of an epoch may be smaller unless <see cref="DropLast"/>).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Visit the images in a fresh random order every epoch.</summary>
    public bool Shuffle { get; init; }

    /// <summary>Skip the last, incomplete batch of each epoch (its images get no random draws either).</summary>
    public bool DropLast { get; init; }

    /// <summary>Seeds the generator behind shuffling and augmentation.</summary>
    public ulong Seed { get; init; }

    /// <summary>
    /// Random crop with zero padding: pad every side with <c>p</c> black pixels, then crop back to the original size
    /// at a random offset, i.e. shift the image by up to ±p pixels in each direction (0 = off; CIFAR-style training uses 4).
    /// </summary>
    public int CropPadding { get; init; }

    /// <summary>Mirror each image left–right with probability 0.5.</summary>
    public bool HorizontalFlip { get; init; }

    /// <summary>Per-channel normalisation applied to every pixel, padding included.</summary>
    public ChannelNormalization Normalization { get; init; } = ChannelNormalization.None;

    /// <summary>Training defaults for small images: shuffled, crop with 4-pixel padding, horizontal flips.</summary>
    public static BatcherOptions Training(int batchSize, ulong seed, ChannelNormalization normalization) => new()
    {
        BatchSize = batchSize, Seed = seed, Normalization = normalization,
        Shuffle = true, CropPadding = 4, HorizontalFlip = true,
    };

    /// <summary>Evaluation: the stored order, no augmentation, every image once per epoch.</summary>
    public static BatcherOptions Evaluation(int batchSize, ChannelNormalization normalization) => new()
    {
        BatchSize = batchSize, Normalization = normalization,
    };
}

/// <summary>
/// Turns a <see cref="LabeledImages"/> into training or evaluation batches: NCHW floats and int labels written into
/// buffers the caller owns, so nothing is allocated per batch.
/// </summary>
/// <remarks>
/// <para>
/// <b>Random draws.</b> One <see cref="VitRandom"/>, seeded with <see cref="BatcherOptions.Seed"/>, supplies every
/// random number, in this order, so a run is a pure function of the seed:
/// </para>
/// <list type="number">
/// <item>At the start of each epoch, if <see cref="BatcherOptions.Shuffle"/>: the order starts as 0, 1, …, N − 1 and
/// is shuffled by Fisher–Yates from the end, <c>for i = N − 1 down to 1: swap(order[i], order[NextInt(i + 1)])</c>.
/// Without shuffling the order stays 0 … N − 1 and nothing is drawn.</item>
/// <item>Then for each image handed out, in the order above: if <see cref="BatcherOptions.CropPadding"/> p &gt; 0,
/// <c>top = NextInt(2p + 1)</c> then <c>left = NextInt(2p + 1)</c>; then, if
/// <see cref="BatcherOptions.HorizontalFlip"/>, <c>flip = NextDouble() &lt; 0.5</c>.</item>
/// </list>
/// <para>
/// The output pixel (y, x) of an augmented image is source pixel (y + top − p, x' + left − p) with
/// x' = W − 1 − x when flipped and x otherwise (crop first, then mirror, as torchvision's
/// <c>RandomCrop(padding=p)</c> followed by <c>RandomHorizontalFlip</c>); positions outside the source are padding,
/// byte 0 (black), which normalises to −mean/std.
/// </para>
/// <para>
/// <b>Resuming.</b> <see cref="GetState"/> saves the epoch, the position in it, the generator as it was when the
/// epoch began (the order is rebuilt from it) and as it is now; <see cref="SetState"/> on a batcher over the same
/// images with the same options continues with exactly the batches the uninterrupted run would have produced.
/// </para>
/// <para>One batcher serves one consumer; it is not safe to call from several threads at once.</para>
/// </remarks>
public sealed class ImageBatcher
{
    /// <summary>Number of 64-bit words <see cref="GetState"/> writes.</summary>
    public const int StateLength = 13;

    private const ulong StateFormat = 0x5649_5442_4154_4331; // "VITBATC1"

    private readonly LabeledImages _images;
    private readonly int[] _order;
    private readonly int _end; // images per epoch actually handed out
    private VitRandom _random;
    private VitRandom _epochStart;
    private int _epoch;
    private int _position;

    /// <summary>A batcher over <paramref name="images"/>, positioned at the start of epoch 0.</summary>
    /// <exception cref="ArgumentException">The options do not fit the images (see the message).</exception>
    public ImageBatcher(LabeledImages images, BatcherOptions options)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(options);
        if (images.Count == 0) throw new ArgumentException("The image set is empty; there is nothing to batch.", nameof(images));
        if (options.BatchSize <= 0) throw new ArgumentException($"BatchSize must be positive; got {options.BatchSize}.", nameof(options));
        if (options.CropPadding < 0 || options.CropPadding > Math.Min(images.Height, images.Width))
            throw new ArgumentException($"CropPadding must be between 0 and the image side ({Math.Min(images.Height, images.Width)}); got {options.CropPadding}.", nameof(options));
        ArgumentNullException.ThrowIfNull(options.Normalization);
        options.Normalization.CheckChannels(images.Channels);
        if ((long)options.BatchSize * images.PixelsPerImage > Array.MaxLength)
            throw new ArgumentException($"A batch of {options.BatchSize} images of {images.PixelsPerImage:N0} values does not fit in one array; use a smaller BatchSize.", nameof(options));
        _end = options.DropLast ? images.Count - images.Count % options.BatchSize : images.Count;
        if (_end == 0)
            throw new ArgumentException($"DropLast with BatchSize {options.BatchSize} over {images.Count} images leaves no complete batch; lower BatchSize or turn DropLast off.", nameof(options));
        _images = images;
        Options = options;
        _order = new int[images.Count];
        _random = new VitRandom(options.Seed);
        BeginEpoch();
    }

    /// <summary>The options this batcher was made with.</summary>
    public BatcherOptions Options { get; }

    /// <summary>The images batched.</summary>
    public LabeledImages Images => _images;

    /// <summary>Floats one full batch needs: BatchSize × C × H × W.</summary>
    public int FloatsPerBatch => Options.BatchSize * _images.PixelsPerImage;

    /// <summary>Batches in each epoch, counting a final partial batch unless <see cref="BatcherOptions.DropLast"/>.</summary>
    public int BatchesPerEpoch => (_end + Options.BatchSize - 1) / Options.BatchSize;

    /// <summary>The current epoch, counting from 0.</summary>
    public int Epoch => _epoch;

    /// <summary>How many images of the current epoch have been handed out.</summary>
    public int Position => _position;

    /// <summary>The current epoch's visiting order (image indices).</summary>
    public ReadOnlySpan<int> Order => _order;

    /// <summary>
    /// Writes the next batch of the current epoch: <paramref name="count"/> images as NCHW floats into
    /// <paramref name="pixels"/> and their labels into <paramref name="labels"/>. Returns false, writing nothing,
    /// when the epoch is over; the batcher then moves to the next epoch, so
    /// <c>while (batcher.TryNextBatch(...)) { … }</c> runs one epoch and the same loop again runs the next.
    /// </summary>
    /// <param name="pixels">At least <see cref="FloatsPerBatch"/> floats.</param>
    /// <param name="labels">At least <see cref="BatcherOptions.BatchSize"/> ints.</param>
    /// <param name="count">Images written: BatchSize, or fewer for the last batch of an epoch.</param>
    public bool TryNextBatch(Span<float> pixels, Span<int> labels, out int count)
    {
        if (pixels.Length < FloatsPerBatch)
            throw new ArgumentException($"The pixel buffer holds {pixels.Length:N0} floats; a batch needs {FloatsPerBatch:N0} ({Options.BatchSize} × {_images.Channels} × {_images.Height} × {_images.Width}).", nameof(pixels));
        if (labels.Length < Options.BatchSize)
            throw new ArgumentException($"The label buffer holds {labels.Length} ints; a batch needs {Options.BatchSize}.", nameof(labels));
        if (_position >= _end)
        {
            _epoch++;
            _position = 0;
            BeginEpoch();
            count = 0;
            return false;
        }
        count = Math.Min(Options.BatchSize, _end - _position);
        int perImage = _images.PixelsPerImage;
        int padding = Options.CropPadding;
        for (int i = 0; i < count; i++)
        {
            int index = _order[_position + i];
            int top = padding, left = padding;
            bool flip = false;
            if (padding > 0)
            {
                top = _random.NextInt(2 * padding + 1);
                left = _random.NextInt(2 * padding + 1);
            }
            if (Options.HorizontalFlip) flip = _random.NextDouble() < 0.5;
            WriteImage(_images.Image(index), pixels.Slice(i * perImage, perImage), top - padding, left - padding, flip);
            labels[i] = _images.Label(index);
        }
        _position += count;
        return true;
    }

    /// <summary>
    /// Saves where this batcher is into <paramref name="state"/> (<see cref="StateLength"/> words): a format tag,
    /// epoch, position, image count, an options fingerprint, the generator at the epoch's start and now.
    /// </summary>
    public void GetState(Span<ulong> state)
    {
        if (state.Length < StateLength) throw new ArgumentException($"A batcher state is {StateLength} words; the buffer holds {state.Length}.", nameof(state));
        state[0] = StateFormat;
        state[1] = (ulong)_epoch;
        state[2] = (ulong)_position;
        state[3] = (ulong)_images.Count;
        state[4] = Fingerprint();
        _epochStart.GetState(state.Slice(5, 4));
        _random.GetState(state.Slice(9, 4));
    }

    /// <summary>
    /// Restores a state saved by <see cref="GetState"/>, rebuilding the epoch's order, so the following batches are
    /// exactly those the saving batcher would have produced next.
    /// </summary>
    /// <exception cref="ArgumentException">The state is malformed or was saved for other images or options.</exception>
    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length < StateLength || state[0] != StateFormat)
            throw new ArgumentException($"This is not an ImageBatcher state (expected {StateLength} words starting with the tag 0x{StateFormat:X16}).", nameof(state));
        if (state[3] != (ulong)_images.Count)
            throw new ArgumentException($"The state was saved for a set of {state[3]:N0} images; this batcher has {_images.Count:N0}. Resume with the same data.", nameof(state));
        if (state[4] != Fingerprint())
            throw new ArgumentException(
                $"The state was saved with different options ({DescribeFingerprint(state[4])}) than this batcher's ({DescribeFingerprint(Fingerprint())}); " +
                "resume with the same Shuffle, CropPadding and HorizontalFlip.", nameof(state));
        if (state[1] > int.MaxValue || state[2] > (ulong)_end)
            throw new ArgumentException($"The state's epoch {state[1]} or position {state[2]} is impossible for {_end} images per epoch.", nameof(state));
        VitRandom epochStart = VitRandom.FromState(state.Slice(5, 4));
        VitRandom current = VitRandom.FromState(state.Slice(9, 4));
        _epoch = (int)state[1];
        _position = (int)state[2];
        _random = epochStart;
        BeginEpoch();
        _random = current;
    }

    /// <summary>Draws the epoch's order from the generator, recording the generator as it was before.</summary>
    private void BeginEpoch()
    {
        _epochStart = _random;
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        if (!Options.Shuffle) return;
        for (int i = _order.Length - 1; i > 0; i--)
        {
            int j = _random.NextInt(i + 1);
            (_order[i], _order[j]) = (_order[j], _order[i]);
        }
    }

    /// <summary>
    /// Normalises one C × H × W image, shifted by (<paramref name="shiftY"/>, <paramref name="shiftX"/>) and then
    /// optionally mirrored: output (y, x) = source (y + shiftY, x' + shiftX), x' = flip ? W − 1 − x : x; outside = byte 0.
    /// </summary>
    private void WriteImage(ReadOnlySpan<byte> source, Span<float> destination, int shiftY, int shiftX, bool flip)
    {
        int channels = _images.Channels, height = _images.Height, width = _images.Width;
        ChannelNormalization normalization = Options.Normalization;
        if (shiftY == 0 && shiftX == 0 && !flip)
        {
            normalization.Apply(source, destination, channels);
            return;
        }
        int plane = height * width;
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<float> table = normalization.Table(c);
            float zero = table[0];
            ReadOnlySpan<byte> src = source.Slice(c * plane, plane);
            Span<float> dst = destination.Slice(c * plane, plane);
            for (int y = 0; y < height; y++)
            {
                Span<float> row = dst.Slice(y * width, width);
                int sy = y + shiftY;
                if ((uint)sy >= (uint)height)
                {
                    row.Fill(zero);
                    continue;
                }
                ReadOnlySpan<byte> srcRow = src.Slice(sy * width, width);
                for (int x = 0; x < width; x++)
                {
                    int sx = (flip ? width - 1 - x : x) + shiftX;
                    row[x] = (uint)sx < (uint)width ? table[srcRow[sx]] : zero;
                }
            }
        }
    }

    private ulong Fingerprint() =>
        (Options.Shuffle ? 1UL : 0) | (Options.HorizontalFlip ? 2UL : 0) | (Options.DropLast ? 4UL : 0) | ((ulong)Options.CropPadding << 8);

    private static string DescribeFingerprint(ulong f) =>
        $"Shuffle={(f & 1) != 0}, HorizontalFlip={(f & 2) != 0}, DropLast={(f & 4) != 0}, CropPadding={f >> 8}";
}
