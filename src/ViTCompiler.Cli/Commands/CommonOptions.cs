using System.CommandLine;

namespace ViTCompiler.Cli.Commands;

/// <summary>Options several commands share, built fresh for each command (an option belongs to one parent).</summary>
internal static class CommonOptions
{
    public static Option<bool> Json() => new("--json") { Description = "Print one JSON object per result instead of text (fields: docs/CLI.md)." };

    public static Option<string> Weights(bool required) => new("--weights", "-w")
    {
        Description = "Weights: a HuggingFace directory or model.safetensors, a timm .safetensors, a JAX .npz or a vit checkpoint.",
        HelpName = "FILE",
        Required = required,
    };

    public static Option<string> Config() => new("--config")
    {
        Description = "A HuggingFace config.json or vit config JSON describing the weights, for files that do not record it.",
        HelpName = "FILE",
    };

    public static Option<int?> Heads() => new("--heads")
    {
        Description = "Attention heads, for timm files that do not record them (default: the standard count for the width).",
        HelpName = "N",
    };

    public static Option<int?> ImageSize() => new("--image-size")
    {
        Description = "Run the model at this image size, interpolating the position embeddings from the file's grid (paper §3.2).",
        HelpName = "PIXELS",
    };

    public static Option<string> Normalize()
    {
        var option = new Option<string>("--normalize")
        {
            Description = "Override the input normalisation: google (mean = std = 0.5), imagenet, fashion-mnist or none.",
            HelpName = "NAME",
        };
        option.AcceptOnlyFromAmong(InputPreprocessing.NormalizationNames);
        return option;
    }

    public static Option<string> Out() => new("--out", "-o")
    {
        Description = "Folder for the pictures (PNG) and the numbers behind them; created if missing.",
        HelpName = "DIR",
        Required = true,
    };

    public static Option<string> Preset(bool required) => new("--preset", "-p")
    {
        Description = $"A model compiled into vit: {string.Join(", ", Presets.Names)}.",
        HelpName = "NAME",
        Required = required,
    };

    public static Option<int?> Threads() => new("--threads", "-t")
    {
        Description = "Threads for the forward pass (default: all cores, or VIT_THREADS).",
        HelpName = "N",
    };

    /// <summary>A positive value or a usage error naming the option.</summary>
    public static int Positive(int value, string option) =>
        value > 0 ? value : throw CliException.Usage($"{option} must be a positive number (got {value}).");

    /// <summary>Applies <c>--threads</c> to <paramref name="model"/>.</summary>
    public static void ApplyThreads(IVitClassifier model, int? threads)
    {
        if (threads is int t) model.Threads = Positive(t, "--threads");
    }
}
