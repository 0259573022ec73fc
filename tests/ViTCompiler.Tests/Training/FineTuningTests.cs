using ViTCompiler.IO;
using ViTCompiler.Reference;
using ViTCompiler.Training;
using Xunit;

namespace ViTCompiler.Tests.Training;

public class FineTuningTests
{
    [Fact]
    public void Every_parameter_but_the_head_carries_over_to_a_new_label_set()
    {
        var source = new FashionSmall();
        TestData.Randomize(source, 11);
        var target = new ReferenceVitModel(source.Config with { Classes = 4 }, seed: 12);
        TestData.Randomize(target, 13); // a non-zero head, to see it zeroed

        FineTuning.TransferWeights(source, target);

        foreach (ParameterTensor t in target.Config.Layout)
        {
            if (t.Name.StartsWith("head.", StringComparison.Ordinal))
                Assert.All(t.Of(target.Parameters).ToArray(), v => Assert.Equal(0f, v));
            else
                Assert.Equal(source.Config.Layout[t.Name].Of(source.Parameters).ToArray(), t.Of(target.Parameters).ToArray());
        }

        // The zero head predicts uniformly: every logit is 0.
        float[] pixels = TestData.Pixels(target.Config, 2, 14);
        float[] logits = new float[2 * 4];
        target.Forward(pixels, 2, logits);
        Assert.All(logits, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void A_higher_resolution_interpolates_the_position_embeddings()
    {
        var source = new FashionSmall();                      // 28 px, patch 4: 7 × 7 grid + class token
        TestData.Randomize(source, 21);
        var target = new ReferenceVitModel(source.Config with { ImageSize = 36, Classes = 3 }); // 9 × 9 grid

        FineTuning.TransferWeights(source, target, PositionInterpolation.Bilinear);

        float[] expected = PositionEmbedding.Resize(source.Config.Layout["pos_embed"].Of(source.Parameters), source.Config.Hidden,
            prefixTokens: 1, grid: 9, PositionInterpolation.Bilinear);
        Assert.Equal(expected, target.Config.Layout["pos_embed"].Of(target.Parameters).ToArray());
        // The class token's embedding is copied, not interpolated.
        Assert.Equal(source.Config.Layout["pos_embed"].Of(source.Parameters)[..64].ToArray(), expected[..64]);
        Assert.Equal(source.Config.Layout["blocks.1.mlp.fc2.weight"].Of(source.Parameters).ToArray(),
            target.Config.Layout["blocks.1.mlp.fc2.weight"].Of(target.Parameters).ToArray());
    }

    [Fact]
    public void Another_architecture_is_refused_with_the_differences_named()
    {
        var source = new FashionSmall();
        var target = new ReferenceVitModel(source.Config with { Hidden = 32, Heads = 2, Classes = 3 });
        var e = Assert.Throws<ArgumentException>(() => FineTuning.TransferWeights(source, target));
        Assert.Contains("Hidden: source 64, target 32", e.Message);
        Assert.Contains("Heads: source 4, target 2", e.Message);
        Assert.DoesNotContain("Classes", e.Message.Split("but")[1]);
    }

    [Fact]
    public void A_source_with_NaN_weights_is_refused()
    {
        var source = new FashionSmall();
        using (ParameterEdit edit = source.EditParameters()) edit[source.Config.Layout["norm.bias"]][3] = float.NaN;
        var target = new ReferenceVitModel(source.Config with { Classes = 2 });
        var e = Assert.Throws<ArgumentException>(() => FineTuning.TransferWeights(source, target));
        Assert.Contains("norm.bias[3]", e.Message);
    }
}
