using System.ComponentModel;
using System.Numerics;
using System.Numerics.Tensors;

namespace ViTCompiler.Infrastructure;

/// <summary>Row softmax, max-subtracted so no exponent overflows, and its backward.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class Softmax
{
    /// <summary>Replaces the row by softmax(scale · row) (scale &gt; 0).</summary>
    /// <remarks>
    /// The maximum is TensorPrimitives.Max, which measured a tie with the loop it replaced. The exponentials and their
    /// sum stay one fused pass: as TensorPrimitives calls (subtract, multiply, exp, sum, multiply) the row takes five passes
    /// after the maximum and was slower on rows of 50 and 197 (docs/PERFORMANCE.md, "TensorPrimitives").
    /// </remarks>
    public static void Row(float* row, int n, float scale = 1f)
    {
        float max = TensorPrimitives.Max(new ReadOnlySpan<float>(row, n));
        ExpNormalize(row, n, max, scale);
    }

    /// <summary>row[i] = exp((row[i] − max)·scale) / Σ_j exp((row[j] − max)·scale): one fused exp-and-sum pass, then the scaling.</summary>
    internal static void ExpNormalize(float* row, int n, float max, float scale)
    {
        // exp(scale·x − scale·max): the largest exponent is 0 because scale is positive.
        float sum = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> s = Vector<float>.Zero, vmax = new(max), vscale = new(scale);
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector<float> e = Vector.Exp((Vector.Load(row + i) - vmax) * vscale);
                s += e;
                Vector.Store(e, row + i);
            }
            sum = Vector.Sum(s);
        }
        for (; i < n; i++)
        {
            float e = MathF.Exp((row[i] - max) * scale);
            sum += e;
            row[i] = e;
        }

        float inv = 1f / sum;
        i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> v = new(inv);
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count) Vector.Store(Vector.Load(row + i) * v, row + i);
        }
        for (; i < n; i++) row[i] *= inv;
    }

    /// <summary>
    /// Backward of a softmax row p: ds = p ⊙ (dp − Σ dp ⊙ p), multiplied by <paramref name="scale"/>; written over dp.
    /// </summary>
    /// <remarks>
    /// Two hand-written passes: TensorPrimitives.Dot for the first, or the whole row as TensorPrimitives calls, was
    /// slower on rows of 50 and 197, whose length does not repay its fixed cost per call (docs/PERFORMANCE.md, "TensorPrimitives").
    /// </remarks>
    public static void BackwardRow(float* p, float* dp, int n, float scale)
    {
        float dot = Dot(p, dp, n);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> vd = new(dot), vs = new(scale);
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                Vector.Store(Vector.Load(p + i) * (Vector.Load(dp + i) - vd) * vs, dp + i);
        }
        for (; i < n; i++) dp[i] = p[i] * (dp[i] - dot) * scale;
    }

    /// <summary>Σ x[i]·y[i] in one vector accumulator (rows of tens to hundreds, where TensorPrimitives.Dot's fixed cost shows).</summary>
    internal static float Dot(float* x, float* y, int n)
    {
        float sum = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> acc = Vector<float>.Zero;
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count) acc += Vector.Load(x + i) * Vector.Load(y + i);
            sum = Vector.Sum(acc);
        }
        for (; i < n; i++) sum += x[i] * y[i];
        return sum;
    }
}
