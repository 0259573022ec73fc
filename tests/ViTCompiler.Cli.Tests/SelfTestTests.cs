using System.Text.Json;
using Xunit;

namespace ViTCompiler.Cli.Tests;

public class SelfTestTests
{
    [Fact]
    public void Selftest_compares_a_compiled_preset_with_the_reference_engine()
    {
        JsonElement result = Assert.Single(Cli.Ok("selftest", "--preset", "fashion-mnist", "--json").JsonLines);
        Assert.Equal("fashion-mnist", result.GetProperty("preset").GetString());
        Assert.StartsWith("generated", result.GetProperty("engine").GetString());
        Assert.InRange(result.GetProperty("forward_error").GetDouble(), 0, 2e-5);
        Assert.InRange(result.GetProperty("gradient_error").GetDouble(), 0, 1e-4);
        Assert.True(result.GetProperty("passed").GetBoolean());
    }

    [Fact]
    public void Selftest_covers_the_hybrid_preset()
    {
        JsonElement result = Assert.Single(Cli.Ok("selftest", "--preset", "fashion-mnist-hybrid", "--json").JsonLines);
        Assert.Equal("fashion-mnist-hybrid", result.GetProperty("preset").GetString());
        Assert.InRange(result.GetProperty("forward_error").GetDouble(), 0, 2e-5);
        Assert.InRange(result.GetProperty("gradient_error").GetDouble(), 0, 1e-4);
        Assert.True(result.GetProperty("passed").GetBoolean());
    }

    [Fact]
    public void Selftest_rejects_an_unknown_preset()
    {
        CliResult result = Cli.Run("selftest", "--preset", "vit-z99");
        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("vit-z99", result.Error);
    }
}
