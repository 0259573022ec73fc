using Xunit;

namespace ViTCompiler.Tests;

// Declared only for their generated constants; never instantiated here (ViT-B/16's parameters are 346 MB).
[VitModel(Hidden = 192, Heads = 3)]
public partial class CountTiny16 { }

[VitModel(Hidden = 384, Heads = 6)]
public partial class CountSmall16 { }

[VitModel(Patch = 16, Layers = 12)]
public partial class CountBase16 { }

/// <summary>The parameter counts of the paper's models (as timm and HuggingFace report them), three ways.</summary>
public class ParameterCountTests
{
    public static IEnumerable<object[]> PaperModels =>
    [
        [VitConfig.Tiny16, 5_717_416L, CountTiny16.ParameterCount],
        [VitConfig.Small16, 22_050_664L, CountSmall16.ParameterCount],
        [VitConfig.Base16, 86_567_656L, CountBase16.ParameterCount],
    ];

    [Theory]
    [MemberData(nameof(PaperModels))]
    public void The_paper_models_have_their_published_parameter_counts(VitConfig config, long published, long generated)
    {
        Assert.Equal(published, config.ParameterCount);          // closed form (VitGeometry.ParameterCount)
        Assert.Equal(published, config.Layout.ParameterCount);            // sum over the named tensors
        Assert.Equal(published, generated);                      // the generator's constant
    }

    [Fact]
    public void ViT_L16_matches_timm()
    {
        Assert.Equal(304_326_632L, VitConfig.Large16.ParameterCount);
    }

    [Fact]
    public void The_generated_layout_equals_the_runtime_layout()
    {
        Assert.Equal(CountBase16.ModelConfig, VitConfig.Base16);
        Assert.Equal(17_563_828_224L, CountBase16.MacsPerImage); // the "17.6 GMAC" of ViT-B/16
        Assert.Equal(197, CountBase16.Tokens);
        Assert.Equal(64, CountBase16.HeadDim);
    }

    [Fact]
    public void Every_tensor_is_laid_out_once_without_gaps()
    {
        long next = 0;
        foreach (ParameterTensor t in VitConfig.Base16.Layout)
        {
            Assert.Equal(next, t.Offset);
            Assert.Equal(t.Shape.Aggregate(1L, (a, b) => a * b), t.Count);
            next += t.Count;
        }
        Assert.Equal(VitConfig.Base16.ParameterCount, next);
        Assert.Equal((2304, 768), (VitConfig.Base16.Layout["blocks.11.attn.qkv.weight"].Shape[0], VitConfig.Base16.Layout["blocks.11.attn.qkv.weight"].Shape[1]));
    }
}
