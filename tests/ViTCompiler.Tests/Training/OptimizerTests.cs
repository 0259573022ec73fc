using ViTCompiler.Training;
using Xunit;

namespace ViTCompiler.Tests.Training;

public class OptimizerTests
{
    /// <summary>
    /// A layout with every parameter kind and lengths that are not multiples of any vector width (4, 3, 5, 7 wide),
    /// so both the vector body and the scalar tail of each segment run.
    /// </summary>
    private static readonly VitConfig Small = new()
    {
        ImageSize = 6, Channels = 1, Patch = 3, Layers = 1, Hidden = 5, Heads = 1, MlpDim = 7, Classes = 3,
    };

    private static float[] Random(int count, ulong seed, double scale)
    {
        var rng = new VitRandom(seed);
        float[] values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return values;
    }

    private static bool[] DecayMask(VitConfig config)
    {
        bool[] mask = new bool[config.Layout.ParameterCount];
        foreach (ParameterTensor t in config.Layout)
            for (int i = 0; i < t.Count; i++) mask[t.Offset + i] = t.Kind == ParameterKind.Matrix;
        return mask;
    }

    /// <summary>AdamW written out element by element in double precision, straight from the paper's formula.</summary>
    private static void ReferenceAdamW(double[] p, double[] m, double[] v, float[] g, int t, double lr, double wd, bool[] decays)
    {
        const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
        for (int i = 0; i < p.Length; i++)
        {
            if (decays[i]) p[i] -= lr * wd * p[i];
            m[i] = beta1 * m[i] + (1 - beta1) * g[i];
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
            double mHat = m[i] / (1 - Math.Pow(beta1, t));
            double vHat = v[i] / (1 - Math.Pow(beta2, t));
            p[i] -= lr * mHat / (Math.Sqrt(vHat) + eps);
        }
    }

    private static void ReferenceSgd(double[] p, double[] b, float[] g, double lr, double momentum, double wd, bool[] decays)
    {
        for (int i = 0; i < p.Length; i++)
        {
            b[i] = momentum * b[i] + g[i] + (decays[i] ? wd * p[i] : 0);
            p[i] -= lr * b[i];
        }
    }

    /// <summary>
    /// Float against double: each element within <paramref name="tolerance"/> of the block's typical magnitude (a moment
    /// that sums terms of size 10 into a result of size 1e-3 carries the terms' rounding, not the result's).
    /// </summary>
    private static void AssertClose(double[] expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double typical = expected.Average(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]) / (Math.Abs(expected[i]) + typical);
            Assert.True(error < tolerance, $"{what}[{i}]: expected {expected[i]:G9}, got {actual[i]:G9}");
        }
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.1f)]
    public void AdamW_matches_the_scalar_reference_over_several_steps(float weightDecay)
    {
        int n = (int)Small.Layout.ParameterCount;
        bool[] decays = DecayMask(Small);
        float[] parameters = Random(n, 1, 0.5);
        double[] p = TestData.ToDouble(parameters), m = new double[n], v = new double[n];
        var adamw = new AdamW(Small.Layout, weightDecay);
        float[] rates = [1e-2f, 3e-2f, 2e-2f, 5e-3f, 1e-2f, 1e-3f];
        for (int t = 1; t <= rates.Length; t++)
        {
            // Gradients of changing scale, some elements exactly zero.
            float[] g = Random(n, (ulong)(100 + t), Math.Pow(10, t % 3 - 1));
            for (int i = t; i < n; i += 11) g[i] = 0;
            adamw.Step(parameters, g, rates[t - 1]);
            ReferenceAdamW(p, m, v, g, t, rates[t - 1], weightDecay, decays);
            AssertClose(p, parameters, 2e-5, $"parameters after step {t}");
            AssertClose(m, adamw.FirstMoment, 2e-5, $"m after step {t}");
            AssertClose(v, adamw.SecondMoment, 2e-5, $"v after step {t}");
        }
        Assert.Equal(rates.Length, adamw.StepCount);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(1e-3f)]
    public void Sgd_matches_the_scalar_reference_over_several_steps(float weightDecay)
    {
        int n = (int)Small.Layout.ParameterCount;
        bool[] decays = DecayMask(Small);
        float[] parameters = Random(n, 2, 0.5);
        double[] p = TestData.ToDouble(parameters), b = new double[n];
        var sgd = new Sgd(Small.Layout, momentum: 0.9f, weightDecay: weightDecay);
        for (int t = 1; t <= 5; t++)
        {
            float[] g = Random(n, (ulong)(200 + t), 1.0);
            float lr = 0.05f / t;
            sgd.Step(parameters, g, lr);
            ReferenceSgd(p, b, g, lr, 0.9f, weightDecay, decays);
            AssertClose(p, parameters, 1e-5, $"parameters after step {t}");
            AssertClose(b, sgd.StateBlock(0), 1e-5, $"momentum after step {t}");
        }
    }

    /// <summary>With a zero gradient, only decay moves a parameter: weight matrices shrink, nothing else changes.</summary>
    [Fact]
    public void Weight_decay_touches_only_weight_matrices()
    {
        int n = (int)Small.Layout.ParameterCount;
        float[] zero = new float[n];
        foreach (Optimizer optimizer in new Optimizer[] { new AdamW(Small.Layout, 0.1f), new Sgd(Small.Layout, 0.9f, 0.1f) })
        {
            float[] before = Random(n, 3, 1.0);
            float[] after = (float[])before.Clone();
            optimizer.Step(after, zero, 0.5f);
            foreach (ParameterTensor t in Small.Layout)
            {
                for (int i = t.Offset; i < t.Offset + t.Count; i++)
                {
                    if (t.Kind == ParameterKind.Matrix)
                        Assert.True(Math.Abs(after[i] - before[i] * 0.95) <= 1e-6 * Math.Abs(before[i]) + 1e-9,
                            $"{optimizer.Name}: {t.Name} should shrink by (1 − ηλ) = 0.95: {before[i]} → {after[i]}");
                    else
                        Assert.True(after[i] == before[i], $"{optimizer.Name}: {t.Name} ({t.Kind}) must not be decayed: {before[i]} → {after[i]}");
                }
            }
        }
        // Every kind is present, so the check above covers the whole mask.
        Assert.Equal(4, Small.Layout.Select(t => t.Kind).Distinct().Count());
        Assert.True(Optimizer.Decays(ParameterKind.Matrix));
        Assert.False(Optimizer.Decays(ParameterKind.Bias) || Optimizer.Decays(ParameterKind.Norm) || Optimizer.Decays(ParameterKind.Embedding));
    }

    [Fact]
    public void Exported_state_resumes_bit_for_bit()
    {
        int n = (int)Small.Layout.ParameterCount;
        float[] a = Random(n, 4, 0.5);
        var first = new AdamW(Small.Layout, 0.05f);
        for (int t = 0; t < 3; t++) first.Step(a, Random(n, (ulong)(300 + t), 1), 1e-2f);

        OptimizerState saved = first.ExportState();
        Assert.Equal("adamw", saved.Optimizer);
        Assert.Equal(3, saved.Step);
        Assert.Equal([AdamW.FirstMomentName, AdamW.SecondMomentName], saved.Blocks.Keys.Order());
        float[] b = (float[])a.Clone();
        var second = new AdamW(Small.Layout, 0.05f);
        second.ImportState(saved);

        for (int t = 3; t < 6; t++)
        {
            float[] g = Random(n, (ulong)(300 + t), 1);
            first.Step(a, g, 1e-2f);
            second.Step(b, g, 1e-2f);
        }
        Assert.Equal(a, b);
        Assert.Equal(6, second.StepCount);
    }

    [Fact]
    public void Importing_a_foreign_state_says_what_is_wrong()
    {
        var adamw = new AdamW(Small.Layout);
        var sgd = new Sgd(Small.Layout);
        var e = Assert.Throws<ArgumentException>(() => adamw.ImportState(sgd.ExportState()));
        Assert.Contains("'sgd'", e.Message);

        OptimizerState state = adamw.ExportState();
        var shortBlocks = state.Blocks.ToDictionary(kv => kv.Key, kv => kv.Value[..^1]);
        e = Assert.Throws<ArgumentException>(() => adamw.ImportState(state with { Blocks = shortBlocks }));
        Assert.Contains("optimizer.m", e.Message);
    }

    [Fact]
    public void A_step_on_a_model_marks_its_parameters_changed()
    {
        var model = new FashionSmall();
        TestData.Randomize(model, 5);
        float[] pixels = TestData.Pixels(model.Config, 1, 6);
        float[] before = new float[10], after = new float[10];
        model.Forward(pixels, 1, before);
        model.Gradients.Clear();
        model.TrainStep(pixels, [3], 1, new TrainStepOptions(), default);
        new AdamW(model.Config.Layout).Step(model, 1e-2f);
        model.Forward(pixels, 1, after);
        Assert.NotEqual(before, after); // the packed weights were rebuilt
    }
}
