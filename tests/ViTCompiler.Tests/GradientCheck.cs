using ViTCompiler.Reference;

namespace ViTCompiler.Tests;

/// <summary>
/// Generated backward vs the reference backward (double precision), tensor by tensor. Shared by the in-process tests
/// and the subprocesses that run it with SIMD paths switched off.
/// </summary>
public static class GradientCheck
{
    /// <summary>
    /// Allowed error per tensor relative to that tensor's largest reference gradient. The generated pass is float32
    /// and sums weight gradients over every row of the batch; measured errors are around 1e-6 to 1e-5. A dropped term
    /// or a wrong mask index moves a tensor's gradient by far more than 1e-4 of its scale.
    /// </summary>
    public const double Tolerance = 1e-4;

    public sealed record Result(string Model, int Batch, string Engine, double LossError, double WorstTensorError, string WorstTensor)
    {
        public override string ToString() =>
            $"{Model} batch {Batch} [{Engine}]: loss {LossError:E2}, worst gradient {WorstTensorError:E2} ({WorstTensor})";
    }

    public static readonly TrainStepOptions Regularised = new(LabelSmoothing: 0.1f, Dropout: 0.15f, DropPath: 0.2f, Seed: 1234);

    public static Result Run(string name, int batch, TrainStepOptions options) => Run(TestModels.All[name](), name, batch, options);

    public static Result Run(CompiledVit model, string name, int batch, TrainStepOptions options)
    {
        VitConfig c = model.Config;
        TestData.Randomize(model, seed: 21);
        float[] pixels = TestData.Pixels(c, batch, seed: 22);
        int[] labels = Enumerable.Range(0, batch).Select(i => (i * 7 + 3) % c.Classes).ToArray();

        model.Gradients.Clear();
        float loss = model.TrainStep(pixels, labels, batch, options, default);

        double[] expected = new double[c.ParameterCount];
        double expectedLoss = ReferenceVit.ForwardBackward(c, TestData.ToDouble(model.Parameters), pixels, labels, batch, options, expected);

        double worst = 0;
        string worstName = "";
        foreach (ParameterTensor t in c.Layout)
        {
            double error = TestData.RelativeError(t.Of((ReadOnlySpan<float>)model.Gradients), expected.AsSpan(t.Offset, t.Count));
            if (error > worst || double.IsNaN(error)) { worst = error; worstName = t.Name; }
        }
        return new Result(name, batch, model.Engine, Math.Abs(loss - expectedLoss) / Math.Max(1, Math.Abs(expectedLoss)), worst, worstName);
    }
}
