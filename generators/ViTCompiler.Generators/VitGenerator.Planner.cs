using System;
using System.Collections.Generic;
using System.Linq;
using ViTCompiler.Generators.Model;

namespace ViTCompiler.Generators
{
    public sealed partial class VitGenerator
    {
        /// <summary>
        /// Derives every number the emitted code uses from the shape: token counts, parameter offsets, and for each
        /// matrix product its K block and a register tile per instruction set. The emitter only prints these.
        /// </summary>
        internal static class Planner
        {
            /// <summary>K block for products whose K is known only at run time: the batch's rows (weight gradients) or the class count.</summary>
            public const int RuntimeBlockK = 384;

            // Register tiles per vector width. Wide tiles are two vectors across (the accumulators, 2 B vectors and a
            // broadcast must fit the register file: 24 + 2 + 1 of 32 zmm, 12 + 2 + 1 of 16 ymm/xmm); narrow tiles are
            // one vector across with twice the rows, for products whose N would leave a wide tile half empty.
            private static readonly (string Isa, int Lanes, int WideRows, int NarrowRows)[] s_isas =
            {
                ("V512", 16, 12, 24),
                ("V256", 8, 6, 12),
                ("V128", 4, 6, 12),
                ("Scalar", 1, 4, 4),
            };

            public static VitPlan Plan(VitShape s)
            {
                bool classToken = !s.MeanPooling;
                VitStem stem = s.Stem;
                int grid = s.FeatureSize / s.Patch, patchCount = grid * grid, tokens = patchCount + (classToken ? 1 : 0);
                int headDim = s.Hidden / s.Heads, mlp = VitGeometry.MlpWidth(s.Hidden, s.MlpDim), patchDim = s.FeatureChannels * s.Patch * s.Patch;
                List<TensorSlot> tensors = VitGeometry.Parameters(s.ImageSize, s.Channels, s.Patch, s.Layers, s.Hidden, s.MlpDim, s.Classes, classToken, s.QkvBias, stem);
                var stages = Enumerable.Range(0, stem.Stages).Select(i => new StemStagePlan(i, stem.InputSize(s.ImageSize, i), stem.InputChannels(s.Channels, i),
                    stem.InputSize(s.ImageSize, i + 1), stem.Channels[i], stem.Strides[i], stem.InputChannels(s.Channels, i) * VitStem.Kernel * VitStem.Kernel)).ToList();
                long parameterCount = tensors[tensors.Count - 1].Offset + tensors[tensors.Count - 1].Count;

                // head.bias follows the (C, D) head weight, so its offset depends on the run-time class count: the emitter
                // computes it; every other offset (the head weight's included) is a constant.
                var globals = new List<ParameterOffset>();
                foreach (TensorSlot t in tensors)
                    if (!t.Name.StartsWith("blocks.", StringComparison.Ordinal) && t.Name != "head.bias")
                        globals.Add(new ParameterOffset(ConstantName(t.Name), t.Name, t.Offset, t.Name == "head.weight" ? 0 : t.Count));
                List<TensorSlot> block = VitGeometry.BlockTensors(0, s.Hidden, mlp, s.QkvBias);
                long firstBlock = tensors.First(t => t.Name == "blocks.0.norm1.weight").Offset;
                long blockStride = block.Sum(t => t.Count);
                var blockTensors = block.Select(t => new ParameterOffset(ConstantName(t.Name.Substring("blocks.0.".Length)), t.Name.Substring("blocks.0.".Length), t.Offset, t.Count)).ToList();

                int d = s.Hidden;
                var products = stages.Select(t => Product("Stem" + t.Index, $"stem{t.Index} = columns(stem input) · Wconv{t.Index}ᵀ, then GroupNorm and ReLU", t.Channels, t.Columns)).ToList();
                products.AddRange(new List<ProductPlan>
                {
                    Product("Patch", "embedded = patches · Wpatchᵀ + bpatch", d, patchDim),
                    Product("Qkv", s.QkvBias ? "qkv = ln1(x) · Wqkvᵀ + bqkv" : "qkv = ln1(x) · Wqkvᵀ", 3 * d, d),
                    Product("Scores", "scores = (q / √hd) · kᵀ, per image and head", tokens, headDim),
                    Product("Values", "heads = softmax(scores) · v, per image and head", headDim, tokens),
                    Product("Proj", "x += heads · Wprojᵀ + bproj", d, d),
                    Product("Fc1", "hidden = GELU(ln2(x) · Wfc1ᵀ + bfc1)", mlp, d),
                    Product("Fc2", "x += hidden · Wfc2ᵀ + bfc2", d, mlp),
                    // The head's N is the class count, chosen at run time: its tile is picked for the attribute's Classes
                    // (the default), and the driver's edge tiles handle any other count.
                    Product("Head", "logits = pooled · Wheadᵀ + bhead", s.Classes, d) with { ClassesN = true },
                    // Backward: input gradients dX = dY · W and weight gradients dW += dYᵀ · X, grouped by N.
                    Product("HeadWeight", "dWhead += dlogitsᵀ · pooled", d, 0, "TGradD"),
                    Product("HeadInput", "dpooled = dlogits · Whead", d, 0, "TGradD") with { ClassesK = true },
                    Product("Fc2Weight", "dWfc2 += dbranchᵀ · hidden", mlp, 0, "TGradM"),
                    Product("Fc2Input", "dhidden = dbranch · Wfc2", mlp, d, "TGradM"),
                    Product("Fc1Weight", "dWfc1 += dhiddenᵀ · ln2(x)", d, 0, "TGradD"),
                    Product("Fc1Input", "dln2 = dhidden · Wfc1", d, mlp, "TGradD"),
                    Product("ProjWeight", "dWproj += dbranchᵀ · heads", d, 0, "TGradD"),
                    Product("ProjInput", "dheads = dbranch · Wproj", d, d, "TGradD"),
                    Product("QkvWeight", "dWqkv += dqkvᵀ · ln1(x)", d, 0, "TGradD"),
                    Product("QkvInput", "dln1 = dqkv · Wqkv", d, 3 * d, "TGradD"),
                    Product("PatchWeight", "dWpatch += dembeddedᵀ · patches", patchDim, 0, "TGradPatch"),
                });
                if (stages.Count > 0)
                {
                    products.Add(Product("PatchInput", "dpatches = dembedded · Wpatch", patchDim, d, "TGradPatch"));
                    foreach (StemStagePlan t in Enumerable.Reverse(stages))
                    {
                        products.Add(Product($"Stem{t.Index}Weight", $"dWconv{t.Index} += dconvᵀ · columns", t.Columns, 0, $"TGradStem{t.Index}"));
                        if (t.Index > 0) products.Add(Product($"Stem{t.Index}Input", $"dcolumns = dconv · Wconv{t.Index}", t.Columns, t.Channels, $"TGradStem{t.Index}"));
                    }
                }
                var tiles = products.SelectMany(p => p.Tiles).Distinct().OrderBy(t => Array.FindIndex(s_isas, i => i.Isa == t.Isa)).ThenBy(t => t.NR).ToList();

                return new VitPlan(grid, patchCount, tokens, headDim, mlp, patchDim, parameterCount,
                    VitGeometry.MacsPerImage(s.ImageSize, s.Channels, s.Patch, s.Layers, s.Hidden, s.MlpDim, s.Classes, classToken, stem),
                    tensors.First(t => t.Name == "head.weight").Offset,
                    Regions(VitGeometry.InferenceRegions(s.ImageSize, s.Channels, s.Patch, s.Hidden, s.MlpDim, classToken, stem)),
                    Regions(VitGeometry.SavedRegions(s.FeatureSize, s.Patch, s.Hidden, s.Heads, s.MlpDim, classToken)),
                    Regions(VitGeometry.TrainingRegions(s.ImageSize, s.Channels, s.Patch, s.Layers, s.Hidden, s.Heads, s.MlpDim, s.Classes, classToken, stem)),
                    globals.ToEquatable(), firstBlock, blockStride, blockTensors.ToEquatable(), products.ToEquatable(), tiles.ToEquatable(), stages.ToEquatable(),
                    Schedule(s.Hidden, tokens));
            }

            /// <summary>Widest encoder whose forward pass runs one shard of images per thread.</summary>
            public const int ImageParallelForwardMaxWidth = 384;
            /// <summary>Widest encoder that trains image-parallel (each thread also keeps a gradient block of its own).</summary>
            public const int ImageParallelTrainingMaxWidth = 192;
            /// <summary>Rows (images × tokens) a training shard aims at.</summary>
            public const int ShardRows = 768;

            /// <summary>
            /// The schedule (CompiledVit.ImageParallel.cs has the mechanism). A narrow encoder's operations last microseconds
            /// and end in a barrier each, so threads that run whole passes on their own images beat threads that split every
            /// operation: measured on two Zen 3 cores (docs/PERFORMANCE.md, "Image-parallel schedule"), the 64-wide Fashion
            /// hybrid's training step 0.75–0.85× the time, the pure 6 × 64 one's 0.80–0.85×, ViT-Ti/16's (192 wide, batch 16)
            /// 0.90–0.95×. Forward passes gain less (the Fashion model's evaluation 0.90–0.99×; ViT-Ti/16 and ViT-S/16 at batch
            /// 8 no change beyond the noise: two rounds of three 1–3 % faster, one 15 % slower); they give each thread its own
            /// images up to width 384 anyway, the output being the same either way. Wider models keep the operation-parallel GEMMs, which are
            /// efficient there and read each weight once for all images. A training shard holds about ShardRows rows
            /// (16 images of 50 tokens, 4 of 197): the size at which one thread's step was fastest per image.
            /// </summary>
            public static SchedulePlan Schedule(int hidden, int tokens)
            {
                int shard = hidden <= ImageParallelTrainingMaxWidth ? Math.Max(1, (ShardRows + tokens - 1) / tokens) : 0;
                bool forward = hidden <= ImageParallelForwardMaxWidth;
                string reason = shard > 0
                    ? $"image-parallel: width {hidden} ≤ {ImageParallelTrainingMaxWidth}, so each operation is too short to split; a training batch is cut into shards of {shard} images (≈ {ShardRows} rows of {tokens} tokens), one per thread, and a forward pass into one shard per thread"
                    : forward
                    ? $"image-parallel forward (width {hidden} ≤ {ImageParallelForwardMaxWidth}: one shard of images per thread), operation-parallel training (width > {ImageParallelTrainingMaxWidth}: a gradient block per thread would cost more than it saves)"
                    : $"operation-parallel: width {hidden} > {ImageParallelForwardMaxWidth}, so every product is large enough to split across the threads, which then read each weight once for all images";
                return new SchedulePlan(shard, forward, reason);
            }

            private static ImmutableEquatableArray<RegionPlan> Regions(List<WorkspaceRegion> regions) =>
                regions.Select(r => new RegionPlan(r.Name, r.FloatsPerImage, r.What, r.PerClass)).ToEquatable();

            private static ProductPlan Product(string name, string formula, int n, int k, string? typeParameter = null) =>
                new(name, formula, n, k, k == 0 ? RuntimeBlockK : BlockK(k), s_isas.Select(isa => PickTile(isa, n)).ToEquatable(),
                    typeParameter ?? "T" + name, Backward: typeParameter is not null);

            /// <summary>
            /// K block: all of K up to 512 (one pass, C written once); beyond that equal blocks of at most 384, so a
            /// Vector256 B micro-panel (384 × 16 floats, 24 KiB) stays in L1 while the row tiles stream past it. Measured
            /// on ViT-B/16's fc1 (197 × 3072 × 768, AVX2): 384 beat 256 by about 10 %, and 512–768 gained no more.
            /// </summary>
            public static int BlockK(int k)
            {
                if (k <= 512) return k;
                int blocks = (k + 383) / 384;
                return (k + blocks - 1) / blocks;
            }

            public static TileSpec PickTile((string Isa, int Lanes, int WideRows, int NarrowRows) isa, int n)
            {
                int w = isa.Lanes;
                if (w == 1) return new TileSpec(isa.Isa, 1, isa.WideRows, 4);
                // Narrow when N fits one vector, or when a wide tile would pad a small N's last panel by over half.
                int rest = n % (2 * w);
                bool narrow = n <= w || (rest != 0 && rest <= w && n < 8 * w);
                return narrow ? new TileSpec(isa.Isa, w, isa.NarrowRows, w) : new TileSpec(isa.Isa, w, isa.WideRows, 2 * w);
            }

            /// <summary>"attn.qkv.weight" → "QkvWeight", "patch_embed.proj.bias" → "PatchBias", "patch_embed.backbone.0.conv.weight" → "Stem0ConvWeight", "pos_embed" → "PosEmbed".</summary>
            public static string ConstantName(string tensor)
            {
                string t = tensor.StartsWith("patch_embed.proj.", StringComparison.Ordinal)
                    ? "patch." + tensor.Substring("patch_embed.proj.".Length)
                    : tensor.StartsWith("patch_embed.backbone.", StringComparison.Ordinal)
                    ? "stem" + tensor.Substring("patch_embed.backbone.".Length)
                    : tensor.Replace("attn.", "").Replace("mlp.", "");
                return string.Concat(t.Split('.', '_').Select(p => char.ToUpperInvariant(p[0]) + p.Substring(1)));
            }
        }
    }
}
