namespace ViTCompiler.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        // Open MPI gives each rank's stdout a pseudo-terminal, so .NET would write its terminal set-up codes (ESC [?1h ESC =)
        // into what mpirun forwards, e.g. into a --json file. A rank is not an interactive terminal: say so before the
        // console starts.
        if (Distributed.MpiCommunicator.LaunchedByMpi) Environment.SetEnvironmentVariable("TERM", "dumb");
        // The published x86-64-v3 binary hands over to its x86-64-v4 sibling on AVX-512 CPUs (IsaVariants).
        return IsaVariants.Dispatch(args, Console.Error) ?? VitCli.Run(args, Console.Out, Console.Error);
    }
}
