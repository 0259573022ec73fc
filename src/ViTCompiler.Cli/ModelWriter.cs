using System.Text.Json;
using ViTCompiler.Imaging;
using ViTCompiler.IO;
using HfPreprocessing = ViTCompiler.IO.ImagePreprocessing;
using ImagePreprocessing = ViTCompiler.Imaging.ImagePreprocessing;

namespace ViTCompiler.Cli;

/// <summary>Writes a model in one of the formats <c>--to</c> names, carrying class names and preprocessing along where the format can hold them.</summary>
internal static class ModelWriter
{
    /// <summary>The names <c>--to</c> accepts.</summary>
    public static readonly string[] FormatChoices = ["hf", "timm", "checkpoint"];

    public static WeightsFormat Parse(string name) => name.ToLowerInvariant() switch
    {
        "hf" or "huggingface" => WeightsFormat.HuggingFace,
        "timm" => WeightsFormat.Timm,
        "checkpoint" => WeightsFormat.Checkpoint,
        _ => throw CliException.Usage($"Unknown output format '{name}'; expected one of {string.Join(", ", FormatChoices)}."),
    };

    /// <summary>
    /// Saves <paramref name="model"/> to <paramref name="path"/>: HuggingFace as a directory (created when missing; a path
    /// ending in .safetensors is the weights file itself) with config.json (class names) and preprocessor_config.json;
    /// timm as one .safetensors file; a checkpoint with the class names and normalisation in its metadata.
    /// </summary>
    public static void Save(string path, IVitWeights model, WeightsFormat format, IReadOnlyList<string>? labels, ImagePreprocessing preprocessing,
        HfPreprocessing? original, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        switch (format)
        {
            case WeightsFormat.HuggingFace:
                if (!path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
                {
                    if (File.Exists(path)) throw CliException.Usage($"'{path}' is a file; a HuggingFace checkpoint is a directory (or name the weights file *.safetensors).");
                    Directory.CreateDirectory(path);
                }
                else if (directory is not null && !Directory.Exists(directory)) throw CliException.File($"folder '{directory}' does not exist.");
                HfPreprocessing written = original is null
                    ? ToHuggingFace(preprocessing, model.Config.Channels)
                    : original with { Height = original.Height is null ? null : model.Config.ImageSize, Width = original.Width is null ? null : model.Config.ImageSize };
                HuggingFaceWeights.Save(path, model, labels, written);
                break;
            case WeightsFormat.Timm:
                if (directory is not null && !Directory.Exists(directory)) throw CliException.File($"folder '{directory}' does not exist.");
                TimmWeights.Save(path, model);
                break;
            case WeightsFormat.Checkpoint:
                if (directory is not null && !Directory.Exists(directory)) throw CliException.File($"folder '{directory}' does not exist.");
                var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    [CheckpointMetadata.ImageMean] = CheckpointMetadata.FloatsText(Expand(preprocessing.Normalization.Mean, model.Config.Channels)),
                    [CheckpointMetadata.ImageStd] = CheckpointMetadata.FloatsText(Expand(preprocessing.Normalization.Std, model.Config.Channels)),
                };
                if (labels is not null) metadata[CheckpointMetadata.Labels] = CheckpointMetadata.LabelsJson(labels);
                if (extraMetadata is not null)
                    foreach ((string key, string value) in extraMetadata) metadata[key] = value;
                VitCheckpoint.Save(path, model, metadata: metadata);
                break;
            default:
                throw CliException.Usage($"Cannot write {Weights.FormatName(format)} files.");
        }
    }

    /// <summary>Our preprocessing as transformers' ViTImageProcessor would do it (a direct resize; a crop cannot be expressed there).</summary>
    private static HfPreprocessing ToHuggingFace(ImagePreprocessing p, int channels) => new()
    {
        Mean = Expand(p.Normalization.Mean, channels),
        Std = Expand(p.Normalization.Std, channels),
        Height = p.Size,
        Width = p.Size,
        Resample = p.Resampling switch
        {
            Resampling.Nearest => 0,
            Resampling.Lanczos => 1,
            Resampling.Bicubic => 3,
            Resampling.Box => 4,
            _ => 2,
        },
    };

    private static float[] Expand(ReadOnlySpan<float> values, int channels)
    {
        if (values.Length == channels) return values.ToArray();
        float[] result = new float[channels];
        result.AsSpan().Fill(values[0]);
        return result;
    }
}
