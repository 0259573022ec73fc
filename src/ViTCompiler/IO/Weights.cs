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
