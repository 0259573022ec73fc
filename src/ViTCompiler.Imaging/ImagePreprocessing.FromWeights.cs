using ViTCompiler.Data;
using ViTCompiler.IO;
using HfPreprocessing = ViTCompiler.IO.ImagePreprocessing;

namespace ViTCompiler.Imaging;

public sealed partial record ImagePreprocessing
{
    /// <summary>
    /// How images should be prepared for a model described by <paramref name="source"/> (null: a model of ours with no
    /// file): the checkpoint's <c>preprocessor_config.json</c> when there is one; otherwise Google's (resize,
    /// mean = std = 0.5) for HuggingFace and JAX files, timm's evaluation transform (shorter side to S / 0.875, centre
    /// crop, ImageNet mean and std) for 3-channel timm files, and for our checkpoints the normalisation they record
    /// (Fashion-MNIST's for grey models, Google's otherwise, when none is). <paramref name="note"/> hears about
    /// adaptations (an unsupported resampling filter, another resize target).
    /// </summary>
    /// <exception cref="ArgumentException">The model's channel count is neither 1 (grey) nor 3 (RGB).</exception>
    public static ImagePreprocessing For(WeightsDescription? source, VitConfig config, Action<string>? note = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ColorMode color = config.Channels switch
        {
            1 => ColorMode.Grey,
            3 => ColorMode.Rgb,
            _ => throw new ArgumentException($"The model takes {config.Channels}-channel images; image files can only give 1 (grey) or 3 (RGB) channels.", nameof(config)),
        };
        int size = config.ImageSize;
        ImagePreprocessing result = source switch
        {
            { Preprocessing: HfPreprocessing hf } => FromHuggingFace(hf, size, note),
            { Format: WeightsFormat.Timm } when config.Channels == 3 => Timm(size),
            null or { Format: WeightsFormat.Checkpoint } => Google(size) with
            {
                Normalization = source?.Normalization ?? (config.Channels == 1 ? ChannelNormalization.FashionMnist : ChannelNormalization.Google),
            },
            _ => Google(size),
        };
        return result with { Color = color };
    }

    /// <summary>
    /// HuggingFace's <c>ViTImageProcessor</c> steps as ours. HuggingFace computes x = (v · r − mean) / std on 0–255
    /// values v (r = rescale_factor when do_rescale, else 1; mean 0 and std 1 when not do_normalize); our tables compute
    /// (v / 255 − m) / s, which is the same with m = mean / (255 r) and s = std / (255 r).
    /// </summary>
    /// <exception cref="ArgumentException">rescale_factor is not positive.</exception>
    public static ImagePreprocessing FromHuggingFace(HfPreprocessing hf, int size, Action<string>? note = null)
    {
        ArgumentNullException.ThrowIfNull(hf);
        double r = hf.DoRescale ? hf.RescaleFactor : 1.0;
        if (!(r > 0)) throw new ArgumentException($"preprocessor_config.json has rescale_factor {hf.RescaleFactor}; it must be positive.", nameof(hf));
        int pairs = hf.DoNormalize ? hf.Mean.Count : 1;
        float[] mean = new float[pairs], std = new float[pairs];
        for (int c = 0; c < pairs; c++)
        {
            mean[c] = hf.DoNormalize ? (float)(hf.Mean[c] / (255 * r)) : 0f;
            std[c] = hf.DoNormalize ? (float)(hf.Std[c] / (255 * r)) : (float)(1 / (255 * r));
        }
        Resampling resampling;
        try
        {
            resampling = ResamplingFromPil(hf.Resample);
        }
        catch (NotSupportedException e)
        {
            note?.Invoke($"preprocessor_config.json: {e.Message} Using bilinear.");
            resampling = Resampling.Bilinear;
        }
        var result = new ImagePreprocessing { Size = size, Resampling = resampling, Normalization = new ChannelNormalization(mean, std) };
        if (hf.ShortestEdge is int shortest)
            result = result with { Resize = ResizeStrategy.ShorterSideThenCenterCrop, ShorterSide = Math.Max(shortest, size) };
        else if (hf.Height is int h && hf.Width is int w && (h != size || w != size))
            note?.Invoke($"preprocessor_config.json resizes to {h}×{w}; the model takes {size}×{size}, so images are resized to that.");
        return result;
    }
}
