namespace ViTCompiler.IO;

/// <summary>How <see cref="PositionEmbedding"/> interpolates the patch-position grid.</summary>
public enum PositionInterpolation
{
    /// <summary>2×2 neighbours, linear weights (PyTorch <c>mode="bilinear"</c>).</summary>
    Bilinear,
    /// <summary>4×4 neighbours, cubic convolution with a = −0.75 (PyTorch <c>mode="bicubic"</c>; timm's choice).</summary>
    Bicubic,
}

/// <summary>
/// Fine-tuning at a higher resolution (paper §3.2): the patch size stays, so the sequence grows and the learned position
/// embeddings are interpolated in 2D over the patch grid, according to their location in the image. Prefix tokens
/// (the [class] token's embedding) are not on the grid and are copied unchanged.
/// </summary>
/// <remarks>
/// Matches <c>torch.nn.functional.interpolate(..., align_corners=False)</c> without antialiasing: output cell
/// <c>i</c> samples the input at <c>(i + 0.5) · in/out − 0.5</c>. Bilinear clamps that coordinate to the first cell
/// (as PyTorch does); bicubic clamps each of its four taps to the grid. Arithmetic is in double precision, so resizing
/// to the same grid returns the input exactly.
/// </remarks>
public static class PositionEmbedding
{
    /// <summary>
    /// Resizes a (prefix + sourceRows·sourceCols, hidden) table of embeddings into a (prefix + rows·cols, hidden) one.
    /// Patch tokens are row-major over the grid (row = image row of patches), as every ViT lays them out.
    /// </summary>
    public static void Resize(ReadOnlySpan<float> source, int sourceRows, int sourceCols, Span<float> destination, int rows, int cols,
        int hidden, int prefixTokens, PositionInterpolation mode)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceRows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceCols);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden);
        ArgumentOutOfRangeException.ThrowIfNegative(prefixTokens);
        if (mode is not (PositionInterpolation.Bilinear or PositionInterpolation.Bicubic)) throw new ArgumentOutOfRangeException(nameof(mode));
        long sourceCount = ((long)prefixTokens + (long)sourceRows * sourceCols) * hidden;
        long destinationCount = ((long)prefixTokens + (long)rows * cols) * hidden;
        if (source.Length != sourceCount)
            throw new ArgumentException($"The source holds {source.Length:N0} floats; {prefixTokens} + {sourceRows}×{sourceCols} tokens of width {hidden} need {sourceCount:N0}.", nameof(source));
        if (destination.Length != destinationCount)
            throw new ArgumentException($"The destination holds {destination.Length:N0} floats; {prefixTokens} + {rows}×{cols} tokens of width {hidden} need {destinationCount:N0}.", nameof(destination));

        source[..(prefixTokens * hidden)].CopyTo(destination);
        ReadOnlySpan<float> grid = source[(prefixTokens * hidden)..];
        Span<float> output = destination[(prefixTokens * hidden)..];
        Taps[] rowTaps = Weights(sourceRows, rows, mode), colTaps = Weights(sourceCols, cols, mode);
        double[] sum = new double[hidden];
        for (int y = 0; y < rows; y++)
        {
            Taps ty = rowTaps[y];
            for (int x = 0; x < cols; x++)
            {
                Taps tx = colTaps[x];
                Array.Clear(sum);
                for (int i = 0; i < ty.Index.Length; i++)
                for (int j = 0; j < tx.Index.Length; j++)
                {
                    double w = ty.Weight[i] * tx.Weight[j];
                    if (w == 0) continue;
                    ReadOnlySpan<float> cell = grid.Slice((ty.Index[i] * sourceCols + tx.Index[j]) * hidden, hidden);
                    for (int e = 0; e < hidden; e++) sum[e] += w * cell[e];
                }
                Span<float> target = output.Slice((y * cols + x) * hidden, hidden);
                for (int e = 0; e < hidden; e++) target[e] = (float)sum[e];
            }
        }
    }

    /// <summary>
    /// Resizes a square-grid table: <paramref name="source"/> holds prefix + g² tokens of width
    /// <paramref name="hidden"/>; the result holds prefix + <paramref name="grid"/>² tokens.
    /// </summary>
    public static float[] Resize(ReadOnlySpan<float> source, int hidden, int prefixTokens, int grid, PositionInterpolation mode)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden);
        if (source.Length % hidden != 0) throw new ArgumentException($"The source ({source.Length:N0} floats) is not a whole number of tokens of width {hidden}.", nameof(source));
        int sourceGrid = GridSide(source.Length / hidden, prefixTokens)
            ?? throw new ArgumentException($"{source.Length / hidden} tokens minus {prefixTokens} prefix token(s) is not a square grid.", nameof(source));
        float[] result = new float[checked((prefixTokens + grid * grid) * hidden)];
        Resize(source, sourceGrid, sourceGrid, result, grid, grid, hidden, prefixTokens, mode);
        return result;
    }

    /// <summary>The side of the square grid that <paramref name="tokens"/> − <paramref name="prefixTokens"/> patches form, or null.</summary>
    public static int? GridSide(long tokens, int prefixTokens)
    {
        long patches = tokens - prefixTokens;
        if (patches <= 0) return null;
        long side = (long)Math.Round(Math.Sqrt(patches));
        return side * side == patches && side <= int.MaxValue ? (int)side : null;
    }

    private readonly record struct Taps(int[] Index, double[] Weight);

    private static Taps[] Weights(int inSize, int outSize, PositionInterpolation mode)
    {
        double scale = (double)inSize / outSize;
        var taps = new Taps[outSize];
        for (int o = 0; o < outSize; o++)
        {
            double real = (o + 0.5) * scale - 0.5;
            if (mode == PositionInterpolation.Bilinear)
            {
                if (real < 0) real = 0;
                int i0 = Math.Min((int)real, inSize - 1);
                int i1 = Math.Min(i0 + 1, inSize - 1);
                double t = real - i0;
                taps[o] = new Taps([i0, i1], [1 - t, t]);
            }
            else
            {
                int i0 = (int)Math.Floor(real);
                double t = real - i0;
                const double A = -0.75;
                double[] w =
                [
                    Far(t + 1, A), Near(t, A), Near(1 - t, A), Far(2 - t, A),
                ];
                int[] index = new int[4];
                for (int k = 0; k < 4; k++) index[k] = Math.Clamp(i0 - 1 + k, 0, inSize - 1);
                taps[o] = new Taps(index, w);
            }
        }
        return taps;
    }

    // Keys' cubic convolution kernel: |x| ≤ 1 and 1 < |x| < 2.
    private static double Near(double x, double a) => ((a + 2) * x - (a + 3)) * x * x + 1;
    private static double Far(double x, double a) => ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}
