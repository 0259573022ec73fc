namespace ViTCompiler.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        // Open MPI gives each rank's stdout a pseudo-terminal, so .NET would write its terminal set-up codes (ESC [?1h ESC =)
        // into what mpirun forwards, e.g. into a --json file. A rank is not an interactive terminal: say so before the
        // console starts.
        if (Distributed.MpiCommunicator.LaunchedByMpi) Environment.SetEnvironmentVariable("TERM", "dumb");
        return VitCli.Run(args, Console.Out, Console.Error);
    }
}
