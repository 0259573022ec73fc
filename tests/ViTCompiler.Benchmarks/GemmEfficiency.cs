using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using ViTCompiler;
using ViTCompiler.Infrastructure;

/// <summary>
/// The GEMM driver on a model's products against its micro-kernel alone (issue 9: "GEMM inside the model within 10 % of
/// the isolated micro-kernel's throughput"). The micro-kernel runs with A (MR × kc) and one B panel (kc × NR) in L1,
/// one thread, again and again into the same C tile: the most it can do. The driver runs ViT-B/16's four weight
/// products at batch 1 (197 rows) with the weights packed as the model packs them, on the given threads; each row is
/// GFLOP/s per thread, and the ratio to the isolated kernel.
/// Run: dotnet run -c Release --project tests/ViTCompiler.Benchmarks -- gemm [--threads T] [--runs N]
/// </summary>
public static unsafe class GemmEfficiency
{
    public static int Run(string[] args)
    {
        int threads = Option(args, "--threads", Environment.ProcessorCount), runs = Option(args, "--runs", 15);
        // The kernels are private structs of each generated model; ViT-B/16's 6×16 (or 12×32) tile is the one its
        // products use. A generic helper instantiated by reflection reaches it without naming it.
        Type model = typeof(ViTCompiler.Benchmarks.VitBase16);
        string tile = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "Tile12x32V512"
            : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "Tile6x16V256" : "Tile6x8V128";
        Type kernel = model.GetNestedType(tile, BindingFlags.NonPublic) ?? throw new InvalidOperationException($"{model.Name} has no {tile}");
        typeof(GemmEfficiency).GetMethod(nameof(Measure), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(kernel).Invoke(null, [model, tile, threads, runs]);
        return 0;
    }

    private static void Measure<TKernel>(Type model, string tile, int threads, int runs) where TKernel : IGemmKernel
    {
        int mr = TKernel.MR, nr = TKernel.NR, kc = 384;
        float* a = (float*)NativeMemory.AlignedAlloc((nuint)(mr * kc * 4), 64), b = (float*)NativeMemory.AlignedAlloc((nuint)(kc * nr * 4), 64);
        float* c = (float*)NativeMemory.AlignedAlloc((nuint)(mr * nr * 4), 64);
        for (int i = 0; i < mr * kc; i++) a[i] = 1e-3f * (i % 97);
        for (int i = 0; i < kc * nr; i++) b[i] = 1e-3f * (i % 89);
        // Isolated: A k-major (aRowStride 1, aColStride MR), as the driver hands edge tiles, both operands in L1.
        const int calls = 200_000;
        double best = 0;
        for (int r = 0; r < 5; r++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < calls; i++) TKernel.Run(kc, a, 1, mr, b, c, nr, null, true, mr, nr);
            best = Math.Max(best, 2.0 * mr * nr * kc * calls / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9);
        }
        Console.WriteLine($"micro-kernel {tile} ({mr}×{nr}), kc {kc}, operands in L1, 1 thread: {best:F1} GFLOP/s (best of 5)");

        // ViT-B/16 batch 1: rows 197, (N, K) of qkv, proj, fc1, fc2.
        // (name, N, K, A's row stride): the model reads A in place with a row stride of K; the last row is fc2 with its
        // A rows 16 floats further apart, to tell a row stride that is a multiple of 4 KiB (3,072 floats) from the K.
        (string Name, int N, int K, int Lda)[] products = [("Qkv", 2304, 768, 768), ("Proj", 768, 768, 768), ("Fc1", 3072, 768, 768), ("Fc2", 768, 3072, 3072), ("Fc2", 768, 3072, 3088)];
        Type blockKs = model.GetNestedType("BlockK", BindingFlags.NonPublic)!;
        const int m = 197;
        Console.WriteLine($"driver, ViT-B/16 batch 1 shapes, {threads} thread(s), medians of {runs}:");
        foreach ((string name, int n, int k, int lda) in products)
        {
            int blockK = (int)blockKs.GetField(name)!.GetRawConstantValue()!; // the K block the model's planner chose
            float* x = (float*)NativeMemory.AlignedAlloc((nuint)((long)m * lda * 4), 64), w = (float*)NativeMemory.AlignedAlloc((nuint)((long)n * k * 4), 64);
            float* y = (float*)NativeMemory.AlignedAlloc((nuint)((long)m * n * 4), 64);
            float* packed = (float*)NativeMemory.AlignedAlloc((nuint)(Gemm.PackedSize<TKernel>(n, k) * 4), 64);
            long scratchFloats = Gemm.ScratchFloats<TKernel>(blockK) * threads;
            float* scratch = (float*)NativeMemory.AlignedAlloc((nuint)(scratchFloats * 4), 64);
            for (long i = 0; i < (long)m * lda; i++) x[i] = 1e-3f * (i % 101);
            for (long i = 0; i < (long)n * k; i++) w[i] = 1e-3f * (i % 103);
            Gemm.PackB<TKernel>(packed, w, 1, k, n, k, blockK); // B = Wᵀ, as the model packs its weights
            var times = new List<double>();
            for (int r = 0; r < runs + 3; r++)
            {
                var p = GemmProblem.Create(m, n, k, blockK, x, lda, y, n);
                p.BPacked = packed;
                long start = Stopwatch.GetTimestamp();
                Gemm.Run<TKernel>(ref p, WorkerPool.Shared, threads, scratch, (nint)Gemm.ScratchFloats<TKernel>(blockK));
                if (r >= 3) times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
            times.Sort();
            double perThread = 2.0 * m * n * k / times[times.Count / 2] / 1e9 / Math.Min(threads, WorkerPool.Shared.MaxThreads);
            Console.WriteLine($"  {name,-5} {m} × {n} × {k}, A row stride {lda,4}: {perThread:F1} GFLOP/s per thread = {perThread / best:P0} of the isolated kernel");
            NativeMemory.AlignedFree(x); NativeMemory.AlignedFree(w); NativeMemory.AlignedFree(y); NativeMemory.AlignedFree(packed); NativeMemory.AlignedFree(scratch);
        }
        NativeMemory.AlignedFree(a); NativeMemory.AlignedFree(b); NativeMemory.AlignedFree(c);
    }

    private static int Option(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out int v) ? v : fallback;
    }
}
