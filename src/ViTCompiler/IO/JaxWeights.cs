namespace ViTCompiler.IO;

/// <summary>
/// The paper's own checkpoints (google-research/vision_transformer, <c>.npz</c>): flax parameter trees flattened with
/// <c>/</c>, optionally under <c>opt/target/</c> or <c>params/</c>. Read only. Flax lays weights out differently from
/// torch, and the loader converts: Dense kernels are in × out (transposed here), attention kernels are split per head
/// ((D, H, hd) for q, k, v and (H, hd, D) for the output), the patch convolution is (P, P, C, D) (HWIO).
/// </summary>
/// <remarks>
/// <c>pre_logits</c> (the extra dense + tanh layer of the ImageNet-21k checkpoints) has no place in this model; such
/// files load only with <see cref="LoadOptions.KeepHead"/>, which drops it with the head, as the paper does for
/// fine-tuning. LayerNorm ε is not recorded in the file; flax uses 1e-6. The original code's MLP uses flax's tanh
/// approximation of GELU; this library computes the exact one (as timm and HuggingFace do with these weights), so logits
/// differ slightly from the JAX model's.
/// </remarks>
public static class JaxWeights
{
    private static readonly string[] Prefixes = ["opt/target/", "params/"];

    /// <summary>Loads <paramref name="path"/> into <paramref name="model"/>, checking every name and shape first.</summary>
    public static void Load(string path, IVitWeights model, LoadOptions? options = null)
    {
        options ??= LoadOptions.Default;
        using NpzFile file = NpzFile.Open(path);
        string prefix = Prefix(file);
        WeightLoader.Apply(file, "JAX (paper) ViT weights", Plan(model.Config, prefix, options), model, options);
    }

    /// <summary>Infers the configuration from the array shapes (heads from the query kernel; ε is flax's 1e-6).</summary>
    public static VitConfig ReadConfig(string path)
    {
        using NpzFile file = NpzFile.Open(path);
        string prefix = Prefix(file);
        WeightsFileException Fail(string problem) => new(path, problem);
        IReadOnlyList<long> Shape(string name, int rank)
        {
            if (!file.TryGetArray(prefix + name, out NpyArrayInfo a)) throw Fail($"has no '{prefix + name}', so it is not a JAX ViT checkpoint");
            if (a.Shape.Count != rank) throw Fail($"'{prefix + name}' is {a.ShapeText}; a JAX ViT has {rank} dimensions there");
            return a.Shape;
        }
        int Dim(long value) => value <= 1 << 24 ? (int)value : throw Fail($"has a dimension of {value:N0}, beyond any supported model");
        IReadOnlyList<long> kernel = Shape("embedding/kernel", 4);
        if (kernel[0] != kernel[1]) throw Fail($"'{prefix}embedding/kernel' is {Shapes.Text(kernel)}; only square patches are supported");
        bool classToken = file.TryGetArray(prefix + "cls", out _);
        int prefixTokens = classToken ? 1 : 0;
        long tokens = Shape("Transformer/posembed_input/pos_embedding", 3)[1];
        int grid = PositionEmbedding.GridSide(tokens, prefixTokens) ?? throw Fail($"the position embeddings hold {tokens} tokens, which is not {prefixTokens} + a square grid");
        int layers = 0;
        while (file.TryGetArray($"{prefix}Transformer/encoderblock_{layers}/LayerNorm_0/scale", out _)) layers++;
        if (layers == 0) throw Fail($"has no '{prefix}Transformer/encoderblock_0/...', so it is not a JAX ViT checkpoint");
        string attention = "Transformer/encoderblock_0/MultiHeadDotProductAttention_1/";
        IReadOnlyList<long> query = Shape(attention + "query/kernel", 3);
        long mlp = Shape("Transformer/encoderblock_0/MlpBlock_3/Dense_0/kernel", 2)[1];
        if (!file.TryGetArray(prefix + "head/kernel", out NpyArrayInfo head) || head.Shape.Count != 2)
            throw Fail($"has no 2-D '{prefix}head/kernel'; the number of classes is unknown");
        var config = new VitConfig
        {
            ImageSize = checked(grid * Dim(kernel[0])),
            Channels = Dim(kernel[2]),
            Patch = Dim(kernel[0]),
            Layers = layers,
            Hidden = Dim(kernel[3]),
            Heads = Dim(query[1]),
            MlpDim = Dim(mlp),
            Classes = Dim(head.Shape[1]),
            Pooling = classToken ? VitPooling.ClassToken : VitPooling.Mean,
            LayerNormEpsilon = 1e-6,
            QkvBias = file.TryGetArray(prefix + attention + "query/bias", out _),
        };
        if (config.Problem() is string problem) throw Fail($"implies an invalid configuration: {problem}");
        return config;
    }

    internal static string Prefix(NpzFile file)
    {
        foreach (string prefix in Prefixes)
            if (file.Arrays.Count > 0 && file.Arrays.All(a => a.Name.StartsWith(prefix, StringComparison.Ordinal))) return prefix;
        return "";
    }

    internal static LoadPlan Plan(VitConfig config, string prefix, LoadOptions options)
    {
        bool IsHead(string name) => name.StartsWith(prefix + "head/", StringComparison.Ordinal) || name.StartsWith(prefix + "pre_logits/", StringComparison.Ordinal);
        var plan = new LoadPlan
        {
            Ignore = name => options.KeepHead && IsHead(name),
            Explain = name =>
                name.StartsWith(prefix + "pre_logits/", StringComparison.Ordinal) ? "the pre-logits layer (dense + tanh before the head) is not supported; pass KeepHead to drop it with the head and fine-tune a new one"
                : name.Contains("MAPHead", StringComparison.Ordinal) ? "attention-pooling (MAP) heads are not supported"
                : null,
        };
        ParameterLayout layout = config.Layout;
        int d = config.Hidden, h = config.Heads, hd = config.HeadDim, m = config.MlpWidth, p = config.Patch;
        void Add(string file, string target, int[]? shape = null, SlotLayout how = SlotLayout.Same, int rows = 0, int start = 0)
        {
            ParameterTensor t = layout[target];
            int[] fileShape = shape ?? t.Shape.ToArray();
            int count = fileShape.Aggregate(1, (a, b) => a * b);
            plan.Slots.Add(new Slot(prefix + file, Shapes.Of(fileShape), t, start, count, how, rows));
        }
        Add("embedding/kernel", "patch_embed.proj.weight", [p, p, config.Channels, d], SlotLayout.HwioToOihw);
        Add("embedding/bias", "patch_embed.proj.bias");
        if (config.HasClassToken) Add("cls", "cls_token");
        Add("Transformer/posembed_input/pos_embedding", "pos_embed", how: SlotLayout.Positions);
        for (int i = 0; i < config.Layers; i++)
        {
            string block = $"Transformer/encoderblock_{i}/", b = $"blocks.{i}.";
            string attention = block + "MultiHeadDotProductAttention_1/";
            Add(block + "LayerNorm_0/scale", b + "norm1.weight");
            Add(block + "LayerNorm_0/bias", b + "norm1.bias");
            string[] parts = ["query", "key", "value"];
            for (int k = 0; k < 3; k++)
            {
                // (D, H, hd) read as a (D, D) in × out matrix; its transpose is rows k·D … (k+1)·D − 1 of qkv.
                Add(attention + parts[k] + "/kernel", b + "attn.qkv.weight", [d, h, hd], SlotLayout.Transposed, rows: d, start: k * d * d);
                if (config.QkvBias) Add(attention + parts[k] + "/bias", b + "attn.qkv.bias", [h, hd], start: k * d);
            }
            Add(attention + "out/kernel", b + "attn.proj.weight", [h, hd, d], SlotLayout.Transposed, rows: d);
            Add(attention + "out/bias", b + "attn.proj.bias");
            Add(block + "LayerNorm_2/scale", b + "norm2.weight");
            Add(block + "LayerNorm_2/bias", b + "norm2.bias");
            Add(block + "MlpBlock_3/Dense_0/kernel", b + "mlp.fc1.weight", [d, m], SlotLayout.Transposed, rows: d);
            Add(block + "MlpBlock_3/Dense_0/bias", b + "mlp.fc1.bias");
            Add(block + "MlpBlock_3/Dense_1/kernel", b + "mlp.fc2.weight", [m, d], SlotLayout.Transposed, rows: m);
            Add(block + "MlpBlock_3/Dense_1/bias", b + "mlp.fc2.bias");
        }
        Add("Transformer/encoder_norm/scale", "norm.weight");
        Add("Transformer/encoder_norm/bias", "norm.bias");
        if (!options.KeepHead)
        {
            Add("head/kernel", "head.weight", [d, config.Classes], SlotLayout.Transposed, rows: d);
            Add("head/bias", "head.bias");
        }
        return plan;
    }
}
