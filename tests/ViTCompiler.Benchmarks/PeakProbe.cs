using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ViTCompiler.Benchmarks;

/// <summary>
/// Measures this machine's fp32 fused multiply-add peak: each thread runs twelve independent FMA chains (enough to
/// cover FMA latency × throughput on current cores) on the widest accelerated vector, entirely in registers.
/// </summary>
public static class PeakProbe
{
    private const int Iterations = 20_000_000;

    /// <summary>GFLOP/s (2 per lane per FMA) on <paramref name="threads"/> threads, best of three runs.</summary>
    public static double Measure(int threads)
    {
        double best = 0;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            var workers = new Thread[threads];
            long start = 0;
            using var ready = new Barrier(threads + 1);
            for (int t = 0; t < threads; t++)
            {
                workers[t] = new Thread(() => { ready.SignalAndWait(); Sink(Run()); });
                workers[t].Start();
            }
            ready.SignalAndWait();
            start = Stopwatch.GetTimestamp();
            foreach (Thread w in workers) w.Join();
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            best = Math.Max(best, threads * 12.0 * Lanes * 2 * Iterations / seconds / 1e9);
        }
        return best;
    }

    public static int Lanes => Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : Vector128.IsHardwareAccelerated ? 4 : 1;

    public static string Isa => Vector512.IsHardwareAccelerated ? "Vector512" : Vector256.IsHardwareAccelerated ? "Vector256" : Vector128.IsHardwareAccelerated ? "Vector128" : "scalar";

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Sink(float value) { if (value == 12345.678f) Console.Write(""); }

    private static float Run() =>
        Vector512.IsHardwareAccelerated ? Run512() : Vector256.IsHardwareAccelerated ? Run256() : Run128();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Run512()
    {
        var a = Vector512.Create(0.999999f);
        var b = Vector512.Create(1e-7f);
        Vector512<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (int i = 0; i < Iterations; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, a, b); c1 = Vector512.FusedMultiplyAdd(c1, a, b); c2 = Vector512.FusedMultiplyAdd(c2, a, b);
            c3 = Vector512.FusedMultiplyAdd(c3, a, b); c4 = Vector512.FusedMultiplyAdd(c4, a, b); c5 = Vector512.FusedMultiplyAdd(c5, a, b);
            c6 = Vector512.FusedMultiplyAdd(c6, a, b); c7 = Vector512.FusedMultiplyAdd(c7, a, b); c8 = Vector512.FusedMultiplyAdd(c8, a, b);
            c9 = Vector512.FusedMultiplyAdd(c9, a, b); c10 = Vector512.FusedMultiplyAdd(c10, a, b); c11 = Vector512.FusedMultiplyAdd(c11, a, b);
        }
        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Run256()
    {
        var a = Vector256.Create(0.999999f);
        var b = Vector256.Create(1e-7f);
        Vector256<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (int i = 0; i < Iterations; i++)
        {
            c0 = Vector256.FusedMultiplyAdd(c0, a, b); c1 = Vector256.FusedMultiplyAdd(c1, a, b); c2 = Vector256.FusedMultiplyAdd(c2, a, b);
            c3 = Vector256.FusedMultiplyAdd(c3, a, b); c4 = Vector256.FusedMultiplyAdd(c4, a, b); c5 = Vector256.FusedMultiplyAdd(c5, a, b);
            c6 = Vector256.FusedMultiplyAdd(c6, a, b); c7 = Vector256.FusedMultiplyAdd(c7, a, b); c8 = Vector256.FusedMultiplyAdd(c8, a, b);
            c9 = Vector256.FusedMultiplyAdd(c9, a, b); c10 = Vector256.FusedMultiplyAdd(c10, a, b); c11 = Vector256.FusedMultiplyAdd(c11, a, b);
        }
        return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Run128()
    {
        var a = Vector128.Create(0.999999f);
        var b = Vector128.Create(1e-7f);
        Vector128<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (int i = 0; i < Iterations; i++)
        {
            c0 = Vector128.MultiplyAddEstimate(c0, a, b); c1 = Vector128.MultiplyAddEstimate(c1, a, b); c2 = Vector128.MultiplyAddEstimate(c2, a, b);
            c3 = Vector128.MultiplyAddEstimate(c3, a, b); c4 = Vector128.MultiplyAddEstimate(c4, a, b); c5 = Vector128.MultiplyAddEstimate(c5, a, b);
            c6 = Vector128.MultiplyAddEstimate(c6, a, b); c7 = Vector128.MultiplyAddEstimate(c7, a, b); c8 = Vector128.MultiplyAddEstimate(c8, a, b);
            c9 = Vector128.MultiplyAddEstimate(c9, a, b); c10 = Vector128.MultiplyAddEstimate(c10, a, b); c11 = Vector128.MultiplyAddEstimate(c11, a, b);
        }
        return Vector128.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }
}
