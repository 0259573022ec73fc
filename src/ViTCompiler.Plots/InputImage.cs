using ViTCompiler.Data;

namespace ViTCompiler.Plots;

/// <summary>An RGB picture to draw under a map: usually the model's own input, turned back into colours.</summary>
public sealed class InputImage
{
    private readonly byte[,,] _rgb;

    /// <summary>Wraps an RGB array indexed [row, column, channel] (not copied).</summary>
    public InputImage(byte[,,] rgb)
    {
        ArgumentNullException.ThrowIfNull(rgb);
        if (rgb.GetLength(2) != 3) throw new ArgumentException($"The array's last dimension must be the 3 colour channels; it is {rgb.GetLength(2)}.", nameof(rgb));
        _rgb = rgb;
    }

    /// <summary>Height in pixels.</summary>
    public int Height => _rgb.GetLength(0);

    /// <summary>Width in pixels.</summary>
    public int Width => _rgb.GetLength(1);

    /// <summary>The pixels as [row, column, channel] (red, green, blue).</summary>
    public byte[,,] Pixels => _rgb;

    /// <summary>
    /// Undoes <paramref name="normalization"/> on one image of model input (CHW floats, <paramref name="config"/>'s
    /// size and channels) so the picture shows exactly what the model saw; grey images become grey RGB.
    /// </summary>
    public static InputImage FromModelInput(ReadOnlySpan<float> pixels, VitConfig config, ChannelNormalization normalization)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(normalization);
        int size = config.ImageSize, channels = config.Channels;
        if (pixels.Length != config.PixelsPerImage)
            throw new ArgumentException($"One {channels}-channel {size}×{size} image is {config.PixelsPerImage:N0} floats; got {pixels.Length:N0}.", nameof(pixels));
        if (channels is not (1 or 3)) throw new ArgumentException($"Only grey (1) and RGB (3) images can be drawn; the model takes {channels} channels.", nameof(config));
        normalization.CheckChannels(channels);
        var rgb = new byte[size, size, 3];
        for (int c = 0; c < 3; c++)
        {
            int source = channels == 1 ? 0 : c;
            int stat = normalization.Channels == 1 ? 0 : source;
            double mean = normalization.Mean[stat], std = normalization.Std[stat];
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    double value = pixels[(source * size + y) * size + x] * std + mean;
                    rgb[y, x, c] = (byte)Math.Clamp(Math.Round(value * 255), 0, 255);
                }
        }
        return new InputImage(rgb);
    }
}
