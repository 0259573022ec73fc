using System.Text.Json;

namespace ViTCompiler.Tests;

/// <summary>
/// The test assembly doubles as a console program for work that needs a process of its own:
/// <list type="bullet">
/// <item><c>isa-check</c>: <see cref="IsaPathTests"/> re-runs the numeric checks in a child process whose JIT was started
/// with some instruction sets switched off (they cannot be switched off inside a running process); one JSON object per check.</item>
/// <item><c>hostile …</c>: the child side of the hostile-input corpus (<see cref="Reliability.HostileRunner"/>), whose
/// crashes, hangs and peak memory the supervisor watches from outside.</item>
/// <item><c>hostile-soak [--mutations N] [--seed S] [--case-seconds T]</c>: the corpus at any size, on demand, with a
/// summary (docs/RELIABILITY.md); exit code 1 if any input crashed, hung or escaped unhandled.</item>
/// </list>
/// </summary>
public static class Program
{
    /// <summary>Checks run in every child process: every model forward, and gradients on the cheaper models.</summary>
    public static readonly string[] GradientModels = [nameof(FashionSmall), nameof(OddWidth), nameof(MeanPooled), nameof(NoQkvBias), nameof(PixelPatches), nameof(HybridSmall), nameof(HybridOdd)];

    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "hostile")
        {
            Reliability.HostileRunner.Run(ulong.Parse(Option(args, "--seed", "10")), int.Parse(Option(args, "--mutations", "390")),
                int.Parse(Option(args, "--from", "0")), Option(args, "--only", "") is { Length: > 0 } only ? int.Parse(only) : null,
                Option(args, "--work", Path.GetTempPath()), Console.Out);
            return 0;
        }
        if (args.Length > 0 && args[0] == "hostile-soak")
        {
            Reliability.HostileSettings defaults = Reliability.HostileSettings.FromEnvironment();
            var settings = new Reliability.HostileSettings(ulong.Parse(Option(args, "--seed", defaults.Seed.ToString())),
                int.Parse(Option(args, "--mutations", "5000")), double.Parse(Option(args, "--case-seconds", defaults.CaseSeconds.ToString())));
            Reliability.HostileReport report = Reliability.HostileSupervisor.Run(settings, line => Console.Error.WriteLine(line));
            Console.WriteLine(report.Summary());
            return report.Failures.Any() ? 1 : 0;
        }
        if (args.Length != 1 || args[0] != "isa-check")
        {
            Console.Error.WriteLine("usage: dotnet ViTCompiler.Tests.dll isa-check | hostile-soak [--mutations N] [--seed S] [--case-seconds T]   (run the tests with dotnet test)");
            return 2;
        }
        foreach (string name in TestModels.All.Keys)
            foreach (int batch in new[] { 1, 3 })
            {
                ForwardCheck.Result r = ForwardCheck.Run(name, batch);
                Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["kind"] = "forward", ["model"] = r.Model, ["batch"] = r.Batch, ["engine"] = r.Engine,
                    ["error"] = r.LogitError, ["attention_error"] = r.AttentionError,
                }));
            }
        foreach (string name in GradientModels)
        {
            GradientCheck.Result r = GradientCheck.Run(name, 2, GradientCheck.Regularised);
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["kind"] = "gradient", ["model"] = r.Model, ["batch"] = r.Batch, ["engine"] = r.Engine,
                ["error"] = r.WorstTensorError, ["tensor"] = r.WorstTensor, ["loss_error"] = r.LossError,
            }));
        }
        return 0;
    }

    private static string Option(string[] args, string name, string fallback)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
    }
}
