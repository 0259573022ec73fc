using System.Globalization;
using System.Text.Json;
using ViTCompiler.IO;
using HfPreprocessing = ViTCompiler.IO.ImagePreprocessing;

namespace ViTCompiler.Cli;

/// <summary>
/// What a weights file (or HuggingFace directory) says about its model before it is loaded: format, configuration,
/// class names, how its images were prepared, and its metadata.
/// </summary>
internal sealed class WeightsSource
{
    /// <summary>Checkpoint metadata key: the class names as a JSON array of strings.</summary>
    public const string LabelsKey = "labels";
    /// <summary>Checkpoint metadata key: per-channel mean of the input normalisation, comma-separated (0–1 scale).</summary>
    public const string MeanKey = "image_mean";
    /// <summary>Checkpoint metadata key: per-channel standard deviation of the input normalisation, comma-separated.</summary>
    public const string StdKey = "image_std";

    /// <summary>Standard head counts of the paper's and DeiT's widths, for timm files that do not record theirs.</summary>
    private static readonly Dictionary<int, int> s_standardHeads = new() { [192] = 3, [384] = 6, [768] = 12, [1024] = 16, [1280] = 16 };

    private WeightsSource(string path, WeightsFormat format, VitConfig config)
    {
        Path = path;
        Format = format;
        Config = config;
    }

    public string Path { get; }
    public WeightsFormat Format { get; }

    /// <summary>The configuration the file describes (or <c>--config</c> gave).</summary>
    public VitConfig Config { get; private set; }

    /// <summary>Class names the file records (HF <c>id2label</c> other than LABEL_i, or checkpoint metadata), or null.</summary>
    public IReadOnlyList<string>? Labels { get; private set; }

    /// <summary>HuggingFace's <c>preprocessor_config.json</c> beside the weights, or null.</summary>
    public HfPreprocessing? Preprocessing { get; private set; }

    /// <summary>safetensors metadata (checkpoint and timm files), empty otherwise.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; private set; } = new Dictionary<string, string>();

    /// <summary>Lower-case format name as the CLI prints it.</summary>
    public string FormatName => FormatNames.Of(Format);

    /// <summary>
    /// Reads the description of <paramref name="path"/>. <paramref name="configPath"/> (an HF <c>config.json</c> or a
    /// vit config JSON) replaces what the file records; <paramref name="heads"/> is used for timm files that record no
    /// head count.
    /// </summary>
    public static WeightsSource Open(string path, string? configPath, int? heads, CliContext context)
    {
        if (!File.Exists(path) && !Directory.Exists(path)) throw CliException.File($"weights '{path}' do not exist.");
        WeightsFormat format = Weights.Detect(path);
        VitConfig? given = null;
        WeightsSource? fromConfigFile = null;
        if (configPath is not null)
        {
            (given, fromConfigFile) = ReadConfigFile(configPath, format);
        }

        var source = new WeightsSource(path, format, new VitConfig());
        switch (format)
        {
            case WeightsFormat.HuggingFace:
                if (given is null)
                {
                    HuggingFaceConfig hf = ReadHuggingFaceConfig(path);
                    source.Config = hf.Config;
                    source.Labels = RealLabels(hf.Labels);
                    source.Preprocessing = hf.Preprocessing;
                }
                break;
            case WeightsFormat.Jax:
                if (given is null) source.Config = JaxWeights.ReadConfig(path);
                break;
            case WeightsFormat.Checkpoint:
                source.Metadata = ReadMetadata(path);
                if (given is null) source.Config = VitCheckpoint.ReadConfig(path);
                source.Labels = LabelsFromMetadata(source.Metadata, path);
                break;
            default:
                source.Metadata = ReadMetadata(path);
                if (given is null) source.Config = TimmWeights.ReadConfig(path, source.Metadata.ContainsKey(TimmWeights.ConfigKey) ? null : heads ?? GuessHeads(path, context));
                source.Labels = LabelsFromMetadata(source.Metadata, path);
                break;
        }
        if (given is not null)
        {
            source.Config = given;
            source.Labels = fromConfigFile?.Labels ?? source.Labels;
            source.Preprocessing = fromConfigFile?.Preprocessing ?? source.Preprocessing;
        }
        return source;
    }

    private static HuggingFaceConfig ReadHuggingFaceConfig(string path)
    {
        string directory = Directory.Exists(path) ? path : System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        if (!File.Exists(System.IO.Path.Combine(directory, HuggingFaceWeights.ConfigFileName)))
            throw CliException.File($"'{path}' holds HuggingFace weights but there is no {HuggingFaceWeights.ConfigFileName} beside them to say the " +
                                    "architecture; put it there or pass --config FILE.");
        return HuggingFaceWeights.ReadConfig(path);
    }

    /// <summary>A timm file without metadata does not say its head count; the paper's widths have standard ones.</summary>
    private static int GuessHeads(string path, CliContext context)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        if (!file.TryGetTensor("patch_embed.proj.weight", out SafeTensorInfo patch) || patch.Shape.Count != 4)
            throw CliException.File($"'{path}' is not timm ViT weights: it has no 4-dimensional patch_embed.proj.weight.");
        long width = patch.Shape[0];
        if (width <= int.MaxValue && s_standardHeads.TryGetValue((int)width, out int heads))
        {
            context.Note($"'{path}' does not record its head count; assuming {heads}, the standard for width {width} (pass --heads to change it).");
            return heads;
        }
        throw CliException.Usage($"'{path}' does not record its head count and width {width} has no standard one; pass --heads N.");
    }

    private static Dictionary<string, string> ReadMetadata(string path)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        return new Dictionary<string, string>(file.Metadata, StringComparer.Ordinal);
    }

    private static IReadOnlyList<string>? RealLabels(IReadOnlyList<string> labels)
    {
        // transformers writes LABEL_0, LABEL_1, … when a model was saved without names: those say nothing.
        for (int i = 0; i < labels.Count; i++)
            if (labels[i] != "LABEL_" + i.ToString(CultureInfo.InvariantCulture)) return labels;
        return null;
    }

    private static IReadOnlyList<string>? LabelsFromMetadata(IReadOnlyDictionary<string, string> metadata, string path)
    {
        if (!metadata.TryGetValue(LabelsKey, out string? text)) return null;
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
            throw CliException.File($"'{path}': metadata '{LabelsKey}' must be a JSON array of strings ({e.Message}).");
        }
    }

    /// <summary>Reads <c>--config</c>; a HuggingFace config.json also brings class names and the preprocessor beside it.</summary>
    private static (VitConfig Config, WeightsSource? HuggingFace) ReadConfigFile(string configPath, WeightsFormat format)
    {
        (VitConfig config, HuggingFaceConfig? hf) = ConfigJson.ReadFile(configPath);
        return hf is null ? (config, null) : (config, new WeightsSource(configPath, format, config) { Labels = RealLabels(hf.Labels), Preprocessing = hf.Preprocessing });
    }
}

/// <summary>The names the CLI uses for weight formats (<c>--to</c>, <c>format</c> in JSON).</summary>
internal static class FormatNames
{
    public static string Of(WeightsFormat format) => format switch
    {
        WeightsFormat.HuggingFace => "hf",
        WeightsFormat.Timm => "timm",
        WeightsFormat.Jax => "jax",
        WeightsFormat.Checkpoint => "checkpoint",
        _ => format.ToString().ToLowerInvariant(),
    };
}

/// <summary>
/// The vit config JSON (<c>--config</c>; the same keys as a checkpoint's <c>vit.config</c> metadata): keys left out take
/// <see cref="VitConfig"/>'s defaults, unknown keys are refused.
/// </summary>
internal static class ConfigJson
{
    /// <summary>Reads a config file: a HuggingFace config.json (recognised by <c>model_type</c>) or a vit config JSON.</summary>
    public static (VitConfig Config, HuggingFaceConfig? HuggingFace) ReadFile(string path)
    {
        if (!File.Exists(path)) throw CliException.File($"config '{path}' does not exist.");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(FileGuard.ReadAllText(path, FileGuard.MaxConfigBytes, problem => CliException.File($"config '{path}' {problem}.")));
        }
        catch (JsonException e)
        {
            throw CliException.File($"config '{path}' is not valid JSON ({e.Message}).");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw CliException.File($"config '{path}' is not a JSON object.");
            if (!document.RootElement.TryGetProperty("model_type", out _)) return (Read(document.RootElement, path), null);
        }
        HuggingFaceConfig hf = HuggingFaceWeights.ReadConfig(path);
        return (hf.Config, hf);
    }

    public static VitConfig Read(JsonElement root, string path)
    {
        CliException Fail(string problem) => CliException.File($"config '{path}': {problem}.");
        int Int(JsonProperty p) => p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt32(out int v) ? v : throw Fail($"{p.Name} must be an integer, not {p.Value.GetRawText()}");
        var config = new VitConfig();
        foreach (JsonProperty p in root.EnumerateObject())
        {
            config = p.Name switch
            {
                "image_size" => config with { ImageSize = Int(p) },
                "channels" => config with { Channels = Int(p) },
                "patch" => config with { Patch = Int(p) },
                "layers" => config with { Layers = Int(p) },
                "hidden" => config with { Hidden = Int(p) },
                "heads" => config with { Heads = Int(p) },
                "mlp_dim" => config with { MlpDim = Int(p) },
                "classes" => config with { Classes = Int(p) },
                "pooling" => config with
                {
                    Pooling = p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() is "class_token" ? VitPooling.ClassToken
                        : p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() is "mean" ? VitPooling.Mean
                        : throw Fail($"pooling must be \"class_token\" or \"mean\", not {p.Value.GetRawText()}"),
                },
                "layer_norm_epsilon" => config with
                {
                    LayerNormEpsilon = p.Value.ValueKind == JsonValueKind.Number ? p.Value.GetDouble() : throw Fail($"layer_norm_epsilon must be a number, not {p.Value.GetRawText()}"),
                },
                "qkv_bias" => config with
                {
                    QkvBias = p.Value.ValueKind is JsonValueKind.True or JsonValueKind.False ? p.Value.GetBoolean() : throw Fail($"qkv_bias must be true or false, not {p.Value.GetRawText()}"),
                },
                _ => throw Fail($"unknown key '{p.Name}' (expected image_size, channels, patch, layers, hidden, heads, mlp_dim, classes, pooling, layer_norm_epsilon, qkv_bias, or a HuggingFace config.json with model_type)"),
            };
        }
        if (config.Problem() is string problem) throw Fail($"describes an invalid configuration: {problem}");
        return config;
    }
}
