using System.Text.Json;
using ViTCompiler.IO;
using Xunit;

namespace ViTCompiler.Cli.Tests;

public class InfoTests
{
    [Fact]
    public void Preset_as_text_gives_parameters_flops_memory_and_engine()
    {
        CliResult result = Cli.Ok("info", "--preset", "vit-b16");
        Assert.Contains("86,567,656", result.Output);              // the paper's ViT-B/16 at 1000 classes
        Assert.Contains("35.13 GFLOP", result.Output);
        Assert.Contains("197 tokens", result.Output);
        Assert.Contains("generated (VitBase16)", result.Output);
        Assert.Contains("MiB per image", result.Output);
        Assert.Equal("", result.Error);
    }

    [Fact]
    public void The_hybrid_preset_describes_its_stem()
    {
        CliResult text = Cli.Ok("info", "--preset", "fashion-mnist-hybrid");
        Assert.Contains("32/2, 64/2 (GroupNorm 8)", text.Output);
        Assert.Contains("7×7×64 feature map", text.Output);
        Assert.Contains("generated (FashionHybridVit)", text.Output);

        JsonElement info = Assert.Single(Cli.Ok("info", "--preset", "fashion-mnist-hybrid", "--json").JsonLines);
        Assert.Equal([32, 64], info.GetProperty("stem_channels").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal([2, 2], info.GetProperty("stem_strides").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(8, info.GetProperty("stem_groups").GetInt32());
        Assert.Equal(50, info.GetProperty("tokens").GetInt32());
        Assert.Equal(FashionMnistSample.FashionHybridVit.ParameterCount, info.GetProperty("parameters").GetInt64());
        Assert.False(Assert.Single(Cli.Ok("info", "--preset", "fashion-mnist", "--json").JsonLines).TryGetProperty("stem_channels", out _));
    }

    [Fact]
    public void Preset_as_json_has_the_documented_fields()
    {
        JsonElement info = Assert.Single(Cli.Ok("info", "--preset", "vit-ti16", "--json").JsonLines);
        Assert.Equal("vit-ti16", info.GetProperty("name").GetString());
        Assert.Equal("preset", info.GetProperty("source").GetString());
        Assert.Equal(192, info.GetProperty("hidden").GetInt32());
        Assert.Equal(3, info.GetProperty("heads").GetInt32());
        Assert.Equal(768, info.GetProperty("mlp_dim").GetInt32());
        Assert.Equal(VitConfig.Tiny16.ParameterCount, info.GetProperty("parameters").GetInt64());
        Assert.Equal(VitConfig.Tiny16.FlopsPerImage, info.GetProperty("flops_per_image").GetInt64());
        Assert.Equal(VitConfig.Tiny16.MacsPerImage, info.GetProperty("macs_per_image").GetInt64());
        Assert.Equal(4 * VitConfig.Tiny16.ParameterCount, info.GetProperty("parameter_bytes").GetInt64());
        Assert.True(info.GetProperty("activation_bytes_per_image").GetInt64() > 197 * 192 * 4);
        Assert.Equal("generated", info.GetProperty("engine").GetString());
        Assert.Equal("VitTiny16", info.GetProperty("compiled_class").GetString());
        Assert.Contains(info.GetProperty("isa").GetString(), new[] { "Vector512", "Vector256", "Vector128", "scalar" });
        Assert.True(info.GetProperty("threads").GetInt32() >= 1);
        Assert.Equal(JsonValueKind.Array, info.GetProperty("cpu_features").ValueKind);
    }

    [Fact]
    public void Weights_file_reports_its_format_and_whether_a_compiled_model_runs_it()
    {
        using var dir = new TempDirectory();
        HuggingFaceWeights.Save(dir.File("hf"), Cli.Randomized(Cli.FashionConfig, 1));
        JsonElement info = Assert.Single(Cli.Ok("info", "--weights", dir.File("hf"), "--json").JsonLines);
        Assert.Equal("weights", info.GetProperty("source").GetString());
        Assert.Equal("hf", info.GetProperty("format").GetString());
        Assert.Equal(10, info.GetProperty("classes").GetInt32());
        Assert.Equal("FashionVit", info.GetProperty("compiled_class").GetString());

        VitConfig uncompiled = Cli.FashionConfig with { Layers = 2 };
        TimmWeights.Save(dir.File("small.safetensors"), new ViTCompiler.Reference.ReferenceVitModel(uncompiled));
        CliResult text = Cli.Ok("info", "--weights", dir.File("small.safetensors"));
        Assert.Contains("(timm)", text.Output);
        Assert.Contains("reference", text.Output);
    }

    [Fact]
    public void Image_size_changes_tokens_and_cost()
    {
        using var dir = new TempDirectory();
        HuggingFaceWeights.Save(dir.File("hf"), Cli.Randomized(Cli.FashionConfig, 1));
        JsonElement info = Assert.Single(Cli.Ok("info", "--weights", dir.File("hf"), "--image-size", "32", "--json").JsonLines);
        Assert.Equal(32, info.GetProperty("image_size").GetInt32());
        Assert.Equal(65, info.GetProperty("tokens").GetInt32());
        Assert.Equal("reference", info.GetProperty("engine").GetString());
    }
}
