using System.Numerics;
using System.Runtime.CompilerServices;

namespace ViTCompiler;

/// <summary>
/// A small, fast, seedable generator (xoshiro256**) whose whole state is four integers, so training checkpoints can
/// save it and a resumed run draws exactly the numbers the uninterrupted one would have.
/// </summary>
public struct VitRandom
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Seeds the state by running splitmix64 over <paramref name="seed"/>, as the xoshiro authors recommend.</summary>
    public VitRandom(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    /// <summary>Restores a state saved with <see cref="GetState"/>.</summary>
    public static VitRandom FromState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 4) throw new ArgumentException("A VitRandom state is exactly 4 values.", nameof(state));
        if ((state[0] | state[1] | state[2] | state[3]) == 0) throw new ArgumentException("An all-zero VitRandom state is invalid.", nameof(state));
        return new VitRandom { _s0 = state[0], _s1 = state[1], _s2 = state[2], _s3 = state[3] };
    }

    /// <summary>Writes the four state words to <paramref name="state"/>.</summary>
    public readonly void GetState(Span<ulong> state)
    {
        state[0] = _s0; state[1] = _s1; state[2] = _s2; state[3] = _s3;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, 1) with 24 random bits.</summary>
    public float NextSingle() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>Uniform integer in [0, <paramref name="bound"/>), without modulo bias (Lemire's method).</summary>
    public int NextInt(int bound)
    {
        if (bound <= 0) throw new ArgumentOutOfRangeException(nameof(bound), bound, "The bound must be positive.");
        ulong m = (ulong)(uint)(NextUInt64() >> 32) * (uint)bound;
        uint low = (uint)m;
        if (low < (uint)bound)
        {
            uint threshold = (uint)-bound % (uint)bound;
            while (low < threshold)
            {
                m = (ulong)(uint)(NextUInt64() >> 32) * (uint)bound;
                low = (uint)m;
            }
        }
        return (int)(m >> 32);
    }

    /// <summary>Standard normal, by the Box–Muller transform (one of the pair is discarded to keep the state simple).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(); // (0, 1]: log is finite
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Normal truncated to ±2 standard deviations by rejection (timm's trunc_normal_ with its default bounds).</summary>
    public double NextTruncatedGaussian()
    {
        while (true)
        {
            double g = NextGaussian();
            if (g >= -2.0 && g <= 2.0) return g;
        }
    }
}
