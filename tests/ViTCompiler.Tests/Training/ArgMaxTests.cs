using ViTCompiler.Training;
using Xunit;

namespace ViTCompiler.Tests.Training;

/// <summary><see cref="Evaluator.ArgMax"/>: the first largest value wins, NaN never does, whatever the row's length.</summary>
public class ArgMaxTests
{
    /// <summary>The contract written out as the plainest loop.</summary>
    private static int Expected(float[] values)
    {
        int best = -1;
        for (int i = 0; i < values.Length; i++)
            if (!float.IsNaN(values[i]) && (best < 0 || values[i] > values[best])) best = i;
        return best >= 0 ? best : Math.Max(0, values.Length - 1); // all NaN: no class is better, the last is taken
    }

    [Theory]
    [InlineData(new[] { 1f, 3f, 3f }, 1)]                                  // ties: the first
    [InlineData(new[] { -0f, 0f }, 0)]                                     // −0 and +0 tie
    [InlineData(new[] { -1f, 0f, -0f }, 1)]
    [InlineData(new[] { 1f, float.NaN, 3f }, 2)]                           // NaN never wins
    [InlineData(new[] { float.NaN, -5f }, 1)]
    [InlineData(new[] { float.NaN, float.NaN, float.NaN }, 2)]             // unless there is nothing else
    [InlineData(new[] { float.NegativeInfinity, float.NegativeInfinity }, 0)]
    [InlineData(new[] { 2f }, 0)]
    public void Small_rows(float[] values, int expected) => Assert.Equal(expected, Evaluator.ArgMax(values));

    [Theory]
    [InlineData(10)]
    [InlineData(37)]
    [InlineData(1000)]
    public void Long_rows_agree_with_the_plain_loop_with_ties_and_NaNs_anywhere(int classes)
    {
        var rng = new VitRandom((ulong)classes);
        for (int trial = 0; trial < 200; trial++)
        {
            float[] row = new float[classes];
            // Few distinct values, so ties are common; some rows get NaNs and signed zeros.
            for (int i = 0; i < classes; i++) row[i] = rng.NextInt(5) - 2;
            if (trial % 3 == 0) row[rng.NextInt(classes)] = float.NaN;
            if (trial % 5 == 0) for (int i = 0; i < classes; i++) row[i] = rng.NextInt(2) == 0 ? -0f : float.NaN;
            if (trial % 7 == 0) for (int i = 0; i < classes; i++) row[i] = -row[i] - 3;
            Assert.Equal(Expected(row), Evaluator.ArgMax(row));
        }
    }
}
