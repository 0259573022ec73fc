using System.Globalization;
using ViTCompiler.Data;
using ViTCompiler.Imaging;
using ViTCompiler.IO;
using ImagePreprocessing = ViTCompiler.Imaging.ImagePreprocessing;

namespace ViTCompiler.Cli;

/// <summary>Chooses how image files become a model's input, from what the weights file says and the user's options.</summary>
internal static class InputPreprocessing
{
    /// <summary>Names <c>--normalize</c> accepts.</summary>
    public static readonly string[] NormalizationNames = ["google", "imagenet", "fashion-mnist", "none"];

    /// <summary>
    /// The preprocessing for <paramref name="config"/>'s images as the library chooses it from what the weights say
    /// (<see cref="ImagePreprocessing.For"/>); <paramref name="normalization"/> (<c>--normalize</c>) replaces the mean and std.
    /// </summary>
    public static ImagePreprocessing For(WeightsDescription? source, VitConfig config, string? normalization, CliContext context)
    {
        try
        {
            ImagePreprocessing result = ImagePreprocessing.For(source, config, context.Note);
            if (normalization is not null) result = result with { Normalization = Named(normalization) };
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
}
