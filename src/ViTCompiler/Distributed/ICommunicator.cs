namespace ViTCompiler.Distributed;

/// <summary>How <see cref="ICommunicator.Allreduce(Span{double}, ReduceOperation)"/> combines the ranks' values.</summary>
public enum ReduceOperation
{
    /// <summary>The sum over all ranks.</summary>
    Sum,
    /// <summary>The largest value.</summary>
    Max,
    /// <summary>The smallest value.</summary>
    Min,
}

/// <summary>
/// The group of processes a data-parallel <see cref="Training.Trainer"/> runs on: its rank, its size and the collective
/// operations training needs. <see cref="LocalCommunicator"/> is the single process; <see cref="MpiCommunicator"/> is
/// MPI's world communicator (docs/DISTRIBUTED.md).
/// </summary>
/// <remarks>
/// Every method is collective: every rank must call it, in the same order, with buffers of the same length. A failure
/// (a rank that died, a broken network) raises <see cref="CommunicatorException"/> on the ranks that notice it.
/// </remarks>
public interface ICommunicator
{
    /// <summary>This process's index, 0 to <see cref="Size"/> − 1. Rank 0 alone writes files and reports progress.</summary>
    int Rank { get; }

    /// <summary>Processes in the group.</summary>
    int Size { get; }

    /// <summary>Replaces <paramref name="values"/> on every rank with their element-wise sum over all ranks.</summary>
    void AllreduceSum(Span<float> values);

    /// <summary>Replaces <paramref name="values"/> on every rank with their element-wise <paramref name="operation"/> over all ranks.</summary>
    void Allreduce(Span<double> values, ReduceOperation operation);

    /// <summary>Copies <paramref name="bytes"/> of rank <paramref name="root"/> into <paramref name="bytes"/> of every other rank.</summary>
    void Broadcast(Span<byte> bytes, int root);

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();

    /// <summary>Ends every process of the group with <paramref name="exitCode"/>, from any one rank (does not return).</summary>
    void Abort(int exitCode);
}

/// <summary>A group of one process: every collective is a no-op. What a <see cref="Training.Trainer"/> uses by default.</summary>
public sealed class LocalCommunicator : ICommunicator
{
    /// <summary>The one instance.</summary>
    public static LocalCommunicator Instance { get; } = new();

    private LocalCommunicator() { }

    /// <inheritdoc/>
    public int Rank => 0;

    /// <inheritdoc/>
    public int Size => 1;

    /// <inheritdoc/>
    public void AllreduceSum(Span<float> values) { }

    /// <inheritdoc/>
    public void Allreduce(Span<double> values, ReduceOperation operation) { }

    /// <inheritdoc/>
    public void Broadcast(Span<byte> bytes, int root) =>
        ArgumentOutOfRangeException.ThrowIfNotEqual(root, 0);

    /// <inheritdoc/>
    public void Barrier() { }

    /// <inheritdoc/>
    public void Abort(int exitCode) => Environment.Exit(exitCode);
}

/// <summary>An MPI call failed, or MPI could not be loaded; the message names the call and MPI's own explanation.</summary>
public sealed class CommunicatorException(string message, Exception? inner = null) : Exception(message, inner);
