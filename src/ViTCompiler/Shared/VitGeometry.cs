// This file is compiled into both the runtime library and the source generator (linked there), so the offsets the
// generator bakes into code and the layout the runtime reports come from one definition and cannot disagree.
// It therefore sticks to what netstandard2.0 offers: no spans, no records.
using System.Collections.Generic;

namespace ViTCompiler
{
    /// <summary>How an optimiser should treat a parameter tensor (weight decay applies to <see cref="Matrix"/> only).</summary>
    public enum ParameterKind
    {
        /// <summary>A dense or patch-projection weight matrix.</summary>
        Matrix,
        /// <summary>A bias vector.</summary>
        Bias,
        /// <summary>A LayerNorm scale or shift.</summary>
        Norm,
        /// <summary>The [class] token or the position embeddings.</summary>
        Embedding,
    }

    internal sealed class TensorSlot
    {
        public TensorSlot(string name, int[] shape, long offset, ParameterKind kind)
        {
            Name = name;
            Shape = shape;
            Offset = offset;
            Kind = kind;
            long count = 1;
            foreach (int d in shape) count *= d;
            Count = count;
        }

        public string Name { get; }
        public int[] Shape { get; }
        public long Offset { get; }
        public long Count { get; }
        public ParameterKind Kind { get; }
    }

    /// <summary>
    /// The arithmetic of a ViT: token counts, parameter tensors in storage order, and multiply-accumulates.
    /// Names and shapes follow timm (<c>blocks.{i}.attn.qkv.weight</c> is (3D, D), out × in, like torch.nn.Linear).
    /// </summary>
    internal static class VitGeometry
    {
        public static int Tokens(int imageSize, int patch, bool classToken)
        {
            int grid = imageSize / patch;
            return grid * grid + (classToken ? 1 : 0);
        }

        public static int MlpWidth(int hidden, int mlpDim) => mlpDim == 0 ? 4 * hidden : mlpDim;

        /// <summary>Tensors of one encoder block, offsets relative to the block's start.</summary>
        public static List<TensorSlot> BlockTensors(int layer, int hidden, int mlp, bool qkvBias)
        {
            string p = "blocks." + layer + ".";
            var list = new List<TensorSlot>();
            long offset = 0;
            void Add(string name, ParameterKind kind, params int[] shape)
            {
                var slot = new TensorSlot(p + name, shape, offset, kind);
                list.Add(slot);
                offset += slot.Count;
            }
            Add("norm1.weight", ParameterKind.Norm, hidden);
            Add("norm1.bias", ParameterKind.Norm, hidden);
            Add("attn.qkv.weight", ParameterKind.Matrix, 3 * hidden, hidden);
            if (qkvBias) Add("attn.qkv.bias", ParameterKind.Bias, 3 * hidden);
            Add("attn.proj.weight", ParameterKind.Matrix, hidden, hidden);
            Add("attn.proj.bias", ParameterKind.Bias, hidden);
            Add("norm2.weight", ParameterKind.Norm, hidden);
            Add("norm2.bias", ParameterKind.Norm, hidden);
            Add("mlp.fc1.weight", ParameterKind.Matrix, mlp, hidden);
            Add("mlp.fc1.bias", ParameterKind.Bias, mlp);
            Add("mlp.fc2.weight", ParameterKind.Matrix, hidden, mlp);
            Add("mlp.fc2.bias", ParameterKind.Bias, hidden);
            return list;
        }

        /// <summary>Every parameter tensor in storage order, with absolute offsets into the one contiguous block.</summary>
        public static List<TensorSlot> Parameters(
            int imageSize, int channels, int patch, int layers, int hidden, int mlpDim, int classes,
            bool classToken, bool qkvBias)
        {
            int tokens = Tokens(imageSize, patch, classToken);
            int mlp = MlpWidth(hidden, mlpDim);
            var list = new List<TensorSlot>();
            long offset = 0;
            void Add(string name, ParameterKind kind, params int[] shape)
            {
                var slot = new TensorSlot(name, shape, offset, kind);
                list.Add(slot);
                offset += slot.Count;
            }
            Add("patch_embed.proj.weight", ParameterKind.Matrix, hidden, channels, patch, patch);
            Add("patch_embed.proj.bias", ParameterKind.Bias, hidden);
            if (classToken) Add("cls_token", ParameterKind.Embedding, 1, 1, hidden);
            Add("pos_embed", ParameterKind.Embedding, 1, tokens, hidden);
            for (int layer = 0; layer < layers; layer++)
            {
                long blockStart = offset;
                foreach (TensorSlot t in BlockTensors(layer, hidden, mlp, qkvBias))
                {
                    list.Add(new TensorSlot(t.Name, t.Shape, blockStart + t.Offset, t.Kind));
                    offset += t.Count;
                }
            }
            Add("norm.weight", ParameterKind.Norm, hidden);
            Add("norm.bias", ParameterKind.Norm, hidden);
            Add("head.weight", ParameterKind.Matrix, classes, hidden);
            Add("head.bias", ParameterKind.Bias, classes);
            return list;
        }

        /// <summary>Total parameters, in closed form (cheap even for absurd sizes, which <see cref="LimitProblem"/> must judge).</summary>
        public static long ParameterCount(int imageSize, int channels, int patch, int layers, int hidden, int mlpDim, int classes, bool classToken, bool qkvBias)
        {
            long d = hidden, m = MlpWidth(hidden, mlpDim), n = Tokens(imageSize, patch, classToken);
            long perBlock = 4 * d                            // two LayerNorms
                          + 3 * d * d + (qkvBias ? 3 * d : 0) // qkv
                          + d * d + d                         // output projection
                          + m * d + m + d * m + d;            // fc1, fc2
            return d * channels * patch * patch + d        // patch projection
                 + (classToken ? d : 0) + n * d            // [class] token, position embeddings
                 + layers * perBlock
                 + 2 * d + (long)classes * d + classes;    // final LayerNorm, head
        }

        /// <summary>
        /// Why a (positive, divisible) configuration is beyond what the library supports, or null. The limits keep every
        /// buffer of one image and the parameter block addressable by a 32-bit index.
        /// </summary>
        public static string? LimitProblem(int imageSize, int channels, int patch, int layers, int hidden, int mlpDim, int classes, bool classToken, bool qkvBias)
        {
            if (imageSize > 4096) return "ImageSize " + imageSize + " is above the supported 4096";
            if (channels > 64) return "Channels " + channels + " is above the supported 64";
            if (layers > 256) return "Layers " + layers + " is above the supported 256";
            if (hidden > 16384) return "Hidden " + hidden + " is above the supported 16384";
            if (MlpWidth(hidden, mlpDim) > 65536) return "the MLP width " + MlpWidth(hidden, mlpDim) + " is above the supported 65536";
            if (classes > 1000000) return "Classes " + classes + " is above the supported 1,000,000";
            long tokens = Tokens(imageSize, patch, classToken);
            if (tokens > 16384) return "the model has " + tokens + " tokens per image, above the supported 16384 (use a larger Patch)";
            long parameters = ParameterCount(imageSize, channels, patch, layers, hidden, mlpDim, classes, classToken, qkvBias);
            if (parameters > int.MaxValue)
                return "the model has " + parameters.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + " parameters, more than one float array can hold (2,147,483,647)";
            return null;
        }

        /// <summary>
        /// Floats of one image in the inference workspace: patches (P × K), their embeddings (P × D), the residual
        /// stream and the LayerNorm/attention output (2 × N × D), qkv (N × 3D), the MLP hidden layer (N × M) and the
        /// pooled vector (D). The generated forward pass carves its workspace in this order.
        /// </summary>
        public static long InferenceFloatsPerImage(int imageSize, int channels, int patch, int hidden, int mlpDim, bool classToken)
        {
            long grid = imageSize / patch, patches = grid * grid, n = Tokens(imageSize, patch, classToken), d = hidden;
            return patches * channels * patch * patch + patches * d + 2 * n * d + n * 3 * d + n * MlpWidth(hidden, mlpDim) + d;
        }

        /// <summary>
        /// Floats one image keeps per encoder block for the backward pass: the block input, ln1, the attention output
        /// before its projection, the stream after the attention branch and ln2 (N × D each), qkv (N × 3D), fc1 before
        /// and after GELU (N × M each), the attention probabilities (H × N × N) and four LayerNorm statistics (N each).
        /// </summary>
        public static long SavedFloatsPerImage(int imageSize, int patch, int hidden, int heads, int mlpDim, bool classToken)
        {
            long n = Tokens(imageSize, patch, classToken), d = hidden;
            return 8 * n * d + 2 * n * MlpWidth(hidden, mlpDim) + (long)heads * n * n + 4 * n;
        }

        /// <summary>Multiply-accumulates of one image's forward pass (the paper's "GFLOPs" tables count these).</summary>
        public static long MacsPerImage(int imageSize, int channels, int patch, int layers, int hidden, int mlpDim, int classes, bool classToken)
        {
            long grid = imageSize / patch;
            long patches = grid * grid;
            long n = Tokens(imageSize, patch, classToken);
            long d = hidden;
            long m = MlpWidth(hidden, mlpDim);
            long patchEmbed = patches * channels * patch * patch * d;
            long perLayer = n * d * 3 * d      // qkv
                          + 2 * n * n * d      // q·kᵀ and p·v over all heads
                          + n * d * d          // output projection
                          + 2 * n * d * m;     // fc1 and fc2
            return patchEmbed + layers * perLayer + d * classes;
        }
    }
}
