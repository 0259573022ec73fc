namespace ViTCompiler.Training;

/// <summary>
/// Turns Ctrl-C into a <see cref="CancellationToken"/> so a <see cref="Trainer"/> can save a checkpoint at the next step
/// boundary and return. A second Ctrl-C ends the process at once, as usual.
/// </summary>
/// <example><code>
/// using var ctrlC = ConsoleCancellation.Install();
/// trainer.Run(ctrlC.Token);
/// </code></example>
public sealed class ConsoleCancellation : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly TextWriter? _messages;
    private bool _disposed;

    private ConsoleCancellation(TextWriter? messages)
    {
        _messages = messages;
        Console.CancelKeyPress += OnCancelKeyPress;
    }

    /// <summary>Starts listening for Ctrl-C; dispose to stop.</summary>
    /// <param name="messages">Where to say what happens on the first Ctrl-C; standard error by default (<see cref="TextWriter.Null"/> for silence).</param>
    public static ConsoleCancellation Install(TextWriter? messages = null) => new(messages ?? Console.Error);

    /// <summary>Cancelled on the first Ctrl-C.</summary>
    public CancellationToken Token => _source.Token;

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        if (_source.IsCancellationRequested) return; // second press: let the process end
        e.Cancel = true;
        _messages?.WriteLine();
        _messages?.WriteLine("Stopping after the current step and saving a checkpoint… (press Ctrl-C again to quit at once)");
        _source.Cancel();
    }

    /// <summary>Stops listening.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Console.CancelKeyPress -= OnCancelKeyPress;
        _source.Dispose();
    }
}
