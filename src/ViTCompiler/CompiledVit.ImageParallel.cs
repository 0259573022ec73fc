using System.ComponentModel;
using System.Numerics;
using System.Runtime.CompilerServices;
using ViTCompiler.Infrastructure;

namespace ViTCompiler;

// The image-parallel schedule. A small model's operations are too short to split across threads: every GEMM, softmax
// and LayerNorm of a 64-wide encoder ends in a barrier after a few microseconds, and the threads spend their time
// waiting and re-reading each other's cache lines. For such models the generator's planner picks the other schedule:
// each thread runs whole passes, every operation of every layer, on its own images, with no barrier until the pass ends.
//
// Forward: each image's logits depend on that image alone, computed in the same order whatever the batch, so the
// batch is split into one shard per thread and the results are the same as one pass over the batch.
//
// Training: a batch of B images is split into shards of about ShardImages images — a number fixed by the model's shapes,
// never by the thread count — and each shard's gradient (of its mean loss) is computed into a block of its own, then
// added to the model's block in shard order, scaled by its share of the batch: G += Σ_s (m_s / B)·g_s. The shards run
// concurrently, one per thread, in waves of as many shards as there are threads; since the decomposition and the order
// of the sum are the same for any thread count, so is every bit of the result. With more threads than shards the shards
// run one after another, each on all threads with the operation-parallel kernels — again the same numbers.
//
// A shard runs on a replica: a shallow copy of this model that shares its parameters and packed weights (read-only
// during a pass) but owns its workspace and gradient block.
public abstract unsafe partial class CompiledVit
{
    private CompiledVit[] _replicas = [];
    private float[][] _shardGradients = [];

    /// <summary>
    /// The images per shard of the image-parallel training schedule, or 0 for the operation-parallel schedule (the whole
    /// batch in one pass, every operation split across the threads). The generator's planner sets it from the shapes.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected virtual int TrainingShardImages => 0;

    /// <summary>Whether a forward pass over several images runs one shard of images per thread (the planner's choice).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected virtual bool ImageParallelForward => false;

    /// <summary>The schedule in use, in words, for <c>vit info</c> and the benchmarks.</summary>
    public string Schedule =>
        ShardImages > 0 ? $"image-parallel (training shards of {ShardImages} image{(ShardImages == 1 ? "" : "s")}; forward one shard per thread)"
        : !s_forceOperations && ImageParallelForward ? "image-parallel forward (one shard per thread), operation-parallel training"
        : "operation-parallel" + (s_forceOperations ? " (VIT_SCHEDULE=operations)" : "");

    // VIT_SCHEDULE=operations forces the operation-parallel schedule (for comparisons); results then differ from the
    // image-parallel schedule's in the last bits of the gradients (a different summation order), never in the forward pass.
    private static readonly bool s_forceOperations = Environment.GetEnvironmentVariable("VIT_SCHEDULE") is "operations";

    /// <summary>Images per training shard in use (0: the whole batch in one pass).</summary>
    internal int ShardImages => s_forceOperations ? 0 : TrainingShardImages;

    // Only when every thread gets an image: with fewer images than threads the operation-parallel pass uses them all.
    private bool ForwardByImages(int batch) => !s_forceOperations && ImageParallelForward && _threads > 1 && batch >= _threads;

    private CompiledVit Replica(int index, int threads)
    {
        if (_replicas.Length <= index)
        {
            var grown = new CompiledVit[index + 1];
            _replicas.CopyTo(grown, 0);
            _replicas = grown;
        }
        CompiledVit replica = _replicas[index] ??= NewReplica();
        replica._packed = _packed;      // the panels this model packed for the pass (replaced when the head's C changes)
        replica._threads = threads;
        return replica;
    }

    private CompiledVit NewReplica()
    {
        var replica = (CompiledVit)MemberwiseClone();
        replica._workspace = [];
        replica._gradients = null;
        replica._replicas = [];
        replica._shardGradients = [];
        return replica;
    }

    private struct ForwardShards
    {
        public CompiledVit Model;
        public float* Pixels, Logits, Attention;
        public int Batch, Shards;
    }

    /// <summary>The forward pass, split into one shard of images per thread.</summary>
    private void ForwardImageParallel(float* pixels, int batch, float* logits, float* attention)
    {
        int shards = Math.Min(_threads, batch);
        for (int s = 0; s < shards; s++) Replica(s, 1);
        var job = new ForwardShards { Model = this, Pixels = pixels, Logits = logits, Attention = attention, Batch = batch, Shards = shards };
        Pool.Run(shards, shards, &RunForwardShard, Unsafe.AsPointer(ref job)); // job lives on this stack until Run returns
    }

    private static void RunForwardShard(void* context, int shard, int worker)
    {
        ref ForwardShards job = ref Unsafe.AsRef<ForwardShards>(context);
        CompiledVit model = job.Model, replica = model._replicas[shard];
        var config = model.Config;
        int first = WorkerPool.PartStart(job.Batch, job.Shards, shard), images = WorkerPool.PartStart(job.Batch, job.Shards, shard + 1) - first;
        long attentionPerImage = (long)config.Layers * config.Heads * config.Tokens * config.Tokens;
        replica.ForwardCore(job.Pixels + (long)first * config.PixelsPerImage, images, job.Logits + (long)first * config.Classes,
            job.Attention == null ? null : job.Attention + first * attentionPerImage);
    }

    private struct TrainShards
    {
        public CompiledVit Model;
        public float* Pixels, Logits;
        public int* Labels;
        public TrainStepOptions Options;
        public int Batch, Shards, FirstShard, WaveShards;
        public float* Losses;
    }

    /// <summary>The training pass as shards of about <see cref="ShardImages"/> images (see the file's comment).</summary>
    private float TrainImageParallel(float* pixels, int* labels, int batch, in TrainStepOptions options, float* logits)
    {
        int shards = (batch + ShardImages - 1) / ShardImages;
        int concurrent = Math.Min(_threads, shards);
        int replicaThreads = concurrent > 1 ? 1 : _threads;
        if (_shardGradients.Length < concurrent)
        {
            var grown = new float[concurrent][];
            _shardGradients.CopyTo(grown, 0);
            for (int i = _shardGradients.Length; i < concurrent; i++) grown[i] = GC.AllocateArray<float>(_parameters.Length, pinned: true);
            _shardGradients = grown;
        }
        for (int r = 0; r < concurrent; r++)
        {
            CompiledVit replica = Replica(r, replicaThreads);
            replica._gradients = _shardGradients[r];
        }
        float* losses = stackalloc float[concurrent];
        var job = new TrainShards { Model = this, Pixels = pixels, Labels = labels, Logits = logits, Options = options, Batch = batch, Shards = shards, Losses = losses };
        double lossSum = 0;
        for (int wave = 0; wave < shards; wave += concurrent)
        {
            int count = Math.Min(concurrent, shards - wave);
            job.FirstShard = wave;
            job.WaveShards = count;
            Pool.Run(count, count, &RunTrainShard, Unsafe.AsPointer(ref job));
            for (int i = 0; i < count; i++)
            {
                int s = wave + i;
                lossSum += (double)losses[i] * (WorkerPool.PartStart(batch, shards, s + 1) - WorkerPool.PartStart(batch, shards, s));
            }
            Pool.RunRanges(_parameters.Length, _threads, 16_384, &AddShardGradients, Unsafe.AsPointer(ref job));
        }
        return (float)(lossSum / batch);
    }

    // G[i] += (m_s / B)·g_s[i] for the wave's shards in shard order, each a correctly rounded fused multiply-add, so an
    // element's value does not depend on which range (vector body or scalar tail) it fell in.
    private static void AddShardGradients(void* context, int start, int end)
    {
        ref TrainShards job = ref Unsafe.AsRef<TrainShards>(context);
        CompiledVit model = job.Model;
        Span<float> total = model.GradientBlock.AsSpan(start, end - start);
        for (int i = 0; i < job.WaveShards; i++)
        {
            int s = job.FirstShard + i;
            float weight = (float)(WorkerPool.PartStart(job.Batch, job.Shards, s + 1) - WorkerPool.PartStart(job.Batch, job.Shards, s)) / job.Batch;
            ReadOnlySpan<float> shard = model._shardGradients[i].AsSpan(start, end - start);
            int j = 0;
            if (Vector.IsHardwareAccelerated)
            {
                var w = new Vector<float>(weight);
                for (; j <= total.Length - Vector<float>.Count; j += Vector<float>.Count)
                    Vector.FusedMultiplyAdd(new Vector<float>(shard.Slice(j)), w, new Vector<float>(total.Slice(j))).CopyTo(total.Slice(j));
            }
            for (; j < total.Length; j++) total[j] = MathF.FusedMultiplyAdd(shard[j], weight, total[j]);
        }
    }

    private static void RunTrainShard(void* context, int item, int worker)
    {
        ref TrainShards job = ref Unsafe.AsRef<TrainShards>(context);
        CompiledVit replica = job.Model._replicas[item];
        var config = job.Model.Config;
        int shard = job.FirstShard + item;
        int first = WorkerPool.PartStart(job.Batch, job.Shards, shard), images = WorkerPool.PartStart(job.Batch, job.Shards, shard + 1) - first;
        replica.GradientBlock.AsSpan().Clear();
        // Each shard draws its own dropout masks (they are indexed within the pass); shard 0 keeps the step's seed.
        var options = job.Options with { Seed = Dropout.ShardSeed(job.Options.Seed, shard) };
        job.Losses[item] = replica.TrainStepCore(job.Pixels + (long)first * config.PixelsPerImage, job.Labels + first, images, options,
            job.Logits == null ? null : job.Logits + (long)first * config.Classes);
    }
}
