using ViTCompiler.IO;
using Xunit;

namespace ViTCompiler.Cli.Tests;

/// <summary>Mistakes get exit code 1 (usage) or 2 (files), a message on stderr that says what to do, and never a stack trace.</summary>
public class UsageTests
{
    [Theory]
    [InlineData(new[] { "info", "--nope" }, "--nope")]
    [InlineData(new[] { "info" }, "exactly one of --preset")]
    [InlineData(new[] { "info", "--preset", "vit-b16", "--weights", "x" }, "exactly one of --preset")]
    [InlineData(new[] { "info", "--preset", "vit-z99" }, "Presets: vit-ti16")]
    [InlineData(new[] { "bench", "--preset", "fashion-mnist", "--batch", "0" }, "--batch must be a positive number")]
    [InlineData(new[] { "bench", "--preset", "fashion-mnist", "--runs", "many" }, "many")]
    [InlineData(new[] { "classify", "x.png" }, "--weights")]
    [InlineData(new[] { "convert", "a" }, "Usage: vit convert <IN> <OUT> [options]")]
    [InlineData(new[] { "convert", "a", "b", "--to", "onnx" }, "onnx")]
    [InlineData(new[] { "frobnicate" }, "frobnicate")]
    [InlineData(new string[0], "commands: classify, info")]
    public void Bad_arguments_exit_1_with_a_message(string[] args, string expected)
    {
        CliResult result = Cli.Run(args);
        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(expected, result.Error);
        Assert.DoesNotContain("   at ", result.Error);
        Assert.Equal("", result.Output);
    }

    [Fact]
    public void Top_must_be_positive()
    {
        using var dir = new TempDirectory();
        HuggingFaceWeights.Save(dir.File("hf"), Cli.Randomized(Cli.FashionConfig, 1));
        CliResult result = Cli.Run("classify", TestImages.Png(dir.File("a.png")), "--weights", dir.File("hf"), "--top", "0");
        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--top must be a positive number", result.Error);
    }

    [Fact]
    public void Missing_or_corrupt_weights_exit_2_naming_the_file()
    {
        using var dir = new TempDirectory();
        string png = TestImages.Png(dir.File("a.png"));
        CliResult missing = Cli.Run("classify", png, "--weights", dir.File("nothing.safetensors"));
        Assert.Equal(ExitCodes.FileProblem, missing.ExitCode);
        Assert.Contains("nothing.safetensors", missing.Error);

        File.WriteAllBytes(dir.File("junk.safetensors"), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        CliResult junk = Cli.Run("info", "--weights", dir.File("junk.safetensors"));
        Assert.Equal(ExitCodes.FileProblem, junk.ExitCode);
        Assert.Contains("junk.safetensors", junk.Error);
        Assert.DoesNotContain("   at ", junk.Error);
    }

    [Fact]
    public void Weights_that_do_not_fit_their_config_are_a_file_problem()
    {
        using var dir = new TempDirectory();
        HuggingFaceWeights.Save(dir.File("hf"), Cli.Randomized(Cli.FashionConfig, 1));
        File.WriteAllText(dir.File("other.json"), """{"image_size":28,"channels":1,"patch":4,"layers":6,"hidden":64,"heads":4,"mlp_dim":128,"classes":7}""");
        CliResult result = Cli.Run("classify", TestImages.Png(dir.File("a.png")), "--weights", dir.File("hf"), "--config", dir.File("other.json"));
        Assert.Equal(ExitCodes.FileProblem, result.ExitCode);
        Assert.Contains("Classes", result.Error);
    }

    [Fact]
    public void A_timm_file_with_an_unusual_width_asks_for_the_head_count()
    {
        using var dir = new TempDirectory();
        var model = new ViTCompiler.Reference.ReferenceVitModel(Cli.FashionConfig with { Layers = 1 });
        // A timm file from elsewhere: the same tensors, no vit.config metadata.
        SafeTensors.Write(dir.File("foreign.safetensors"),
            model.Config.Layout.Select(t => new SafeTensorsEntry(t.Name, t.Shape, t.Of(model.Parameters).ToArray())));
        CliResult result = Cli.Run("info", "--weights", dir.File("foreign.safetensors"));
        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--heads", result.Error);
        Assert.Equal(4, Assert.Single(Cli.Ok("info", "--weights", dir.File("foreign.safetensors"), "--heads", "4", "--json").JsonLines).GetProperty("heads").GetInt32());
    }

    [Fact]
    public void Help_exits_0()
    {
        CliResult result = Cli.Ok("classify", "--help");
        Assert.Contains("--weights", result.Output);
        Assert.Contains("--top", result.Output);
    }
}
