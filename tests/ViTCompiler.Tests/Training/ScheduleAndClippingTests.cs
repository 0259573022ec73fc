using ViTCompiler.Training;
using Xunit;

namespace ViTCompiler.Tests.Training;

public class ScheduleAndClippingTests
{
    [Fact]
    public void Warmup_rises_linearly_to_the_peak()
    {
        var s = new LearningRateSchedule(peak: 1e-3f, totalSteps: 100, warmupSteps: 10);
        Assert.Equal(1e-4f, s.At(0), 1e-10f);
        Assert.Equal(5e-4f, s.At(4), 1e-10f);
        Assert.Equal(1e-3f, s.At(9));
        Assert.Equal(1e-3f, s.At(10)); // first decay step: progress 0
    }

    [Fact]
    public void Cosine_decay_passes_the_midpoint_and_ends_at_the_floor()
    {
        var s = new LearningRateSchedule(peak: 1e-3f, totalSteps: 110, warmupSteps: 10, LearningRateDecay.Cosine, floor: 1e-5f);
        Assert.Equal((1e-3 + 1e-5) / 2, s.At(60), 1e-9);                                  // p = 0.5
        Assert.Equal(1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + Math.Cos(Math.PI * 0.25)), s.At(35), 1e-9); // p = 0.25
        Assert.Equal(1e-5f, s.At(110));
        Assert.Equal(1e-5f, s.At(1000));
        for (long step = 11; step <= 110; step++) Assert.True(s.At(step) <= s.At(step - 1), $"not decreasing at {step}");
    }

    [Fact]
    public void Linear_and_constant_shapes()
    {
        var linear = new LearningRateSchedule(peak: 2f, totalSteps: 10, warmupSteps: 0, LearningRateDecay.Linear);
        Assert.Equal(2f, linear.At(0));
        Assert.Equal(1f, linear.At(5));
        Assert.Equal(0.2f, linear.At(9), 1e-6f);
        Assert.Equal(0f, linear.At(10));
        var constant = LearningRateSchedule.Constant(0.3f);
        Assert.Equal(0.3f, constant.At(0));
        Assert.Equal(0.3f, constant.At(123456));
    }

    [Fact]
    public void Bad_schedules_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LearningRateSchedule(float.NaN, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LearningRateSchedule(1e-3f, 10, floor: 1e-2f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LearningRateSchedule(1e-3f, -1));
    }

    [Fact]
    public void The_global_norm_is_the_norm_of_the_whole_block()
    {
        Assert.Equal(5.0, GradientClipping.GlobalNorm([3f, 4f]));
        // Long enough for the vector body, odd length for the tail.
        float[] values = Enumerable.Range(0, 1001).Select(i => (float)(i % 7 - 3) * 0.25f).ToArray();
        double expected = Math.Sqrt(values.Sum(x => (double)x * x));
        Assert.Equal(expected, GradientClipping.GlobalNorm(values), 12);
        Assert.True(double.IsNaN(GradientClipping.GlobalNorm([1f, float.NaN, 2f])));
        Assert.True(double.IsPositiveInfinity(GradientClipping.GlobalNorm([1f, float.NegativeInfinity])));
    }

    [Fact]
    public void Clipping_scales_a_large_gradient_to_the_limit_and_leaves_a_small_one()
    {
        float[] large = [3f, 4f, 0f];
        Assert.Equal(5.0, GradientClipping.ClipByGlobalNorm(large, 1f));
        Assert.Equal([0.6f, 0.8f, 0f], large);

        float[] values = Enumerable.Range(0, 999).Select(i => MathF.Sin(i)).ToArray();
        double norm = GradientClipping.GlobalNorm(values);
        GradientClipping.ClipByGlobalNorm(values, 2f);
        Assert.Equal(2.0, GradientClipping.GlobalNorm(values), 5);
        Assert.True(norm > 2);

        float[] small = [0.3f, -0.4f];
        Assert.Equal(0.5, GradientClipping.ClipByGlobalNorm(small, 1f), 6);
        Assert.Equal([0.3f, -0.4f], small);

        float[] broken = [1f, float.NaN];
        Assert.True(double.IsNaN(GradientClipping.ClipByGlobalNorm(broken, 1f)));
        Assert.Equal(1f, broken[0]); // untouched: the caller reports the divergence
    }
}
