using Xunit;

namespace ViTCompiler.Serving.Tests;

/// <summary><see cref="Predictions.TopK"/> against probabilities worked out by hand.</summary>
public sealed class PredictionsTests
{
    [Fact]
    public void Top_k_is_the_softmax_sorted_with_ties_by_lower_index()
    {
        // exp(ln 1) : exp(ln 3) : exp(ln 2) : exp(ln 3) = 1 : 3 : 2 : 3, over 9; shifting all logits changes nothing.
        float[] logits = [MathF.Log(1), MathF.Log(3), MathF.Log(2), MathF.Log(3)];
        foreach (float shift in new[] { 0f, 80f, -80f })
        {
            (int Index, double Probability)[] top = Predictions.TopK(logits.Select(v => v + shift).ToArray(), 4);
            Assert.Equal([1, 3, 2, 0], top.Select(t => t.Index));
            Assert.Equal([3 / 9.0, 3 / 9.0, 2 / 9.0, 1 / 9.0], top.Select(t => t.Probability), (a, b) => Math.Abs(a - b) < 1e-6);
        }
        Assert.Equal(1, Predictions.TopK(logits, 1)[0].Index);
        Assert.Throws<ArgumentOutOfRangeException>(() => Predictions.TopK(logits, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Predictions.TopK(logits, 5));
    }
}
