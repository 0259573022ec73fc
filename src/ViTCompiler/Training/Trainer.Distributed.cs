using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using ViTCompiler.Data;
using ViTCompiler.Distributed;

namespace ViTCompiler.Training;

// Data-parallel training over an ICommunicator (docs/DISTRIBUTED.md). Every rank holds the whole model, the optimiser
// and the batcher, and draws the same global batch; rank r trains on parts r·K … r·K + K − 1 of its R·K equal parts
// (K = Accumulate), the gradients are summed across ranks (each rank's block already weighted by its parts' image
// counts over the batch's), and every rank takes the same optimiser step on the same numbers. Rank 0 alone writes.
public sealed partial class Trainer
{
    private readonly ICommunicator _communicator;
    private readonly double[] _stepSums = new double[3];   // loss × images, correct, stop requested (one allreduce per step)
    private bool _stopAgreed, _ranksChecked;

    /// <summary>The group this trainer runs on (<see cref="LocalCommunicator.Instance"/> for a single process).</summary>
    public ICommunicator Communicator => _communicator;

    private bool IsWriter => _communicator.Rank == 0;

    /// <summary>Sums the step's gradient block and counts across ranks, and agrees on whether to stop after it.</summary>
    private void ReduceStep(Span<float> gradients, ref double lossSum, ref int correct, bool stopRequested)
    {
        if (_communicator.Size == 1) return;
        _communicator.AllreduceSum(gradients);
        _stepSums[0] = lossSum;
        _stepSums[1] = correct;
        _stepSums[2] = stopRequested ? 1 : 0;
        _communicator.Allreduce(_stepSums, ReduceOperation.Sum);
        lossSum = _stepSums[0];
        correct = (int)_stepSums[1];
        _stopAgreed = _stepSums[2] > 0;
    }

    /// <summary>This rank's share of the test set: a contiguous slice, the ranks' slices in order.</summary>
    private static LabeledImages? TestShare(LabeledImages? test, ICommunicator communicator)
    {
        if (test is null || communicator.Size == 1) return test;
        int first = (int)((long)test.Count * communicator.Rank / communicator.Size);
        int end = (int)((long)test.Count * (communicator.Rank + 1) / communicator.Size);
        return end > first ? test.Slice(first, end - first) : null;
    }

    /// <summary>Evaluates this rank's share and sums the counts and losses over the ranks (a collective under MPI).</summary>
    private EvaluationResult? EvaluateShares(bool testTimeFlip)
    {
        if (!_hasTest) return null;
        EvaluationResult local = _evaluator?.Evaluate(_model, testTimeFlip) ?? default;
        if (_communicator.Size == 1) return local;
        Span<double> sums = [local.Images, local.Correct, local.Images == 0 ? 0 : local.Loss * local.Images];
        _communicator.Allreduce(sums, ReduceOperation.Sum);
        return new EvaluationResult((int)sums[0], (int)sums[1], sums[2] / sums[0]);
    }

    /// <summary>
    /// Every rank learns whether any rank failed a local step (e.g. rank 0 claiming the checkpoint file): the failing rank
    /// rethrows its exception, the others throw one pointing at it, so no rank waits in a collective for a rank that left.
    /// </summary>
    private void Agree(Exception? local, string what)
    {
        if (_communicator.Size > 1)
        {
            Span<double> failed = [local is null ? 0 : 1];
            _communicator.Allreduce(failed, ReduceOperation.Max);
            if (failed[0] > 0 && local is null)
                throw new CommunicatorException($"Another rank failed while {what} (its message says why); rank {_communicator.Rank} stops too.");
        }
        if (local is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(local);
    }

    /// <summary>
    /// Before the first step of a data-parallel run: copies rank 0's parameters to every rank, then checks that every rank
    /// holds the same model, data, settings and trainer state as rank 0, naming each difference.
    /// </summary>
    /// <exception cref="RanksDisagreeException">A rank differs.</exception>
    private void CheckRanks()
    {
        if (_communicator.Size == 1 || _ranksChecked) return;
        if (IsWriter)
        {
            // The root only reads its buffer.
            ReadOnlySpan<float> parameters = _model.Parameters;
            _communicator.Broadcast(MemoryMarshal.AsBytes(MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(parameters), parameters.Length)), 0);
        }
        else
        {
            using ParameterEdit edit = _model.EditParameters();
            _communicator.Broadcast(MemoryMarshal.AsBytes(edit.Values), 0);
        }

        string mine = Fingerprint();
        byte[] text = Encoding.UTF8.GetBytes(mine);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, text.Length);
        _communicator.Broadcast(length, 0);
        byte[] theirs = IsWriter ? text : new byte[BinaryPrimitives.ReadInt64LittleEndian(length)];
        _communicator.Broadcast(theirs, 0);

        List<string> differences = Differences(Encoding.UTF8.GetString(theirs), mine);
        Span<double> count = [differences.Count > 0 ? 1 : 0];
        _communicator.Allreduce(count, ReduceOperation.Sum);
        if (count[0] == 0)
        {
            _ranksChecked = true;
            return;
        }
        throw new RanksDisagreeException(differences.Count > 0
            ? $"Rank {_communicator.Rank} of {_communicator.Size} started differently from rank 0: {string.Join("; ", differences)}. Start every rank with the same model, data and settings."
            : $"{count[0]:N0} of {_communicator.Size} ranks started differently from rank 0 (each names its differences); nothing was trained.");
    }

    /// <summary>"key: rank 0 → this rank" for each line that differs.</summary>
    private static List<string> Differences(string rank0, string mine)
    {
        Dictionary<string, string> Lines(string text) => text.Split('\n').Select(l => l.Split(": ", 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
        Dictionary<string, string> a = Lines(rank0), b = Lines(mine);
        var list = new List<string>();
        foreach ((string key, string value) in a)
            if (!b.TryGetValue(key, out string? other) || other != value) list.Add($"{key}: rank 0 has {value}, this rank {other ?? "nothing"}");
        foreach (string key in b.Keys.Where(k => !a.ContainsKey(k))) list.Add($"{key}: rank 0 has nothing, this rank {b[key]}");
        return list;
    }

    /// <summary>One "key: value" line per thing every rank must agree on; large things (data, state blocks) as hashes.</summary>
    private string Fingerprint()
    {
        var lines = new List<string> { $"model: {_model.Config} ({_model.Config.ParameterCount:N0} parameters)" };
        using (JsonDocument settings = JsonDocument.Parse(Options.ToSettingsJson()))
            foreach (JsonProperty p in settings.RootElement.EnumerateObject()) lines.Add($"setting {p.Name}: {p.Value.GetRawText()}");
        LabeledImages train = _batcher.Images;
        lines.Add($"training data: {train.Count:N0} images {train.Channels}×{train.Height}×{train.Width}, hash {Hash(train.Pixels, MemoryMarshal.AsBytes(train.Labels)):X16}");
        lines.Add($"test data: {_testImages}");
        lines.Add($"step: {_step}");
        Span<ulong> words = stackalloc ulong[ImageBatcher.StateLength];
        _batcher.GetState(words);
        lines.Add($"batcher state: {Hash(MemoryMarshal.AsBytes(words), default):X16}");
        _random.GetState(words[..4]);
        lines.Add($"dropout generator: {Hash(MemoryMarshal.AsBytes(words[..4]), default):X16}");
        OptimizerState state = Optimizer.ExportState();
        ulong moments = 0;
        foreach ((string name, float[] block) in state.Blocks.OrderBy(b => b.Key, StringComparer.Ordinal))
            moments ^= Hash(MemoryMarshal.AsBytes(block.AsSpan()), Encoding.UTF8.GetBytes(name));
        lines.Add($"optimizer: {state.Optimizer} at step {state.Step}, state hash {moments:X16}");
        return string.Join('\n', lines);
    }

    /// <summary>A 64-bit hash of two byte strings (the same on every machine and run: not <see cref="HashCode"/>, which is seeded per process).</summary>
    internal static ulong Hash(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second) => Mix(second, Mix(first, 0xCBF2_9CE4_8422_2325UL));

    private static ulong Mix(ReadOnlySpan<byte> bytes, ulong h)
    {
        ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(bytes);
        foreach (ulong w in words) h = ((h ^ w) * 0x0000_0100_0000_01B3UL) ^ (h >> 29);
        foreach (byte b in bytes[(words.Length * 8)..]) h = (h ^ b) * 0x0000_0100_0000_01B3UL;
        return h ^ ((ulong)bytes.Length * 0x9E37_79B9_7F4A_7C15UL);
    }

    private static string TestDescription(LabeledImages? test) => test is null ? "none" :
        string.Create(CultureInfo.InvariantCulture, $"{test.Count:N0} images, hash {Hash(test.Pixels, MemoryMarshal.AsBytes(test.Labels)):X16}");
}
