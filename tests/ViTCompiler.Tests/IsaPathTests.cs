using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace ViTCompiler.Tests;

/// <summary>
/// Every SIMD path must compute the same model. The JIT reads DOTNET_EnableAVX512 / EnableAVX2 / EnableHWIntrinsic at
/// start-up, so each path runs in a child process (this assembly's <see cref="Program"/>), whose results are checked
/// here with the same tolerances as in-process.
/// </summary>
public class IsaPathTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("DOTNET_EnableAVX512", "Vector256")]  // on an AVX-512 machine this is the AVX2 path; elsewhere the default
    [InlineData("DOTNET_EnableAVX2", "Vector128")]
    [InlineData("DOTNET_EnableHWIntrinsic", "scalar")]
    public void Numeric_checks_pass_with_instruction_sets_disabled(string variable, string expectedPath)
    {
        if (expectedPath == "Vector256" && !Vector256.IsHardwareAccelerated)
        {
            output.WriteLine("This machine has no AVX2; the Vector256 path cannot run here.");
            return;
        }
        List<JsonElement> results = RunChild(variable);
        Assert.Equal(TestModels.All.Count * 2 + Program.GradientModels.Length, results.Count);
        foreach (JsonElement r in results)
        {
            string line = r.ToString();
            output.WriteLine(line);
            Assert.StartsWith("generated, " + expectedPath, r.GetProperty("engine").GetString());
            double tolerance = r.GetProperty("kind").GetString() == "forward" ? ForwardCheck.Tolerance : GradientCheck.Tolerance;
            Assert.True(r.GetProperty("error").GetDouble() < tolerance, line);
            if (r.TryGetProperty("attention_error", out JsonElement attention)) Assert.True(attention.GetDouble() < tolerance, line);
        }
    }

    [Fact]
    public void The_default_path_is_the_widest_the_machine_offers()
    {
        string engine = new FashionSmall().Engine;
        string expected = Vector512.IsHardwareAccelerated ? "Vector512" : Vector256.IsHardwareAccelerated ? "Vector256"
            : Vector128.IsHardwareAccelerated ? "Vector128" : "scalar";
        output.WriteLine(engine + (Vector512.IsHardwareAccelerated ? "" : "  (no AVX-512 here: the Vector512 path is exercised only on machines that have it)"));
        Assert.StartsWith("generated, " + expected, engine);
    }

    private static List<JsonElement> RunChild(string disabledVariable)
    {
        string assembly = typeof(Program).Assembly.Location;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(assembly);
        start.ArgumentList.Add("isa-check");
        start.Environment[disabledVariable] = "0";
        using Process child = Process.Start(start)!;
        Task<string> stderr = child.StandardError.ReadToEndAsync();
        string stdout = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        Assert.True(child.ExitCode == 0, $"child with {disabledVariable}=0 exited {child.ExitCode}: {stderr.Result}");
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }
}
