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

    /// <summary>A named stretch of a workspace: <see cref="FloatsPerImage"/> floats for every image of the batch.</summary>
    internal sealed class WorkspaceRegion
    {
        public WorkspaceRegion(string name, long floatsPerImage, string what, bool perClass = false)
        {
            Name = name;
            FloatsPerImage = floatsPerImage;
            What = what;
            PerClass = perClass;
        }

        public string Name { get; }
        public long FloatsPerImage { get; }
        /// <summary>
        /// One float per class (the head's outputs): generated code sizes it from the instance's class count, which is
        /// chosen at run time, so <see cref="FloatsPerImage"/> is only its value for the class count it was listed with.
        /// </summary>
        public bool PerClass { get; }
        /// <summary>Shape and purpose, for the comment beside the generated pointer.</summary>
        public string What { get; }

        public static long Total(List<WorkspaceRegion> regions)
        {
            long total = 0;
            foreach (WorkspaceRegion r in regions) total += r.FloatsPerImage;
            return total;
        }
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

        /// <summary>
        /// Every parameter tensor in storage order, with absolute offsets into the one contiguous block. The head comes
        /// last (timm's order), so every encoder offset is independent of <paramref name="classes"/>: generated code
        /// bakes those in as constants and computes only the head bias's offset from the run-time class count.
        /// </summary>
        public static List<TensorSlot> Parameters(
            int imageSize, int channels, int patch, int layers, int hidden, int mlpDim, int classes,
            bool classToken, bool qkvBias, VitStem? stem = null)
        {
            stem ??= VitStem.None;
            var list = new List<TensorSlot>();
            long offset = 0;
            // The hybrid's stem comes first, as timm stores patch_embed.backbone before patch_embed.proj; the patch
            // projection then reads the stem's feature map instead of the image.
            foreach (TensorSlot t in stem.Tensors(channels))
            {
                list.Add(t);
                offset += t.Count;
            }
            channels = stem.FeatureChannels(channels);
            imageSize = stem.FeatureSize(imageSize);
            int tokens = Tokens(imageSize, patch, classToken);
            int mlp = MlpWidth(hidden, mlpDim);
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
        public static long ParameterCount(int imageSize, int channels, int patch, int layers, int hidden, int mlpDim, int classes, bool classToken, bool qkvBias,
            VitStem? stem = null)
        {
            stem ??= VitStem.None;
            long stemParameters = stem.ParameterCount(channels);
            channels = stem.FeatureChannels(channels);
            imageSize = stem.FeatureSize(imageSize);
            long d = hidden, m = MlpWidth(hidden, mlpDim), n = Tokens(imageSize, patch, classToken);
            long perBlock = 4 * d                            // two LayerNorms
                          + 3 * d * d + (qkvBias ? 3 * d : 0) // qkv
                          + d * d + d                         // output projection
                          + m * d + m + d * m + d;            // fc1, fc2
            return stemParameters                          // convolutional stem (hybrid only)
                 + d * channels * patch * patch + d        // patch projection
                 + (classToken ? d : 0) + n * d            // [class] token, position embeddings
                 + layers * perBlock
                 + 2 * d + (long)classes * d + classes;    // final LayerNorm, head
        }

        /// <summary>
        /// Why a (positive, divisible) configuration is beyond what the library supports, or null. The limits keep every
        /// buffer of one image and the parameter block addressable by a 32-bit index.
        /// </summary>
        public static string? LimitProblem(int imageSize, int channels, int patch, int layers, int hidden, int mlpDim, int classes, bool classToken, bool qkvBias,
            VitStem? stem = null)
        {
            stem ??= VitStem.None;
            if (imageSize > 4096) return "ImageSize " + imageSize + " is above the supported 4096";
            if (channels > 64) return "Channels " + channels + " is above the supported 64";
            if (layers > 256) return "Layers " + layers + " is above the supported 256";
            if (hidden > 16384) return "Hidden " + hidden + " is above the supported 16384";
            if (MlpWidth(hidden, mlpDim) > 65536) return "the MLP width " + MlpWidth(hidden, mlpDim) + " is above the supported 65536";
            if (classes > 1000000) return "Classes " + classes + " is above the supported 1,000,000";
            long tokens = Tokens(stem.FeatureSize(imageSize), patch, classToken);
            if (tokens > 16384) return "the model has " + tokens + " tokens per image, above the supported 16384 (use a larger Patch)";
            for (int i = 0; i < stem.Stages; i++)
            {
                long side = stem.InputSize(imageSize, i + 1);
                if (side * side * stem.InputChannels(channels, i) * VitStem.Kernel * VitStem.Kernel > 1L << 28)
                    return "stem stage " + i + "'s im2col columns (" + side + "² positions × " + stem.InputChannels(channels, i) * VitStem.Kernel * VitStem.Kernel + ") are above the supported 2^28 floats per image";
            }
            long parameters = ParameterCount(imageSize, channels, patch, layers, hidden, mlpDim, classes, classToken, qkvBias, stem);
            if (parameters > int.MaxValue)
                return "the model has " + parameters.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + " parameters, more than one float array can hold (2,147,483,647)";
            return null;
        }

        /// <summary>
        /// The inference workspace of one image, in the order the generated forward pass carves it: the generated code
        /// prints one pointer per region from this list, and <see cref="InferenceFloatsPerImage"/> is its sum, so the
        /// two cannot drift apart. The ln outputs and the attention heads share <c>a</c>.
        /// </summary>
        public static List<WorkspaceRegion> InferenceRegions(int imageSize, int channels, int patch, int hidden, int mlpDim, bool classToken,
            VitStem? stem = null)
        {
            stem ??= VitStem.None;
            var regions = new List<WorkspaceRegion>();
            if (!stem.IsEmpty)
            {
                // The stages run one after another, so they share one im2col buffer and one pair of statistics.
                long columns = 0;
                for (int i = 0; i < stem.Stages; i++) columns = System.Math.Max(columns, StemColumns(imageSize, channels, stem, i));
                regions.Add(new WorkspaceRegion("stemColumns", columns, "(B·O², C·9) im2col columns of the stage being computed"));
                for (int i = 0; i < stem.Stages; i++)
                    regions.Add(new WorkspaceRegion("stem" + i, StemMap(imageSize, stem, i), StemShape(imageSize, stem, i) + " stem stage " + i + " output, NHWC"));
                regions.Add(new WorkspaceRegion("stemMean", stem.Groups, "(B, " + stem.Groups + ") GroupNorm statistics"));
                regions.Add(new WorkspaceRegion("stemRstd", stem.Groups, ""));
                channels = stem.FeatureChannels(channels);
                imageSize = stem.FeatureSize(imageSize);
            }
            long grid = imageSize / patch, patches = grid * grid, k = (long)channels * patch * patch;
            long n = Tokens(imageSize, patch, classToken), d = hidden, m = MlpWidth(hidden, mlpDim);
            regions.AddRange(new List<WorkspaceRegion>
            {
                new WorkspaceRegion("patches", patches * k, "(B·" + patches + ", " + k + ") flattened patches"),
                new WorkspaceRegion("embedded", patches * d, "(B·" + patches + ", " + d + ") patch embeddings"),
                new WorkspaceRegion("x", n * d, "(B·" + n + ", " + d + ") the residual stream"),
                new WorkspaceRegion("a", n * d, "(B·" + n + ", " + d + ") ln1, attention heads, ln2"),
                new WorkspaceRegion("qkv", n * 3 * d, "(B·" + n + ", " + 3 * d + ")"),
                new WorkspaceRegion("hidden", n * m, "(B·" + n + ", " + m + ") MLP hidden layer"),
                new WorkspaceRegion("pooled", d, "(B, " + d + ") the head's input"),
            });
            return regions;
        }

        /// <summary>Floats of stem stage <paramref name="stage"/>'s im2col columns for one image: O² × C_in·9.</summary>
        public static long StemColumns(int imageSize, int channels, VitStem stem, int stage)
        {
            long side = stem.InputSize(imageSize, stage + 1);
            return side * side * stem.InputChannels(channels, stage) * VitStem.Kernel * VitStem.Kernel;
        }

        /// <summary>Floats of stem stage <paramref name="stage"/>'s output map for one image: O² × C_out.</summary>
        public static long StemMap(int imageSize, VitStem stem, int stage)
        {
            long side = stem.InputSize(imageSize, stage + 1);
            return side * side * stem.Channels[stage];
        }

        private static string StemShape(int imageSize, VitStem stem, int stage)
        {
            int side = stem.InputSize(imageSize, stage + 1);
            return "(B, " + side + ", " + side + ", " + stem.Channels[stage] + ")";
        }

        /// <summary>Floats of one image in the inference workspace (per-thread scratch and packed weights come on top).</summary>
        public static long InferenceFloatsPerImage(int imageSize, int channels, int patch, int hidden, int mlpDim, bool classToken, VitStem? stem = null) =>
            WorkspaceRegion.Total(InferenceRegions(imageSize, channels, patch, hidden, mlpDim, classToken, stem));

        /// <summary>What one image keeps per encoder block for the backward pass, in the order the generated <c>Saved</c> struct lays it out.</summary>
        public static List<WorkspaceRegion> SavedRegions(int imageSize, int patch, int hidden, int heads, int mlpDim, bool classToken)
        {
            long n = Tokens(imageSize, patch, classToken), d = hidden, m = MlpWidth(hidden, mlpDim);
            string rows = "(B·" + n + ", " + d + ")";
            return new List<WorkspaceRegion>
            {
                new WorkspaceRegion("Input", n * d, rows + " x entering the block"),
                new WorkspaceRegion("Mean1", n, "(B·" + n + ") ln1 statistics"),
                new WorkspaceRegion("Rstd1", n, "(B·" + n + ")"),
                new WorkspaceRegion("Ln1", n * d, rows + " ln1(x)"),
                new WorkspaceRegion("Qkv", n * 3 * d, "(B·" + n + ", " + 3 * d + ")"),
                new WorkspaceRegion("Probabilities", (long)heads * n * n, "(B, " + heads + ", " + n + ", " + n + ") attention probabilities"),
                new WorkspaceRegion("Attended", n * d, rows + " heads, before the projection"),
                new WorkspaceRegion("Middle", n * d, rows + " x after the attention branch"),
                new WorkspaceRegion("Mean2", n, "(B·" + n + ") ln2 statistics"),
                new WorkspaceRegion("Rstd2", n, "(B·" + n + ")"),
                new WorkspaceRegion("Ln2", n * d, rows + " ln2(x)"),
                new WorkspaceRegion("Fc1", n * m, "(B·" + n + ", " + m + ") before GELU"),
                new WorkspaceRegion("Gelu", n * m, "(B·" + n + ", " + m + ") after GELU and dropout"),
            };
        }

        /// <summary>Floats one image keeps per encoder block for the backward pass.</summary>
        public static long SavedFloatsPerImage(int imageSize, int patch, int hidden, int heads, int mlpDim, bool classToken) =>
            WorkspaceRegion.Total(SavedRegions(imageSize, patch, hidden, heads, mlpDim, classToken));

        /// <summary>
        /// The training workspace of one image, in the order the generated training pass carves it (the packed-B area for
        /// backward products and the per-thread scratch, which depend on the active kernels, follow).
        /// </summary>
        public static List<WorkspaceRegion> TrainingRegions(int imageSize, int channels, int patch, int layers, int hidden, int heads, int mlpDim, int classes, bool classToken,
            VitStem? stem = null)
        {
            stem ??= VitStem.None;
            var regions = new List<WorkspaceRegion>();
            if (!stem.IsEmpty)
            {
                // Each stage keeps its columns (for d W), its convolution output (for GroupNorm's backward) and its
                // output after ReLU (the ReLU mask, and the next stage's input); the gradients of two maps alternate.
                long map = 0, inputColumns = 0;
                for (int i = 0; i < stem.Stages; i++)
                {
                    string shape = StemShape(imageSize, stem, i);
                    regions.Add(new WorkspaceRegion("stemColumns" + i, StemColumns(imageSize, channels, stem, i), "(B·O², C·9) stage " + i + " im2col columns"));
                    regions.Add(new WorkspaceRegion("stemConv" + i, StemMap(imageSize, stem, i), shape + " stage " + i + " convolution output"));
                    regions.Add(new WorkspaceRegion("stem" + i, StemMap(imageSize, stem, i), shape + " stage " + i + " after GroupNorm and ReLU"));
                    regions.Add(new WorkspaceRegion("stemMean" + i, stem.Groups, "(B, " + stem.Groups + ") its GroupNorm statistics"));
                    regions.Add(new WorkspaceRegion("stemRstd" + i, stem.Groups, ""));
                    map = System.Math.Max(map, StemMap(imageSize, stem, i));
                    if (i > 0) inputColumns = System.Math.Max(inputColumns, StemColumns(imageSize, channels, stem, i));
                }
                regions.Add(new WorkspaceRegion("stemGradient", map, "d loss / d a stage's output, then its convolution output"));
                regions.Add(new WorkspaceRegion("stemGradientNext", map, "the same for the stage before"));
                regions.Add(new WorkspaceRegion("stemColumnsGradient", inputColumns, "d loss / d columns of stages 1 and up"));
                int widest = 0;
                foreach (int c in stem.Channels) widest = System.Math.Max(widest, c);
                regions.Add(new WorkspaceRegion("stemPartials", 2 * widest, "per-image dγ, dβ of a GroupNorm"));
                channels = stem.FeatureChannels(channels);
                imageSize = stem.FeatureSize(imageSize);
            }
            long grid = imageSize / patch, patches = grid * grid, k = (long)channels * patch * patch;
            long n = Tokens(imageSize, patch, classToken), d = hidden, m = MlpWidth(hidden, mlpDim);
            long finalRows = classToken ? 1 : n; // the final LayerNorm sees only the [class] row with class-token pooling
            string rows = "(B·" + n + ", " + d + ")";
            regions.AddRange(new List<WorkspaceRegion>
            {
                new WorkspaceRegion("patches", patches * k, "(B·" + patches + ", " + k + ") flattened patches" + (stem.IsEmpty ? "" : ", then their gradient")),
                new WorkspaceRegion("embedded", patches * d, "(B·" + patches + ", " + d + ") patch embeddings, then their gradient"),
                new WorkspaceRegion("layers", layers * SavedFloatsPerImage(imageSize, patch, hidden, heads, mlpDim, classToken), layers + " × Saved"),
                new WorkspaceRegion("final", n * d, rows + " x after the last block"),
                new WorkspaceRegion("dx", n * d, rows + " d loss / d x, the residual stream's gradient"),
                new WorkspaceRegion("branch", n * d, rows + " a residual branch, or its gradient"),
                new WorkspaceRegion("da", n * d, rows + " d ln(x), d heads"),
                new WorkspaceRegion("dwide", n * System.Math.Max(m, 3 * d), "(B·" + n + ", " + System.Math.Max(m, 3 * d) + ") d hidden, d qkv"),
                new WorkspaceRegion("normIn", finalRows * d, "(B" + (classToken ? "" : "·" + n) + ", " + d + ") final LayerNorm input"),
                new WorkspaceRegion("normOut", finalRows * d, "its output, then its gradient"),
                new WorkspaceRegion("normMean", finalRows, "its statistics"),
                new WorkspaceRegion("normRstd", finalRows, ""),
                new WorkspaceRegion("pooled", d, "(B, " + d + ")"),
                new WorkspaceRegion("dpooled", d, "(B, " + d + ")"),
                // The head's width is chosen at run time, so these two come last and are sized from the instance's count.
                new WorkspaceRegion("dlogits", classes, "(B, C)", perClass: true),
                new WorkspaceRegion("scores", classes, "(B, C) logits when the caller wants none", perClass: true),
            });
            return regions;
        }

        /// <summary>Multiply-accumulates of one image's forward pass (the paper's "GFLOPs" tables count these).</summary>
        public static long MacsPerImage(int imageSize, int channels, int patch, int layers, int hidden, int mlpDim, int classes, bool classToken,
            VitStem? stem = null)
        {
            stem ??= VitStem.None;
            long stemMacs = stem.MacsPerImage(imageSize, channels);
            channels = stem.FeatureChannels(channels);
            imageSize = stem.FeatureSize(imageSize);
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
            return stemMacs + patchEmbed + layers * perLayer + d * classes;
        }
    }
}
