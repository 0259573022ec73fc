using System.Text.Json;
using Xunit;

namespace ViTCompiler.Cli.Tests;

public class BenchTests
{
    [Fact]
    public void Json_has_times_throughput_and_flops()
    {
        JsonElement bench = Assert.Single(Cli.Ok("bench", "--preset", "fashion-mnist", "--batch", "4", "--runs", "3", "--threads", "1", "--json").JsonLines);
        Assert.Equal("fashion-mnist", bench.GetProperty("preset").GetString());
        Assert.Equal(4, bench.GetProperty("batch").GetInt32());
        Assert.Equal(3, bench.GetProperty("runs").GetInt32());
        Assert.Equal(1, bench.GetProperty("threads").GetInt32());
        double median = bench.GetProperty("median_ms").GetDouble(), min = bench.GetProperty("min_ms").GetDouble();
        Assert.True(min > 0 && min <= median);
        Assert.Equal(median / 4, bench.GetProperty("per_image_ms").GetDouble(), 3);
        // images_per_second comes from the unrounded median: compare within 0.1% rather than to the nearest whole image
        // (rounding both sides to an integer fails whenever they straddle a .5).
        Assert.Equal(4000 / median, bench.GetProperty("images_per_second").GetDouble(), 4000 / median * 1e-3);
        Assert.Equal(Cli.FashionConfig.FlopsPerImage, bench.GetProperty("flops_per_image").GetInt64());
        Assert.True(bench.GetProperty("gflop_per_second").GetDouble() > 0);
        Assert.StartsWith("generated", bench.GetProperty("engine").GetString());
    }

    [Fact]
    public void Text_shows_per_batch_and_per_image_times()
    {
        CliResult result = Cli.Ok("bench", "--preset", "fashion-mnist", "--runs", "2");
        Assert.Contains("per batch", result.Output);
        Assert.Contains("per image", result.Output);
        Assert.Contains("GFLOP/s", result.Output);
    }
}
