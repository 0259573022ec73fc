namespace ViTCompiler.Cli;

internal static class Program
{
    private static int Main(string[] args) => VitCli.Run(args, Console.Out, Console.Error);
}
