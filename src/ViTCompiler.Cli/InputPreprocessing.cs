using System.Globalization;
using ViTCompiler.Data;
using ViTCompiler.Imaging;
using ViTCompiler.IO;
using HfPreprocessing = ViTCompiler.IO.ImagePreprocessing;
using ImagePreprocessing = ViTCompiler.Imaging.ImagePreprocessing;

namespace ViTCompiler.Cli;

/// <summary>Chooses how image files become a model's input, from what the weights file says and the user's options.</summary>
internal static class InputPreprocessing
{
    /// <summary>Names <c>--normalize</c> accepts.</summary>
    public static readonly string[] NormalizationNames = ["google", "imagenet", "fashion-mnist", "none"];

    /// <summary>
    /// The preprocessing for <paramref name="config"/>'s images: the checkpoint's <c>preprocessor_config.json</c> when
    /// there is one; otherwise Google's (resize, mean = std = 0.5) for HuggingFace and JAX files, timm's evaluation
    /// transform (resize the shorter side to S/0.875, centre crop, ImageNet mean/std) for timm files, and the
    /// normalisation recorded in a vit checkpoint (Fashion-MNIST's for grey models, Google's otherwise, when none is).
    /// <paramref name="normalization"/> (<c>--normalize</c>) replaces the mean and std.
    /// </summary>
    public static ImagePreprocessing For(WeightsSource? source, VitConfig config, string? normalization, CliContext context)
    {
        int size = config.ImageSize;
        ColorMode color = config.Channels switch
        {
            1 => ColorMode.Grey,
            3 => ColorMode.Rgb,
            _ => throw CliException.Usage($"The model takes {config.Channels}-channel images; image files can only give 1 (grey) or 3 (RGB) channels."),
        };
        ImagePreprocessing result;
        if (source?.Preprocessing is HfPreprocessing hf)
        {
            result = FromHuggingFace(hf, size, context);
        }
        else if (source?.Format == WeightsFormat.Timm && config.Channels == 3)
        {
            result = ImagePreprocessing.Timm(size);
        }
        else if (source?.Format == WeightsFormat.Checkpoint || source is null)
        {
            result = ImagePreprocessing.Google(size) with { Normalization = FromMetadata(source) ?? (config.Channels == 1 ? ChannelNormalization.FashionMnist : ChannelNormalization.Google) };
        }
        else
        {
            result = ImagePreprocessing.Google(size);
        }
        result = result with { Color = color };
        if (normalization is not null) result = result with { Normalization = Named(normalization) };
        try
        {
            return result.Validate();
        }
        catch (ArgumentException e)
        {
            throw CliException.Usage($"The image preprocessing does not fit this model: {e.Message}");
        }
    }

    /// <summary>The normalisation called <paramref name="name"/> (one of <see cref="NormalizationNames"/>).</summary>
    public static ChannelNormalization Named(string name) => name.ToLowerInvariant() switch
    {
        "google" => ChannelNormalization.Google,
        "imagenet" => ChannelNormalization.ImageNet,
        "fashion-mnist" => ChannelNormalization.FashionMnist,
        "none" => ChannelNormalization.None,
        _ => throw CliException.Usage($"Unknown normalisation '{name}'; expected one of {string.Join(", ", NormalizationNames)}."),
    };

    /// <summary>One line for people: "224×224 RGB, direct resize (bilinear), mean (0.5), std (0.5)".</summary>
    public static string Describe(ImagePreprocessing p) =>
        $"{p.Size}×{p.Size} {(p.Color == ColorMode.Grey ? "grey" : "RGB")}, " +
        (p.Resize == ResizeStrategy.Direct ? "direct resize" : $"shorter side to {p.EffectiveShorterSide} then centre crop") +
        $" ({p.Resampling.ToString().ToLowerInvariant()}), {p.Normalization}";

    /// <summary>
    /// HuggingFace's steps are x = (v · r − mean) / std on 0–255 values v (r = rescale_factor when do_rescale, else 1;
    /// mean 0 and std 1 when not do_normalize). Our tables compute (v / 255 − m) / s, which is the same with
    /// m = mean / (255 r) and s = std / (255 r).
    /// </summary>
    private static ImagePreprocessing FromHuggingFace(HfPreprocessing hf, int size, CliContext context)
    {
        double r = hf.DoRescale ? hf.RescaleFactor : 1.0;
        if (!(r > 0)) throw CliException.File($"preprocessor_config.json has rescale_factor {hf.RescaleFactor}; it must be positive.");
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
            resampling = ImagePreprocessing.ResamplingFromPil(hf.Resample);
        }
        catch (NotSupportedException e)
        {
            context.Warn($"preprocessor_config.json: {e.Message} Using bilinear.");
            resampling = Resampling.Bilinear;
        }
        var result = new ImagePreprocessing { Size = size, Resampling = resampling, Normalization = new ChannelNormalization(mean, std) };
        if (hf.ShortestEdge is int shortest)
        {
            result = result with { Resize = ResizeStrategy.ShorterSideThenCenterCrop, ShorterSide = Math.Max(shortest, size) };
        }
        else if (hf.Height is int h && hf.Width is int w && (h != size || w != size))
        {
            context.Note($"preprocessor_config.json resizes to {h}×{w}; the model takes {size}×{size}, so images are resized to that.");
        }
        return result;
    }

    private static ChannelNormalization? FromMetadata(WeightsSource? source)
    {
        if (source is null) return null;
        if (source.Metadata.TryGetValue(Training.Trainer.SettingsKey, out string? settings)
            && !(source.Metadata.ContainsKey(WeightsSource.MeanKey) && source.Metadata.ContainsKey(WeightsSource.StdKey)))
        {
            // A trainer checkpoint saved before `vit train` finished (e.g. stopped with Ctrl-C): the settings hold the normalisation.
            try
            {
                return new Training.TrainerOptions().WithSettingsJson(settings).Normalization;
            }
            catch (FormatException e)
            {
                throw CliException.File($"'{source.Path}': metadata '{Training.Trainer.SettingsKey}' is unusable: {e.Message}");
            }
        }
        if (!source.Metadata.TryGetValue(WeightsSource.MeanKey, out string? mean) || !source.Metadata.TryGetValue(WeightsSource.StdKey, out string? std))
            return null;
        try
        {
            return new ChannelNormalization(Floats(mean), Floats(std));
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw CliException.File($"'{source.Path}': metadata {WeightsSource.MeanKey}/{WeightsSource.StdKey} ('{mean}', '{std}') are not usable: {e.Message}");
        }
    }

    /// <summary>"0.5,0.5,0.5" → floats (invariant culture).</summary>
    public static float[] Floats(string text) =>
        text.Split(',', StringSplitOptions.TrimEntries).Select(s => float.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray();

    /// <summary>Floats → "0.5,0.5,0.5", the form checkpoint metadata stores.</summary>
    public static string Text(ReadOnlySpan<float> values)
    {
        var parts = new string[values.Length];
        for (int i = 0; i < values.Length; i++) parts[i] = values[i].ToString("R", CultureInfo.InvariantCulture);
        return string.Join(',', parts);
    }
}
