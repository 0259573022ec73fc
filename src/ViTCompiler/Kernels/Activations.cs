using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace ViTCompiler.Infrastructure;

/// <summary>
/// GELU in the paper's exact (erf) form and its derivative. Element-wise and memory-bound, so these use
/// <see cref="Vector{T}"/> (the widest vector the JIT will use on the machine: 256-bit on x64, 128-bit NEON on arm64,
/// scalar when hardware intrinsics are off) rather than a hand-written path per width like the GEMM kernels.
/// TensorPrimitives has no erf; composing this GELU from its calls takes 17 passes (and still lacks the sign select that
/// keeps the negative tail accurate), which is no faster on whole 3,072-wide rows and several times slower on the
/// 32-float tile rows the GEMM epilogue hands over (docs/PERFORMANCE.md, "TensorPrimitives").
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class Activations
{
    // erf by Abramowitz & Stegun 7.1.26: erf(z) = 1 − t·(a1 + t·(a2 + …)) · e^(−z²), t = 1/(1 + p·z), z ≥ 0,
    // absolute error ≤ 1.5e-7, which is float precision. Writing Φ through q = t·poly·e^(−z²) directly,
    // Φ = 1 − q/2 for z ≥ 0 and q/2 for z < 0, avoids 1 + erf cancelling in the negative tail.
    private const float P = 0.3275911f, A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f, A5 = 1.061405429f;
    private const float InvSqrt2 = 0.70710678118654752f, InvSqrt2Pi = 0.39894228040143268f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Q(Vector<float> az, Vector<float> expNegZ2)
    {
        Vector<float> one = Vector<float>.One;
        Vector<float> t = one / (one + new Vector<float>(P) * az);
        Vector<float> poly = new Vector<float>(A5);
        poly = poly * t + new Vector<float>(A4);
        poly = poly * t + new Vector<float>(A3);
        poly = poly * t + new Vector<float>(A2);
        poly = poly * t + new Vector<float>(A1);
        return poly * t * expNegZ2;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Q(float az, float expNegZ2)
    {
        float t = 1f / (1f + P * az);
        return ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t * expNegZ2;
    }

    /// <summary>Φ(x), the standard normal CDF, to about 1e-7.</summary>
    public static float NormalCdf(float x)
    {
        float z = x * InvSqrt2;
        float q = Q(MathF.Abs(z), MathF.Exp(-z * z));
        return z >= 0 ? 1f - 0.5f * q : 0.5f * q;
    }

    /// <summary>output[i] = GELU(input[i]) = input[i] · Φ(input[i]); input and output may be the same.</summary>
    public static void Gelu(float* input, float* output, int count)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> half = new(0.5f), one = Vector<float>.One;
            for (; i <= count - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector<float> x = Vector.Load(input + i);
                Vector<float> z = x * new Vector<float>(InvSqrt2);
                Vector<float> q = Q(Vector.Abs(z), Vector.Exp(-(z * z)));
                Vector<float> cdf = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(z, Vector<float>.Zero), one - half * q, half * q);
                Vector.Store(x * cdf, output + i);
            }
        }
        for (; i < count; i++) output[i] = input[i] * NormalCdf(input[i]);
    }

    /// <summary>dx[i] (+)= dy[i] · GELU′(x[i]) with GELU′(x) = Φ(x) + x·φ(x).</summary>
    public static void GeluBackward(float* x, float* dy, float* dx, int count, bool accumulate)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> half = new(0.5f), one = Vector<float>.One;
            for (; i <= count - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector<float> v = Vector.Load(x + i);
                Vector<float> z = v * new Vector<float>(InvSqrt2);
                Vector<float> e = Vector.Exp(-(z * z));
                Vector<float> q = Q(Vector.Abs(z), e);
                Vector<float> cdf = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(z, Vector<float>.Zero), one - half * q, half * q);
                Vector<float> grad = Vector.Load(dy + i) * (cdf + v * e * new Vector<float>(InvSqrt2Pi));
                if (accumulate) grad += Vector.Load(dx + i);
                Vector.Store(grad, dx + i);
            }
        }
        for (; i < count; i++)
        {
            float v = x[i], z = v * InvSqrt2, e = MathF.Exp(-z * z);
            float q = Q(MathF.Abs(z), e);
            float cdf = z >= 0 ? 1f - 0.5f * q : 0.5f * q;
            float grad = dy[i] * (cdf + v * e * InvSqrt2Pi);
            dx[i] = accumulate ? dx[i] + grad : grad;
        }
    }

    private struct BackwardJob
    {
        public float* X, Dy, Dx;
    }

    /// <summary>dx = dy · GELU′(x) over <paramref name="count"/> elements, in parallel; dx may alias dy.</summary>
    public static void GeluBackward(WorkerPool pool, int threads, float* x, float* dy, float* dx, long count)
    {
        var job = new BackwardJob { X = x, Dy = dy, Dx = dx };
        pool.RunRanges(checked((int)count), threads, 8192, &GeluBackwardRange, &job);
    }

    private static void GeluBackwardRange(void* context, int start, int end)
    {
        BackwardJob* j = (BackwardJob*)context;
        GeluBackward(j->X + start, j->Dy + start, j->Dx + start, end - start, accumulate: false);
    }
}
