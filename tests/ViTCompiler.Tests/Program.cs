using System.Text.Json;

namespace ViTCompiler.Tests;

/// <summary>
/// The test assembly doubles as a console program so <see cref="IsaPathTests"/> can re-run the numeric checks in a
/// child process whose JIT was started with some instruction sets switched off (they cannot be switched off inside a
/// running process). `dotnet ViTCompiler.Tests.dll isa-check` prints one JSON object per check.
/// </summary>
public static class Program
{
    /// <summary>Checks run in every child process: every model forward, and gradients on the cheaper models.</summary>
    public static readonly string[] GradientModels = [nameof(FashionSmall), nameof(OddWidth), nameof(MeanPooled), nameof(NoQkvBias), nameof(PixelPatches)];

    public static int Main(string[] args)
    {
        if (args.Length != 1 || args[0] != "isa-check")
        {
            Console.Error.WriteLine("usage: dotnet ViTCompiler.Tests.dll isa-check   (run the tests with dotnet test)");
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
}
