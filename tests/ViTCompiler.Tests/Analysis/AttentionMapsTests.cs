using ViTCompiler.Analysis;
using ViTCompiler.Reference;
using Xunit;

namespace ViTCompiler.Tests.Analysis;

public class AttentionMapsTests
{
    /// <summary>One patch and the [class] token: 2 tokens, 2 layers, 2 heads — small enough to roll out by hand.</summary>
    private static readonly VitConfig s_twoTokens = new() { ImageSize = 1, Channels = 1, Patch = 1, Layers = 2, Hidden = 4, Heads = 2, MlpDim = 4, Classes = 2 };

    [Fact]
    public void Rollout_matches_a_hand_computed_two_layer_case()
    {
        float[] attention =
        [
            // layer 0, head 0 and head 1 (rows: query token; columns: key token)
            0.8f, 0.2f, 0.4f, 0.6f,
            0.6f, 0.4f, 0.2f, 0.8f,
            // layer 1
            0.5f, 0.5f, 0.1f, 0.9f,
            0.3f, 0.7f, 0.3f, 0.7f,
        ];
        // Layer 0: head mean [[0.7, 0.3], [0.3, 0.7]]; + I and rows re-normalised: [[0.85, 0.15], [0.15, 0.85]].
        // Layer 1: head mean [[0.4, 0.6], [0.2, 0.8]]; → [[0.7, 0.3], [0.1, 0.9]].
        // Rollout = layer 1 · layer 0 = [[0.7·0.85 + 0.3·0.15, 0.7·0.15 + 0.3·0.85], [0.1·0.85 + 0.9·0.15, 0.1·0.15 + 0.9·0.85]]
        //         = [[0.64, 0.36], [0.22, 0.78]]   (the other order, layer 0 · layer 1, would give 0.61, 0.39 in row 0).
        double[] expected = [0.64, 0.36, 0.22, 0.78];
        double[] rollout = AttentionMaps.RolloutMatrix(s_twoTokens, attention);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], rollout[i], 1e-6);

        PatchMap map = AttentionMaps.Rollout(s_twoTokens, attention);
        Assert.Equal((1, 1), (map.Rows, map.Columns));
        Assert.Equal(0.36, map[0, 0], 1e-6);
    }

    [Fact]
    public void Rollout_rows_stay_distributions_and_the_class_map_is_the_patch_part_of_row_zero()
    {
        var config = new VitConfig { ImageSize = 12, Channels = 1, Patch = 4, Layers = 3, Hidden = 8, Heads = 2, MlpDim = 8, Classes = 3 };
        float[] attention = Capture(config, seed: 5);
        double[] rollout = AttentionMaps.RolloutMatrix(config, attention);
        int n = config.Tokens;
        for (int i = 0; i < n; i++) Assert.Equal(1.0, rollout.AsSpan(i * n, n).ToArray().Sum(), 1e-6);

        PatchMap map = AttentionMaps.Rollout(config, attention);
        Assert.Equal((3, 3), (map.Rows, map.Columns));
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) Assert.Equal(rollout[1 + r * 3 + c], map[r, c]);
        Assert.Equal(1.0, map.Sum + rollout[0], 1e-6);
    }

    [Fact]
    public void A_head_map_is_the_class_tokens_row_of_that_head_on_the_grid()
    {
        var config = new VitConfig { ImageSize = 12, Channels = 1, Patch = 4, Layers = 2, Hidden = 8, Heads = 2, MlpDim = 8, Classes = 3 };
        float[] attention = Capture(config, seed: 8);
        int n = config.Tokens;
        PatchMap[] heads = AttentionMaps.Heads(config, attention, layer: 1);
        Assert.Equal(2, heads.Length);
        for (int h = 0; h < 2; h++)
            for (int p = 0; p < 9; p++)
                Assert.Equal(attention[((1 * 2 + h) * n + 0) * n + 1 + p], heads[h][p / 3, p % 3]);
    }

    [Fact]
    public void With_mean_pooling_the_maps_average_every_tokens_row()
    {
        var config = new VitConfig { ImageSize = 8, Channels = 1, Patch = 4, Layers = 2, Hidden = 8, Heads = 2, MlpDim = 8, Classes = 3, Pooling = VitPooling.Mean };
        float[] attention = Capture(config, seed: 9);
        double[] rollout = AttentionMaps.RolloutMatrix(config, attention);
        PatchMap map = AttentionMaps.Rollout(config, attention);
        for (int j = 0; j < 4; j++)
        {
            double mean = 0;
            for (int i = 0; i < 4; i++) mean += rollout[i * 4 + j] / 4;
            Assert.Equal(mean, map[j / 2, j % 2], 1e-12);
        }
        Assert.Equal(1.0, map.Sum, 1e-6);
    }

    [Fact]
    public void A_capture_of_the_wrong_length_is_refused_with_the_expected_size()
    {
        var e = Assert.Throws<ArgumentException>(() => AttentionMaps.Rollout(s_twoTokens, new float[15]));
        Assert.Contains("16", e.Message);
    }

    internal static float[] Capture(VitConfig config, ulong seed, int batch = 1)
    {
        var model = new ReferenceVitModel(config);
        TestData.Randomize(model, seed);
        return AttentionMaps.Capture(model, TestData.Pixels(config, batch, seed + 1), batch, new float[batch * config.Classes]);
    }
}
