namespace ViTCompiler.Cli;

/// <summary>The process exit codes of <c>vit</c> (docs/CLI.md lists them too).</summary>
public static class ExitCodes
{
    /// <summary>Everything asked for was done.</summary>
    public const int Ok = 0;

    /// <summary>Bad command line or input that cannot work: unknown option, value out of range, incompatible settings.</summary>
    public const int Usage = 1;

    /// <summary>A file could not be used: missing, unreadable, corrupt, not in a supported format, or not matching the model.</summary>
    public const int FileProblem = 2;

    /// <summary>A bug or an unexpected failure in vit itself (set VIT_DEBUG=1 to see the stack trace).</summary>
    public const int Internal = 3;

    /// <summary><c>vit train</c> stopped because the loss, a gradient or a weight became NaN or infinite; the last checkpoint is kept.</summary>
    public const int TrainingDiverged = 4;

    /// <summary><c>vit selftest</c> found a compiled model whose results differ from the reference engine.</summary>
    public const int SelfTestFailed = 5;

    /// <summary>
    /// <c>vit train</c> under MPI: the MPI library could not be loaded or started, a collective failed (a rank died), or
    /// the ranks started with different models, data, settings or state (each differing rank names the difference).
    /// </summary>
    public const int Distributed = 6;

    /// <summary><c>vit train</c> was stopped by Ctrl-C after saving its checkpoint (the shell's code for SIGINT).</summary>
    public const int Interrupted = 130;

    /// <summary><c>vit train</c> was stopped by SIGTERM (<c>kill</c>, a batch scheduler) after saving its checkpoint (the shell's code for SIGTERM).</summary>
    public const int Terminated = 143;
}

/// <summary>A failure that is the user's to fix: its message is printed as is, without a stack trace.</summary>
internal sealed class CliException(int exitCode, string message, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;

    public static CliException Usage(string message) => new(ExitCodes.Usage, message);

    public static CliException File(string message, Exception? inner = null) => new(ExitCodes.FileProblem, message, inner);
}
