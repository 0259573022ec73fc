using System.ComponentModel;
using System.Numerics;

namespace ViTCompiler.Infrastructure;

/// <summary>Where multi-head attention reads and writes; all sizes are the generated model's constants.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public unsafe struct AttentionProblem
{
    /// <summary>(B, N, 3D) query/key/value rows, heads side by side within each third (timm's fused qkv layout).</summary>
    public float* Qkv;
    /// <summary>(B, N, D) output: head h fills columns [h·hd, (h+1)·hd).</summary>
    public float* Output;
    /// <summary>(B, H, N, N) probabilities kept for the backward pass, or null (then a per-thread scratch square is used).</summary>
    public float* Probabilities;
    /// <summary>Optional copy of the probabilities for the caller, image b head h at Capture + b·CaptureImageStride + h·N².</summary>
    public float* Capture;
    public long CaptureImageStride;
    public int Batch, Tokens, Hidden, Heads, HeadDim;
    /// <summary>K blocks for q·kᵀ (K = hd) and p·v (K = N).</summary>
    public int ScoresBlockK, ValuesBlockK;
    public float* Scratch;
    public nint ScratchPerWorker;
}

/// <summary>
/// Multi-head self-attention, one (image, head) pair per work item so its N × N scores stay in that core's cache
/// between the two products: S = (Q/√hd)·Kᵀ, P = softmax(S), O = P·V. <typeparamref name="TScores"/> is the tile for
/// products N wide (scores), <typeparamref name="TValues"/> for products hd wide.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class Attention<TScores, TValues>
    where TScores : IGemmKernel where TValues : IGemmKernel
{
    /// <summary>
    /// Per-thread scratch, in floats, that <see cref="Forward"/> and <see cref="Backward"/> need: one N × N square (the
    /// probabilities when they are not kept, or dS in the backward pass) and the products' own scratch after it.
    /// </summary>
    public static long ScratchFloats(int tokens, int scoresBlockK, int valuesBlockK) =>
        (long)tokens * tokens + Math.Max(Gemm.ScratchFloats<TScores>(scoresBlockK), Gemm.ScratchFloats<TValues>(valuesBlockK));

    private struct ForwardJob
    {
        public AttentionProblem* Problem;
        public int QueryBlocks, QueryRows;
    }

    public static void Forward(ref AttentionProblem problem, WorkerPool pool, int threads)
    {
        // One item per (image, head) when there are enough of them; otherwise (a single image on a few heads, as
        // ViT-Ti's 3 heads at batch 1 on 2 threads) each head's queries are also split into row blocks, whose scores
        // rows are independent, so no thread waits out the last head alone.
        int pairs = problem.Batch * problem.Heads, blocks = 1;
        if (threads > 1 && pairs < 4 * threads)
            blocks = Math.Clamp((4 * threads + pairs - 1) / pairs, 1, Math.Max(1, problem.Tokens / 24));
        int rows = (problem.Tokens + blocks - 1) / blocks;
        var job = new ForwardJob
        {
            Problem = (AttentionProblem*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref problem),
            QueryBlocks = (problem.Tokens + rows - 1) / rows,
            QueryRows = rows,
        };
        pool.Run(pairs * job.QueryBlocks, threads, &ForwardItem, &job);
    }

    private static void ForwardItem(void* context, int item, int worker)
    {
        ForwardJob* job = (ForwardJob*)context;
        AttentionProblem* a = job->Problem;
        int pair = item / job->QueryBlocks, i0 = item % job->QueryBlocks * job->QueryRows;
        int n = a->Tokens, d = a->Hidden, hd = a->HeadDim, b = pair / a->Heads, h = pair % a->Heads;
        int queries = Math.Min(job->QueryRows, n - i0);
        float* scratch = a->Scratch + worker * a->ScratchPerWorker;
        float* gemmScratch = scratch + (long)n * n;
        float* rows = a->Qkv + (long)b * n * 3 * d;
        float* q = rows + h * hd + (long)i0 * 3 * d, k = rows + d + h * hd, v = rows + 2 * d + h * hd;
        float* p = (a->Probabilities != null ? a->Probabilities + (long)pair * n * n : scratch) + (long)i0 * n;

        // (Nq, hd) · (hd, N) -> (Nq, N)   S = Q · Kᵀ for this block's queries   (Kᵀ packed from K's rows: B[e, j] = K[j, e])
        GemmProblem scores = GemmProblem.Create(queries, n, hd, a->ScoresBlockK, q, 3 * d, p, n);
        scores.B = k; scores.BRowStride = 1; scores.BColStride = 3 * d;
        Gemm.RunSerial<TScores>(ref scores, gemmScratch);

        // P = softmax(S / √hd), the scale folded into the softmax's exponent
        float scale = 1f / MathF.Sqrt(hd);
        for (int i = 0; i < queries; i++) Softmax.Row(p + (long)i * n, n, scale);
        if (a->Capture != null)
            new ReadOnlySpan<float>(p, queries * n).CopyTo(new Span<float>(a->Capture + b * a->CaptureImageStride + ((long)h * n + i0) * n, queries * n));

        // (Nq, N) · (N, hd) -> (Nq, hd)   O[:, h] = P · V
        GemmProblem values = GemmProblem.Create(queries, hd, n, a->ValuesBlockK, p, n, a->Output + ((long)b * n + i0) * d + h * hd, d);
        values.B = v; values.BRowStride = 3 * d; values.BColStride = 1;
        Gemm.RunSerial<TValues>(ref values, gemmScratch);
    }

    /// <summary>
    /// From dO = d loss / d Output (in <see cref="AttentionProblem.Output"/>) and the kept probabilities, writes
    /// d loss / d qkv into <paramref name="dqkv"/> (B, N, 3D), overwriting it.
    /// </summary>
    public static void Backward(ref AttentionProblem problem, float* dqkv, WorkerPool pool, int threads)
    {
        var job = new BackwardJob { Problem = (AttentionProblem*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref problem), Dqkv = dqkv };
        pool.Run(problem.Batch * problem.Heads, threads, &BackwardItem, &job);
    }

    private struct BackwardJob
    {
        public AttentionProblem* Problem;
        public float* Dqkv;
    }

    private static void BackwardItem(void* context, int item, int worker)
    {
        BackwardJob* job = (BackwardJob*)context;
        AttentionProblem* a = job->Problem;
        int n = a->Tokens, d = a->Hidden, hd = a->HeadDim, b = item / a->Heads, h = item % a->Heads;
        float* scratch = a->Scratch + worker * a->ScratchPerWorker;
        float* ds = scratch, gemmScratch = scratch + (long)n * n;
        float* rows = a->Qkv + (long)b * n * 3 * d;
        float* q = rows + h * hd, k = rows + d + h * hd, v = rows + 2 * d + h * hd;
        float* grads = job->Dqkv + (long)b * n * 3 * d;
        float* dq = grads + h * hd, dk = grads + d + h * hd, dv = grads + 2 * d + h * hd;
        float* p = a->Probabilities + (long)item * n * n;
        float* dout = a->Output + (long)b * n * d + h * hd;
        float scale = 1f / MathF.Sqrt(hd);

        // dP = dO · Vᵀ          (N, hd) · (hd, N) -> (N, N)
        GemmProblem dprob = GemmProblem.Create(n, n, hd, a->ScoresBlockK, dout, d, ds, n);
        dprob.B = v; dprob.BRowStride = 1; dprob.BColStride = 3 * d;
        Gemm.RunSerial<TScores>(ref dprob, gemmScratch);

        // dV = Pᵀ · dO          (N, N) · (N, hd) -> (N, hd)
        GemmProblem dvalues = GemmProblem.Create(n, hd, n, a->ValuesBlockK, p, 1, dv, 3 * d);
        dvalues.AColStride = n;
        dvalues.B = dout; dvalues.BRowStride = d; dvalues.BColStride = 1;
        Gemm.RunSerial<TValues>(ref dvalues, gemmScratch);

        // dS = P ⊙ (dP − rowsum(dP ⊙ P)) / √hd   (the 1/√hd of S = Q·Kᵀ/√hd, applied once here)
        for (int i = 0; i < n; i++) Softmax.BackwardRow(p + (long)i * n, ds + (long)i * n, n, scale);

        // dQ = dS · K           (N, N) · (N, hd) -> (N, hd)
        GemmProblem dquery = GemmProblem.Create(n, hd, n, a->ValuesBlockK, ds, n, dq, 3 * d);
        dquery.B = k; dquery.BRowStride = 3 * d; dquery.BColStride = 1;
        Gemm.RunSerial<TValues>(ref dquery, gemmScratch);

        // dK = dSᵀ · Q          (N, N) · (N, hd) -> (N, hd)
        GemmProblem dkey = GemmProblem.Create(n, hd, n, a->ValuesBlockK, ds, 1, dk, 3 * d);
        dkey.AColStride = n;
        dkey.B = q; dkey.BRowStride = 3 * d; dkey.BColStride = 1;
        Gemm.RunSerial<TValues>(ref dkey, gemmScratch);
    }
}

/// <summary>
/// Attention for the [class] query alone, the only row of the last block that a [class]-pooled head reads: per (image,
/// head), s_j = q₀ · k_j, p = softmax(s / √hd), o = Σ_j p_j v_j. The keys and values still come from every token.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class ClassAttention
{
    private struct Job
    {
        public float* Qkv, Output, Probabilities, DQkv, Scratch;
        public nint ScratchPerWorker;
        public int Tokens, Hidden, Heads, HeadDim;
    }

    /// <summary>
    /// (B, N, 3D) qkv -> (B, D) output, head h in columns [h·hd, (h+1)·hd). The probabilities go to
    /// <paramref name="probabilities"/> (B, H, N) when it is not null, else to a scratch row: <paramref name="scratch"/> gives
    /// each worker at least N floats at <paramref name="scratchPerWorker"/> apart.
    /// </summary>
    public static void Forward(WorkerPool pool, int threads, float* qkv, float* output, float* scratch, nint scratchPerWorker,
        int batch, int tokens, int hidden, int heads, int headDim, float* probabilities = null)
    {
        var job = new Job { Qkv = qkv, Output = output, Probabilities = probabilities, Scratch = scratch, ScratchPerWorker = scratchPerWorker, Tokens = tokens, Hidden = hidden, Heads = heads, HeadDim = headDim };
        pool.Run(batch * heads, threads, &ForwardItem, &job);
    }

    private static void ForwardItem(void* context, int item, int worker)
    {
        Job* j = (Job*)context;
        int n = j->Tokens, d = j->Hidden, hd = j->HeadDim, b = item / j->Heads, h = item % j->Heads;
        float* rows = j->Qkv + (long)b * n * 3 * d, q = rows + h * hd;
        float* p = j->Probabilities != null ? j->Probabilities + (long)item * n : j->Scratch + worker * j->ScratchPerWorker;
        for (int t = 0; t < n; t++) p[t] = Softmax.Dot(q, rows + (long)t * 3 * d + d + h * hd, hd);
        Softmax.Row(p, n, 1f / MathF.Sqrt(hd));
        float* o = j->Output + (long)b * d + h * hd;
        new Span<float>(o, hd).Clear();
        for (int t = 0; t < n; t++)
        {
            float* v = rows + (long)t * 3 * d + 2 * d + h * hd;
            float weight = p[t];
            int e = 0;
            if (Vector.IsHardwareAccelerated)
                for (; e <= hd - Vector<float>.Count; e += Vector<float>.Count)
                    Vector.Store(Vector.Load(o + e) + weight * Vector.Load(v + e), o + e);
            for (; e < hd; e++) o[e] += weight * v[e];
        }
    }

    /// <summary>
    /// From dO = d loss / d output (B, D) and the kept probabilities (B, H, N), writes d loss / d qkv into
    /// <paramref name="dqkv"/> (B, N, 3D), overwriting it: dv_t = p_t·dO, dS = softmax′(dO · vᵀ) / √hd, dq₀ = dS · K and
    /// dk_t = dS_t · q₀; the queries of the other rows get zero.
    /// </summary>
    public static void Backward(WorkerPool pool, int threads, float* qkv, float* probabilities, float* doutput, float* dqkv,
        float* scratch, nint scratchPerWorker, int batch, int tokens, int hidden, int heads, int headDim)
    {
        var job = new Job { Qkv = qkv, Output = doutput, Probabilities = probabilities, DQkv = dqkv, Scratch = scratch, ScratchPerWorker = scratchPerWorker, Tokens = tokens, Hidden = hidden, Heads = heads, HeadDim = headDim };
        pool.Run(batch * heads, threads, &BackwardItem, &job);
    }

    private static void BackwardItem(void* context, int item, int worker)
    {
        Job* j = (Job*)context;
        int n = j->Tokens, d = j->Hidden, hd = j->HeadDim, b = item / j->Heads, h = item % j->Heads;
        float* rows = j->Qkv + (long)b * n * 3 * d, q = rows + h * hd;
        float* grads = j->DQkv + (long)b * n * 3 * d;
        float* p = j->Probabilities + (long)item * n, dout = j->Output + (long)b * d + h * hd;
        float* ds = j->Scratch + worker * j->ScratchPerWorker;
        for (int t = 0; t < n; t++)
        {
            float* v = rows + (long)t * 3 * d + 2 * d + h * hd, dv = grads + (long)t * 3 * d + 2 * d + h * hd;
            ds[t] = Softmax.Dot(dout, v, hd);
            float weight = p[t];
            for (int e = 0; e < hd; e++) dv[e] = weight * dout[e];
        }
        Softmax.BackwardRow(p, ds, n, 1f / MathF.Sqrt(hd));
        float* dq = grads + h * hd;
        new Span<float>(dq, hd).Clear();
        for (int t = 0; t < n; t++)
        {
            float* k = rows + (long)t * 3 * d + d + h * hd, dk = grads + (long)t * 3 * d + d + h * hd;
            float weight = ds[t];
            for (int e = 0; e < hd; e++)
            {
                dq[e] += weight * k[e];
                dk[e] = weight * q[e];
            }
            if (t > 0) new Span<float>(grads + (long)t * 3 * d + h * hd, hd).Clear();
        }
    }
}
