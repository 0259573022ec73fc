namespace ViTCompiler.IO;

/// <summary>
/// timm's Vision Transformer state dict as safetensors: the names and shapes of <see cref="VitConfig.Layout"/> exactly
/// (fused <c>attn.qkv</c> rows [q; k; v], linear weights out × in), so loading and saving are copies.
/// </summary>
/// <remarks>
/// timm files do not record the head count, the LayerNorm ε or the pooling; files saved here add them as
/// <c>__metadata__["vit.config"]</c>, and loading checks them when present. A timm model with average pooling names its
/// final norm <c>fc_norm</c> and applies it after pooling; this library normalises before pooling (as the paper's
/// code does), so such files are refused rather than silently mis-computed.
/// </remarks>
public static class TimmWeights
{
    /// <summary>The metadata key holding the configuration as JSON (see <see cref="VitCheckpoint"/>).</summary>
    public const string ConfigKey = "vit.config";

    /// <summary>Writes the model's parameters (atomic; see <see cref="SafeTensors.Write"/>).</summary>
    public static void Save(string path, IVitWeights model)
    {
        var metadata = new Dictionary<string, string> { ["format"] = "pt", [ConfigKey] = VitConfigJson.Write(model.Config) };
        SafeTensors.Write(path, Entries(model), metadata);
    }

    /// <summary>Loads <paramref name="path"/> into <paramref name="model"/>, checking every name and shape first.</summary>
    public static void Load(string path, IVitWeights model, LoadOptions? options = null)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        Load(file, model, options ?? LoadOptions.Default);
    }

    /// <summary>
    /// The configuration of a timm file: from its <c>vit.config</c> metadata when present, else inferred from the tensor
    /// shapes (LayerNorm ε is then timm's 1e-6). Shapes do not reveal the head count, so pass <paramref name="heads"/>
    /// for files without metadata.
    /// </summary>
    public static VitConfig ReadConfig(string path, int? heads = null)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        if (file.Metadata.TryGetValue(ConfigKey, out string? json))
            return VitConfigJson.Read(json, problem => new WeightsFileException(path, $"metadata '{ConfigKey}' {problem}"));
        return Infer(file, heads);
    }

    /// <summary>Standard head counts of the paper's and DeiT's widths (Ti 192, S 384, B 768, L 1024, H 1280).</summary>
    private static readonly Dictionary<int, int> s_standardHeads = new() { [192] = 3, [384] = 6, [768] = 12, [1024] = 16, [1280] = 16 };

    /// <summary>
    /// The head count to assume for a timm file that records none: the standard one for its width, with a note saying
    /// so added to <paramref name="notes"/>. A width without a standard count is an <see cref="ArgumentException"/>: the
    /// caller must say the head count (<see cref="DescribeOptions.Heads"/>).
    /// </summary>
    internal static int StandardHeads(string path, List<string> notes)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        if (!file.TryGetTensor("patch_embed.proj.weight", out SafeTensorInfo patch) || patch.Shape.Count != 4)
            throw new WeightsFileException(path, "is not timm ViT weights: it has no 4-dimensional patch_embed.proj.weight");
        long width = patch.Shape[0];
        if (width <= int.MaxValue && s_standardHeads.TryGetValue((int)width, out int heads))
        {
            notes.Add($"'{path}' does not record its head count; assuming {heads}, the standard for width {width} (pass the head count to change it).");
            return heads;
        }
        throw new ArgumentException($"'{path}' does not record its head count and width {width} has no standard one; give the head count (vit: --heads N).");
    }

    internal static IEnumerable<SafeTensorsEntry> Entries(IVitWeights model)
    {
        foreach (ParameterTensor t in model.Config.Layout)
        {
            ParameterTensor tensor = t;
            yield return new SafeTensorsEntry(t.Name, t.Shape, () => tensor.Of(model.Parameters));
        }
    }

    internal static void Load(SafeTensorsFile file, IVitWeights model, LoadOptions options)
    {
        if (file.Metadata.TryGetValue(ConfigKey, out string? json))
        {
            VitConfig saved = VitConfigJson.Read(json, problem => new WeightsFileException(file.Path, $"metadata '{ConfigKey}' {problem}"));
            VitConfigJson.CheckMatches(file.Path, saved, model.Config, options);
        }
        WeightLoader.Apply(file, "timm ViT weights", Plan(model.Config, options), model, options);
    }

    internal static LoadPlan Plan(VitConfig config, LoadOptions options)
    {
        var plan = new LoadPlan
        {
            Ignore = name => options.KeepHead && (name.StartsWith("head.", StringComparison.Ordinal) || name.StartsWith("pre_logits.", StringComparison.Ordinal)),
            Explain = name =>
                name.StartsWith("fc_norm.", StringComparison.Ordinal) ? "timm's fc_norm normalises after average pooling; this library's mean pooling normalises before it, so such models are not supported"
                : name.StartsWith("pre_logits.", StringComparison.Ordinal) ? "a pre-logits layer is not supported (pass KeepHead to drop it with the head)"
                : name.StartsWith("dist_token", StringComparison.Ordinal) || name.StartsWith("head_dist.", StringComparison.Ordinal) ? "DeiT distillation tokens are not supported"
                : null,
        };
        foreach (ParameterTensor t in config.Layout)
        {
            if (options.KeepHead && t.Name.StartsWith("head.", StringComparison.Ordinal)) continue;
            plan.Slots.Add(Slot.Whole(t.Name, t.Shape, t, t.Name == "pos_embed" ? SlotLayout.Positions : SlotLayout.Same));
        }
        return plan;
    }

    private static VitConfig Infer(SafeTensorsFile file, int? heads)
    {
        WeightsFileException Fail(string problem) => new(file.Path, problem);
        IReadOnlyList<long> Shape(string name, int rank)
        {
            if (!file.TryGetTensor(name, out SafeTensorInfo t)) throw Fail($"has no '{name}', so it is not timm ViT weights");
            if (t.Shape.Count != rank) throw Fail($"'{name}' is {t.ShapeText}; a timm ViT has {rank} dimensions there");
            return t.Shape;
        }
        int Dim(long value) => value <= 1 << 24 ? (int)value : throw Fail($"has a dimension of {value:N0}, beyond any supported model");
        IReadOnlyList<long> patch = Shape("patch_embed.proj.weight", 4);
        long hidden = patch[0];
        bool classToken = file.Contains("cls_token");
        long tokens = Shape("pos_embed", 3)[1];
        int prefix = classToken ? 1 : 0;
        int grid = PositionEmbedding.GridSide(tokens, prefix) ?? throw Fail($"pos_embed has {tokens} tokens, which is not {prefix} + a square grid");
        int layers = 0;
        while (file.Contains($"blocks.{layers}.norm1.weight")) layers++;
        if (layers == 0) throw Fail("has no blocks.0.norm1.weight, so it is not timm ViT weights");
        long mlp = Shape("blocks.0.mlp.fc1.weight", 2)[0];
        long classes = file.Contains("head.weight") ? Shape("head.weight", 2)[0] : throw Fail("has no head.weight; the number of classes is unknown");
        if (heads is null) throw Fail("records no head count (timm files do not; files saved by this library do): pass heads");
        var config = new VitConfig
        {
            ImageSize = checked(grid * Dim(patch[2])),
            Channels = Dim(patch[1]),
            Patch = Dim(patch[2]),
            Layers = layers,
            Hidden = Dim(hidden),
            Heads = heads.Value,
            MlpDim = Dim(mlp),
            Classes = Dim(classes),
            Pooling = classToken ? VitPooling.ClassToken : VitPooling.Mean,
            LayerNormEpsilon = 1e-6,
            QkvBias = file.Contains("blocks.0.attn.qkv.bias"),
        };
        if (config.Problem() is string problem) throw Fail($"implies an invalid configuration: {problem}");
        return config;
    }
}
