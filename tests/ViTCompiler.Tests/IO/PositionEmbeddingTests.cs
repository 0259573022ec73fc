using ViTCompiler.IO;
using ViTCompiler.Reference;
using Xunit;

namespace ViTCompiler.Tests.IO;

public class PositionEmbeddingTests
{
    private static VitConfig Small(int imageSize, VitPooling pooling = VitPooling.ClassToken) =>
        new() { ImageSize = imageSize, Channels = 2, Patch = 3, Layers = 1, Hidden = 8, Heads = 2, MlpDim = 12, Classes = 3, Pooling = pooling };

    /// <summary>A (prefix + rows·cols, 2) table whose channel 0 is the row and channel 1 the column of each patch.</summary>
    private static float[] Ramp(int rows, int cols, int prefix)
    {
        float[] table = new float[(prefix + rows * cols) * 2];
        for (int i = 0; i < prefix * 2; i++) table[i] = 100 + i;
        for (int y = 0; y < rows; y++)
        for (int x = 0; x < cols; x++)
        {
            table[(prefix + y * cols + x) * 2] = y;
            table[(prefix + y * cols + x) * 2 + 1] = x;
        }
        return table;
    }

    [Theory]
    [InlineData(PositionInterpolation.Bilinear)]
    [InlineData(PositionInterpolation.Bicubic)]
    public void Resizing_to_the_same_grid_is_the_identity(PositionInterpolation mode)
    {
        var rng = new VitRandom(3);
        float[] table = new float[(1 + 25) * 7];
        for (int i = 0; i < table.Length; i++) table[i] = (float)rng.NextGaussian();
        Assert.Equal(table, PositionEmbedding.Resize(table, hidden: 7, prefixTokens: 1, grid: 5, mode));
    }

    [Fact]
    public void Bilinear_keeps_a_linear_ramp_linear_and_the_class_token_apart()
    {
        // 8×8 → 4×4: output cell i samples input coordinate 2i + 0.5, always inside the grid.
        float[] result = PositionEmbedding.Resize(Ramp(8, 8, 1), hidden: 2, prefixTokens: 1, grid: 4, PositionInterpolation.Bilinear);
        Assert.Equal((1 + 16) * 2, result.Length);
        Assert.Equal([100f, 101f], result[..2]);
        for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
        {
            Assert.Equal(2 * y + 0.5f, result[(1 + y * 4 + x) * 2]);
            Assert.Equal(2 * x + 0.5f, result[(1 + y * 4 + x) * 2 + 1]);
        }
    }

    [Fact]
    public void Bilinear_upsampling_follows_the_ramp_and_clamps_at_the_borders_like_PyTorch()
    {
        // 4 → 10 on a non-square grid (rows only change): coordinate (i + 0.5)·0.4 − 0.5, clamped to [0, 3].
        float[] result = new float[10 * 3 * 2];
        PositionEmbedding.Resize(Ramp(4, 3, 0), 4, 3, result, 10, 3, hidden: 2, prefixTokens: 0, PositionInterpolation.Bilinear);
        for (int y = 0; y < 10; y++)
        {
            double expected = Math.Clamp((y + 0.5) * 0.4 - 0.5, 0, 3);
            for (int x = 0; x < 3; x++)
            {
                Assert.Equal(expected, result[(y * 3 + x) * 2], 6);
                Assert.Equal(x, result[(y * 3 + x) * 2 + 1]);
            }
        }
    }

    [Fact]
    public void Bicubic_matches_the_cubic_convolution_kernel_with_a_equal_minus_0_75()
    {
        // Input [0, 1] along a row, resized to 4: hand-computed from Keys' kernel with a = −0.75, taps clamped to the edge
        // (what torch.nn.functional.interpolate(mode="bicubic", align_corners=False) computes).
        float[] result = new float[4];
        PositionEmbedding.Resize([0f, 1f], 1, 2, result, 1, 4, hidden: 1, prefixTokens: 0, PositionInterpolation.Bicubic);
        Assert.Equal(-0.10546875f, result[0]);
        Assert.Equal(0.2265625f, result[1]);
        Assert.Equal(0.7734375f, result[2]);
        Assert.Equal(1.10546875f, result[3]);
    }

    // torch.nn.functional.interpolate(torch.arange(16.).reshape(1, 1, 4, 4), size, mode, align_corners=False) in float64,
    // computed once with PyTorch 1.13.1 and pasted here (rounded to 9 decimals).
    public static IEnumerable<object[]> TorchCases =>
    [
        [PositionInterpolation.Bilinear, 6, 6, new double[] { 0.0, 0.5, 1.166666667, 1.833333333, 2.5, 3.0, 2.0, 2.5, 3.166666667, 3.833333333, 4.5, 5.0, 4.666666667, 5.166666667, 5.833333333, 6.5, 7.166666667, 7.666666667, 7.333333333, 7.833333333, 8.5, 9.166666667, 9.833333333, 10.333333333, 10.0, 10.5, 11.166666667, 11.833333333, 12.5, 13.0, 12.0, 12.5, 13.166666667, 13.833333333, 14.5, 15.0 }],
        [PositionInterpolation.Bilinear, 3, 3, new double[] { 0.833333333, 2.166666667, 3.5, 6.166666667, 7.5, 8.833333333, 11.5, 12.833333333, 14.166666667 }],
        [PositionInterpolation.Bilinear, 10, 3, new double[] { 0.166666667, 1.5, 2.833333333, 0.566666667, 1.9, 3.233333333, 2.166666667, 3.5, 4.833333333, 3.766666667, 5.1, 6.433333333, 5.366666667, 6.7, 8.033333333, 6.966666667, 8.3, 9.633333333, 8.566666667, 9.9, 11.233333333, 10.166666667, 11.5, 12.833333333, 11.766666667, 13.1, 14.433333333, 12.166666667, 13.5, 14.833333333 }],
        [PositionInterpolation.Bicubic, 6, 6, new double[] { -0.434027778, 0.059027778, 0.865740741, 1.439814815, 2.246527778, 2.739583333, 1.538194444, 2.03125, 2.837962963, 3.412037037, 4.21875, 4.711805556, 4.765046296, 5.258101852, 6.064814815, 6.638888889, 7.445601852, 7.938657407, 7.061342593, 7.554398148, 8.361111111, 8.935185185, 9.741898148, 10.234953704, 10.288194444, 10.78125, 11.587962963, 12.162037037, 12.96875, 13.461805556, 12.260416667, 12.753472222, 13.560185185, 14.134259259, 14.940972222, 15.434027778 }],
        [PositionInterpolation.Bicubic, 3, 3, new double[] { 0.630787037, 2.00462963, 3.378472222, 6.126157407, 7.5, 8.873842593, 11.621527778, 12.99537037, 14.369212963 }],
        [PositionInterpolation.Bicubic, 10, 3, new double[] { -0.314842593, 1.059, 2.432842593, 0.427157407, 1.801, 3.174842593, 1.751157407, 3.125, 4.498842593, 3.555157407, 4.929, 6.302842593, 5.494157407, 6.868, 8.241842593, 6.758157407, 8.132, 9.505842593, 8.697157407, 10.071, 11.444842593, 10.501157407, 11.875, 13.248842593, 11.825157407, 13.199, 14.572842593, 12.567157407, 13.941, 15.314842593 }],
    ];

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void Matches_PyTorch_interpolate(PositionInterpolation mode, int rows, int cols, double[] expected)
    {
        float[] grid = Enumerable.Range(0, 16).Select(i => (float)i).ToArray();
        float[] result = new float[rows * cols];
        PositionEmbedding.Resize(grid, 4, 4, result, rows, cols, hidden: 1, prefixTokens: 0, mode);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], result[i], tolerance: 2e-6 * Math.Max(1, Math.Abs(expected[i])));
    }

    [Theory]
    [InlineData(PositionInterpolation.Bilinear)]
    [InlineData(PositionInterpolation.Bicubic)]
    public void A_constant_field_stays_constant(PositionInterpolation mode)
    {
        float[] table = Enumerable.Repeat(0.25f, (1 + 49) * 3).ToArray();
        float[] result = PositionEmbedding.Resize(table, hidden: 3, prefixTokens: 1, grid: 12, mode);
        Assert.Equal((1 + 144) * 3, result.Length);
        Assert.All(result, v => Assert.Equal(0.25, v, 6));
    }

    [Fact]
    public void Bad_arguments_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => PositionEmbedding.Resize(new float[(1 + 10) * 2], hidden: 2, prefixTokens: 1, grid: 4, PositionInterpolation.Bilinear));
        Assert.Throws<ArgumentException>(() => PositionEmbedding.Resize(new float[7], 2, 2, new float[8], 2, 2, hidden: 2, prefixTokens: 0, PositionInterpolation.Bilinear));
        Assert.Null(PositionEmbedding.GridSide(11, 1));
        Assert.Equal(14, PositionEmbedding.GridSide(197, 1));
    }

    [Fact]
    public void Loading_into_a_model_of_the_same_size_with_ResizePositions_changes_nothing()
    {
        using var dir = new TempDirectory();
        var saved = new ReferenceVitModel(Small(12));
        TestData.Randomize(saved, 51);
        string path = dir.File("m.safetensors");
        TimmWeights.Save(path, saved);
        var loaded = new ReferenceVitModel(Small(12));
        TimmWeights.Load(path, loaded, new LoadOptions { ResizePositions = true });
        IoAssert.SameModel(saved, loaded);
    }

    [Theory]
    [InlineData(WeightsFormat.Timm)]
    [InlineData(WeightsFormat.HuggingFace)]
    [InlineData(WeightsFormat.Checkpoint)]
    [InlineData(WeightsFormat.Jax)]
    public void Every_loader_resizes_positions_to_a_larger_image_only_when_asked(WeightsFormat format)
    {
        using var dir = new TempDirectory();
        var saved = new ReferenceVitModel(Small(12)); // 4×4 grid
        TestData.Randomize(saved, 52);
        string path = dir.File(format == WeightsFormat.Jax ? "m.npz" : "m.safetensors");
        if (format == WeightsFormat.Jax) JaxFixture.Write(path, saved);
        else Weights.Save(path, saved, format);

        var larger = new ReferenceVitModel(Small(18)); // 6×6 grid
        float[] before = larger.Parameters.ToArray();
        var e = Assert.ThrowsAny<WeightsFileException>(() => Weights.Load(path, larger));
        Assert.Contains("ResizePositions", e.Message);
        Assert.True(larger.Parameters.SequenceEqual(before));

        Weights.Load(path, larger, new LoadOptions { ResizePositions = true, Interpolation = PositionInterpolation.Bilinear });
        ReadOnlySpan<float> positions = larger.Config.Layout["pos_embed"].Of(larger.Parameters);
        ReadOnlySpan<float> original = saved.Config.Layout["pos_embed"].Of(saved.Parameters);
        int d = saved.Config.Hidden;
        Assert.Equal(original[..d].ToArray(), positions[..d].ToArray()); // class token's embedding kept
        float[] expected = new float[(1 + 36) * d];
        PositionEmbedding.Resize(original, 4, 4, expected, 6, 6, d, 1, PositionInterpolation.Bilinear);
        Assert.Equal(expected, positions.ToArray());
        // Everything else is copied unchanged, and the larger model runs.
        Assert.True(saved.Config.Layout["blocks.0.attn.qkv.weight"].Of(saved.Parameters).SequenceEqual(larger.Config.Layout["blocks.0.attn.qkv.weight"].Of(larger.Parameters)));
        Assert.All(IoAssert.Logits(larger), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Mean_pooled_models_resize_their_whole_table()
    {
        using var dir = new TempDirectory();
        var saved = new ReferenceVitModel(Small(18, VitPooling.Mean));
        TestData.Randomize(saved, 53);
        string path = dir.File("m.safetensors");
        TimmWeights.Save(path, saved);
        var smaller = new ReferenceVitModel(Small(9, VitPooling.Mean));
        TimmWeights.Load(path, smaller, new LoadOptions { ResizePositions = true });
        float[] expected = PositionEmbedding.Resize(saved.Config.Layout["pos_embed"].Of(saved.Parameters), 8, 0, 3, PositionInterpolation.Bicubic);
        Assert.Equal(expected, smaller.Config.Layout["pos_embed"].Of(smaller.Parameters).ToArray());
    }

    [Fact]
    public void A_position_table_that_is_not_a_square_grid_cannot_be_resized()
    {
        using var dir = new TempDirectory();
        var model = new ReferenceVitModel(Small(12));
        string path = dir.File("odd.safetensors");
        var raw = new RawSafeTensors();
        foreach (ParameterTensor t in model.Config.Layout)
        {
            if (t.Name == "pos_embed") raw.AddF32(t.Name, [1, 20, 8], new float[160]);
            else raw.AddF32(t.Name, t.Shape.Select(x => (long)x).ToArray(), t.Of(model.Parameters));
        }
        raw.Write(path);
        var e = IoAssert.FailsDerived<WeightsMismatchException>(path, () => TimmWeights.Load(path, new ReferenceVitModel(Small(12)), new LoadOptions { ResizePositions = true }),
            "pos_embed is (1, 20, 8), the model needs (1, 17, 8)");
        Assert.DoesNotContain("pass LoadOptions { ResizePositions", e.Message);
    }
}
