using System.Linq;
using ViTCompiler.Generators.Model;

namespace ViTCompiler.Generators
{
    public sealed partial class VitGenerator
    {
        /// <summary>The hybrid's convolutional stem (§3.1): printed only for models that declare one.</summary>
        internal static partial class Emitter
        {
            /// <summary>
            /// Each stage is im2col, one product with the packed convolution weight, then GroupNorm and ReLU; the patches
            /// are cut from the last stage's NHWC map by the same im2col with a Patch × Patch kernel and stride. The stages'
            /// columns are tap-major (each tap's channels one contiguous run of the NHWC map) and their weights are
            /// permuted to match when packed; the patches keep the patch weight's (channel, row, column) order.
            /// </summary>
            private static void WriteStemForward(SourceWriter w, VitSpec spec, bool training)
            {
                VitShape s = spec.Shape;
                VitPlan p = spec.Plan;
                string K = Kernels;
                foreach (StemStagePlan t in p.StemStages)
                {
                    int i = t.Index, positions = t.OutputSize * t.OutputSize;
                    string input = i == 0 ? "pixels" : "stem" + (i - 1);
                    string layout = i == 0 ? $"(B, {t.InputChannels}, {t.InputSize}, {t.InputSize})" : $"(B, {t.InputSize}, {t.InputSize}, {t.InputChannels})";
                    string columns = training ? "stemColumns" + i : "stemColumns", conv = training ? "stemConv" + i : "stem" + i;
                    string mean = training ? "stemMean" + i : "stemMean", rstd = training ? "stemRstd" + i : "stemRstd";
                    w.Line($"// {layout} -> (B·{positions}, {t.Columns})   stem {i}: im2col, 3 × 3, stride {t.Stride}, padding 1, rows (row, column, channel)");
                    w.Line($"{K}.Convolution.Im2Col(pool, threads, {input}, batch, {t.InputChannels}, {t.InputSize}, channelsLast: {(i == 0 ? "false" : "true")}, 3, {t.Stride}, 1, {columns}, tapMajor: true);");
                    w.Line($"// (B·{positions}, {t.Columns}) -> (B·{positions}, {t.Channels})   {Formula(p, "Stem" + i)}");
                    w.Line($"gemm = {K}.GemmProblem.Create(batch * {positions}, {t.Channels}, {t.Columns}, BlockK.Stem{i}, {columns}, {t.Columns}, {conv}, {t.Channels});");
                    w.Line($"gemm.BPacked = packed + _packedStem{i};");
                    w.Line($"Gemm.Run<TStem{i}>(ref gemm, pool, threads, scratch, (nint)perWorker);");
                    w.Line($"{K}.Convolution.GroupNormReluForward(pool, threads, {conv}, w + Offsets.Stem{i}NormWeight, w + Offsets.Stem{i}NormBias, stem{i},");
                    w.Line($"    batch, {positions}, {t.Channels}, StemGroups, StemEpsilon, {mean}, {rstd});");
                    w.Line();
                }
                w.Line($"// (B, {s.FeatureSize}, {s.FeatureSize}, {s.FeatureChannels}) -> (B·{p.PatchCount}, {p.PatchDim})   patches of the feature map, each flattened (channel, row, column)");
                w.Line($"{K}.Convolution.Im2Col(pool, threads, stem{p.StemStages.Count - 1}, batch, FeatureChannels, FeatureSize, channelsLast: true, Patch, Patch, 0, patches);");
            }

            /// <summary>
            /// After dWpatch: the patches' gradient goes back onto the feature map (col2im), then through each stage in
            /// reverse — ReLU and GroupNorm, the convolution's weight gradient, and for every stage but the first the
            /// gradient of its input map. Two map buffers alternate, the later stage's gradient and the earlier one's.
            /// </summary>
            private static void WriteStemBackward(SourceWriter w, VitSpec spec)
            {
                VitPlan p = spec.Plan;
                string K = Kernels;
                string shared = "gemm.SharedPack = shared; gemm.SharedPackFloats = sharedFloats;";
                w.Line();
                w.Line($"// patches = im2col(stem{p.StemStages.Count - 1})   -> dpatches = dembedded · Wpatch   (B·{p.PatchCount}, {spec.Shape.Hidden}) · ({spec.Shape.Hidden}, {p.PatchDim}), over the patches");
                w.Line($"gemm = {K}.GemmProblem.Create(batch * PatchCount, PatchDim, Hidden, BlockK.PatchInput, embedded, Hidden, patches, PatchDim);");
                w.Line($"gemm.B = w + Offsets.PatchWeight; gemm.BRowStride = PatchDim; gemm.BColStride = 1; {shared}");
                w.Line("Gemm.Run<TGradPatch>(ref gemm, pool, threads, scratch, (nint)perWorker);");
                w.Line($"{K}.Convolution.Col2Im(pool, threads, patches, batch, FeatureChannels, FeatureSize, channelsLast: true, Patch, Patch, 0, stemGradient);");
                string current = "stemGradient", other = "stemGradientNext";
                foreach (StemStagePlan t in p.StemStages.Reverse())
                {
                    int i = t.Index, positions = t.OutputSize * t.OutputSize;
                    w.Line();
                    w.Line($"// stem{i} = ReLU(GroupNorm(conv{i}))   -> dconv{i} (in place), dγ, dβ");
                    w.Line($"{K}.Convolution.GroupNormReluBackward(pool, threads, {current}, stemConv{i}, stem{i}, stemMean{i}, stemRstd{i}, w + Offsets.Stem{i}NormWeight,");
                    w.Line($"    g + Offsets.Stem{i}NormWeight, g + Offsets.Stem{i}NormBias, stemPartials, batch, {positions}, {t.Channels}, StemGroups);");
                    w.Line($"// dWconv{i} += dconv{i}ᵀ · columns   ({t.Channels}, B·{positions}) · (B·{positions}, {t.Columns}) -> ({t.Channels}, {t.Columns}), tap-major in the shared room, then added in the weight's order");
                    w.Line($"gemm = {K}.GemmProblem.Create({t.Channels}, {t.Columns}, batch * {positions}, BlockK.Stem{i}Weight, {current}, 1, shared, {t.Columns});");
                    w.Line($"gemm.AColStride = {t.Channels}; gemm.B = stemColumns{i}; gemm.BRowStride = {t.Columns}; gemm.BColStride = 1;");
                    w.Line($"Gemm.Run<TGradStem{i}>(ref gemm, pool, threads, scratch, (nint)perWorker);");
                    w.Line($"{K}.Convolution.AddFromTapMajor(shared, g + Offsets.Stem{i}ConvWeight, {t.Channels}, {t.InputChannels}, 9);");
                    if (i == 0) continue; // the image needs no gradient
                    w.Line($"// dcolumns = dconv{i} · Wconv{i}   (B·{positions}, {t.Channels}) · ({t.Channels}, {t.Columns}) -> (B·{positions}, {t.Columns}), then col2im onto stem{i - 1}");
                    w.Line($"gemm = {K}.GemmProblem.Create(batch * {positions}, {t.Columns}, {t.Channels}, BlockK.Stem{i}Input, {current}, {t.Channels}, stemColumnsGradient, {t.Columns});");
                    w.Line($"gemm.B = packed + _tapMajorStem{i}; gemm.BRowStride = {t.Columns}; gemm.BColStride = 1; {shared}");
                    w.Line($"Gemm.Run<TGradStem{i}>(ref gemm, pool, threads, scratch, (nint)perWorker);");
                    w.Line($"{K}.Convolution.Col2Im(pool, threads, stemColumnsGradient, batch, {t.InputChannels}, {t.InputSize}, channelsLast: true, 3, {t.Stride}, 1, {other}, tapMajor: true);");
                    (current, other) = (other, current);
                }
            }
        }
    }
}
