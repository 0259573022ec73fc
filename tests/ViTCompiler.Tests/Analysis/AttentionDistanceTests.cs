using ViTCompiler.Analysis;
using Xunit;

namespace ViTCompiler.Tests.Analysis;

public class AttentionDistanceTests
{
    [Fact]
    public void Matches_a_brute_force_loop_over_the_reference_engines_attention()
    {
        // 3 × 3 patches of 4 pixels, a [class] token, 2 layers × 3 heads, 3 images.
        var config = new VitConfig { ImageSize = 12, Channels = 1, Patch = 4, Layers = 2, Hidden = 12, Heads = 3, MlpDim = 8, Classes = 3 };
        const int batch = 3;
        float[] attention = AttentionMapsTests.Capture(config, seed: 21, batch);
        var meter = new AttentionDistance(config);
        meter.Add(attention.AsSpan(0, AttentionMaps.FloatsPerImage(config)), 1);
        meter.Add(attention.AsSpan(AttentionMaps.FloatsPerImage(config)), batch - 1);
        double[,] mean = meter.Mean();
        Assert.Equal(batch, meter.Images);

        int n = config.Tokens, g = config.GridSize;
        for (int l = 0; l < config.Layers; l++)
            for (int h = 0; h < config.Heads; h++)
            {
                double expected = 0;
                for (int b = 0; b < batch; b++)
                    for (int qy = 0; qy < g; qy++)
                        for (int qx = 0; qx < g; qx++)
                        {
                            double weighted = 0, mass = 0;
                            for (int ky = 0; ky < g; ky++)
                                for (int kx = 0; kx < g; kx++)
                                {
                                    int query = 1 + qy * g + qx, key = 1 + ky * g + kx;
                                    double a = attention[(((b * config.Layers + l) * config.Heads + h) * n + query) * n + key];
                                    double pixels = Math.Sqrt(Math.Pow(4.0 * (qy - ky), 2) + Math.Pow(4.0 * (qx - kx), 2));
                                    weighted += a * pixels;
                                    mass += a;
                                }
                            expected += weighted / mass / (g * g) / batch;
                        }
                Assert.Equal(expected, mean[l, h], 1e-9);
            }
    }

    [Fact]
    public void Known_patterns_give_known_distances()
    {
        // Mean pooling, 2 × 2 patches of 5 pixels, one layer of two heads: head 0 attends to itself only,
        // head 1 to the horizontally adjacent patch only (always exactly 5 pixels away).
        var config = new VitConfig { ImageSize = 10, Channels = 1, Patch = 5, Layers = 1, Hidden = 4, Heads = 2, MlpDim = 4, Classes = 2, Pooling = VitPooling.Mean };
        float[] attention = new float[2 * 4 * 4];
        for (int i = 0; i < 4; i++)
        {
            attention[i * 4 + i] = 1;
            attention[16 + i * 4 + (i ^ 1)] = 1;
        }
        var meter = new AttentionDistance(config);
        meter.Add(attention, 1);
        Assert.Equal(0.0, meter.Mean()[0, 0]);
        Assert.Equal(5.0, meter.Mean()[0, 1], 1e-12);
    }

    [Fact]
    public void Even_attention_gives_the_uniform_distance()
    {
        // 2 × 2 patches of 5 pixels: from any patch, distances 0, 5, 5 and 5√2.
        var config = new VitConfig { ImageSize = 10, Channels = 1, Patch = 5, Layers = 1, Hidden = 4, Heads = 1, MlpDim = 4, Classes = 2, Pooling = VitPooling.Mean };
        double expected = (0 + 5 + 5 + 5 * Math.Sqrt(2)) / 4;
        Assert.Equal(expected, AttentionDistance.UniformDistance(config), 1e-12);
        var meter = new AttentionDistance(config);
        meter.Add(Enumerable.Repeat(0.25f, 16).ToArray(), 1);
        Assert.Equal(expected, meter.Mean()[0, 0], 1e-6);
    }

    [Fact]
    public void Reading_before_adding_and_a_wrong_capture_length_are_refused()
    {
        var config = new VitConfig { ImageSize = 10, Channels = 1, Patch = 5, Layers = 1, Hidden = 4, Heads = 2, MlpDim = 4, Classes = 2 };
        var meter = new AttentionDistance(config);
        Assert.Throws<InvalidOperationException>(() => meter.Mean());
        Assert.Throws<ArgumentException>(() => meter.Add(new float[49], 1));
    }
}
