using ViTCompiler.Data;
using ViTCompiler.Distributed;
using ViTCompiler.IO;
using ViTCompiler.Tests.Data;
using ViTCompiler.Training;
using Xunit;

namespace ViTCompiler.Tests.Training;

/// <summary>
/// The data-parallel trainer without MPI: the ranks are threads of this process joined by <see cref="ThreadGroup"/>, an
/// in-memory communicator whose allreduce adds the ranks' buffers in rank order. (The MPI binding itself is tested from
/// the vit binary under mpirun: ViTCompiler.Cli.Tests' DistributedTests and .ci/aot-smoke.sh.)
/// </summary>
public class DistributedTrainerTests
{
    private static TrainerOptions Options(string folder, int accumulate = 1) => TrainerTests.ReplayOptions(folder) with
    {
        MaxSteps = 8, Accumulate = accumulate, Threads = 1,
    };

    /// <summary>Runs <paramref name="ranks"/> trainers on threads; returns each rank's model and result (or exception).</summary>
    private static (FashionSmall Model, TrainingResult? Result, Exception? Error)[] RunRanks(int ranks, Func<int, TrainerOptions> options)
    {
        var group = new ThreadGroup(ranks);
        (LabeledImages train, LabeledImages test) = TrainerTests.Tiny();
        var results = new (FashionSmall, TrainingResult?, Exception?)[ranks];
        Parallel.For(0, ranks, new ParallelOptions { MaxDegreeOfParallelism = ranks }, rank =>
        {
            // Every rank starts from other weights: rank 0's are broadcast.
            var model = new FashionSmall(seed: (ulong)(1 + rank));
            try
            {
                using var trainer = new Trainer(model, train, test, options(rank), null, group.Rank(rank));
                results[rank] = (model, trainer.Run(), null);
            }
            catch (Exception e)
            {
                results[rank] = (model, null, e);
                group.Break();
            }
        });
        return results;
    }

    [Fact]
    public void Two_ranks_make_the_updates_of_one_process_in_two_micro_batches()
    {
        // Same parts (2), so the same dropout masks (a part's seed is its index) and the same weighting; only the order
        // of the gradient additions differs (TrainStep adds g1 into g0 term by term; the allreduce adds the two blocks).
        using var one = new TempFolder();
        var single = new FashionSmall(seed: 1);
        (LabeledImages train, LabeledImages test) = TrainerTests.Tiny();
        TrainingResult expected;
        using (var trainer = new Trainer(single, train, test, Options(one.Path, accumulate: 2))) expected = trainer.Run();

        using var two = new TempFolder();
        var ranks = RunRanks(2, _ => Options(two.Path));
        Assert.All(ranks, r => Assert.Null(r.Error));
        float[] parameters = single.Parameters.ToArray();
        Assert.True(parameters.Zip(ranks[0].Model.Parameters.ToArray()).Max(p => Math.Abs(p.First - p.Second)) <= AccumulationTests.ParameterTolerance);
        Assert.Equal(ranks[0].Model.Parameters.ToArray(), ranks[1].Model.Parameters.ToArray()); // every rank took the same steps
        Assert.Equal(expected.TrainLoss, ranks[0].Result!.TrainLoss, AccumulationTests.LossTolerance * expected.TrainLoss);
        // The test set is split in two and the sums added: the same image count, the loss up to rounding.
        Assert.Equal(ranks[0].Result!.Test, ranks[1].Result!.Test); // every rank gets the reduced evaluation
        Assert.Equal(expected.Test!.Value.Images, ranks[0].Result!.Test!.Value.Images);
        Assert.Equal(expected.Test!.Value.Loss, ranks[0].Result!.Test!.Value.Loss, AccumulationTests.LossTolerance * expected.Test!.Value.Loss);
        // Rank 0 alone wrote: one checkpoint, one metrics log, the same lines as the single process's.
        Assert.Equal("2", VitCheckpoint.Load(Options(two.Path).CheckpointPath!).Metadata["trainer.ranks"]);
        Assert.Equal(File.ReadAllLines(Options(one.Path).MetricsPath!).Length, File.ReadAllLines(Options(two.Path).MetricsPath!).Length);
    }

    [Fact]
    public void Three_ranks_with_unequal_shares_match_one_process_within_the_tolerance()
    {
        // 16 images over 3 ranks × 2 micro-batches: parts of 2 and 3 images, weighted by their sizes.
        using var one = new TempFolder();
        var single = new FashionSmall(seed: 1);
        (LabeledImages train, LabeledImages test) = TrainerTests.Tiny();
        using (var trainer = new Trainer(single, train, test, Options(one.Path) with { Dropout = 0, DropPath = 0 })) trainer.Run();
        using var three = new TempFolder();
        var ranks = RunRanks(3, _ => Options(three.Path, accumulate: 2) with { Dropout = 0, DropPath = 0 });
        Assert.All(ranks, r => Assert.Null(r.Error));
        float[] expected = single.Parameters.ToArray();
        foreach (var rank in ranks)
            Assert.True(expected.Zip(rank.Model.Parameters.ToArray()).Max(p => Math.Abs(p.First - p.Second)) <= AccumulationTests.ParameterTolerance);
        Assert.Equal(ranks[0].Model.Parameters.ToArray(), ranks[2].Model.Parameters.ToArray());
    }

    [Fact]
    public void Ranks_with_other_settings_stop_before_the_first_step_naming_the_difference()
    {
        using var folder = new TempFolder();
        var ranks = RunRanks(2, rank => Options(folder.Path) with { LearningRate = rank == 0 ? 2e-3f : 1e-3f });
        var mine = Assert.IsType<RanksDisagreeException>(ranks[1].Error);
        Assert.Contains("setting learning_rate: rank 0 has 0.002, this rank 0.001", mine.Message);
        Assert.Contains("1 of 2 ranks started differently", Assert.IsType<RanksDisagreeException>(ranks[0].Error).Message);
        Assert.False(File.Exists(Options(folder.Path).CheckpointPath));
    }

    /// <summary>Ranks as threads: each collective is two barrier phases around a shared slot per rank.</summary>
    private sealed class ThreadGroup(int size)
    {
        private readonly int _size = size;
        private readonly Barrier _barrier = new(size);
        private readonly object?[] _slots = new object?[size];
        private volatile bool _broken;

        public ICommunicator Rank(int rank) => new Member(this, rank);

        /// <summary>A rank failed: later collectives fail at once, and one already waiting gives up after a minute.</summary>
        public void Break() => _broken = true;

        private void Wait()
        {
            if (_broken || !_barrier.SignalAndWait(TimeSpan.FromSeconds(60)))
                throw new CommunicatorException("a rank left the group");
        }

        private sealed class Member(ThreadGroup group, int rank) : ICommunicator
        {
            public int Rank => rank;
            public int Size => group._size;

            private T[] Exchange<T>(ReadOnlySpan<T> values, Func<T[][], T[]> combine)
            {
                group._slots[rank] = values.ToArray();
                group.Wait();
                T[] result = combine(group._slots.Select(s => (T[])s!).ToArray());
                group.Wait();
                return result;
            }

            public void AllreduceSum(Span<float> values) =>
                Exchange<float>(values, all => Enumerable.Range(0, all[0].Length).Select(i => all.Aggregate(0f, (sum, a) => sum + a[i])).ToArray()).CopyTo(values);

            public void Allreduce(Span<double> values, ReduceOperation operation) =>
                Exchange<double>(values, all => Enumerable.Range(0, all[0].Length).Select(i => operation switch
                {
                    ReduceOperation.Sum => all.Aggregate(0.0, (sum, a) => sum + a[i]),
                    ReduceOperation.Max => all.Max(a => a[i]),
                    _ => all.Min(a => a[i]),
                }).ToArray()).CopyTo(values);

            public void Broadcast(Span<byte> bytes, int root) => Exchange<byte>(bytes, all => all[root]).CopyTo(bytes);

            public void Barrier() => group.Wait();

            public void Abort(int exitCode) => throw new CommunicatorException($"abort {exitCode}");
        }
    }
}
