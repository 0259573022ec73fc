using Xunit;

namespace ViTCompiler.Cli.Tests;

/// <summary>
/// <c>vit serve</c>'s command line. The service itself is tested against a real Kestrel in ViTCompiler.Serving.Tests;
/// the published binary serving a request and stopping on SIGTERM is checked by .ci/aot-smoke.sh.
/// </summary>
public class ServeTests
{
    [Theory]
    [InlineData(new[] { "serve" }, "Give the model to serve")]
    [InlineData(new[] { "serve", "--preset", "fashion-mnist", "--weights", "x" }, "--weights or --preset, not both")]
    [InlineData(new[] { "serve", "--preset", "fashion-mnist", "--host", "0.0.0.0" }, "needs an API key")]
    [InlineData(new[] { "serve", "--preset", "fashion-mnist", "--api-key", "short" }, "shorter than 16 characters")]
    [InlineData(new[] { "serve", "--preset", "fashion-mnist", "--max-batch", "0" }, "largest batch must be at least 1")]
    [InlineData(new[] { "serve", "--preset", "fashion-mnist", "--port", "70000" }, "between 0 and 65535")]
    [InlineData(new[] { "serve", "--preset", "fashion-mnist", "--host", "example.org", "--api-key", "0123456789abcdefXYZ" }, "not an IP address")]
    public void Bad_settings_exit_1_before_listening(string[] args, string expected)
    {
        CliResult result = Cli.Run(args);
        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(expected, result.Error);
        Assert.DoesNotContain("   at ", result.Error);
        Assert.Equal("", result.Output);
    }
}
