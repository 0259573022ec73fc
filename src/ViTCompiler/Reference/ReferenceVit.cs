using ViTCompiler.Infrastructure;

namespace ViTCompiler.Reference;

/// <summary>
/// A plain, slow, obviously-correct ViT in double precision, written straight from the paper's equations with no
/// blocking, no SIMD and no fusion. It is the oracle the generated code is tested against and the engine for
/// configurations nobody compiled. One image at a time; every intermediate kept, so the backward pass can read it.
/// </summary>
/// <remarks>
/// Shape legend: B batch, N tokens, D width, H heads, hd head width, M MLP width, K patch length (C·P·P), C classes.
/// </remarks>
public static class ReferenceVit
{
    /// <summary>Logits (B, C) of a batch of NCHW images; optionally the attention probabilities (B, L, H, N, N).</summary>
    public static void Forward(VitConfig config, ReadOnlySpan<double> parameters, ReadOnlySpan<float> pixels, int batch,
        Span<double> logits, Span<double> attention = default)
    {
        CheckArguments(config, parameters.Length, pixels.Length, batch, logits.Length);
        int n = config.Tokens, perImageAttention = config.Layers * config.Heads * n * n;
        if (!attention.IsEmpty && attention.Length != batch * perImageAttention)
            throw new ArgumentException($"attention must hold batch × layers × heads × tokens² = {batch * perImageAttention:N0} values; it holds {attention.Length:N0}.", nameof(attention));
        double[] p = parameters.ToArray();
        for (int b = 0; b < batch; b++)
        {
            Tape t = ForwardImage(config, p, pixels.Slice(b * config.PixelsPerImage, config.PixelsPerImage), Masks.None(config));
            t.Logits.CopyTo(logits.Slice(b * config.Classes, config.Classes));
            if (!attention.IsEmpty)
                for (int l = 0; l < config.Layers; l++)
                    t.Layers[l].Probabilities.CopyTo(attention.Slice(b * perImageAttention + l * config.Heads * n * n, config.Heads * n * n));
        }
    }

    /// <summary>
    /// Mean softmax cross-entropy of the batch (with label smoothing ε: target (1−ε)·onehot + ε/C), and its gradient
    /// with respect to every parameter added into <paramref name="gradients"/>.
    /// </summary>
    public static double ForwardBackward(VitConfig config, ReadOnlySpan<double> parameters, ReadOnlySpan<float> pixels,
        ReadOnlySpan<int> labels, int batch, double labelSmoothing, Span<double> gradients, Span<double> logits = default) =>
        ForwardBackward(config, parameters, pixels, labels, batch, new TrainStepOptions((float)labelSmoothing), gradients, logits);

    /// <summary>
    /// As above with dropout and stochastic depth: the masks are <see cref="Dropout.Scale"/> at the same sites and
    /// indices the generated code uses, so both compute the same function.
    /// </summary>
    public static double ForwardBackward(VitConfig config, ReadOnlySpan<double> parameters, ReadOnlySpan<float> pixels,
        ReadOnlySpan<int> labels, int batch, TrainStepOptions options, Span<double> gradients, Span<double> logits = default)
    {
        CheckArguments(config, parameters.Length, pixels.Length, batch, logits.IsEmpty ? batch * config.Classes : logits.Length);
        if (labels.Length != batch) throw new ArgumentException($"labels must hold {batch} values; it holds {labels.Length}.", nameof(labels));
        if (gradients.Length != parameters.Length) throw new ArgumentException("gradients must be as long as parameters.", nameof(gradients));
        double[] p = parameters.ToArray();
        double[] g = new double[p.Length];
        double loss = 0;
        int classes = config.Classes;
        for (int b = 0; b < batch; b++)
        {
            var masks = new Masks(config, options, b);
            Tape t = ForwardImage(config, p, pixels.Slice(b * config.PixelsPerImage, config.PixelsPerImage), masks);
            if (!logits.IsEmpty) t.Logits.CopyTo(logits.Slice(b * classes, classes));
            double[] dlogits = new double[classes];
            loss += CrossEntropy(t.Logits, labels[b], options.LabelSmoothing, dlogits) / batch;
            for (int k = 0; k < classes; k++) dlogits[k] /= batch;
            BackwardImage(config, p, t, dlogits, g, masks);
        }
        for (int i = 0; i < g.Length; i++) gradients[i] += g[i];
        return loss;
    }

    /// <summary>Mean loss only, with the same masks as <see cref="ForwardBackward(VitConfig, ReadOnlySpan{double}, ReadOnlySpan{float}, ReadOnlySpan{int}, int, TrainStepOptions, Span{double}, Span{double})"/> (for finite differences).</summary>
    public static double Loss(VitConfig config, ReadOnlySpan<double> parameters, ReadOnlySpan<float> pixels,
        ReadOnlySpan<int> labels, int batch, TrainStepOptions options)
    {
        CheckArguments(config, parameters.Length, pixels.Length, batch, batch * config.Classes);
        double[] p = parameters.ToArray();
        double loss = 0;
        for (int b = 0; b < batch; b++)
        {
            Tape t = ForwardImage(config, p, pixels.Slice(b * config.PixelsPerImage, config.PixelsPerImage), new Masks(config, options, b));
            loss += CrossEntropy(t.Logits, labels[b], options.LabelSmoothing, new double[config.Classes]) / batch;
        }
        return loss;
    }

    /// <summary>Mean loss only (for finite differences).</summary>
    public static double Loss(VitConfig config, ReadOnlySpan<double> parameters, ReadOnlySpan<float> pixels,
        ReadOnlySpan<int> labels, int batch, double labelSmoothing) =>
        Loss(config, parameters, pixels, labels, batch, new TrainStepOptions((float)labelSmoothing));

    /// <summary>
    /// How far a float result is from the reference's: the largest |actual − expected| divided by the largest
    /// |expected| (an error relative to the output's scale, so near-zero entries do not dominate); infinity if any
    /// actual value is not finite.
    /// </summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected)
    {
        if (actual.Length != expected.Length) throw new ArgumentException($"Comparing {actual.Length} values with {expected.Length}.");
        double difference = 0, scale = 1e-30;
        for (int i = 0; i < expected.Length; i++)
        {
            if (!double.IsFinite(actual[i])) return double.PositiveInfinity;
            difference = Math.Max(difference, Math.Abs(actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }
        return difference / scale;
    }

    /// <summary>−Σ q log softmax(z) with q the smoothed target; writes d loss / d z into <paramref name="dlogits"/>.</summary>
    public static double CrossEntropy(ReadOnlySpan<double> z, int label, double smoothing, Span<double> dlogits)
    {
        int classes = z.Length;
        if ((uint)label >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(label), label, $"A label must be in [0, {classes}).");
        double max = double.NegativeInfinity;
        foreach (double v in z) max = Math.Max(max, v);
        double sum = 0;
        foreach (double v in z) sum += Math.Exp(v - max);
        double logSum = max + Math.Log(sum), loss = 0;
        for (int k = 0; k < classes; k++)
        {
            double q = (k == label ? 1 - smoothing : 0) + smoothing / classes;
            double logP = z[k] - logSum;
            loss -= q * logP;
            dlogits[k] = Math.Exp(logP) - q;
        }
        return loss;
    }

    private static void CheckArguments(VitConfig config, int parameterCount, int pixelCount, int batch, int logitCount)
    {
        config.Validate();
        if (batch <= 0) throw new ArgumentOutOfRangeException(nameof(batch), batch, "The batch must hold at least one image.");
        if (parameterCount != config.ParameterCount)
            throw new ArgumentException($"The parameter block holds {parameterCount:N0} values; {config} has {config.ParameterCount:N0}.");
        if (pixelCount != (long)batch * config.PixelsPerImage)
            throw new ArgumentException($"pixels must hold batch × {config.Channels} × {config.ImageSize} × {config.ImageSize} = {(long)batch * config.PixelsPerImage:N0} values; it holds {pixelCount:N0}.");
        if (logitCount != batch * config.Classes)
            throw new ArgumentException($"logits must hold batch × classes = {batch * config.Classes:N0} values; it holds {logitCount:N0}.");
    }

    /// <summary>Dropout and stochastic-depth multipliers for image <c>b</c> (all 1 at inference).</summary>
    private readonly struct Masks(VitConfig c, TrainStepOptions options, int b)
    {
        public static Masks None(VitConfig c) => new(c, default, 0);

        private long TokenBase => (long)b * c.Tokens * c.Hidden;
        private long HiddenBase => (long)b * c.Tokens * c.MlpWidth;

        /// <summary>Multiplier for element i of the image's (N, D) tokens at a dropout site.</summary>
        public double Token(int site, int i) => Dropout.Scale(options.Seed, site, TokenBase + i, options.Dropout);
        /// <summary>Multiplier for element i of the image's (N, M) MLP hidden activations.</summary>
        public double Hidden(int site, int i) => Dropout.Scale(options.Seed, site, HiddenBase + i, options.Dropout);
        /// <summary>Stochastic-depth multiplier of a residual branch for this image.</summary>
        public double Path(int site) => Dropout.Scale(options.Seed, site, b, options.DropPath);
    }

    // ---- the tape: every intermediate of one image ----

    private sealed class LayerTape
    {
        public required double[] Input, Ln1, Ln1Hat, Ln1Rstd, Qkv, Probabilities, Heads, Middle, Ln2, Ln2Hat, Ln2Rstd, Fc1, Gelu;
    }

    private sealed class Tape
    {
        public required double[] Patches, Tokens, FinalHat, FinalRstd, Final, Pooled, Logits;
        public required LayerTape[] Layers;
        public required StemTape[] Stem;
    }

    /// <summary>One stem stage: its input map, the normalised convolution output x̂ with 1/σ per group, and its output.</summary>
    private sealed class StemTape
    {
        public required double[] Input, Xhat, Rstd, Output;
    }

    private static ReadOnlySpan<double> P(double[] p, VitConfig c, string name)
    {
        ParameterTensor t = c.Layout[name];
        return new ReadOnlySpan<double>(p, t.Offset, t.Count);
    }

    private static Span<double> G(double[] g, VitConfig c, string name)
    {
        ParameterTensor t = c.Layout[name];
        return new Span<double>(g, t.Offset, t.Count);
    }

    private static Tape ForwardImage(VitConfig c, double[] p, ReadOnlySpan<float> image, Masks masks)
    {
        int n = c.Tokens, d = c.Hidden, heads = c.Heads, hd = c.HeadDim, m = c.MlpWidth, k = c.PatchDim;
        int grid = c.GridSize, patch = c.Patch, size = c.FeatureSize, first = c.HasClassToken ? 1 : 0;

        // The hybrid's stem (§3.1): maps are (channels, rows, columns), as the image is.
        double[] map = new double[image.Length];
        for (int i = 0; i < image.Length; i++) map[i] = image[i];
        var stem = new StemTape[c.StemChannels.Count];
        for (int st = 0; st < stem.Length; st++)
        {
            stem[st] = StemStage(c, p, st, map);
            map = stem[st].Output;
        }

        // Cut the map into patches; a patch is flattened (channel, row, column) to match the conv weight (D, C, P, P).
        double[] patches = new double[c.PatchCount * k];
        for (int gy = 0; gy < grid; gy++)
            for (int gx = 0; gx < grid; gx++)
                for (int ch = 0; ch < c.FeatureChannels; ch++)
                    for (int py = 0; py < patch; py++)
                        for (int px = 0; px < patch; px++)
                            patches[(gy * grid + gx) * k + (ch * patch + py) * patch + px] =
                                map[(ch * size + gy * patch + py) * size + gx * patch + px];

        // (N, D) tokens: [class] token then projected patches, plus position embeddings.
        double[] embedded = new double[c.PatchCount * d];
        Linear(patches, c.PatchCount, k, P(p, c, "patch_embed.proj.weight"), P(p, c, "patch_embed.proj.bias"), d, embedded);
        double[] x = new double[n * d];
        ReadOnlySpan<double> pos = P(p, c, "pos_embed");
        if (first == 1) P(p, c, "cls_token").CopyTo(x);
        Array.Copy(embedded, 0, x, first * d, c.PatchCount * d);
        for (int i = 0; i < n * d; i++) x[i] = (x[i] + pos[i]) * masks.Token(Dropout.Sites.Embeddings, i);
        double[] tokens = (double[])x.Clone();

        var layers = new LayerTape[c.Layers];
        double scale = 1.0 / Math.Sqrt(hd);
        for (int l = 0; l < c.Layers; l++)
        {
            string b = $"blocks.{l}.";
            var t = new LayerTape
            {
                Input = (double[])x.Clone(),
                Ln1 = new double[n * d], Ln1Hat = new double[n * d], Ln1Rstd = new double[n],
                Qkv = new double[n * 3 * d], Probabilities = new double[heads * n * n], Heads = new double[n * d],
                Middle = new double[n * d], Ln2 = new double[n * d], Ln2Hat = new double[n * d], Ln2Rstd = new double[n],
                Fc1 = new double[n * m], Gelu = new double[n * m],
            };
            LayerNorm(x, n, d, P(p, c, b + "norm1.weight"), P(p, c, b + "norm1.bias"), c.LayerNormEpsilon, t.Ln1, t.Ln1Hat, t.Ln1Rstd);
            Linear(t.Ln1, n, d, P(p, c, b + "attn.qkv.weight"), c.QkvBias ? P(p, c, b + "attn.qkv.bias") : default, 3 * d, t.Qkv);
            for (int h = 0; h < heads; h++)
            {
                for (int i = 0; i < n; i++)
                {
                    // scores of query i against every key, then a numerically safe softmax
                    double[] s = new double[n];
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < n; j++)
                    {
                        double dot = 0;
                        for (int e = 0; e < hd; e++) dot += t.Qkv[i * 3 * d + h * hd + e] * t.Qkv[j * 3 * d + d + h * hd + e];
                        s[j] = dot * scale;
                        max = Math.Max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < n; j++) { s[j] = Math.Exp(s[j] - max); sum += s[j]; }
                    for (int j = 0; j < n; j++) t.Probabilities[(h * n + i) * n + j] = s[j] / sum;
                    for (int e = 0; e < hd; e++)
                    {
                        double acc = 0;
                        for (int j = 0; j < n; j++) acc += t.Probabilities[(h * n + i) * n + j] * t.Qkv[j * 3 * d + 2 * d + h * hd + e];
                        t.Heads[i * d + h * hd + e] = acc;
                    }
                }
            }
            double[] projected = new double[n * d];
            Linear(t.Heads, n, d, P(p, c, b + "attn.proj.weight"), P(p, c, b + "attn.proj.bias"), d, projected);
            double path1 = masks.Path(Dropout.Sites.AttentionPath(l));
            for (int i = 0; i < n * d; i++) x[i] += path1 * masks.Token(Dropout.Sites.AttentionOutput(l), i) * projected[i];
            Array.Copy(x, t.Middle, n * d);

            LayerNorm(x, n, d, P(p, c, b + "norm2.weight"), P(p, c, b + "norm2.bias"), c.LayerNormEpsilon, t.Ln2, t.Ln2Hat, t.Ln2Rstd);
            Linear(t.Ln2, n, d, P(p, c, b + "mlp.fc1.weight"), P(p, c, b + "mlp.fc1.bias"), m, t.Fc1);
            for (int i = 0; i < n * m; i++) t.Gelu[i] = ExactMath.Gelu(t.Fc1[i]) * masks.Hidden(Dropout.Sites.MlpHidden(l), i);
            double[] mlp = new double[n * d];
            Linear(t.Gelu, n, m, P(p, c, b + "mlp.fc2.weight"), P(p, c, b + "mlp.fc2.bias"), d, mlp);
            double path2 = masks.Path(Dropout.Sites.MlpPath(l));
            for (int i = 0; i < n * d; i++) x[i] += path2 * masks.Token(Dropout.Sites.MlpOutput(l), i) * mlp[i];
            layers[l] = t;
        }

        double[] final = new double[n * d], finalHat = new double[n * d], finalRstd = new double[n];
        LayerNorm(x, n, d, P(p, c, "norm.weight"), P(p, c, "norm.bias"), c.LayerNormEpsilon, final, finalHat, finalRstd);
        double[] pooled = new double[d];
        if (first == 1) Array.Copy(final, pooled, d);
        else
            for (int i = 0; i < n; i++)
                for (int e = 0; e < d; e++) pooled[e] += final[i * d + e] / n;
        double[] logits = new double[c.Classes];
        Linear(pooled, 1, d, P(p, c, "head.weight"), P(p, c, "head.bias"), c.Classes, logits);
        return new Tape { Patches = patches, Tokens = tokens, FinalHat = finalHat, FinalRstd = finalRstd, Final = final, Pooled = pooled, Logits = logits, Layers = layers, Stem = stem };
    }

    private static void BackwardImage(VitConfig c, double[] p, Tape tape, double[] dlogits, double[] g, Masks masks)
    {
        int n = c.Tokens, d = c.Hidden, heads = c.Heads, hd = c.HeadDim, m = c.MlpWidth, first = c.HasClassToken ? 1 : 0;

        // logits = pooled · headᵀ + b
        double[] dpooled = new double[d];
        LinearBackward(dlogits, tape.Pooled, 1, d, P(p, c, "head.weight"), c.Classes, dpooled, G(g, c, "head.weight"), G(g, c, "head.bias"));
        // pooled = final[0]  or  mean over tokens
        double[] dfinal = new double[n * d];
        if (first == 1) Array.Copy(dpooled, dfinal, d);
        else
            for (int i = 0; i < n; i++)
                for (int e = 0; e < d; e++) dfinal[i * d + e] = dpooled[e] / n;
        double[] dx = new double[n * d];
        LayerNormBackward(dfinal, tape.FinalHat, tape.FinalRstd, n, d, P(p, c, "norm.weight"), dx, G(g, c, "norm.weight"), G(g, c, "norm.bias"));

        double scale = 1.0 / Math.Sqrt(hd);
        for (int l = c.Layers - 1; l >= 0; l--)
        {
            string b = $"blocks.{l}.";
            LayerTape t = tape.Layers[l];

            // x_out = middle + path · mask ⊙ (drop(gelu(fc1(ln2(middle)))) · W2ᵀ + b2)
            double[] dbranch = new double[n * d];
            double path2 = masks.Path(Dropout.Sites.MlpPath(l));
            for (int i = 0; i < n * d; i++) dbranch[i] = dx[i] * path2 * masks.Token(Dropout.Sites.MlpOutput(l), i);
            double[] dgelu = new double[n * m];
            LinearBackward(dbranch, t.Gelu, n, m, P(p, c, b + "mlp.fc2.weight"), d, dgelu, G(g, c, b + "mlp.fc2.weight"), G(g, c, b + "mlp.fc2.bias"));
            for (int i = 0; i < n * m; i++) dgelu[i] *= masks.Hidden(Dropout.Sites.MlpHidden(l), i) * ExactMath.GeluDerivative(t.Fc1[i]);
            double[] dln2 = new double[n * d];
            LinearBackward(dgelu, t.Ln2, n, d, P(p, c, b + "mlp.fc1.weight"), m, dln2, G(g, c, b + "mlp.fc1.weight"), G(g, c, b + "mlp.fc1.bias"));
            LayerNormBackward(dln2, t.Ln2Hat, t.Ln2Rstd, n, d, P(p, c, b + "norm2.weight"), dx, G(g, c, b + "norm2.weight"), G(g, c, b + "norm2.bias"));

            // middle = input + path · mask ⊙ (heads · Wprojᵀ + bproj)
            double path1 = masks.Path(Dropout.Sites.AttentionPath(l));
            for (int i = 0; i < n * d; i++) dbranch[i] = dx[i] * path1 * masks.Token(Dropout.Sites.AttentionOutput(l), i);
            double[] dheads = new double[n * d];
            LinearBackward(dbranch, t.Heads, n, d, P(p, c, b + "attn.proj.weight"), d, dheads, G(g, c, b + "attn.proj.weight"), G(g, c, b + "attn.proj.bias"));

            // heads[:, h] = softmax(q kᵀ · scale) · v, per head
            double[] dqkv = new double[n * 3 * d];
            for (int h = 0; h < heads; h++)
            {
                for (int i = 0; i < n; i++)
                {
                    double[] dprob = new double[n];
                    double dot = 0;
                    for (int j = 0; j < n; j++)
                    {
                        double prob = t.Probabilities[(h * n + i) * n + j];
                        for (int e = 0; e < hd; e++)
                        {
                            double dout = dheads[i * d + h * hd + e];
                            dprob[j] += dout * t.Qkv[j * 3 * d + 2 * d + h * hd + e];
                            dqkv[j * 3 * d + 2 * d + h * hd + e] += prob * dout; // dv
                        }
                        dot += dprob[j] * prob;
                    }
                    for (int j = 0; j < n; j++)
                    {
                        double dscore = t.Probabilities[(h * n + i) * n + j] * (dprob[j] - dot) * scale;
                        for (int e = 0; e < hd; e++)
                        {
                            dqkv[i * 3 * d + h * hd + e] += dscore * t.Qkv[j * 3 * d + d + h * hd + e];     // dq
                            dqkv[j * 3 * d + d + h * hd + e] += dscore * t.Qkv[i * 3 * d + h * hd + e];     // dk
                        }
                    }
                }
            }
            double[] dln1 = new double[n * d];
            LinearBackward(dqkv, t.Ln1, n, d, P(p, c, b + "attn.qkv.weight"), 3 * d, dln1,
                G(g, c, b + "attn.qkv.weight"), c.QkvBias ? G(g, c, b + "attn.qkv.bias") : default);
            LayerNormBackward(dln1, t.Ln1Hat, t.Ln1Rstd, n, d, P(p, c, b + "norm1.weight"), dx, G(g, c, b + "norm1.weight"), G(g, c, b + "norm1.bias"));
        }

        // tokens = drop([cls; patches · Wpeᵀ + bpe] + pos)
        for (int i = 0; i < n * d; i++) dx[i] *= masks.Token(Dropout.Sites.Embeddings, i);
        Span<double> dpos = G(g, c, "pos_embed");
        for (int i = 0; i < n * d; i++) dpos[i] += dx[i];
        if (first == 1)
        {
            Span<double> dcls = G(g, c, "cls_token");
            for (int e = 0; e < d; e++) dcls[e] += dx[e];
        }
        double[] dembedded = new double[c.PatchCount * d];
        Array.Copy(dx, first * d, dembedded, 0, c.PatchCount * d);
        double[] dpatches = new double[c.PatchCount * c.PatchDim];
        LinearBackward(dembedded, tape.Patches, c.PatchCount, c.PatchDim, P(p, c, "patch_embed.proj.weight"), d,
            c.HasStem ? dpatches : default, G(g, c, "patch_embed.proj.weight"), G(g, c, "patch_embed.proj.bias"));
        if (!c.HasStem) return;

        // patches = cut(map)   -> dmap: every patch entry back to the pixel of the map it was read from
        int grid = c.GridSize, patch = c.Patch, size = c.FeatureSize, k = c.PatchDim;
        double[] dmap = new double[c.FeatureChannels * size * size];
        for (int gy = 0; gy < grid; gy++)
            for (int gx = 0; gx < grid; gx++)
                for (int ch = 0; ch < c.FeatureChannels; ch++)
                    for (int py = 0; py < patch; py++)
                        for (int px = 0; px < patch; px++)
                            dmap[(ch * size + gy * patch + py) * size + gx * patch + px] += dpatches[(gy * grid + gx) * k + (ch * patch + py) * patch + px];
        for (int st = tape.Stem.Length - 1; st >= 0; st--)
            dmap = StemStageBackward(c, p, st, tape.Stem[st], dmap, g);
    }

    // ---- the hybrid's stem ----

    /// <summary>
    /// y = ReLU(GroupNorm(conv3×3(x))) for one (channels, rows, columns) map: padding 1, stride s, no bias; GroupNorm over
    /// each group's channels and all positions, ε = 1e-5.
    /// </summary>
    private static StemTape StemStage(VitConfig c, double[] p, int stage, double[] input)
    {
        int inChannels = stage == 0 ? c.Channels : c.StemChannels[stage - 1], outChannels = c.StemChannels[stage], stride = c.StemStrides[stage];
        int inSize = c.ImageSize;
        for (int i = 0; i < stage; i++) inSize /= c.StemStrides[i];
        int outSize = inSize / stride, groups = c.StemGroups, perGroup = outChannels / groups, area = outSize * outSize;
        ReadOnlySpan<double> w = P(p, c, $"patch_embed.backbone.{stage}.conv.weight");
        ReadOnlySpan<double> gamma = P(p, c, $"patch_embed.backbone.{stage}.norm.weight"), beta = P(p, c, $"patch_embed.backbone.{stage}.norm.bias");
        double[] conv = new double[outChannels * area];
        for (int o = 0; o < outChannels; o++)
            for (int oy = 0; oy < outSize; oy++)
                for (int ox = 0; ox < outSize; ox++)
                {
                    double acc = 0;
                    for (int i = 0; i < inChannels; i++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                            {
                                int y = oy * stride - 1 + ky, x = ox * stride - 1 + kx;
                                if (y < 0 || y >= inSize || x < 0 || x >= inSize) continue;
                                acc += w[((o * inChannels + i) * 3 + ky) * 3 + kx] * input[(i * inSize + y) * inSize + x];
                            }
                    conv[(o * outSize + oy) * outSize + ox] = acc;
                }
        var tape = new StemTape { Input = input, Xhat = new double[conv.Length], Rstd = new double[groups], Output = new double[conv.Length] };
        for (int gr = 0; gr < groups; gr++)
        {
            int from = gr * perGroup * area, count = perGroup * area; // a group's channels are contiguous in this layout
            double mean = 0, variance = 0;
            for (int i = 0; i < count; i++) mean += conv[from + i];
            mean /= count;
            for (int i = 0; i < count; i++) variance += (conv[from + i] - mean) * (conv[from + i] - mean);
            variance /= count;
            tape.Rstd[gr] = 1.0 / Math.Sqrt(variance + VitStem.NormEpsilon);
            for (int i = 0; i < count; i++)
            {
                int channel = (from + i) / area;
                tape.Xhat[from + i] = (conv[from + i] - mean) * tape.Rstd[gr];
                tape.Output[from + i] = Math.Max(0, tape.Xhat[from + i] * gamma[channel] + beta[channel]);
            }
        }
        return tape;
    }

    /// <summary>Backward of <see cref="StemStage"/>: adds dW, dγ, dβ into <paramref name="g"/>; returns d input map.</summary>
    private static double[] StemStageBackward(VitConfig c, double[] p, int stage, StemTape t, double[] dy, double[] g)
    {
        int inChannels = stage == 0 ? c.Channels : c.StemChannels[stage - 1], outChannels = c.StemChannels[stage], stride = c.StemStrides[stage];
        int inSize = c.ImageSize;
        for (int i = 0; i < stage; i++) inSize /= c.StemStrides[i];
        int outSize = inSize / stride, groups = c.StemGroups, perGroup = outChannels / groups, area = outSize * outSize;
        ReadOnlySpan<double> w = P(p, c, $"patch_embed.backbone.{stage}.conv.weight"), gamma = P(p, c, $"patch_embed.backbone.{stage}.norm.weight");
        Span<double> dw = G(g, c, $"patch_embed.backbone.{stage}.conv.weight");
        Span<double> dgamma = G(g, c, $"patch_embed.backbone.{stage}.norm.weight"), dbeta = G(g, c, $"patch_embed.backbone.{stage}.norm.bias");

        // y = max(0, x̂·γ + β): dz = dy where y > 0; then GroupNorm's backward, as LayerNorm's over the group
        double[] dconv = new double[outChannels * area];
        for (int gr = 0; gr < groups; gr++)
        {
            int from = gr * perGroup * area, count = perGroup * area;
            double meanDxhat = 0, meanDxhatXhat = 0;
            double[] dxhat = new double[count];
            for (int i = 0; i < count; i++)
            {
                int channel = (from + i) / area;
                double dz = t.Output[from + i] > 0 ? dy[from + i] : 0;
                dgamma[channel] += dz * t.Xhat[from + i];
                dbeta[channel] += dz;
                dxhat[i] = dz * gamma[channel];
                meanDxhat += dxhat[i];
                meanDxhatXhat += dxhat[i] * t.Xhat[from + i];
            }
            meanDxhat /= count;
            meanDxhatXhat /= count;
            for (int i = 0; i < count; i++)
                dconv[from + i] = t.Rstd[gr] * (dxhat[i] - meanDxhat - t.Xhat[from + i] * meanDxhatXhat);
        }

        // conv[o, oy, ox] = Σ w[o, i, ky, kx] · input[i, oy·s − 1 + ky, ox·s − 1 + kx]
        double[] dinput = new double[inChannels * inSize * inSize];
        for (int o = 0; o < outChannels; o++)
            for (int oy = 0; oy < outSize; oy++)
                for (int ox = 0; ox < outSize; ox++)
                {
                    double grad = dconv[(o * outSize + oy) * outSize + ox];
                    for (int i = 0; i < inChannels; i++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                            {
                                int y = oy * stride - 1 + ky, x = ox * stride - 1 + kx;
                                if (y < 0 || y >= inSize || x < 0 || x >= inSize) continue;
                                int wi = ((o * inChannels + i) * 3 + ky) * 3 + kx, xi = (i * inSize + y) * inSize + x;
                                dw[wi] += grad * t.Input[xi];
                                dinput[xi] += grad * w[wi];
                            }
                }
        return dinput;
    }

    // ---- building blocks ----

    /// <summary>y (rows, out) = x (rows, in) · wᵀ + b, with w in torch layout (out, in).</summary>
    private static void Linear(double[] x, int rows, int inDim, ReadOnlySpan<double> w, ReadOnlySpan<double> bias, int outDim, double[] y)
    {
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outDim; o++)
            {
                double acc = bias.IsEmpty ? 0 : bias[o];
                for (int i = 0; i < inDim; i++) acc += x[r * inDim + i] * w[o * inDim + i];
                y[r * outDim + o] = acc;
            }
    }

    /// <summary>Backward of <see cref="Linear"/>: dx += dy · w, dw += dyᵀ · x, db += Σ_rows dy (each skipped when empty).</summary>
    private static void LinearBackward(double[] dy, double[] x, int rows, int inDim, ReadOnlySpan<double> w, int outDim,
        Span<double> dx, Span<double> dw, Span<double> db)
    {
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outDim; o++)
            {
                double grad = dy[r * outDim + o];
                if (!db.IsEmpty) db[o] += grad;
                for (int i = 0; i < inDim; i++)
                {
                    dw[o * inDim + i] += grad * x[r * inDim + i];
                    if (!dx.IsEmpty) dx[r * inDim + i] += grad * w[o * inDim + i];
                }
            }
    }

    /// <summary>y = (x − mean) / √(var + ε) · γ + β per row; keeps x̂ and 1/√(var + ε) for the backward pass.</summary>
    private static void LayerNorm(double[] x, int rows, int width, ReadOnlySpan<double> gamma, ReadOnlySpan<double> beta, double eps,
        double[] y, double[] xhat, double[] rstd)
    {
        for (int r = 0; r < rows; r++)
        {
            double mean = 0, variance = 0;
            for (int i = 0; i < width; i++) mean += x[r * width + i];
            mean /= width;
            for (int i = 0; i < width; i++) variance += (x[r * width + i] - mean) * (x[r * width + i] - mean);
            variance /= width;
            rstd[r] = 1.0 / Math.Sqrt(variance + eps);
            for (int i = 0; i < width; i++)
            {
                xhat[r * width + i] = (x[r * width + i] - mean) * rstd[r];
                y[r * width + i] = xhat[r * width + i] * gamma[i] + beta[i];
            }
        }
    }

    /// <summary>dx += rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)) with dx̂ = dy · γ; dγ += Σ dy · x̂; dβ += Σ dy.</summary>
    private static void LayerNormBackward(double[] dy, double[] xhat, double[] rstd, int rows, int width, ReadOnlySpan<double> gamma,
        double[] dx, Span<double> dgamma, Span<double> dbeta)
    {
        for (int r = 0; r < rows; r++)
        {
            double meanDxhat = 0, meanDxhatXhat = 0;
            for (int i = 0; i < width; i++)
            {
                double dxhat = dy[r * width + i] * gamma[i];
                meanDxhat += dxhat;
                meanDxhatXhat += dxhat * xhat[r * width + i];
                dgamma[i] += dy[r * width + i] * xhat[r * width + i];
                dbeta[i] += dy[r * width + i];
            }
            meanDxhat /= width;
            meanDxhatXhat /= width;
            for (int i = 0; i < width; i++)
            {
                double dxhat = dy[r * width + i] * gamma[i];
                dx[r * width + i] += rstd[r] * (dxhat - meanDxhat - xhat[r * width + i] * meanDxhatXhat);
            }
        }
    }
}
