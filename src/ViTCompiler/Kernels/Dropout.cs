using System.ComponentModel;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace ViTCompiler.Infrastructure;

/// <summary>
/// Dropout and stochastic depth with masks that are a pure function of (seed, site, index): nothing is stored
/// between the forward and the backward pass, any thread can compute any element, and the reference engine draws
/// exactly the same masks. Sites number the places dropout happens; see <see cref="Sites"/>.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class Dropout
{
    /// <summary>Where masks are drawn; each place gets its own stream of numbers.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static class Sites
    {
        /// <summary>After adding the position embeddings (index: element of the (B, N, D) tokens).</summary>
        public const int Embeddings = 0;
        /// <summary>After the attention output projection of a layer.</summary>
        public static int AttentionOutput(int layer) => 1 + 3 * layer;
        /// <summary>After GELU, before fc2.</summary>
        public static int MlpHidden(int layer) => 2 + 3 * layer;
        /// <summary>After fc2.</summary>
        public static int MlpOutput(int layer) => 3 + 3 * layer;
        /// <summary>Stochastic depth of the attention branch (index: image).</summary>
        public static int AttentionPath(int layer) => 1_000_000 + 2 * layer;
        /// <summary>Stochastic depth of the MLP branch (index: image).</summary>
        public static int MlpPath(int layer) => 1_000_001 + 2 * layer;
    }

    /// <summary>
    /// The seed of micro-batch <paramref name="part"/> of a trainer's step: masks are indexed within a pass, so each pass
    /// needs its own stream. Part 0 keeps the step's seed.
    /// </summary>
    public static ulong MicroBatchSeed(ulong seed, int part) => part == 0 ? seed : Mix(seed + (ulong)part * 0x9E37_79B9_7F4A_7C15UL);

    /// <summary>
    /// The seed of shard <paramref name="shard"/> of an image-parallel training pass (shard 0 keeps the pass's seed). A
    /// stream apart from <see cref="MicroBatchSeed"/>'s, so shard s of micro-batch p never repeats shard p of micro-batch s.
    /// </summary>
    public static ulong ShardSeed(ulong seed, int shard) => shard == 0 ? seed : Mix(seed ^ ((ulong)shard * 0xD1B5_4A32_D192_ED03UL + 0x632B_E59B_D9B4_E019UL));

    // splitmix64's finaliser.
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The multiplier for one element: 0 with probability p, else 1 / (1 − p).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Scale(ulong seed, int site, long index, float p)
    {
        if (p <= 0f) return 1f;
        // splitmix64's finaliser over a counter: statistically sound and cheap, and needs no state.
        ulong z = Mix(seed + (ulong)site * 0x9E3779B97F4A7C15UL + (ulong)index * 0xD1B54A32D192ED03UL);
        float uniform = (z >> 40) * (1f / (1 << 24));
        return uniform < p ? 0f : 1f / (1f - p);
    }

    private struct Job
    {
        public float* Input, Branch, Output;
        public int PerImage;
        public long IndexStride; // where image b's elements are numbered from: b · IndexStride (PerImage unless rows were gathered)
        public ulong Seed;
        public int Site, PathSite;
        public float Rate, PathRate;
    }

    /// <summary>x[i] *= Scale(seed, site, i, p) over <paramref name="count"/> elements (no-op for p = 0).</summary>
    public static void Apply(WorkerPool pool, int threads, float* x, long count, ulong seed, int site, float p) =>
        ApplyGathered(pool, threads, x, 1, checked((int)count), count, seed, site, p);

    /// <summary>
    /// <see cref="Apply"/> on <paramref name="batch"/> gathered rows of <paramref name="perImage"/> elements, row b standing
    /// for the elements numbered from b · <paramref name="indexImageStride"/>: the mask the full tensor would get there.
    /// </summary>
    public static void ApplyGathered(WorkerPool pool, int threads, float* x, int batch, int perImage, long indexImageStride, ulong seed, int site, float p)
    {
        if (p <= 0f) return;
        var job = new Job { Output = x, PerImage = perImage, IndexStride = indexImageStride, Seed = seed, Site = site, Rate = p };
        pool.RunRanges(batch * perImage, threads, 16384, &ApplyRange, &job);
    }

    // The mask is a hash of the element's index, which TensorPrimitives has no operation for; materialising it to use
    // TensorPrimitives.Multiply would add a pass and a buffer.
    private static void ApplyRange(void* context, int start, int end)
    {
        Job* j = (Job*)context;
        for (int i = start; i < end; i++) j->Output[i] *= Scale(j->Seed, j->Site, Index(j, i), j->Rate);
    }

    private static long Index(Job* j, int i) => j->IndexStride == j->PerImage ? i : i / j->PerImage * j->IndexStride + i % j->PerImage;

    /// <summary>
    /// A residual connection with a dropped-out branch under stochastic depth:
    /// output = input + path(image) · mask ⊙ branch, over images of <paramref name="perImage"/> elements.
    /// With both rates zero it is a plain sum. On gathered rows (one per image), <paramref name="indexImageStride"/> says
    /// where each image's elements are numbered from in the full tensor, so the masks are the full tensor's.
    /// </summary>
    public static void ResidualAdd(WorkerPool pool, int threads, float* input, float* branch, float* output, int batch, int perImage,
        ulong seed, int site, float rate, int pathSite, float pathRate, long indexImageStride = 0)
    {
        var job = new Job { Input = input, Branch = branch, Output = output, PerImage = perImage, IndexStride = indexImageStride == 0 ? perImage : indexImageStride, Seed = seed, Site = site, Rate = rate, PathSite = pathSite, PathRate = pathRate };
        pool.RunRanges(batch * perImage, threads, 16384, &ResidualRange, &job);
    }

    private static void ResidualRange(void* context, int start, int end)
    {
        Job* j = (Job*)context;
        if (j->Rate <= 0f && j->PathRate <= 0f)
        {
            // Ranges of thousands of floats, where TensorPrimitives.Add is at least as fast as TokenOps.Add's loop.
            int n = end - start;
            TensorPrimitives.Add(new ReadOnlySpan<float>(j->Input + start, n), new ReadOnlySpan<float>(j->Branch + start, n),
                new Span<float>(j->Output + start, n));
            return;
        }
        for (int i = start; i < end; i++)
        {
            float scale = Scale(j->Seed, j->PathSite, i / j->PerImage, j->PathRate) * Scale(j->Seed, j->Site, Index(j, i), j->Rate);
            j->Output[i] = j->Input[i] + scale * j->Branch[i];
        }
    }

    /// <summary>Backward of <see cref="ResidualAdd"/> for the branch: dBranch = path(image) · mask ⊙ dOutput.</summary>
    public static void ResidualBackward(WorkerPool pool, int threads, float* dOutput, float* dBranch, int batch, int perImage,
        ulong seed, int site, float rate, int pathSite, float pathRate, long indexImageStride = 0)
    {
        var job = new Job { Input = dOutput, Output = dBranch, PerImage = perImage, IndexStride = indexImageStride == 0 ? perImage : indexImageStride, Seed = seed, Site = site, Rate = rate, PathSite = pathSite, PathRate = pathRate };
        pool.RunRanges(batch * perImage, threads, 16384, &ResidualBackwardRange, &job);
    }

    private static void ResidualBackwardRange(void* context, int start, int end)
    {
        Job* j = (Job*)context;
        if (j->Rate <= 0f && j->PathRate <= 0f)
        {
            new ReadOnlySpan<float>(j->Input + start, end - start).CopyTo(new Span<float>(j->Output + start, end - start));
            return;
        }
        for (int i = start; i < end; i++)
            j->Output[i] = Scale(j->Seed, j->PathSite, i / j->PerImage, j->PathRate) * Scale(j->Seed, j->Site, Index(j, i), j->Rate) * j->Input[i];
    }
}
