using System.Runtime.InteropServices;

namespace ViTCompiler.Training;

/// <summary>
/// Turns Ctrl-C (SIGINT) and SIGTERM into a <see cref="CancellationToken"/> so a <see cref="Trainer"/> can save a
/// checkpoint at the next step boundary and return. A second signal ends the process at once, as usual.
/// </summary>
/// <remarks>
/// SIGTERM is what <c>kill</c>, <c>timeout</c>, systemd, Docker and batch schedulers (Slurm at the end of a job's time)
/// send before they kill; treated like Ctrl-C, it saves the run instead of losing everything since the last checkpoint.
/// A scheduler's grace period (Docker: 10 s) must be longer than one training step plus one save for this to work.
/// </remarks>
/// <example><code>
/// using var stop = ConsoleCancellation.Install();
/// trainer.Run(stop.Token);
/// </code></example>
public sealed class ConsoleCancellation : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly TextWriter? _messages;
    private readonly PosixSignalRegistration? _terminate;
    private int _signal;
    private bool _disposed;

    private ConsoleCancellation(TextWriter? messages)
    {
        _messages = messages;
        Console.CancelKeyPress += OnCancelKeyPress;
        // Windows has no SIGTERM to catch (console close events arrive as other signals .NET does not let us delay).
        if (!OperatingSystem.IsWindows()) _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnTerminate);
    }

    /// <summary>Starts listening for Ctrl-C and SIGTERM; dispose to stop.</summary>
    /// <param name="messages">Where to say what happens on the first signal; standard error by default (<see cref="TextWriter.Null"/> for silence).</param>
    public static ConsoleCancellation Install(TextWriter? messages = null) => new(messages ?? Console.Error);

    /// <summary>Cancelled on the first Ctrl-C or SIGTERM.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>The signal that cancelled <see cref="Token"/> (<see cref="PosixSignal.SIGINT"/> for Ctrl-C), or null while none has.</summary>
    public PosixSignal? Signal => _signal == 0 ? null : (PosixSignal)_signal;

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e) => e.Cancel = Stop(PosixSignal.SIGINT, "Ctrl-C", "press Ctrl-C again to quit at once");

    private void OnTerminate(PosixSignalContext context) => context.Cancel = Stop(PosixSignal.SIGTERM, "SIGTERM", "a second SIGTERM quits at once");

    /// <summary>Cancels on the first signal; returns whether the system's default action (ending the process) is to be held back.</summary>
    private bool Stop(PosixSignal signal, string name, string again)
    {
        if (Interlocked.CompareExchange(ref _signal, (int)signal, 0) != 0) return false; // second signal: let the process end
        _messages?.WriteLine();
        _messages?.WriteLine($"{name}: stopping after the current step and saving a checkpoint… ({again})");
        _source.Cancel();
        return true;
    }

    /// <summary>Stops listening.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Console.CancelKeyPress -= OnCancelKeyPress;
        _terminate?.Dispose();
        _source.Dispose();
    }
}
