using System.ComponentModel;
using System.Numerics;

namespace ViTCompiler.Infrastructure;

/// <summary>Row softmax, max-subtracted so no exponent overflows, and its backward.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class Softmax
{
    /// <summary>Replaces the row by softmax(scale · row) (scale &gt; 0).</summary>
    public static void Row(float* row, int n, float scale = 1f)
    {
        int i = 0;
        float max = float.NegativeInfinity;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            Vector<float> m = new(float.NegativeInfinity);
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count) m = Vector.Max(m, Vector.Load(row + i));
            for (int k = 0; k < Vector<float>.Count; k++) max = MathF.Max(max, m[k]);
        }
        for (; i < n; i++) max = MathF.Max(max, row[i]);

        // exp(scale·x − scale·max): the largest exponent is 0 because scale is positive.
        float sum = 0;
        i = 0;
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
    public static void BackwardRow(float* p, float* dp, int n, float scale)
    {
        int i = 0;
        float dot = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> acc = Vector<float>.Zero;
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count) acc += Vector.Load(p + i) * Vector.Load(dp + i);
            dot = Vector.Sum(acc);
        }
        for (; i < n; i++) dot += p[i] * dp[i];
        i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> vd = new(dot), vs = new(scale);
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
                Vector.Store(Vector.Load(p + i) * (Vector.Load(dp + i) - vd) * vs, dp + i);
        }
        for (; i < n; i++) dp[i] = p[i] * (dp[i] - dot) * scale;
    }
}
