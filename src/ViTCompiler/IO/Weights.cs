namespace ViTCompiler.IO;

/// <summary>The weight-file formats this library reads (and, except <see cref="Jax"/>, writes).</summary>
public enum WeightsFormat
{
    /// <summary>timm state dict as safetensors (this library's own parameter names).</summary>
    Timm,
    /// <summary>HuggingFace transformers ViT: safetensors + config.json.</summary>
    HuggingFace,
    /// <summary>The paper's JAX/flax checkpoints (.npz). Read only.</summary>
    Jax,
    /// <summary>This library's training checkpoint (<see cref="VitCheckpoint"/>).</summary>
    Checkpoint,
}

/// <summary>One entry point for all formats: tells them apart by content and dispatches to the format's loader.</summary>
public static class Weights
{
    /// <summary>
    /// Tells the format of <paramref name="path"/> (a file, or a HuggingFace checkpoint directory) from its content: a zip
    /// is JAX npz; a safetensors file is a checkpoint when its metadata says so, HuggingFace when its names start with
    /// <c>vit.</c> or <c>embeddings.</c> (or a <c>config.json</c> with <c>model_type</c> "vit" lies beside it), timm
    /// otherwise. Throws <see cref="WeightsFileException"/> for anything else.
    /// </summary>
    public static WeightsFormat Detect(string path)
    {
        if (Directory.Exists(path))
        {
            if (File.Exists(Path.Combine(path, HuggingFaceWeights.WeightsFileName))) return WeightsFormat.HuggingFace;
            throw new WeightsFileException(path, $"is a directory without {HuggingFaceWeights.WeightsFileName}");
        }
        Span<byte> magic = stackalloc byte[4];
        int read;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            read = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WeightsFileException(path, "cannot be opened: " + e.Message, e);
        }
        if (read == 4 && magic[0] == (byte)'P' && magic[1] == (byte)'K' && (magic[2], magic[3]) is (3, 4) or (5, 6))
            return WeightsFormat.Jax;
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        return Detect(file);
    }

    /// <summary>
    /// Loads any supported file into <paramref name="model"/> (see <see cref="Detect(string)"/>), checking names, shapes,
    /// configuration and values first; returns the format it found.
    /// </summary>
    public static WeightsFormat Load(string path, IVitWeights model, LoadOptions? options = null)
    {
        options ??= LoadOptions.Default;
        WeightsFormat format = Detect(path);
        switch (format)
        {
            case WeightsFormat.Jax: JaxWeights.Load(path, model, options); break;
            case WeightsFormat.HuggingFace: HuggingFaceWeights.Load(path, model, options); break;
            case WeightsFormat.Checkpoint: VitCheckpoint.LoadInto(path, model, options); break;
            default: TimmWeights.Load(path, model, options); break;
        }
        return format;
    }

    /// <summary>
    /// The configuration a file describes: recorded (checkpoint, HuggingFace config.json, timm files saved here) or
    /// inferred from shapes (JAX; timm files from elsewhere need <paramref name="heads"/>, which shapes do not reveal).
    /// </summary>
    public static VitConfig ReadConfig(string path, int? heads = null) => Detect(path) switch
    {
        WeightsFormat.Jax => JaxWeights.ReadConfig(path),
        WeightsFormat.HuggingFace => HuggingFaceWeights.ReadConfig(path).Config,
        WeightsFormat.Checkpoint => VitCheckpoint.ReadConfig(path),
        _ => TimmWeights.ReadConfig(path, heads),
    };

    /// <summary>
    /// Describes <paramref name="path"/> without loading its weights: format, configuration (recorded, inferred, or from
    /// <see cref="DescribeOptions.ConfigPath"/>), class names, the preprocessing a HuggingFace checkpoint records, the
    /// normalisation a checkpoint of ours records, and its metadata. Problems with the file are
    /// <see cref="WeightsFileException"/>s; a timm file whose head count must be given in <paramref name="options"/> is an
    /// <see cref="ArgumentException"/>.
    /// </summary>
    public static WeightsDescription Describe(string path, DescribeOptions? options = null)
    {
        options ??= new DescribeOptions();
        if (options.Heads is int h && h <= 0) throw new ArgumentOutOfRangeException(nameof(options), h, "Heads must be positive.");
        if (!File.Exists(path) && !Directory.Exists(path)) throw new WeightsFileException(path, "does not exist");
        WeightsFormat format = Detect(path);
        WeightsDescription description;
        switch (format)
        {
            case WeightsFormat.HuggingFace when options.ConfigPath is null:
            {
                HuggingFaceConfig hf = HuggingFaceWeights.ReadConfig(path);
                description = new WeightsDescription(path, format, hf.Config) { Labels = RealLabels(hf.Labels), Preprocessing = hf.Preprocessing };
                break;
            }
            case WeightsFormat.HuggingFace:
                description = new WeightsDescription(path, format, new VitConfig());
                break;
            case WeightsFormat.Jax:
                description = new WeightsDescription(path, format, options.ConfigPath is null ? JaxWeights.ReadConfig(path) : new VitConfig());
                break;
            default:
            {
                Dictionary<string, string> metadata;
                using (SafeTensorsFile file = SafeTensorsFile.Open(path)) metadata = new Dictionary<string, string>(file.Metadata, StringComparer.Ordinal);
                var notes = new List<string>();
                VitConfig config = options.ConfigPath is not null ? new VitConfig()
                    : format == WeightsFormat.Checkpoint ? VitCheckpoint.ReadConfig(path)
                    : TimmWeights.ReadConfig(path, metadata.ContainsKey(TimmWeights.ConfigKey) ? null : options.Heads ?? TimmWeights.StandardHeads(path, notes));
                description = new WeightsDescription(path, format, config)
                {
                    Metadata = metadata,
                    Labels = CheckpointMetadata.ReadLabels(metadata, path),
                    Normalization = CheckpointMetadata.ReadNormalization(metadata, path),
                    Notes = notes,
                };
                break;
            }
        }
        if (options.ConfigPath is not null)
        {
            (VitConfig given, HuggingFaceConfig? hf) = ReadConfigFile(options.ConfigPath);
            description = description with
            {
                Config = given,
                Labels = hf is null ? description.Labels : RealLabels(hf.Labels) ?? description.Labels,
                Preprocessing = hf?.Preprocessing ?? description.Preprocessing,
            };
        }
        return description;
    }

    /// <summary>
    /// Reads a configuration file: a HuggingFace <c>config.json</c> (recognised by <c>model_type</c>; returned too, with
    /// its labels and the preprocessor beside it) or a vit config JSON (<see cref="VitConfigJson"/>, keys optional).
    /// </summary>
    public static (VitConfig Config, HuggingFaceConfig? HuggingFace) ReadConfigFile(string path)
    {
        if (!File.Exists(path)) throw new WeightsFileException(path, "does not exist (expected a config JSON file)");
        bool huggingFace;
        using (System.Text.Json.JsonDocument document = JsonFields.Parse(path, "the config file"))
        {
            if (document.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object) throw new WeightsFileException(path, "is not a JSON object");
            huggingFace = document.RootElement.TryGetProperty("model_type", out _);
        }
        if (huggingFace)
        {
            HuggingFaceConfig hf = HuggingFaceWeights.ReadConfig(path);
            return (hf.Config, hf);
        }
        return (VitConfigJson.Read(File.ReadAllText(path), problem => new WeightsFileException(path, problem), requireAll: false), null);
    }

    /// <summary>A format's short name, as the CLI takes and prints it: "hf", "timm", "jax" or "checkpoint".</summary>
    public static string FormatName(WeightsFormat format) => format switch
    {
        WeightsFormat.HuggingFace => "hf",
        WeightsFormat.Timm => "timm",
        WeightsFormat.Jax => "jax",
        WeightsFormat.Checkpoint => "checkpoint",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };

    // transformers writes LABEL_0, LABEL_1, … when a model was saved without names: those say nothing.
    private static IReadOnlyList<string>? RealLabels(IReadOnlyList<string> labels)
    {
        for (int i = 0; i < labels.Count; i++)
            if (labels[i] != "LABEL_" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)) return labels;
        return null;
    }

    /// <summary>Saves <paramref name="model"/> in <paramref name="format"/> (atomically; JAX is read only).</summary>
    public static void Save(string path, IVitWeights model, WeightsFormat format)
    {
        switch (format)
        {
            case WeightsFormat.Timm: TimmWeights.Save(path, model); break;
            case WeightsFormat.HuggingFace: HuggingFaceWeights.Save(path, model); break;
            case WeightsFormat.Checkpoint: VitCheckpoint.Save(path, model); break;
            case WeightsFormat.Jax: throw new NotSupportedException("Writing the JAX .npz format is not supported; save as timm, HuggingFace or a checkpoint.");
            default: throw new ArgumentOutOfRangeException(nameof(format), format, null);
        }
    }

    internal static WeightsFormat Detect(SafeTensorsFile file)
    {
        if (file.Metadata.ContainsKey(VitCheckpoint.FormatKey)) return WeightsFormat.Checkpoint;
        if (file.Tensors.Any(t => t.Name.StartsWith("vit.", StringComparison.Ordinal) || t.Name.StartsWith("embeddings.", StringComparison.Ordinal)))
            return WeightsFormat.HuggingFace;
        if (file.Tensors.Any(t => t.Name.StartsWith("patch_embed.", StringComparison.Ordinal) || t.Name.StartsWith("blocks.", StringComparison.Ordinal)))
            return WeightsFormat.Timm;
        string config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file.Path))!, HuggingFaceWeights.ConfigFileName);
        if (File.Exists(config))
        {
            try
            {
                using System.Text.Json.JsonDocument document = JsonFields.Parse(config, "config.json");
                if (document.RootElement.TryGetProperty("model_type", out System.Text.Json.JsonElement type) && type.ValueKind == System.Text.Json.JsonValueKind.String && type.GetString() == "vit")
                    return WeightsFormat.HuggingFace;
            }
            catch (WeightsFileException)
            {
                // An unreadable config.json beside a file says nothing about the file; fall through to timm.
            }
        }
        return WeightsFormat.Timm;
    }
}
