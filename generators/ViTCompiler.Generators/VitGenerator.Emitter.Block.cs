using ViTCompiler.Generators.Model;

namespace ViTCompiler.Generators
{
    public sealed partial class VitGenerator
    {
        /// <summary>
        /// One encoder block, forward and backward. The same text serves every block of the loop and, with [class]
        /// pooling, the last block on its own (<c>classRows</c>): the head reads one row of that block's output, so
        /// LayerNorm and qkv still run on all B·N rows (every token's key and value is read), but attention runs for the
        /// [class] query alone (<c>ClassAttention</c>) and the projection, the second LayerNorm and the MLP on the B class
        /// rows — a specialisation a graph runtime, which runs the whole block, does not make. The N − 1 other rows skip
        /// 9d² + 2Nd multiply-adds each: 6.3 % of ViT-B/16's forward, 31 % of the two-block Fashion hybrid's.
        /// </summary>
        internal static partial class Emitter
        {
            /// <summary>
            /// The block's forward, inside a scope where <c>layer</c>, <c>block</c> and <c>panels</c> (and in training
            /// <c>saved</c>, and <c>output</c> unless <paramref name="classRows"/>) are defined. With
            /// <paramref name="classRows"/> the block's output is <c>classRows</c> (B, D).
            /// </summary>
            private static void WriteBlockForward(SourceWriter w, VitSpec spec, bool training, bool classRows)
            {
                VitShape s = spec.Shape;
                VitPlan p = spec.Plan;
                string K = Kernels;
                int d = s.Hidden, n = p.Tokens, m = p.MlpWidth;
                string all = $"(B·{n}, {d})", after = classRows ? $"(B, {d})" : all, r = classRows ? "batch" : "rows";
                string T(string trainingName, string inferenceName) => training ? trainingName : inferenceName;
                string input = T("saved.Input", "x"), ln1 = T("saved.Ln1", "a"), qkv = T("saved.Qkv", "qkv"), attended = T("saved.Attended", "a");
                string stream = classRows ? "classRows" : "x"; // at inference the residual products accumulate into it
                string middle = T("saved.Middle", stream), ln2 = T("saved.Ln2", "a"), fc1 = T("saved.Fc1", "hidden"), gelu = T("saved.Gelu", "hidden");
                string output = T(classRows ? "classRows" : "output", stream);
                string kept = T(", statistics kept", "");
                string residual(string what) => training ? $"droppath(dropout({what}))" : what;
                void Gemm(string product, string m_, string n_, string k_, string a, string lda, string c, string ldc, string packed, string? bias, params string[] extra) =>
                    WriteGemm(w, product, m_, n_, k_, a, lda, c, ldc, packed, bias, extra);

                // A residual branch: at inference the product accumulates into the stream itself; in training it goes to
                // `branch`, then dropout and stochastic depth decide what is added.
                void Residual(string product, string k, string a, string packed, string bias, string from, string to, string site)
                {
                    if (training)
                    {
                        Gemm(product, r, "Hidden", k, a, k, "branch", "Hidden", packed, bias);
                        w.Lines($"{K}.Dropout.ResidualAdd(pool, threads, {from}, branch, {to}, {ResidualSites(site, classRows)});");
                    }
                    else
                    {
                        Gemm(product, r, "Hidden", k, a, k, stream, "Hidden", packed, bias, "gemm.Accumulate = true;");
                    }
                }

                w.Line($"// {all} -> {all}   ln1 = LayerNorm(x){kept}");
                w.Line($"{K}.LayerNorm.Forward(pool, threads, {input}, block + BlockOffsets.Norm1Weight, block + BlockOffsets.Norm1Bias, {ln1}, rows, Hidden, Epsilon{T(", saved.Mean1, saved.Rstd1", "")});");
                w.Line();
                w.Line($"// {all} -> (B·{n}, {3 * d})   qkv = ln1 · Wqkvᵀ{(s.QkvBias ? " + bqkv" : "")}{(classRows ? ": every token's key and value is read" : "")}");
                Gemm("Qkv", "rows", "3 * Hidden", "Hidden", ln1, "Hidden", qkv, "3 * Hidden", "panels + _packedQkv", s.QkvBias ? "block + BlockOffsets.QkvBias" : null);
                w.Line();
                if (classRows)
                {
                    if (!training)
                    {
                        using (w.Block("if (attention != null)"))
                        {
                            w.Line("// every query's probabilities, for the caller only: the output below does not depend on them");
                            WriteAttentionForward(w, "qkv", "a", "Capture = attention + (long)layer * Heads * Tokens * Tokens,\nCaptureImageStride = (long)Layers * Heads * Tokens * Tokens,");
                        }
                    }
                    w.Line($"// (B·{n}, {3 * d}) -> {after}   attended = softmax(q₀ · kᵀ / √{p.HeadDim}) · v for each of the {s.Heads} heads, [class] query only{T(", probabilities (B, H, N) kept", "")}");
                    w.Line($"{K}.ClassAttention.Forward(pool, threads, {qkv}, {attended}, scratch, (nint)perWorker, batch, Tokens, Hidden, Heads, HeadDim{T(", saved.Probabilities", "")});");
                    w.Line();
                    // The class rows of the block's input: in training into `embedded` (free until the embeddings'
                    // gradient), at inference straight into the stream the products accumulate into.
                    w.Line($"// {all} -> {after}   x[:, 0], the [class] rows");
                    w.Line($"{K}.TokenOps.GatherRows({input}, (long)Tokens * Hidden, {T("embedded", "classRows")}, batch, Hidden);");
                }
                else
                {
                    w.Line($"// (B·{n}, {3 * d}) -> {all}   attended = softmax(q · kᵀ / √{p.HeadDim}) · v for each of the {s.Heads} heads, scores kept in cache{T(", probabilities kept", "")}");
                    WriteAttentionForward(w, qkv, attended, training
                        ? "Probabilities = saved.Probabilities,"
                        : "Capture = attention == null ? null : attention + (long)layer * Heads * Tokens * Tokens,\nCaptureImageStride = (long)Layers * Heads * Tokens * Tokens,");
                }
                w.Line();
                w.Line($"// {all} -> {after}   {T(classRows ? "middle = x[:, 0] + " : "middle = x + ", $"{stream} += ")}{residual("attended · Wprojᵀ + bproj")}");
                Residual("Proj", "Hidden", attended, "panels + _packedProj", "block + BlockOffsets.ProjBias", classRows ? "embedded" : "saved.Input", middle, "Attention");
                w.Line();
                w.Line($"// {after} -> {after}   ln2 = LayerNorm({T("middle", stream)}){kept}");
                w.Line($"{K}.LayerNorm.Forward(pool, threads, {middle}, block + BlockOffsets.Norm2Weight, block + BlockOffsets.Norm2Bias, {ln2}, {r}, Hidden, Epsilon{T(", saved.Mean2, saved.Rstd2", "")});");
                w.Line();
                string mlpRows = classRows ? $"(B, {m})" : $"(B·{n}, {m})";
                if (training)
                {
                    w.Line($"// {after} -> {mlpRows}   fc1 = ln2 · Wfc1ᵀ + bfc1 and gelu = dropout(GELU(fc1)), both kept; GELU applied to each tile while it is in cache");
                    Gemm("Fc1", r, "MlpWidth", "Hidden", ln2, "Hidden", fc1, "MlpWidth", "panels + _packedFc1", "block + BlockOffsets.Fc1Bias",
                        $"gemm.Epilogue = {K}.GemmEpilogue.GeluTo; gemm.EpilogueOut = {gelu}; gemm.EpilogueLd = MlpWidth;");
                    w.Line(HiddenDropout(gelu, classRows));
                }
                else
                {
                    w.Line($"// {after} -> {mlpRows}   hidden = GELU(ln2 · Wfc1ᵀ + bfc1), GELU applied to each tile while it is in cache");
                    Gemm("Fc1", r, "MlpWidth", "Hidden", ln2, "Hidden", gelu, "MlpWidth", "panels + _packedFc1", "block + BlockOffsets.Fc1Bias",
                        $"gemm.Epilogue = {K}.GemmEpilogue.Gelu;");
                }
                w.Line();
                w.Line($"// {mlpRows} -> {after}   {T($"{output} = middle + ", $"{stream} += ")}{residual($"{T("gelu", "hidden")} · Wfc2ᵀ + bfc2")}");
                Residual("Fc2", "MlpWidth", gelu, "panels + _packedFc2", "block + BlockOffsets.Fc2Bias", "saved.Middle", output, "Mlp");
            }

            private static void WriteAttentionForward(SourceWriter w, string qkv, string output, string extra)
            {
                w.Line($"var attend = new {Kernels}.AttentionProblem");
                w.Line("{");
                w.Line($"    Qkv = {qkv}, Output = {output}, Batch = batch, Tokens = Tokens, Hidden = Hidden, Heads = Heads, HeadDim = HeadDim,");
                w.Line("    ScoresBlockK = BlockK.Scores, ValuesBlockK = BlockK.Values, Scratch = scratch, ScratchPerWorker = (nint)perWorker,");
                foreach (string line in extra.Split('\n')) w.Line("    " + line);
                w.Line("};");
                w.Line($"{Kernels}.Attention<TScores, TValues>.Forward(ref attend, pool, threads);");
            }

            /// <summary>
            /// The arguments of a residual dropout call after the tensors: images, elements per image, and (on a second line)
            /// the sites.
            /// The class rows are gathered, so their masks are drawn at the indices the rows have in the full tensor.
            /// </summary>
            private static string ResidualSites(string site, bool classRows) =>
                (classRows ? "batch, Hidden, seed,\n    " : "batch, Tokens * Hidden, seed,\n    ") +
                $"{Kernels}.Dropout.Sites.{site}Output(layer), drop, {Kernels}.Dropout.Sites.{site}Path(layer), path" +
                (classRows ? ", indexImageStride: (long)Tokens * Hidden" : "");

            private static string HiddenDropout(string x, bool classRows) => classRows
                ? $"{Kernels}.Dropout.ApplyGathered(pool, threads, {x}, batch, MlpWidth, (long)Tokens * MlpWidth, seed, {Kernels}.Dropout.Sites.MlpHidden(layer), drop);"
                : $"{Kernels}.Dropout.Apply(pool, threads, {x}, (long)rows * MlpWidth, seed, {Kernels}.Dropout.Sites.MlpHidden(layer), drop);";

            /// <summary>
            /// The block's backward, inside a scope where <c>layer</c>, <c>saved</c>, <c>block</c> and <c>grad</c> are
            /// defined: from d output in <c>dx</c> (all rows) or, with <paramref name="classRows"/>, in <c>dclass</c>
            /// (B, D), to d input in <c>dx</c> for every row.
            /// </summary>
            private static void WriteBlockBackward(SourceWriter w, VitSpec spec, bool classRows)
            {
                VitShape s = spec.Shape;
                VitPlan p = spec.Plan;
                string K = Kernels;
                int d = s.Hidden, n = p.Tokens, m = p.MlpWidth;
                string r = classRows ? "batch" : "rows", shown = classRows ? "B" : $"B·{n}";
                string all = $"(B·{n}, {d})", after = $"({shown}, {d})", mlpRows = $"({shown}, {m})";
                string dout = classRows ? "dclass" : "dx";

                // dW += dYᵀ · X over the rows (accumulated into the gradient block), and dX = dY · W with W read in place.
                void WeightGradient(string kernel, string product, string outputs, string inputs, string count, string dy, string dyWidth, string x, string xWidth, string target)
                {
                    w.Line($"gemm = {K}.GemmProblem.Create({outputs}, {inputs}, {count}, BlockK.{product}Weight, {dy}, 1, {target}, {xWidth});");
                    w.Line($"gemm.AColStride = {dyWidth}; gemm.B = {x}; gemm.BRowStride = {xWidth}; gemm.BColStride = 1; gemm.SharedPack = shared; gemm.SharedPackFloats = sharedFloats; gemm.Accumulate = true;");
                    w.Line($"Gemm.Run<{kernel}>(ref gemm, pool, threads, scratch, (nint)perWorker);");
                }
                void InputGradient(string kernel, string product, string count, string inputs, string outputs, string dy, string weight, string dx)
                {
                    w.Line($"gemm = {K}.GemmProblem.Create({count}, {inputs}, {outputs}, BlockK.{product}Input, {dy}, {outputs}, {dx}, {inputs});");
                    w.Line($"gemm.B = {weight}; gemm.BRowStride = {inputs}; gemm.BColStride = 1; gemm.SharedPack = shared; gemm.SharedPackFloats = sharedFloats;");
                    w.Line($"Gemm.Run<{kernel}>(ref gemm, pool, threads, scratch, (nint)perWorker);");
                }

                w.Line($"// {(classRows ? "classRows" : "output")} = middle + droppath(dropout(gelu · Wfc2ᵀ + bfc2)): the residual passes {dout} on; the branch gets");
                w.Lines($"{K}.Dropout.ResidualBackward(pool, threads, {dout}, branch, {ResidualSites("Mlp", classRows)});");
                w.Line($"// dWfc2 += dbranchᵀ · gelu          ({d}, {shown}) · {mlpRows} -> ({d}, {m})");
                WeightGradient("TGradM", "Fc2", "Hidden", "MlpWidth", r, "branch", "Hidden", "saved.Gelu", "MlpWidth", "grad + BlockOffsets.Fc2Weight");
                w.Line($"{K}.TokenOps.ColumnSums(pool, threads, branch, {r}, Hidden, grad + BlockOffsets.Fc2Bias);");
                w.Line($"// dgelu = dbranch · Wfc2               {after} · ({d}, {m}) -> {mlpRows}");
                InputGradient("TGradM", "Fc2", r, "MlpWidth", "Hidden", "branch", "block + BlockOffsets.Fc2Weight", "dwide");
                w.Line("// gelu = dropout(GELU(fc1))          -> dfc1 = dgelu ⊙ mask · GELU′(fc1)");
                w.Line(HiddenDropout("dwide", classRows));
                w.Line($"{K}.Activations.GeluBackward(pool, threads, saved.Fc1, dwide, dwide, (long){r} * MlpWidth);");
                w.Line($"// dWfc1 += dfc1ᵀ · ln2               ({m}, {shown}) · {after} -> ({m}, {d})");
                WeightGradient("TGradD", "Fc1", "MlpWidth", "Hidden", r, "dwide", "MlpWidth", "saved.Ln2", "Hidden", "grad + BlockOffsets.Fc1Weight");
                w.Line($"{K}.TokenOps.ColumnSums(pool, threads, dwide, {r}, MlpWidth, grad + BlockOffsets.Fc1Bias);");
                w.Line($"// dln2 = dfc1 · Wfc1                   {mlpRows} · ({m}, {d}) -> {after}");
                InputGradient("TGradD", "Fc1", r, "Hidden", "MlpWidth", "dwide", "block + BlockOffsets.Fc1Weight", "da");
                w.Line($"// ln2 = LayerNorm(middle)            -> {dout} += LayerNorm′ · dln2");
                w.Line($"{K}.LayerNorm.ParameterGradients(pool, threads, da, saved.Middle, saved.Mean2, saved.Rstd2, grad + BlockOffsets.Norm2Weight, grad + BlockOffsets.Norm2Bias, {r}, Hidden);");
                w.Line($"{K}.LayerNorm.Backward(pool, threads, da, saved.Middle, saved.Mean2, saved.Rstd2, block + BlockOffsets.Norm2Weight, {dout}, {r}, Hidden, accumulate: true);");
                w.Line();
                w.Line($"// middle = {(classRows ? "x[:, 0]" : "x")} + droppath(dropout(attended · Wprojᵀ + bproj))");
                w.Lines($"{K}.Dropout.ResidualBackward(pool, threads, {dout}, branch, {ResidualSites("Attention", classRows)});");
                w.Line($"// dWproj += dbranchᵀ · attended      ({d}, {shown}) · {after} -> ({d}, {d})");
                WeightGradient("TGradD", "Proj", "Hidden", "Hidden", r, "branch", "Hidden", "saved.Attended", "Hidden", "grad + BlockOffsets.ProjWeight");
                w.Line($"{K}.TokenOps.ColumnSums(pool, threads, branch, {r}, Hidden, grad + BlockOffsets.ProjBias);");
                w.Line($"// dattended = dbranch · Wproj          {after} · ({d}, {d}) -> {after}");
                InputGradient("TGradD", "Proj", r, "Hidden", "Hidden", "branch", "block + BlockOffsets.ProjWeight", "da");
                if (classRows)
                {
                    w.Line($"// attended = softmax(q₀ · kᵀ / √hd) · v -> dqkv (B·{n}, {3 * d}): the [class] query, every key and value");
                    w.Line($"{K}.ClassAttention.Backward(pool, threads, saved.Qkv, saved.Probabilities, da, dwide, scratch, (nint)perWorker, batch, Tokens, Hidden, Heads, HeadDim);");
                }
                else
                {
                    w.Line("// attended = softmax(q · kᵀ / √hd) · v -> dqkv, per image and head");
                    w.Line($"var attend = new {K}.AttentionProblem");
                    w.Line("{");
                    w.Line("    Qkv = saved.Qkv, Output = da, Probabilities = saved.Probabilities, Batch = batch, Tokens = Tokens, Hidden = Hidden,");
                    w.Line("    Heads = Heads, HeadDim = HeadDim, ScoresBlockK = BlockK.Scores, ValuesBlockK = BlockK.Values, Scratch = scratch, ScratchPerWorker = (nint)perWorker,");
                    w.Line("};");
                    w.Line($"{K}.Attention<TScores, TValues>.Backward(ref attend, dwide, pool, threads);");
                }
                w.Line($"// dWqkv += dqkvᵀ · ln1               ({3 * d}, B·{n}) · {all} -> ({3 * d}, {d})");
                WeightGradient("TGradD", "Qkv", "3 * Hidden", "Hidden", "rows", "dwide", "3 * Hidden", "saved.Ln1", "Hidden", "grad + BlockOffsets.QkvWeight");
                if (s.QkvBias) w.Line($"{K}.TokenOps.ColumnSums(pool, threads, dwide, rows, 3 * Hidden, grad + BlockOffsets.QkvBias);");
                w.Line($"// dln1 = dqkv · Wqkv                   (B·{n}, {3 * d}) · ({3 * d}, {d}) -> {all}");
                InputGradient("TGradD", "Qkv", "rows", "Hidden", "3 * Hidden", "dwide", "block + BlockOffsets.QkvWeight", "da");
                if (classRows)
                {
                    w.Line("// x = the residual: dx is dmiddle on the [class] rows and zero on the others (the head never read them)");
                    w.Line("new global::System.Span<float>(dx, rows * Hidden).Clear();");
                    w.Line($"{K}.TokenOps.ScatterRows(dclass, dx, (long)Tokens * Hidden, batch, Hidden);");
                }
                w.Line("// ln1 = LayerNorm(x)                 -> dx += LayerNorm′ · dln1");
                w.Line($"{K}.LayerNorm.ParameterGradients(pool, threads, da, saved.Input, saved.Mean1, saved.Rstd1, grad + BlockOffsets.Norm1Weight, grad + BlockOffsets.Norm1Bias, rows, Hidden);");
                w.Line($"{K}.LayerNorm.Backward(pool, threads, da, saved.Input, saved.Mean1, saved.Rstd1, block + BlockOffsets.Norm1Weight, dx, rows, Hidden, accumulate: true);");
            }
        }
    }
}
