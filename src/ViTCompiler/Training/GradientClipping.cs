using System.Numerics;
using System.Runtime.InteropServices;
using ViTCompiler.Infrastructure;

namespace ViTCompiler.Training;

/// <summary>
/// Clipping at a global norm (the paper clips at 1): the whole gradient block is treated as one vector, and when its
/// Euclidean norm exceeds the limit every element is scaled by limit / norm, so the direction is kept.
/// </summary>
public static class GradientClipping
{
    /// <summary>The paper's limit: 1.</summary>
    public const float DefaultMaxNorm = 1f;

    /// <summary>
    /// ‖<paramref name="values"/>‖₂, summed in double precision in a fixed order (so the same block always gives the same
    /// number). NaN when an element is NaN, +∞ when one is infinite or the sum overflows.
    /// </summary>
    public static double GlobalNorm(ReadOnlySpan<float> values)
    {
        ref float x0 = ref MemoryMarshal.GetReference(values);
        nuint n = (nuint)values.Length, i = 0;
        double sum = 0;
        if (Vector.IsHardwareAccelerated && n >= (nuint)Vector<float>.Count)
        {
            // Squares in double: a float accumulator over millions of elements would lose the small ones. That rules out
            // TensorPrimitives.Norm (float: 2e-3 relative error over 86M gradients of mixed scales), and widening chunks
            // to double for TensorPrimitives.SumOfSquares was several times slower (docs/PERFORMANCE.md, "TensorPrimitives").
            Vector<double> low = Vector<double>.Zero, high = Vector<double>.Zero;
            nuint last = n - (nuint)Vector<float>.Count;
            for (; i <= last; i += (nuint)Vector<float>.Count)
            {
                Vector.Widen(Vector.LoadUnsafe(ref x0, i), out Vector<double> a, out Vector<double> b);
                low += a * a;
                high += b * b;
            }
            sum = Vector.Sum(low + high);
        }
        for (; i < n; i++)
        {
            double x = values[(int)i];
            sum += x * x;
        }
        return Math.Sqrt(sum);
    }

    /// <summary>
    /// Scales <paramref name="gradients"/> so that its global norm is at most <paramref name="maxNorm"/>, and returns the
    /// norm it had before. A non-finite norm leaves the block untouched (the caller decides what divergence means).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not a positive finite number.</exception>
    public static double ClipByGlobalNorm(Span<float> gradients, float maxNorm = DefaultMaxNorm)
    {
        if (!(maxNorm > 0) || !float.IsFinite(maxNorm))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "The clipping norm must be a positive finite number.");
        double norm = GlobalNorm(gradients);
        if (double.IsFinite(norm) && norm > maxNorm) Scale(gradients, (float)(maxNorm / norm));
        return norm;
    }

    // TokenOps.Scale says why this is not TensorPrimitives.Multiply.
    private static unsafe void Scale(Span<float> values, float factor)
    {
        fixed (float* x = values) TokenOps.Scale(x, factor, values.Length);
    }
}
