using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ViTCompiler.Infrastructure;

/// <summary>What a GEMM does to each finished tile of C before it leaves the cache.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public enum GemmEpilogue
{
    /// <summary>Nothing.</summary>
    None,
    /// <summary>C = GELU(C), in place (inference: fc1 + GELU in one pass).</summary>
    Gelu,
    /// <summary>Keeps C and writes GELU(C) to a second matrix (training: the backward pass needs both).</summary>
    GeluTo,
}

/// <summary>
/// One product C (M × N) (+)= A (M × K) · B (K × N), every operand described by a pointer and two strides so that
/// transposed operands (Wᵀ, dYᵀ, Kᵀ) cost nothing but a different packing order.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public unsafe struct GemmProblem
{
    public int M, N, K;
    /// <summary>K block: how many k the micro-kernel runs before C is written back (chosen by the generator, ≤ 512).</summary>
    public int BlockK;
    /// <summary>A[i, k] = A[i·ARowStride + k·AColStride].</summary>
    public float* A;
    public nint ARowStride, AColStride;
    /// <summary>B[k, j] = B[k·BRowStride + j·BColStride]; ignored when <see cref="BPacked"/> is set.</summary>
    public float* B;
    public nint BRowStride, BColStride;
    /// <summary>B already packed by <see cref="Gemm.PackB{TKernel}"/> with the same BlockK, or null.</summary>
    public float* BPacked;
    /// <summary>
    /// Room (<see cref="SharedPackFloats"/> floats) where <see cref="Gemm.Run{TKernel}"/> may pack an unpacked B once for
    /// all work items, instead of each row block packing its own copy; null to always pack per item.
    /// </summary>
    public float* SharedPack;
    public long SharedPackFloats;
    /// <summary>C[i, j] = C[i·Ldc + j].</summary>
    public float* C;
    public nint Ldc;
    /// <summary>Per-column bias added once, or null.</summary>
    public float* Bias;
    /// <summary>Adds to C instead of overwriting it (residual connections, gradient accumulation).</summary>
    public bool Accumulate;
    public GemmEpilogue Epilogue;
    /// <summary>Destination of <see cref="GemmEpilogue.GeluTo"/>, with its row stride.</summary>
    public float* EpilogueOut;
    public nint EpilogueLd;

    /// <summary>A problem with row-major A (M × K, stride lda) and row-major C (stride ldc); set B and the rest after.</summary>
    public static GemmProblem Create(int m, int n, int k, int blockK, float* a, nint lda, float* c, nint ldc) => new()
    {
        M = m, N = n, K = k, BlockK = blockK, A = a, ARowStride = lda, AColStride = 1, C = c, Ldc = ldc,
    };
}

/// <summary>
/// The GEMM driver (Goto/BLIS loop order): for each block of rows and each chunk of NR-wide column panels, for each
/// K block, take the B panels (pre-packed weights, or packed here from any strides; each stays in L1 while every row
/// tile of the block streams past it) and call the micro-kernel per tile. A is read in place through its strides —
/// the rows of a block stay in L2 — except for the last, partial row tile, which is copied with zero padding. Work
/// items are (row block × column chunk) pairs, so every element of C is produced by exactly one item, in a fixed k
/// order: the result does not depend on the thread count.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class Gemm
{
    /// <summary>
    /// Largest row block: 256 rows × 384 k × 4 bytes = 384 KiB of A stays in a 512 KiB L2, and one image of ViT-B/16
    /// (197 tokens) is a single block, so each weight panel is streamed from memory once.
    /// </summary>
    public const int MaxBlockRows = 256;

    /// <summary>Widest column chunk whose B panels a work item packs itself (when B is not pre-packed).</summary>
    public const int MaxChunkColumns = 512;

    /// <summary>Column panels of width NR covering N columns.</summary>
    public static int Panels(int n, int nr) => (n + nr - 1) / nr;

    /// <summary>Floats <see cref="PackB{TKernel}"/> writes for a K × N matrix.</summary>
    public static long PackedSize<TKernel>(int n, int k) where TKernel : IGemmKernel => (long)Panels(n, TKernel.NR) * TKernel.NR * k;

    /// <summary>Per-thread scratch, in floats, that <see cref="Run{TKernel}"/> needs for this K block.</summary>
    public static long ScratchFloats<TKernel>(int blockK) where TKernel : IGemmKernel =>
        (long)TKernel.MR * blockK + (long)RoundUp(MaxChunkColumns, TKernel.NR) * blockK + 64;

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    /// <summary>
    /// Packs B[k, j] = b[k·rowStride + j·colStride] (K × N) into the panel order the driver streams: K blocks of
    /// <paramref name="blockK"/>, within each the NR-wide panels, within each panel k-major rows of NR (zero padded).
    /// Weights are packed like this once, when they change.
    /// </summary>
    public static void PackB<TKernel>(float* destination, float* b, nint rowStride, nint colStride, int n, int k, int blockK)
        where TKernel : IGemmKernel
    {
        int nr = TKernel.NR, panels = Panels(n, nr);
        for (int k0 = 0; k0 < k; k0 += blockK)
        {
            int kc = Math.Min(blockK, k - k0);
            for (int p = 0; p < panels; p++)
                PackBPanel(destination + (long)k0 * panels * nr + (long)p * kc * nr, b, rowStride, colStride, k0, kc, p * nr, Math.Min(nr, n - p * nr), nr);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackBPanel(float* dst, float* b, nint rowStride, nint colStride, int k0, int kc, int j0, int width, int nr)
    {
        if (colStride == 1 && width == nr)
        {
            // Row-major B: each k row of the panel is a contiguous run of NR floats.
            for (int k = 0; k < kc; k++)
                Unsafe.CopyBlockUnaligned(dst + (long)k * nr, b + (k0 + k) * rowStride + j0, (uint)(nr * sizeof(float)));
            return;
        }
        for (int k = 0; k < kc; k++)
        {
            float* src = b + (k0 + k) * rowStride + j0 * colStride;
            float* row = dst + (long)k * nr;
            int j = 0;
            for (; j < width; j++) row[j] = src[j * colStride];
            for (; j < nr; j++) row[j] = 0;
        }
    }

    // Copies a partial row tile (height < MR rows, k in [k0, k0+kc)) k-major and zero padded to MR rows, so the
    // micro-kernel can read all MR rows; full tiles are read in place.
    private static void PackEdgeRows(float* dst, in GemmProblem p, int i0, int height, int k0, int kc, int mr)
    {
        for (int k = 0; k < kc; k++)
        {
            float* src = p.A + i0 * p.ARowStride + (k0 + k) * p.AColStride;
            float* d = dst + (long)k * mr;
            int r = 0;
            for (; r < height; r++) d[r] = src[r * p.ARowStride];
            for (; r < mr; r++) d[r] = 0;
        }
    }

    private struct Plan
    {
        public GemmProblem* Problem;
        public int BlockRows, RowBlocks, Chunks, Panels;
        public float* Scratch;
        public nint ScratchPerWorker;
    }

    /// <summary>
    /// Runs the product on up to <paramref name="threads"/> threads of <paramref name="pool"/>; <paramref name="scratch"/>
    /// holds <paramref name="scratchPerWorker"/> ≥ <see cref="ScratchFloats{TKernel}"/> floats per thread.
    /// </summary>
    public static void Run<TKernel>(ref GemmProblem problem, WorkerPool pool, int threads, float* scratch, nint scratchPerWorker)
        where TKernel : IGemmKernel
    {
        if (problem.M <= 0 || problem.N <= 0) return;
        Plan plan = MakePlan<TKernel>(ref problem, threads, scratch, scratchPerWorker);
        // When several row blocks would each pack the same B panels (dX = dY · W in training, with its many rows),
        // pack them once, in parallel, and run as if B were pre-packed.
        if (problem.BPacked == null && plan.RowBlocks > 1 && problem.SharedPack != null &&
            PackedSize<TKernel>(problem.N, problem.K) <= problem.SharedPackFloats)
        {
            var pack = new PackJob { Problem = plan.Problem, Destination = problem.SharedPack, Panels = plan.Panels, Nr = TKernel.NR };
            pool.Run(plan.Panels, threads, &PackPanels, &pack);
            problem.BPacked = problem.SharedPack;
            plan = MakePlan<TKernel>(ref problem, threads, scratch, scratchPerWorker);
            pool.Run(plan.RowBlocks * plan.Chunks, threads, &RunItem<TKernel>, &plan);
            problem.BPacked = null;
            return;
        }
        pool.Run(plan.RowBlocks * plan.Chunks, threads, &RunItem<TKernel>, &plan);
    }

    private struct PackJob
    {
        public GemmProblem* Problem;
        public float* Destination;
        public int Panels, Nr;
    }

    // One column panel of B, every K block, into the PackB layout.
    private static void PackPanels(void* context, int panel, int worker)
    {
        PackJob* job = (PackJob*)context;
        ref GemmProblem p = ref *job->Problem;
        int nr = job->Nr, j0 = panel * nr, width = Math.Min(nr, p.N - j0);
        for (int k0 = 0; k0 < p.K; k0 += p.BlockK)
        {
            int kc = Math.Min(p.BlockK, p.K - k0);
            PackBPanel(job->Destination + (long)k0 * job->Panels * nr + (long)panel * kc * nr, p.B, p.BRowStride, p.BColStride, k0, kc, j0, width, nr);
        }
    }

    /// <summary>Runs the product on the calling thread only (used inside work items that are already parallel).</summary>
    public static void RunSerial<TKernel>(ref GemmProblem problem, float* scratch) where TKernel : IGemmKernel
    {
        if (problem.M <= 0 || problem.N <= 0) return;
        Plan plan = MakePlan<TKernel>(ref problem, 1, scratch, 0);
        int items = plan.RowBlocks * plan.Chunks;
        for (int t = 0; t < items; t++) RunItem<TKernel>(&plan, t, 0);
    }

    private static Plan MakePlan<TKernel>(ref GemmProblem problem, int threads, float* scratch, nint scratchPerWorker) where TKernel : IGemmKernel
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        int panels = Panels(problem.N, nr);
        // Even row blocks of at most MaxBlockRows (300 rows become 2 × 150, not 256 + 44).
        int rowBlocks = (problem.M + MaxBlockRows - 1) / MaxBlockRows;
        int chunks = 1;
        if (threads > 1)
        {
            // Columns are split first: a B micro-panel is reused by every row tile of its block, so tall blocks keep
            // the kernel fed from L1 (and pack on-the-fly B once per block); A is read in place, so a column chunk
            // costs nothing extra. About four items per thread let the last ones even out. Only when N is too narrow
            // to give every thread work are the rows split further.
            int target = 4 * threads;
            chunks = Math.Clamp((target + rowBlocks - 1) / rowBlocks, 1, panels);
            int rowTiles = (problem.M + mr - 1) / mr;
            if (rowBlocks * chunks < target) rowBlocks = Math.Min(rowTiles, (target + chunks - 1) / chunks);
        }
        // A work item packs its panels of B into its scratch, which holds MaxChunkColumns of them (ScratchFloats): wider
        // products are split into more column chunks whatever the thread count (one thread once overran it: N = 768).
        int maxPanelsPerChunk = RoundUp(MaxChunkColumns, nr) / nr;
        chunks = Math.Max(chunks, (panels + maxPanelsPerChunk - 1) / maxPanelsPerChunk);
        int blockRows = RoundUp((problem.M + rowBlocks - 1) / rowBlocks, mr);
        rowBlocks = (problem.M + blockRows - 1) / blockRows;
        return new Plan
        {
            Problem = (GemmProblem*)Unsafe.AsPointer(ref problem),
            BlockRows = blockRows, RowBlocks = rowBlocks, Chunks = chunks, Panels = panels,
            Scratch = scratch, ScratchPerWorker = scratchPerWorker,
        };
    }

    private static void RunItem<TKernel>(void* context, int item, int worker) where TKernel : IGemmKernel
    {
        Plan* plan = (Plan*)context;
        ref GemmProblem p = ref *plan->Problem;
        int mr = TKernel.MR, nr = TKernel.NR;
        int rowBlock = item / plan->Chunks, chunk = item % plan->Chunks;
        int i0 = rowBlock * plan->BlockRows, rows = Math.Min(plan->BlockRows, p.M - i0);
        int p0 = (int)((long)chunk * plan->Panels / plan->Chunks), p1 = (int)((long)(chunk + 1) * plan->Panels / plan->Chunks);

        float* edgeA = plan->Scratch + worker * plan->ScratchPerWorker;
        float* packedB = edgeA + (long)mr * p.BlockK;
        for (int k0 = 0; k0 < p.K; k0 += p.BlockK)
        {
            int kc = Math.Min(p.BlockK, p.K - k0);
            bool first = k0 == 0, last = k0 + kc >= p.K;
            // The last row tile of the block, if partial, is read from a zero-padded copy (MR rows, k-major).
            int fullRows = rows / mr * mr;
            if (fullRows < rows) PackEdgeRows(edgeA, in p, i0 + fullRows, rows - fullRows, k0, kc, mr);
            for (int panel = p0; panel < p1; panel++)
            {
                int j0 = panel * nr, width = Math.Min(nr, p.N - j0);
                float* b;
                if (p.BPacked != null) b = p.BPacked + (long)k0 * plan->Panels * nr + (long)panel * kc * nr;
                else
                {
                    b = packedB + (long)(panel - p0) * kc * nr;
                    PackBPanel(b, p.B, p.BRowStride, p.BColStride, k0, kc, j0, width, nr);
                }
                float* bias = first && p.Bias != null ? p.Bias + j0 : null;
                bool accumulate = !first || p.Accumulate;
                for (int t = 0; t < rows; t += mr)
                {
                    float* c = p.C + (i0 + t) * p.Ldc + j0;
                    if (t < fullRows)
                        TKernel.Run(kc, p.A + (i0 + t) * p.ARowStride + k0 * p.AColStride, p.ARowStride, p.AColStride, b, c, p.Ldc, bias, accumulate, mr, width);
                    else
                        TKernel.Run(kc, edgeA, 1, mr, b, c, p.Ldc, bias, accumulate, rows - t, width);
                    if (last && p.Epilogue != GemmEpilogue.None)
                        ApplyEpilogue(in p, c, i0 + t, j0, Math.Min(mr, rows - t), width);
                }
            }
        }
    }

    private static void ApplyEpilogue(in GemmProblem p, float* c, int i, int j, int height, int width)
    {
        for (int r = 0; r < height; r++)
        {
            float* row = c + r * p.Ldc;
            float* output = p.Epilogue == GemmEpilogue.Gelu ? row : p.EpilogueOut + (i + r) * p.EpilogueLd + j;
            Activations.Gelu(row, output, width);
        }
    }
}
