using Xunit;

namespace ViTCompiler.Tests;

/// <summary>
/// The paper's hybrid (§3.1) beyond the numeric suites it shares with every test model (forward, backward, finite
/// differences, instruction-set paths): its size, its rules at run time, and determinism across thread counts.
/// </summary>
public class HybridTests
{
    [Fact]
    public void Parameter_and_MAC_counts_match_a_hand_count()
    {
        // HybridSmall: 28² × 1 → conv 8 (stride 1) → conv 16 (stride 2) → 14² × 16 → 2 × 2 patches → 49 + 1 tokens of 36.
        long stem0 = 8 * 1 * 3 * 3 + 2 * 8, stem1 = 16 * 8 * 3 * 3 + 2 * 16;
        long patch = 36 * (16 * 2 * 2) + 36, classToken = 36, positions = 50 * 36;
        long block = 2 * 36 + (3 * 36 * 36 + 3 * 36) + (36 * 36 + 36) + 2 * 36 + (50 * 36 + 50) + (36 * 50 + 36);
        long final = 2 * 36, head = 10 * 36 + 10;
        long expected = stem0 + stem1 + patch + classToken + positions + block + final + head;

        VitConfig c = HybridSmall.ModelConfig;
        Assert.Equal(15_048, expected);
        Assert.Equal(expected, c.ParameterCount);          // closed form
        Assert.Equal(expected, c.Layout.ParameterCount);   // sum over the named tensors
        Assert.Equal(HybridSmall.ParameterCount, expected); // the generator's constant

        long macs = 28 * 28 * 8 * (1 * 9) + 14 * 14 * 16 * (8 * 9)                 // the two convolutions
                  + 49 * 64 * 36                                                  // patch projection
                  + (50 * 36 * 108 + 2 * 50 * 50 * 36 + 50 * 36 * 36 + 2 * 50 * 36 * 50) // one block
                  + 36 * 10;                                                      // head
        Assert.Equal(macs, c.MacsPerImage);
        Assert.Equal(HybridSmall.MacsPerImage, macs);
    }

    [Fact]
    public void The_stem_has_timm_like_names_before_the_patch_projection()
    {
        ParameterLayout layout = HybridSmall.ModelConfig.Layout;
        Assert.Equal("patch_embed.backbone.0.conv.weight", layout[0].Name);
        Assert.Equal([8, 1, 3, 3], layout["patch_embed.backbone.0.conv.weight"].Shape);
        Assert.Equal([16, 8, 3, 3], layout["patch_embed.backbone.1.conv.weight"].Shape);
        Assert.Equal([16], layout["patch_embed.backbone.1.norm.bias"].Shape);
        Assert.Equal([36, 16, 2, 2], layout["patch_embed.proj.weight"].Shape);
        Assert.Equal(ParameterKind.Matrix, layout["patch_embed.backbone.1.conv.weight"].Kind);
        Assert.Equal(ParameterKind.Norm, layout["patch_embed.backbone.1.norm.weight"].Kind);
        Assert.Equal(14, HybridSmall.ModelConfig.FeatureSize);
        Assert.Equal(16, HybridSmall.ModelConfig.FeatureChannels);
        Assert.Equal(50, HybridSmall.ModelConfig.Tokens);
    }

    [Theory]
    [InlineData(new[] { 8 }, new[] { 3 }, 2, "stride 3")]
    [InlineData(new[] { 8, 8 }, new[] { 1 }, 2, "StemStrides has 1 values")]
    [InlineData(new int[0], new[] { 2 }, 2, "StemStrides has 1 values")]
    [InlineData(new[] { 6 }, new[] { 1 }, 4, "not a multiple of StemGroups 4")]
    [InlineData(new[] { 8 }, new[] { 2 }, 0, "StemGroups is 0")]
    [InlineData(new[] { 8 }, new[] { 2 }, 2, "feature map is 14 × 14, not a multiple of Patch 4")]
    public void Invalid_stems_are_refused_at_run_time_as_at_compile_time(int[] channels, int[] strides, int groups, string fragment)
    {
        var config = new VitConfig { ImageSize = 28, Channels = 1, Patch = 4, Layers = 1, Hidden = 16, Heads = 2, Classes = 3, StemChannels = channels, StemStrides = strides, StemGroups = groups };
        Assert.Contains(fragment, config.Problem());
        Assert.Throws<ArgumentException>(() => config.Validate());
    }

    [Fact]
    public void Configurations_differ_by_their_stem()
    {
        VitConfig hybrid = HybridSmall.ModelConfig;
        Assert.Equal(hybrid, hybrid with { StemChannels = [8, 16] });
        Assert.NotEqual(hybrid, hybrid with { StemChannels = [8, 8] });
        Assert.NotEqual(hybrid, hybrid with { StemGroups = 2 });
        Assert.NotEqual(hybrid, hybrid with { StemChannels = [], StemStrides = [] });
        Assert.Contains("conv stem 8/1, 16/2 (GroupNorm 4)", hybrid.ToString());
    }

    [Fact]
    public void Forward_and_gradients_are_bit_identical_for_any_thread_count()
    {
        var model = new HybridOdd();
        TestData.Randomize(model, 7);
        const int batch = 5;
        float[] pixels = TestData.Pixels(model.Config, batch, 8);
        int[] labels = [0, 1, 2, 3, 1];
        var options = new TrainStepOptions(LabelSmoothing: 0.1f);
        (float[] Logits, float[] Gradients) Run(int threads)
        {
            model.Threads = threads;
            float[] logits = new float[batch * model.Config.Classes];
            model.Forward(pixels, batch, logits);
            model.Gradients.Clear();
            model.TrainStep(pixels, labels, batch, options, default);
            return (logits, model.Gradients.ToArray());
        }
        (float[] logits1, float[] gradients1) = Run(1);
        (float[] logits2, float[] gradients2) = Run(Math.Max(2, Environment.ProcessorCount));
        Assert.Equal(logits1, logits2);
        Assert.Equal(gradients1, gradients2);
    }
}
