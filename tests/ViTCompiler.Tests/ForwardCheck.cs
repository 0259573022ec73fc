namespace ViTCompiler.Tests;

/// <summary>
/// Generated forward vs the double-precision reference engine, for one model and batch size. Shared by the in-process
/// tests and by the subprocesses that re-run it with SIMD paths switched off.
/// </summary>
public static class ForwardCheck
{
    /// <summary>
    /// Largest error allowed, relative to the largest reference value. Float32 products over K ≤ 768 with two or three
    /// residual layers land around 1e-6; 2e-5 leaves room for accumulation order while catching any real mistake (a
    /// wrong index or a missing term moves logits by 1e-2 or more).
    /// </summary>
    public const double Tolerance = 2e-5;

    public sealed record Result(string Model, int Batch, string Engine, double LogitError, double AttentionError)
    {
        public override string ToString() => $"{Model} batch {Batch} [{Engine}]: logits {LogitError:E2}, attention {AttentionError:E2}";
    }

    public static Result Run(string name, int batch) => Run(TestModels.All[name](), name, batch);

    public static Result Run(CompiledVit model, string name, int batch)
    {
        VitConfig c = model.Config;
        TestData.Randomize(model, seed: 7);
        float[] pixels = TestData.Pixels(c, batch, seed: 11);

        float[] logits = new float[batch * c.Classes];
        float[] attention = new float[batch * c.Layers * c.Heads * c.Tokens * c.Tokens];
        model.Forward(pixels, batch, logits, attention);

        double[] expectedAttention = new double[attention.Length];
        double[] expected = TestData.ReferenceLogits(model, pixels, batch, expectedAttention);
        return new Result(name, batch, model.Engine, TestData.RelativeError(logits, expected), TestData.RelativeError(attention, expectedAttention));
    }
}
