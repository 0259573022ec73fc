namespace ViTCompiler.Analysis;

/// <summary>
/// Where a model looks: the attention its output reads from each patch, from the probabilities that
/// <see cref="IVitClassifier.Forward(ReadOnlySpan{float}, int, Span{float}, Span{float})"/> captures as
/// (batch, layers, heads, tokens, tokens), query token first, key token second.
/// </summary>
/// <remarks>
/// "The output" is the [class] token for class-token pooling (its row of attention, without its own column) and, for
/// mean pooling, the average over every token's row, since the pooled vector is the mean of all tokens. Maps are not
/// re-normalised: a [class]-token map sums to 1 minus the attention the token pays itself.
/// </remarks>
public static class AttentionMaps
{
    /// <summary>Floats one image's attention takes: layers × heads × tokens × tokens.</summary>
    public static int FloatsPerImage(VitConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        long n = config.Tokens;
        return checked((int)(config.Layers * (long)config.Heads * n * n));
    }

    /// <summary>
    /// Runs <paramref name="model"/> on <paramref name="batch"/> images and returns their attention probabilities,
    /// (batch, layers, heads, tokens, tokens); writes the logits into <paramref name="logits"/>.
    /// </summary>
    public static float[] Capture(IVitClassifier model, ReadOnlySpan<float> pixels, int batch, Span<float> logits)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        float[] attention = new float[checked(batch * FloatsPerImage(model.Config))];
        model.Forward(pixels, batch, logits, attention);
        return attention;
    }

    /// <summary>
    /// Attention rollout (Abnar &amp; Zuidema, 2020; the paper's Fig. 6 and Appendix D.8) as a (tokens × tokens)
    /// row-major matrix: each layer's attention averaged over heads, plus the identity for the residual connection,
    /// rows re-normalised to 1, then multiplied through the layers, last layer on the left (R = Ã_L ⋯ Ã_1).
    /// Row i says how much of token i's final representation flows from each input token.
    /// </summary>
    /// <param name="config">The model's configuration.</param>
    /// <param name="attention">One image's attention, (layers, heads, tokens, tokens).</param>
    public static double[] RolloutMatrix(VitConfig config, ReadOnlySpan<float> attention)
    {
        CheckImage(config, attention);
        int n = config.Tokens, heads = config.Heads;
        double[] rollout = new double[n * n], layer = new double[n * n], product = new double[n * n];
        for (int l = 0; l < config.Layers; l++)
        {
            ReadOnlySpan<float> a = attention.Slice(l * heads * n * n, heads * n * n);
            for (int i = 0; i < n; i++)
            {
                double rowSum = 0;
                for (int j = 0; j < n; j++)
                {
                    double mean = 0;
                    for (int h = 0; h < heads; h++) mean += a[(h * n + i) * n + j];
                    double v = mean / heads + (i == j ? 1 : 0);
                    layer[i * n + j] = v;
                    rowSum += v;
                }
                for (int j = 0; j < n; j++) layer[i * n + j] /= rowSum;
            }
            if (l == 0)
            {
                layer.AsSpan().CopyTo(rollout);
                continue;
            }
            // rollout ← layer · rollout: a later layer reads the mixture the earlier ones made.
            Array.Clear(product);
            for (int i = 0; i < n; i++)
                for (int k = 0; k < n; k++)
                {
                    double w = layer[i * n + k];
                    if (w == 0) continue;
                    for (int j = 0; j < n; j++) product[i * n + j] += w * rollout[k * n + j];
                }
            (rollout, product) = (product, rollout);
        }
        return rollout;
    }

    /// <summary>
    /// The rollout of the output (see <see cref="AttentionMaps"/>) on the patch grid: how much of what the classifier
    /// reads comes from each patch, through every layer.
    /// </summary>
    /// <param name="config">The model's configuration.</param>
    /// <param name="attention">One image's attention, (layers, heads, tokens, tokens).</param>
    public static PatchMap Rollout(VitConfig config, ReadOnlySpan<float> attention) =>
        OutputRow(config, RolloutMatrix(config, attention));

    /// <summary>What the output reads from each patch in one head of one layer (raw attention probabilities).</summary>
    /// <param name="config">The model's configuration.</param>
    /// <param name="attention">One image's attention, (layers, heads, tokens, tokens).</param>
    /// <param name="layer">Layer index, 0 for the first block.</param>
    /// <param name="head">Head index.</param>
    public static PatchMap Head(VitConfig config, ReadOnlySpan<float> attention, int layer, int head)
    {
        CheckImage(config, attention);
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, config.Layers);
        ArgumentOutOfRangeException.ThrowIfNegative(head);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(head, config.Heads);
        int n = config.Tokens;
        ReadOnlySpan<float> probabilities = attention.Slice((layer * config.Heads + head) * n * n, n * n);
        double[] matrix = new double[n * n];
        for (int i = 0; i < matrix.Length; i++) matrix[i] = probabilities[i];
        return OutputRow(config, matrix);
    }

    /// <summary><see cref="Head"/> for every head of <paramref name="layer"/>.</summary>
    public static PatchMap[] Heads(VitConfig config, ReadOnlySpan<float> attention, int layer)
    {
        ArgumentNullException.ThrowIfNull(config);
        var maps = new PatchMap[config.Heads];
        for (int h = 0; h < maps.Length; h++) maps[h] = Head(config, attention, layer, h);
        return maps;
    }

    /// <summary>The output's row of a (tokens × tokens) matrix, restricted to the patch columns.</summary>
    private static PatchMap OutputRow(VitConfig config, double[] matrix)
    {
        int n = config.Tokens, first = config.HasClassToken ? 1 : 0, patches = config.PatchCount;
        double[] values = new double[patches];
        if (config.HasClassToken)
        {
            Array.Copy(matrix, first, values, 0, patches);
        }
        else
        {
            for (int i = 0; i < n; i++)
                for (int j = 0; j < patches; j++) values[j] += matrix[i * n + j];
            for (int j = 0; j < patches; j++) values[j] /= n;
        }
        return new PatchMap(config.GridSize, config.GridSize, values);
    }

    internal static void CheckImage(VitConfig config, ReadOnlySpan<float> attention)
    {
        ArgumentNullException.ThrowIfNull(config);
        int expected = FloatsPerImage(config);
        if (attention.Length != expected)
            throw new ArgumentException($"One image's attention is layers × heads × tokens² = {config.Layers} × {config.Heads} × {config.Tokens}² = " +
                                        $"{expected:N0} floats; got {attention.Length:N0}. Slice the batch's capture per image.", nameof(attention));
    }
}
