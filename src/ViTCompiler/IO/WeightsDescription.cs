using System.Globalization;
using System.Text.Json;
using ViTCompiler.Data;

namespace ViTCompiler.IO;

/// <summary>
/// What a weights file (or HuggingFace directory) says about its model before it is loaded, from
/// <see cref="Weights.Describe"/>: format, configuration, class names and how its images were prepared.
/// </summary>
/// <param name="Path">The file or directory described.</param>
/// <param name="Format">Its format, told from its content.</param>
/// <param name="Config">The configuration it records or implies (or that <see cref="DescribeOptions.ConfigPath"/> gave).</param>
public sealed record WeightsDescription(string Path, WeightsFormat Format, VitConfig Config)
{
    /// <summary>Class names in class order (HuggingFace <c>id2label</c> other than LABEL_i, or checkpoint metadata), or null.</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>HuggingFace's <c>preprocessor_config.json</c> beside the weights (or the given config.json), or null.</summary>
    public ImagePreprocessing? Preprocessing { get; init; }

    /// <summary>The input normalisation a checkpoint of ours records (its metadata, or its trainer's settings), or null.</summary>
    public ChannelNormalization? Normalization { get; init; }

    /// <summary>safetensors metadata (checkpoint and timm files); empty for other formats.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>Assumptions made while describing, for people (e.g. a head count a timm file does not record).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Lower-case format name: "hf", "timm", "jax" or "checkpoint".</summary>
    public string FormatName => Weights.FormatName(Format);
}

/// <summary>What <see cref="Weights.Describe"/> may be told beyond the file.</summary>
public sealed record DescribeOptions
{
    /// <summary>
    /// A configuration that replaces what the file records: a HuggingFace <c>config.json</c> (recognised by
    /// <c>model_type</c>; it also brings class names and the preprocessor beside it) or a vit config JSON
    /// (<see cref="VitConfigJson"/>'s keys; keys left out take <see cref="VitConfig"/>'s defaults).
    /// </summary>
    public string? ConfigPath { get; init; }

    /// <summary>The head count, for timm files that do not record it (shapes do not reveal it).</summary>
    public int? Heads { get; init; }
}

/// <summary>The metadata keys a checkpoint of ours uses besides the weights, and their text forms.</summary>
public static class CheckpointMetadata
{
    /// <summary>The class names as a JSON array of strings.</summary>
    public const string Labels = "labels";

    /// <summary>Per-channel mean of the input normalisation, comma-separated (0–1 scale).</summary>
    public const string ImageMean = "image_mean";

    /// <summary>Per-channel standard deviation of the input normalisation, comma-separated.</summary>
    public const string ImageStd = "image_std";

    /// <summary>Class names as the <see cref="Labels"/> value.</summary>
    public static string LabelsJson(IReadOnlyList<string> labels)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (string label in labels) json.WriteStringValue(label);
            json.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Floats as "0.5,0.5,0.5" (invariant culture, round-trip precision).</summary>
    public static string FloatsText(ReadOnlySpan<float> values)
    {
        var parts = new string[values.Length];
        for (int i = 0; i < values.Length; i++) parts[i] = values[i].ToString("R", CultureInfo.InvariantCulture);
        return string.Join(',', parts);
    }

    /// <summary>"0.5,0.5,0.5" as floats (invariant culture); throws <see cref="FormatException"/> on anything else.</summary>
    public static float[] ParseFloats(string text) =>
        text.Split(',', StringSplitOptions.TrimEntries).Select(s => float.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray();

    /// <summary>The <see cref="Labels"/> entry of <paramref name="metadata"/>, or null; a malformed one is a <see cref="WeightsFileException"/>.</summary>
    internal static IReadOnlyList<string>? ReadLabels(IReadOnlyDictionary<string, string> metadata, string path)
    {
        if (!metadata.TryGetValue(Labels, out string? text)) return null;
        try
        {
            using JsonDocument document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind != JsonValueKind.Array) throw new JsonException("not an array");
            var labels = new List<string>();
            foreach (JsonElement e in document.RootElement.EnumerateArray())
                labels.Add(e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new JsonException("an element is not a string"));
            return labels;
        }
        catch (JsonException e)
        {
            throw new WeightsFileException(path, $"metadata '{Labels}' must be a JSON array of strings ({e.Message})");
        }
    }

    /// <summary>
    /// The normalisation <paramref name="metadata"/> records: <see cref="ImageMean"/>/<see cref="ImageStd"/>, or for a
    /// checkpoint saved mid-run (before a final save wrote them), its trainer's settings. Null when neither is there.
    /// </summary>
    internal static ChannelNormalization? ReadNormalization(IReadOnlyDictionary<string, string> metadata, string path)
    {
        bool recorded = metadata.TryGetValue(ImageMean, out string? mean) & metadata.TryGetValue(ImageStd, out string? std);
        if (!recorded && metadata.TryGetValue(Training.Trainer.SettingsKey, out string? settings))
        {
            try
            {
                return new Training.TrainerOptions().WithSettingsJson(settings).Normalization;
            }
            catch (FormatException e)
            {
                throw new WeightsFileException(path, $"metadata '{Training.Trainer.SettingsKey}' is unusable: {e.Message}");
            }
        }
        if (!recorded) return null;
        try
        {
            return new ChannelNormalization(ParseFloats(mean!), ParseFloats(std!));
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw new WeightsFileException(path, $"metadata {ImageMean}/{ImageStd} ('{Shorten(mean!)}', '{Shorten(std!)}') are not usable: {e.Message}");
        }
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
