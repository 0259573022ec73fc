using ViTCompiler.IO;
using ViTCompiler.Reference;
using Xunit;

namespace ViTCompiler.Cli.Tests;

public class ConvertTests
{
    [Fact]
    public void Hf_to_timm_to_checkpoint_to_hf_keeps_every_parameter_and_the_answers()
    {
        using var dir = new TempDirectory();
        ReferenceVitModel original = Cli.Randomized(Cli.FashionConfig, 3);
        HuggingFaceWeights.Save(dir.File("hf"), original);
        string png = TestImages.Png(dir.File("x.png"));

        Cli.Ok("convert", dir.File("hf"), dir.File("timm.safetensors"), "--to", "timm");
        Cli.Ok("convert", dir.File("timm.safetensors"), dir.File("ckpt.safetensors"), "--to", "checkpoint");
        Cli.Ok("convert", dir.File("ckpt.safetensors"), dir.File("hf2"));   // hf is the default

        Assert.Equal(WeightsFormat.Timm, Weights.Detect(dir.File("timm.safetensors")));
        Assert.Equal(WeightsFormat.Checkpoint, Weights.Detect(dir.File("ckpt.safetensors")));
        Assert.Equal(WeightsFormat.HuggingFace, Weights.Detect(dir.File("hf2")));
        foreach (string path in (string[])[dir.File("timm.safetensors"), dir.File("ckpt.safetensors"), dir.File("hf2")])
        {
            var loaded = new ReferenceVitModel(Cli.FashionConfig);
            Weights.Load(path, loaded);
            Assert.True(original.Parameters.SequenceEqual(loaded.Parameters), path);
        }

        // The HF copy names its classes, and carries the preprocessing so classify gives the same answer.
        HuggingFaceConfig info = HuggingFaceWeights.ReadConfig(dir.File("hf2"));
        Assert.Equal(ViTCompiler.Data.FashionMnist.ClassNames, info.Labels);
        Assert.NotNull(info.Preprocessing);
        string before = Cli.Ok("classify", png, "--weights", dir.File("hf"), "--json").Output;
        Assert.Equal(before, Cli.Ok("classify", png, "--weights", dir.File("hf2"), "--json").Output);
        Assert.Equal(before, Cli.Ok("classify", png, "--weights", dir.File("ckpt.safetensors"), "--json").Output);
    }

    [Fact]
    public void Convert_can_resize_the_position_grid()
    {
        using var dir = new TempDirectory();
        HuggingFaceWeights.Save(dir.File("hf"), Cli.Randomized(Cli.FashionConfig, 4));
        Cli.Ok("convert", dir.File("hf"), dir.File("big.safetensors"), "--to", "timm", "--image-size", "56");
        Assert.Equal(56, TimmWeights.ReadConfig(dir.File("big.safetensors")).ImageSize);
    }

    [Fact]
    public void Mean_pooled_models_cannot_become_huggingface_and_say_why()
    {
        using var dir = new TempDirectory();
        TimmWeights.Save(dir.File("gap.safetensors"), new ReferenceVitModel(Cli.FashionConfig with { Pooling = VitPooling.Mean }));
        CliResult result = Cli.Run("convert", dir.File("gap.safetensors"), dir.File("out"), "--to", "hf");
        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("mean pooling", result.Error);
    }

    [Fact]
    public void Init_writes_a_model_that_classify_reads()
    {
        using var dir = new TempDirectory();
        Cli.Ok("init", dir.File("init.safetensors"), "--preset", "fashion-mnist", "--seed", "5");
        CliResult result = Cli.Ok("classify", TestImages.Png(dir.File("x.png")), "--weights", dir.File("init.safetensors"), "--json", "--top", "1");
        // The paper's zero-initialised head: every class equally likely.
        Assert.Equal(0.1, Assert.Single(result.JsonLines).GetProperty("top")[0].GetProperty("probability").GetDouble(), 6);
    }
}
