using System.CommandLine;
using ViTCompiler.Cli.Commands;

namespace ViTCompiler.Cli;

/// <summary>
/// The <c>vit</c> command line: parses the arguments, runs one command, and returns the process exit code
/// (<see cref="ExitCodes"/>). Results go to <c>output</c>; warnings and errors to <c>error</c>.
/// </summary>
public static class VitCli
{
    /// <summary>Runs <c>vit</c> with <paramref name="args"/>, writing to the given writers; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        var context = new CliContext(output, error);
        RootCommand root = CreateRootCommand(context);
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line per problem and a pointer to the help, rather than the whole help text after the errors.
            foreach (System.CommandLine.Parsing.ParseError problem in parse.Errors) error.WriteLine("vit: " + problem.Message);
            Command command = parse.CommandResult.Command;
            string name = command is RootCommand ? "vit" : "vit " + command.Name;
            if (command is RootCommand) error.WriteLine($"Usage: vit <command> [options]; commands: {string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))}.");
            else error.WriteLine($"Usage: {name}{string.Concat(command.Arguments.Select(a => $" <{a.Name}>"))} [options]");
            error.WriteLine($"Run '{name} --help' for details.");
            return ExitCodes.Usage;
        }
        int code = parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        output.Flush();
        error.Flush();
        return code;
    }

    internal static RootCommand CreateRootCommand(CliContext context)
    {
        var root = new RootCommand("vit: run, inspect, convert, benchmark and train Vision Transformers compiled to SIMD C# by ViTCompiler.")
        {
            ClassifyCommand.Create(context),
            InfoCommand.Create(context),
            ConvertCommand.Create(context),
            BenchCommand.Create(context),
            InitCommand.Create(context),
            TrainCommand.Create(context),
            EvalCommand.Create(context),
            ProbeCommand.Create(context),
            ExplainCommand.Create(context),
            InspectCommand.Create(context),
            ExportOnnxCommand.Create(context),
            SelfTestCommand.Create(context),
            ServeCommand.Create(context),
        };
        return root;
    }
}
