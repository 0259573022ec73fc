using ViTCompiler.Reference;

namespace ViTCompiler.Tests;

/// <summary>Random but realistic inputs: the default initialisation zeroes the head, which would hide most bugs.</summary>
public static class TestData
{
    /// <summary>Fills every tensor with values of the scale training produces, so every path contributes to the logits.</summary>
    public static void Randomize(IVitWeights model, ulong seed)
    {
        using ParameterEdit edit = model.EditParameters();
        ParameterInit.Randomize(model.Config, edit.Values, seed);
    }

    public static float[] Pixels(VitConfig config, int batch, ulong seed) => Uniform(batch * config.PixelsPerImage, seed);

    /// <summary><paramref name="count"/> values drawn uniformly from [−1, 1).</summary>
    public static float[] Uniform(int count, ulong seed)
    {
        var rng = new VitRandom(seed);
        float[] values = new float[count];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
        return values;
    }

    public static double[] ToDouble(ReadOnlySpan<float> values)
    {
        double[] result = new double[values.Length];
        for (int i = 0; i < values.Length; i++) result[i] = values[i];
        return result;
    }

    /// <summary>Largest |a − b| divided by the largest |b| (error relative to the output's scale).</summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected) =>
        ReferenceVit.RelativeError(actual, expected);

    public static double[] ReferenceLogits(IVitWeights model, float[] pixels, int batch, double[]? attention = null)
    {
        double[] logits = new double[batch * model.Config.Classes];
        ReferenceVit.Forward(model.Config, ToDouble(model.Parameters), pixels, batch, logits, attention);
        return logits;
    }
}
