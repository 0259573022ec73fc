using System.Text.Json;
using ViTCompiler.IO;
using ViTCompiler.Reference;
using Xunit;

namespace ViTCompiler.Cli.Tests;

/// <summary>What one in-process run of <c>vit</c> printed and returned.</summary>
public sealed record CliResult(int ExitCode, string Output, string Error)
{
    public string[] OutputLines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Each stdout line parsed as one JSON object.</summary>
    public JsonElement[] JsonLines => OutputLines.Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToArray();

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Output}\n--- stderr\n{Error}";
}

/// <summary>Runs the CLI's entry point in-process, and makes the files the tests feed it.</summary>
public static class Cli
{
    public static CliResult Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = VitCli.Run(args, output, error);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    /// <summary>Runs and asserts exit code 0, showing both streams when it is not.</summary>
    public static CliResult Ok(params string[] args)
    {
        CliResult result = Run(args);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }

    /// <summary>The fashion-mnist preset's configuration: the FashionMnist sample's model, which vit compiles.</summary>
    public static VitConfig FashionConfig => FashionMnistSample.FashionVit.ModelConfig;

    /// <summary>
    /// A model with every parameter drawn from N(0, σ²) (σ = 0.2, LayerNorm scales around 1) so that its outputs
    /// differ from class to class, unlike a freshly initialised model whose zero head makes every class equally likely.
    /// </summary>
    public static ReferenceVitModel Randomized(VitConfig config, int seed)
    {
        var model = new ReferenceVitModel(config);
        var random = new Random(seed);
        using (ParameterEdit edit = model.EditParameters())
        foreach (ParameterTensor t in config.Layout)
        {
            Span<float> values = edit[t];
            bool scale = t.Name.EndsWith("norm1.weight", StringComparison.Ordinal) || t.Name.EndsWith("norm2.weight", StringComparison.Ordinal) || t.Name == "norm.weight";
            for (int i = 0; i < values.Length; i++)
            {
                double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                values[i] = (float)((scale ? 1 : 0) + 0.2 * gaussian);
            }
        }
        return model;
    }
}

/// <summary>A temporary directory removed at the end of a test.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vit-cli-tests-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
