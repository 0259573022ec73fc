using System.ComponentModel;
using System.Numerics;

namespace ViTCompiler.Infrastructure;

/// <summary>The data movement around the encoder: patches in, tokens assembled, pooled vector out, and their backward.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class TokenOps
{
    /// <summary>
    /// Cuts NCHW images into patches: (B, C, S, S) -> (B·G², C·P·P), a patch flattened (channel, row, column) to match
    /// the projection weight's (D, C, P, P) layout, patches in row-major grid order.
    /// </summary>
    public static void ExtractPatches(float* pixels, int batch, int channels, int imageSize, int patch, float* patches)
    {
        int grid = imageSize / patch, patchDim = channels * patch * patch;
        for (int b = 0; b < batch; b++)
            for (int gy = 0; gy < grid; gy++)
                for (int gx = 0; gx < grid; gx++)
                {
                    float* dst = patches + ((long)(b * grid + gy) * grid + gx) * patchDim;
                    for (int c = 0; c < channels; c++)
                        for (int py = 0; py < patch; py++)
                        {
                            float* src = pixels + (((long)b * channels + c) * imageSize + gy * patch + py) * imageSize + gx * patch;
                            new ReadOnlySpan<float>(src, patch).CopyTo(new Span<float>(dst + (c * patch + py) * patch, patch));
                        }
                }
    }

    /// <summary>x[b] = [cls; embedded[b]] + pos: (B·G², D) -> (B·N, D). <paramref name="classToken"/> null for mean pooling.</summary>
    public static void AssembleTokens(float* embedded, float* classToken, float* positions, float* x, int batch, int tokens, int hidden)
    {
        int first = classToken != null ? 1 : 0, patches = tokens - first;
        for (int b = 0; b < batch; b++)
        {
            float* image = x + (long)b * tokens * hidden;
            if (first == 1) Add(classToken, positions, image, hidden);
            for (int t = 0; t < patches; t++)
                Add(embedded + ((long)b * patches + t) * hidden, positions + (long)(first + t) * hidden, image + (long)(first + t) * hidden, hidden);
        }
    }

    /// <summary>
    /// Backward of <see cref="AssembleTokens"/>: dpos += Σ_b dx[b], dcls += Σ_b dx[b, 0], dembedded = dx[:, first:].
    /// </summary>
    public static void AssembleTokensBackward(float* dx, float* dclassToken, float* dpositions, float* dembedded, int batch, int tokens, int hidden)
    {
        int first = dclassToken != null ? 1 : 0, patches = tokens - first;
        for (int b = 0; b < batch; b++)
        {
            float* image = dx + (long)b * tokens * hidden;
            Add(dpositions, image, dpositions, tokens * hidden);
            if (first == 1) Add(dclassToken, image, dclassToken, hidden);
            new ReadOnlySpan<float>(image + first * hidden, patches * hidden).CopyTo(new Span<float>(dembedded + (long)b * patches * hidden, patches * hidden));
        }
    }

    /// <summary>(B·N, D) -> (B, D): the [class] token's row, or the mean over tokens.</summary>
    public static void Pool(float* y, float* pooled, int batch, int tokens, int hidden, bool classToken)
    {
        for (int b = 0; b < batch; b++)
        {
            float* image = y + (long)b * tokens * hidden, dst = pooled + (long)b * hidden;
            new ReadOnlySpan<float>(image, hidden).CopyTo(new Span<float>(dst, hidden));
            if (classToken) continue;
            for (int t = 1; t < tokens; t++) Add(dst, image + (long)t * hidden, dst, hidden);
            Scale(dst, 1f / tokens, hidden);
        }
    }

    /// <summary>Backward of <see cref="Pool"/>: dy = dpooled at the class token (zero elsewhere), or dpooled / N at every token.</summary>
    public static void PoolBackward(float* dpooled, float* dy, int batch, int tokens, int hidden, bool classToken)
    {
        new Span<float>(dy, batch * tokens * hidden).Clear();
        for (int b = 0; b < batch; b++)
        {
            float* image = dy + (long)b * tokens * hidden, src = dpooled + (long)b * hidden;
            if (classToken)
            {
                new ReadOnlySpan<float>(src, hidden).CopyTo(new Span<float>(image, hidden));
                continue;
            }
            for (int t = 0; t < tokens; t++)
            {
                new ReadOnlySpan<float>(src, hidden).CopyTo(new Span<float>(image + (long)t * hidden, hidden));
                Scale(image + (long)t * hidden, 1f / tokens, hidden);
            }
        }
    }

    private struct ColumnJob
    {
        public float* Source, Destination;
        public int Rows, Columns;
    }

    /// <summary>dst[c] += Σ_r src[r, c] (bias gradients), in parallel over columns so the row order of each sum is fixed.</summary>
    public static void ColumnSums(WorkerPool pool, int threads, float* source, int rows, int columns, float* destination)
    {
        var job = new ColumnJob { Source = source, Destination = destination, Rows = rows, Columns = columns };
        pool.RunRanges((columns + 63) / 64, threads, 1, &ColumnRange, &job);
    }

    private static void ColumnRange(void* context, int start, int end)
    {
        ColumnJob* j = (ColumnJob*)context;
        int c0 = start * 64, c1 = Math.Min(j->Columns, end * 64);
        for (int r = 0; r < j->Rows; r++)
            Add(j->Destination + c0, j->Source + (long)r * j->Columns + c0, j->Destination + c0, c1 - c0);
    }

    /// <summary>z[i] = x[i] + y[i]; z may alias x or y.</summary>
    /// <remarks>
    /// Hand-written rather than TensorPrimitives.Add: the calls here are short (a token row of D floats, a 64-float
    /// column strip in <see cref="ColumnSums"/>), where TensorPrimitives' fixed cost per call made it slower at 64
    /// floats and no faster at 192–768 (docs/PERFORMANCE.md, "TensorPrimitives").
    /// </remarks>
    public static void Add(float* x, float* y, float* z, int n)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                Vector.Store(Vector.Load(x + i) + Vector.Load(y + i), z + i);
        for (; i < n; i++) z[i] = x[i] + y[i];
    }

    /// <summary>x[i] *= s.</summary>
    /// <remarks>
    /// Hand-written rather than TensorPrimitives.Multiply, which was no faster on rows of 64 and 768 or on a 5M-float
    /// block (gradient clipping) (docs/PERFORMANCE.md, "TensorPrimitives").
    /// </remarks>
    public static void Scale(float* x, float s, int n)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> v = new(s);
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count) Vector.Store(Vector.Load(x + i) * v, x + i);
        }
        for (; i < n; i++) x[i] *= s;
    }

    /// <summary>dst[r] = src[r · srcStride] for <paramref name="rows"/> rows of <paramref name="width"/> (e.g. the [class] rows).</summary>
    public static void GatherRows(float* source, long sourceStride, float* destination, int rows, int width)
    {
        for (int r = 0; r < rows; r++)
            new ReadOnlySpan<float>(source + r * sourceStride, width).CopyTo(new Span<float>(destination + (long)r * width, width));
    }

    /// <summary>dst[r · dstStride] = src[r], the inverse of <see cref="GatherRows"/>.</summary>
    public static void ScatterRows(float* source, float* destination, long destinationStride, int rows, int width)
    {
        for (int r = 0; r < rows; r++)
            new ReadOnlySpan<float>(source + (long)r * width, width).CopyTo(new Span<float>(destination + r * destinationStride, width));
    }
}
