using System.Globalization;

namespace ViTCompiler.Data;

/// <summary>
/// Per-channel normalisation of 8-bit pixels, as torchvision's <c>ToTensor</c> + <c>Normalize</c> and HuggingFace's
/// <c>rescale</c> + <c>normalize</c> do it: <c>x = (byte / 255 − mean[c]) / std[c]</c>.
/// </summary>
/// <remarks>
/// A normalisation with one mean and one std applies to any number of channels; one with k values needs images
/// with exactly k channels. Values are computed in double precision and rounded once to float, through a 256-entry
/// table per channel, so the per-pixel cost is one load.
/// </remarks>
public sealed class ChannelNormalization
{
    private readonly float[] _mean;
    private readonly float[] _std;
    private readonly float[] _table; // [channel * 256 + byte] → normalised value

    /// <summary>Normalisation with the given per-channel mean and standard deviation (in the 0–1 scale).</summary>
    /// <exception cref="ArgumentException">Lengths differ or are zero, a value is not finite, or a std is not positive.</exception>
    public ChannelNormalization(ReadOnlySpan<float> mean, ReadOnlySpan<float> std)
    {
        if (mean.Length == 0 || mean.Length != std.Length)
            throw new ArgumentException($"Give one mean and one std per channel (or one of each for all channels); got {mean.Length} means and {std.Length} stds.");
        for (int c = 0; c < mean.Length; c++)
        {
            if (!float.IsFinite(mean[c])) throw new ArgumentException($"Mean of channel {c} is {mean[c]}; it must be finite.", nameof(mean));
            if (!(std[c] > 0) || !float.IsFinite(std[c])) throw new ArgumentException($"Std of channel {c} is {std[c]}; it must be positive and finite.", nameof(std));
        }
        _mean = mean.ToArray();
        _std = std.ToArray();
        _table = new float[mean.Length * 256];
        for (int c = 0; c < mean.Length; c++)
        {
            for (int v = 0; v < 256; v++) _table[c * 256 + v] = (float)((v / 255.0 - mean[c]) / std[c]);
        }
    }

    /// <summary>Number of (mean, std) pairs: 1 (applies to every channel) or the channel count it is for.</summary>
    public int Channels => _mean.Length;

    /// <summary>Per-channel means, 0–1 scale.</summary>
    public ReadOnlySpan<float> Mean => _mean;

    /// <summary>Per-channel standard deviations, 0–1 scale.</summary>
    public ReadOnlySpan<float> Std => _std;

    /// <summary>Plain rescaling to [0, 1]: mean 0, std 1.</summary>
    public static ChannelNormalization None { get; } = new([0f], [1f]);

    /// <summary>
    /// Mean 0.5, std 0.5 for every channel, mapping pixels to [−1, 1]: Google's ViT checkpoints
    /// (<c>google/vit-*</c> preprocessor configs, and timm's <c>augreg</c> weights).
    /// </summary>
    public static ChannelNormalization Google { get; } = new([0.5f], [0.5f]);

    /// <summary>The ImageNet RGB statistics timm and torchvision use by default (<c>IMAGENET_DEFAULT_MEAN/STD</c>).</summary>
    public static ChannelNormalization ImageNet { get; } = new([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);

    /// <summary>Mean and std of the Fashion-MNIST training pixels (0.2860, 0.3530), for grey 28 × 28 training.</summary>
    public static ChannelNormalization FashionMnist { get; } = new([0.2860f], [0.3530f]);

    /// <summary>Throws unless this normalisation fits images with <paramref name="channels"/> channels.</summary>
    public void CheckChannels(int channels)
    {
        if (_mean.Length != 1 && _mean.Length != channels)
            throw new ArgumentException(
                $"This normalisation has {_mean.Length} (mean, std) pairs but the images have {channels} channel(s). " +
                "Use a single pair to apply to every channel, or load the images with the matching colour mode.");
    }

    /// <summary>The normalised value of byte <paramref name="value"/> in channel <paramref name="channel"/>.</summary>
    public float Apply(int channel, byte value) => _table[(_mean.Length == 1 ? 0 : channel) * 256 + value];

    /// <summary>The 256-entry lookup table of channel <paramref name="channel"/>: table[byte] = normalised value.</summary>
    public ReadOnlySpan<float> Table(int channel) => new(_table, (_mean.Length == 1 ? 0 : channel) * 256, 256);

    /// <summary>
    /// Normalises one image of C × H × W bytes into <paramref name="destination"/> (same length), where C is
    /// <paramref name="channels"/> and each channel plane holds <c>source.Length / channels</c> values.
    /// </summary>
    public void Apply(ReadOnlySpan<byte> source, Span<float> destination, int channels)
    {
        CheckChannels(channels);
        if (destination.Length < source.Length)
            throw new ArgumentException($"The destination holds {destination.Length} floats; the image has {source.Length} values.", nameof(destination));
        if (source.Length % channels != 0)
            throw new ArgumentException($"{source.Length} values cannot be {channels} equal channel planes.", nameof(source));
        int plane = source.Length / channels;
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<float> table = Table(c);
            ReadOnlySpan<byte> src = source.Slice(c * plane, plane);
            Span<float> dst = destination.Slice(c * plane, plane);
            for (int i = 0; i < src.Length; i++) dst[i] = table[src[i]];
        }
    }

    /// <summary>"mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)".</summary>
    public override string ToString() =>
        $"mean ({string.Join(", ", _mean.Select(m => m.ToString(CultureInfo.InvariantCulture)))}), " +
        $"std ({string.Join(", ", _std.Select(s => s.ToString(CultureInfo.InvariantCulture)))})";
}
