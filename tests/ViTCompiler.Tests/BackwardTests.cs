using ViTCompiler.Reference;
using Xunit;
using Xunit.Abstractions;

namespace ViTCompiler.Tests;

public class BackwardTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Cases =>
        TestModels.All.Keys.SelectMany(name => new[] { new object[] { name, 1, false }, new object[] { name, 3, true } });

    [Theory]
    [MemberData(nameof(Cases))]
    public void Generated_gradients_match_the_reference_backward(string model, int batch, bool regularised)
    {
        GradientCheck.Result result = GradientCheck.Run(model, batch, regularised ? GradientCheck.Regularised : new TrainStepOptions());
        output.WriteLine(result.ToString());
        Assert.True(result.LossError < 1e-5, result.ToString());
        Assert.True(result.WorstTensorError < GradientCheck.Tolerance, result.ToString());
    }

    public static IEnumerable<object[]> FiniteDifferenceCases => new[]
    {
        new object[] { nameof(OddWidth), false, 0 },
        new object[] { nameof(MeanPooled), true, 0 },
        new object[] { nameof(NoQkvBias), true, 0 },
        new object[] { nameof(PixelPatches), false, 0 },
        new object[] { nameof(HybridSmall), false, 0 },
        new object[] { nameof(HybridOdd), true, 0 },
        // Head widths chosen at run time (RuntimeClassesTests compares the generated model at these against the reference).
        new object[] { nameof(OddWidth), true, 2 },
        new object[] { nameof(PixelPatches), false, 1000 },
    };

    /// <summary>
    /// The reference backward against central differences of the reference forward, in double precision, at a few
    /// elements of every tensor — this is what makes the reference itself trustworthy as an oracle.
    /// </summary>
    [Theory]
    [MemberData(nameof(FiniteDifferenceCases))]
    public void Reference_gradients_match_finite_differences(string name, bool regularised, int classes)
    {
        VitConfig c = TestModels.All[name]().Config;
        if (classes > 0) c = c with { Classes = classes };
        var model = new ReferenceVitModel(c);
        TestData.Randomize(model, 31);
        const int batch = 2;
        float[] pixels = TestData.Pixels(c, batch, 32);
        int[] labels = [1 % c.Classes, 2 % c.Classes];
        TrainStepOptions options = regularised ? GradientCheck.Regularised : new TrainStepOptions(LabelSmoothing: 0.05f);
        double[] p = TestData.ToDouble(model.Parameters);
        double[] analytic = new double[p.Length];
        ReferenceVit.ForwardBackward(c, p, pixels, labels, batch, options, analytic);

        var rng = new VitRandom(33);
        double worst = 0;
        foreach (ParameterTensor t in c.Layout)
        {
            for (int sample = 0; sample < 3; sample++)
            {
                int i = t.Offset + rng.NextInt(t.Count);
                double Central(double h)
                {
                    double saved = p[i];
                    p[i] = saved + h;
                    double up = ReferenceVit.Loss(c, p, pixels, labels, batch, options);
                    p[i] = saved - h;
                    double down = ReferenceVit.Loss(c, p, pixels, labels, batch, options);
                    p[i] = saved;
                    return (up - down) / (2 * h);
                }
                double Error(double numeric) => Math.Abs(numeric - analytic[i]) / Math.Max(1e-6, Math.Abs(numeric) + Math.Abs(analytic[i]));
                double numeric = Central(1e-5);
                // The hybrid's stem has ReLUs: a step of 1e-5 can carry one of its thousands of inputs across the kink,
                // where the loss has no derivative. A wrong gradient is wrong at every step, so one ten times smaller,
                // which crosses a kink ten times less often, decides.
                if (Error(numeric) >= 1e-5 && c.HasStem)
                {
                    output.WriteLine($"{t.Name}[{i - t.Offset}]: step 1e-5 gives {numeric:E6} against {analytic[i]:E6}; retrying with 1e-6");
                    numeric = Central(1e-6);
                }
                double error = Error(numeric);
                worst = Math.Max(worst, error);
                Assert.True(error < 1e-5 || Math.Abs(numeric - analytic[i]) < 1e-9,
                    $"{t.Name}[{i - t.Offset}]: analytic {analytic[i]:E6}, finite difference {numeric:E6}");
            }
        }
        output.WriteLine($"{name}: worst relative error {worst:E2}");
    }

    [Fact]
    public void Gradients_accumulate_across_calls()
    {
        var model = new FashionSmall();
        TestData.Randomize(model, 41);
        float[] pixels = TestData.Pixels(model.Config, 2, 42);
        int[] labels = [3, 7];
        model.Gradients.Clear();
        model.TrainStep(pixels, labels, 2, default, default);
        float[] once = model.Gradients.ToArray();
        model.TrainStep(pixels, labels, 2, default, default);
        float[] twice = model.Gradients.ToArray();
        for (int i = 0; i < once.Length; i++) Assert.Equal(2 * once[i], twice[i], 1e-6f * Math.Max(1, Math.Abs(twice[i])));
    }

    [Fact]
    public void Training_logits_equal_inference_logits_without_dropout()
    {
        var model = new OddWidth();
        TestData.Randomize(model, 51);
        float[] pixels = TestData.Pixels(model.Config, 4, 52);
        float[] inference = new float[4 * OddWidth.DefaultClasses], training = new float[inference.Length];
        model.Forward(pixels, 4, inference);
        model.TrainStep(pixels, [0, 1, 2, 3], 4, default, training);
        Assert.True(TestData.RelativeError(training, TestData.ToDouble(inference)) < 1e-6);
    }

    [Fact]
    public void A_fixed_batch_is_overfit_by_plain_gradient_descent()
    {
        var model = new FashionSmall(seed: 3);
        const int batch = 8;
        float[] pixels = TestData.Pixels(model.Config, batch, 61);
        int[] labels = Enumerable.Range(0, batch).ToArray();
        float first = 0, last = 0;
        for (int step = 0; step < 60; step++)
        {
            model.Gradients.Clear();
            last = model.TrainStep(pixels, labels, batch, default, default);
            if (step == 0) first = last;
            using ParameterEdit edit = model.EditParameters();
            Span<float> p = edit.Values, g = model.Gradients;
            for (int i = 0; i < p.Length; i++) p[i] -= 0.05f * g[i];
        }
        output.WriteLine($"loss {first:F4} -> {last:F4}");
        Assert.True(first > 2.0f, $"initial loss {first} (ln 10 ≈ 2.30 expected with a zero head)");
        Assert.True(last < 0.2f * first, $"loss only went from {first} to {last}");
    }
}
