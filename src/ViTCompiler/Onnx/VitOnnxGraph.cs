using static ViTCompiler.Onnx.OnnxAttribute;

namespace ViTCompiler.Onnx;

/// <summary>
/// Turns a ViT configuration and its parameters into an ONNX graph built from standard operators only, in the shapes
/// ONNX Runtime's graph optimiser recognises: the erf subgraph with fc1's bias Add becomes BiasGelu, q·kᵀ and its
/// division by √hd become one FusedMatMul, the head's MatMul + Add becomes Gemm, and q, k and v are the separate
/// MatMul → Add → Reshape → Transpose chains that attention-fusion tools (onnxruntime.transformers) match.
/// </summary>
/// <remarks>
/// Shape legend: B batch, C channels, S image side, P patch, G = S/P, N tokens, D width, H heads, hd = D/H,
/// M MLP width, K classes. Linear weights are stored transposed (in × out), so each linear layer is one MatMul plus
/// one Add with no Transpose at run time; the qkv weight (3D, D) and bias are split into their q, k and v thirds.
/// </remarks>
internal static class VitOnnxGraph
{
    /// <summary>A (C) GroupNorm scale or shift as a (C, 1, 1) initializer, so it broadcasts over (B, C, S, S).</summary>
    private static string ChannelVector(OnnxGraph g, ReadOnlySpan<float> p, ParameterTensor t) =>
        g.AddInitializer(t.Name, [t.Count, 1, 1], t.Of(p).ToArray());

    public static OnnxGraph Build(VitConfig c, ReadOnlySpan<float> p, OnnxExportOptions o)
    {
        int d = c.Hidden, heads = c.Heads, hd = c.HeadDim, m = c.MlpWidth, grid = c.GridSize, patch = c.Patch;
        ParameterLayout layout = c.Layout;
        float epsilon = (float)c.LayerNormEpsilon;
        var g = new OnnxGraph("vit", c.ToString());

        OnnxDimension batch = o.BatchSize > 0 ? OnnxDimension.Fixed(o.BatchSize) : OnnxDimension.Symbolic(o.BatchDimensionName);
        string pixels = g.AddInput(o.InputName, OnnxProto.DataType.Float,
            [batch, OnnxDimension.Fixed(c.Channels), OnnxDimension.Fixed(c.ImageSize), OnnxDimension.Fixed(c.ImageSize)],
            "Normalised images, NCHW float32.");

        // Values shared by every layer.
        string headsShape = g.Int64s("const.heads_shape", [4], [0, 0, heads, hd]); // 0 keeps B and N as they are
        string mergedShape = g.Int64s("const.merged_shape", [3], [0, 0, d]);
        string scoreDivisor = g.Scalar("const.sqrt_head_dim", MathF.Sqrt(hd));

        // The hybrid's stem (§3.1): each stage (B, C, S, S) -> (B, C', S/s, S/s) = ReLU(GroupNorm(conv3×3(x))). GroupNorm is
        // written as PyTorch exports it for opsets before 21: InstanceNormalization over (B, G, C/G·S²), then the
        // per-channel scale and shift.
        string map = pixels;
        for (int i = 0; i < c.StemChannels.Count; i++)
        {
            string name = $"patch_embed.backbone.{i}.";
            int channels = c.StemChannels[i], groups = c.StemGroups, side = c.ImageSize;
            for (int j = 0; j <= i; j++) side /= c.StemStrides[j];
            map = g.Node("Conv", name + "conv", [map, Copy(g, p, layout[name + "conv.weight"])],
                Ints("kernel_shape", 3, 3), Ints("strides", c.StemStrides[i], c.StemStrides[i]), Ints("pads", 1, 1, 1, 1));
            string grouped = g.Node("Reshape", name + "norm.grouped", [map, g.Int64s($"const.stem{i}_groups_shape", [3], [0, groups, -1])]);
            grouped = g.Node("InstanceNormalization", name + "norm.normalised",
                [grouped, g.AddInitializer($"const.stem{i}_ones", [groups], Enumerable.Repeat(1f, groups).ToArray()),
                 g.AddInitializer($"const.stem{i}_zeros", [groups], new float[groups])], Float("epsilon", (float)VitStem.NormEpsilon));
            map = g.Node("Reshape", name + "norm.ungrouped", [grouped, g.Int64s($"const.stem{i}_map_shape", [4], [0, channels, side, side])]);
            map = g.Node("Mul", name + "norm.scaled", [map, ChannelVector(g, p, layout[name + "norm.weight"])]);
            map = g.Node("Add", name + "norm.shifted", [map, ChannelVector(g, p, layout[name + "norm.bias"])]);
            map = g.Node("Relu", name + "relu", [map]);
        }

        // (B, C, S, S) -> (B, D, G, G) -> (B, D, G²) -> (B, G², D)   patches · Wpeᵀ + bpe, as a stride-P convolution
        string x = g.Node("Conv", "patch_embed.proj", [map, Copy(g, p, layout["patch_embed.proj.weight"]), Copy(g, p, layout["patch_embed.proj.bias"])],
            Ints("kernel_shape", patch, patch), Ints("strides", patch, patch));
        x = g.Node("Reshape", "patch_embed.flatten", [x, g.Int64s("const.patch_grid_shape", [3], [0, d, grid * grid])]);
        x = g.Node("Transpose", "patch_embed.tokens", [x], Ints("perm", 0, 2, 1));

        if (c.HasClassToken)
        {
            // (1, 1, D) -> (B, 1, D) -> (B, N, D)   [cls; patches]; the batch size is read from the input's shape
            string batchSize = g.Node("Shape", "cls_token.batch", [pixels], Int("start", 0), Int("end", 1));
            string expandShape = g.Node("Concat", "cls_token.shape", [batchSize, g.Int64s("const.ones_2", [2], [1, 1])], Int("axis", 0));
            string cls = g.Node("Expand", "cls_token.expanded", [Copy(g, p, layout["cls_token"]), expandShape]);
            x = g.Node("Concat", "tokens", [cls, x], Int("axis", 1));
        }
        // (B, N, D) + (1, N, D)
        x = g.Node("Add", "embedded", [x, Copy(g, p, layout["pos_embed"])]);

        for (int l = 0; l < c.Layers; l++)
        {
            string b = $"blocks.{l}.";

            // (B, N, D) -> (B, N, D)   ln1 = LayerNorm(x)
            string ln1 = LayerNorm(g, p, layout, b + "norm1", x, epsilon);

            // (B, N, D) -> (B, N, D) -> (B, N, H, hd) -> (B, H, N, hd), and k as (B, H, hd, N) ready for q·kᵀ
            string q = Heads(g, p, c, b, "q", 0, ln1, headsShape, [0, 2, 1, 3]);
            string k = Heads(g, p, c, b, "k", 1, ln1, headsShape, [0, 2, 3, 1]);
            string v = Heads(g, p, c, b, "v", 2, ln1, headsShape, [0, 2, 1, 3]);

            // (B, H, N, hd) · (B, H, hd, N) -> (B, H, N, N)   softmax(q·kᵀ / √hd), then · v -> (B, H, N, hd)
            string scores = g.Node("MatMul", b + "attn.scores", [q, k]);
            scores = g.Node("Div", b + "attn.scaled_scores", [scores, scoreDivisor]);
            string probabilities = g.Node("Softmax", b + "attn.probabilities", [scores], Int("axis", -1));
            string context = g.Node("MatMul", b + "attn.context", [probabilities, v]);

            // (B, H, N, hd) -> (B, N, H, hd) -> (B, N, D) -> (B, N, D)   heads merged, then proj, then the residual
            context = g.Node("Transpose", b + "attn.context_tokens", [context], Ints("perm", 0, 2, 1, 3));
            context = g.Node("Reshape", b + "attn.merged", [context, mergedShape]);
            string attention = Linear(g, p, layout, b + "attn.proj", context, d, d);
            x = g.Node("Add", b + "residual1", [x, attention]);

            // (B, N, D) -> (B, N, M) -> (B, N, D)   x += fc2(GELU(fc1(LayerNorm(x))))
            string ln2 = LayerNorm(g, p, layout, b + "norm2", x, epsilon);
            string hidden = Linear(g, p, layout, b + "mlp.fc1", ln2, d, m);
            hidden = Gelu(g, b + "mlp.gelu", hidden, o.UseGeluOperator);
            string mlp = Linear(g, p, layout, b + "mlp.fc2", hidden, m, d);
            x = g.Node("Add", b + "residual2", [x, mlp]);
        }

        string pooled;
        if (c.HasClassToken)
        {
            // (B, N, D) -> (B, D) -> (B, D)   LayerNorm is per token, so normalising only the class token row is exact
            string classRow = g.Node("Gather", "pool.class_token", [x, g.Int64s("const.index_0", [], [0])], Int("axis", 1));
            pooled = LayerNorm(g, p, layout, "norm", classRow, epsilon);
        }
        else
        {
            // (B, N, D) -> (B, N, D) -> (B, D)   mean over tokens of the normalised tokens
            string normed = LayerNorm(g, p, layout, "norm", x, epsilon);
            pooled = o.Opset >= 18
                ? g.Node("ReduceMean", "pool.mean", [normed, g.Int64s("const.axes_1", [1], [1])], Int("keepdims", 0)) // axes became an input in opset 18
                : g.Node("ReduceMean", "pool.mean", [normed], Ints("axes", 1), Int("keepdims", 0));
        }

        // (B, D) -> (B, K)   logits = pooled · Wheadᵀ + bhead
        string logits = Linear(g, p, layout, "head", pooled, d, c.Classes, output: o.OutputName);
        g.AddOutput(logits, OnnxProto.DataType.Float, [batch, OnnxDimension.Fixed(c.Classes)], "Class logits (before softmax).");
        return g;
    }

    /// <summary>One of q, k, v: ln1 · W_partᵀ (+ b_part), split into heads and transposed by <paramref name="perm"/>.</summary>
    private static string Heads(OnnxGraph g, ReadOnlySpan<float> p, VitConfig c, string block, string part, int third,
        string input, string headsShape, long[] perm)
    {
        int d = c.Hidden;
        ParameterTensor weight = c.Layout[block + "attn.qkv.weight"];
        // Rows [third·D, (third+1)·D) of the (3D, D) qkv weight are this part's (out × in) matrix.
        ReadOnlySpan<float> rows = weight.Of(p).Slice(third * d * d, d * d);
        string name = block + "attn." + part;
        string w = g.AddInitializer(name + ".weight_t", [d, d], Transpose(rows, d, d),
            $"Rows {third * d}..{(third + 1) * d - 1} of {weight.Name}, transposed to (in, out).");
        string y = g.Node("MatMul", name + ".matmul", [input, w]);
        if (c.QkvBias)
        {
            ParameterTensor bias = c.Layout[block + "attn.qkv.bias"];
            string bPart = g.AddInitializer(name + ".bias", [d], bias.Of(p).Slice(third * d, d).ToArray(),
                $"Elements {third * d}..{(third + 1) * d - 1} of {bias.Name}.");
            y = g.Node("Add", name, [y, bPart]);
        }
        y = g.Node("Reshape", name + ".heads", [y, headsShape]);
        return g.Node("Transpose", name + ".transposed", [y], Ints("perm", perm));
    }

    /// <summary>x · Wᵀ + b with the weight stored transposed, (in, out), so MatMul reads it directly.</summary>
    private static string Linear(OnnxGraph g, ReadOnlySpan<float> p, ParameterLayout layout, string name, string input,
        int inDim, int outDim, string? output = null)
    {
        ParameterTensor weight = layout[name + ".weight"];
        string w = g.AddInitializer(name + ".weight_t", [inDim, outDim], Transpose(weight.Of(p), outDim, inDim),
            $"{weight.Name} transposed to (in, out).");
        string y = g.Node("MatMul", name + ".matmul", [input, w]);
        return g.Node("Add", output ?? name, [y, Copy(g, p, layout[name + ".bias"])]);
    }

    private static string LayerNorm(OnnxGraph g, ReadOnlySpan<float> p, ParameterLayout layout, string name, string input, float epsilon) =>
        g.Node("LayerNormalization", name, [input, Copy(g, p, layout[name + ".weight"]), Copy(g, p, layout[name + ".bias"])],
            Int("axis", -1), Float("epsilon", epsilon));

    /// <summary>
    /// Exact GELU, x · ½ · (1 + erf(x / √2)): either opset 20's Gelu, or Div → Erf → Add → Mul(x) → Mul(½), the order
    /// ONNX Runtime's GeluFusion matches (its constants must be initializers equal to √2, 1 and ½ in float).
    /// </summary>
    private static string Gelu(OnnxGraph g, string name, string x, bool useOperator)
    {
        if (useOperator) return g.Node("Gelu", name, [x]);
        string scaled = g.Node("Div", name + ".scaled", [x, g.Scalar("const.sqrt_2", (float)Math.Sqrt(2))]);
        string erf = g.Node("Erf", name + ".erf", [scaled]);
        string onePlus = g.Node("Add", name + ".one_plus_erf", [erf, g.Scalar("const.one", 1f)]);
        string product = g.Node("Mul", name + ".x_times", [x, onePlus]);
        return g.Node("Mul", name, [product, g.Scalar("const.half", 0.5f)]);
    }

    /// <summary>A parameter tensor copied as it is, under its timm name and PyTorch shape.</summary>
    private static string Copy(OnnxGraph g, ReadOnlySpan<float> p, ParameterTensor t) =>
        g.AddInitializer(t.Name, [.. t.Shape.Select(s => (long)s)], t.Of(p).ToArray());

    /// <summary>(rows, cols) row-major -> (cols, rows) row-major.</summary>
    private static float[] Transpose(ReadOnlySpan<float> matrix, int rows, int cols)
    {
        float[] result = new float[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = matrix.Slice(r * cols, cols);
            for (int col = 0; col < cols; col++) result[col * rows + r] = row[col];
        }
        return result;
    }
}
