namespace ViTCompiler.Cli;

internal static class Program
{
    private static int Main(string[] args) =>
        // The published x86-64-v3 binary hands over to its x86-64-v4 sibling on AVX-512 CPUs (IsaVariants).
        IsaVariants.Dispatch(args, Console.Error) ?? VitCli.Run(args, Console.Out, Console.Error);
}
