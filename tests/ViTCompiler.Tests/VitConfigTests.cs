using Xunit;

namespace ViTCompiler.Tests;

public class VitConfigTests
{
    [Fact]
    public void Equality_compares_the_effective_MLP_width()
    {
        VitConfig declared = VitConfig.Base16 with { MlpDim = 3072 };
        Assert.Equal(0, VitConfig.Base16.MlpDim);
        Assert.Equal(VitConfig.Base16, declared);
        Assert.Equal(VitConfig.Base16.GetHashCode(), declared.GetHashCode());
        Assert.NotEqual(VitConfig.Base16, VitConfig.Base16 with { MlpDim = 3000 });
        Assert.NotEqual(VitConfig.Base16, VitConfig.Base16 with { LayerNormEpsilon = 1e-12 });
        Assert.NotEqual(VitConfig.Base16, VitConfig.Base16 with { QkvBias = false });
    }

    [Fact]
    public void The_attribute_and_the_configuration_start_from_the_same_defaults()
    {
        var attribute = new VitModelAttribute();
        var config = new VitConfig();
        Assert.Equal(
            (config.ImageSize, config.Channels, config.Patch, config.Layers, config.Hidden, config.Heads, config.MlpDim, config.Classes, config.Pooling, config.LayerNormEpsilon, config.QkvBias),
            (attribute.ImageSize, attribute.Channels, attribute.Patch, attribute.Layers, attribute.Hidden, attribute.Heads, attribute.MlpDim, attribute.Classes, attribute.Pooling, attribute.LayerNormEpsilon, attribute.QkvBias));
        Assert.Equal(VitConfig.Base16, config);
        Assert.Equal(86_567_656, config.ParameterCount); // ViT-B/16 with 1000 classes, as timm counts it
    }

    [Theory]
    [InlineData(0, 16, 768, 12, "ImageSize is 0; it must be positive")]
    [InlineData(224, 15, 768, 12, "ImageSize 224 is not a multiple of Patch 15")]
    [InlineData(224, 16, 100, 12, "Hidden 100 is not a multiple of Heads 12")]
    [InlineData(224, 16, 768, -1, "Heads is -1; it must be positive")]
    public void Validation_names_the_first_broken_rule(int imageSize, int patch, int hidden, int heads, string expected)
    {
        var config = new VitConfig { ImageSize = imageSize, Patch = patch, Hidden = hidden, Heads = heads };
        Assert.Equal(expected, config.Problem());
        Assert.Contains(expected, Assert.Throws<ArgumentException>(() => config.Validate()).Message);
    }

    [Fact]
    public void An_epsilon_that_vanishes_as_a_float_is_refused_at_run_time_as_at_compile_time()
    {
        Assert.Contains("LayerNormEpsilon 1E-300", new VitConfig { LayerNormEpsilon = 1e-300 }.Problem());
        Assert.Null(new VitConfig { LayerNormEpsilon = 1e-12 }.Problem());
    }
}
