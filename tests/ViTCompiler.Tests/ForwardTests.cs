using Xunit;
using Xunit.Abstractions;

namespace ViTCompiler.Tests;

public class ForwardTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Cases =>
        TestModels.All.Keys.SelectMany(name => new[] { new object[] { name, 1 }, new object[] { name, 5 } });

    [Theory]
    [MemberData(nameof(Cases))]
    public void Generated_forward_matches_the_reference_engine(string model, int batch)
    {
        ForwardCheck.Result result = ForwardCheck.Run(model, batch);
        output.WriteLine(result.ToString());
        Assert.True(result.LogitError < ForwardCheck.Tolerance, result.ToString());
        Assert.True(result.AttentionError < ForwardCheck.Tolerance, result.ToString());
    }

    [Fact]
    public void An_edited_weight_changes_the_next_output()
    {
        // Guards the packed-weight cache: an edit must reach the next pass, whether or not the edit scope was closed
        // before it, and the test would fail if packing were skipped or done from stale data.
        var model = new OddWidth();
        TestData.Randomize(model, 3);
        float[] pixels = TestData.Pixels(model.Config, 2, 4);
        float[] before = new float[2 * OddWidth.DefaultClasses], after = new float[2 * OddWidth.DefaultClasses];
        model.Forward(pixels, 2, before);

        ParameterTensor fc1 = model.Config.Layout["blocks.1.mlp.fc1.weight"];
        using (ParameterEdit edit = model.EditParameters())
            edit[fc1][5] += 0.5f;
        model.Forward(pixels, 2, after);
        Assert.NotEqual(before, after);
        Assert.True(TestData.RelativeError(after, TestData.ReferenceLogits(model, pixels, 2)) < ForwardCheck.Tolerance);

        // Written after a pass but inside a scope opened before it: the dispose invalidates the packed copy again.
        float[] third = new float[after.Length];
        ParameterEdit late = model.EditParameters();
        model.Forward(pixels, 2, third);
        late[fc1][7] -= 0.5f;
        late.Dispose();
        model.Forward(pixels, 2, third);
        Assert.NotEqual(after, third);
        Assert.True(TestData.RelativeError(third, TestData.ReferenceLogits(model, pixels, 2)) < ForwardCheck.Tolerance);
    }

    [Theory]
    [InlineData(nameof(ManyTokens))]
    [InlineData(nameof(TinyWide))]
    public void Results_are_bit_identical_for_any_thread_count(string name)
    {
        CompiledVit model = TestModels.All[name]();
        TestData.Randomize(model, 5);
        float[] pixels = TestData.Pixels(model.Config, 3, 6);
        float[] one = new float[3 * model.Config.Classes], two = new float[one.Length];
        model.Threads = 1;
        model.Forward(pixels, 3, one);
        model.Threads = Environment.ProcessorCount;
        model.Forward(pixels, 3, two);
        Assert.Equal(one, two);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // an InferenceOnly model, its weight matrices released after packing (InferenceOnlyTests)
    public void Forward_allocates_nothing_once_warm(bool inferenceOnly)
    {
        var model = new TinyWide { InferenceOnly = inferenceOnly };
        TestData.Randomize(model, 1);
        float[] pixels = TestData.Pixels(model.Config, 2, 2);
        float[] logits = new float[2 * TinyWide.DefaultClasses];
        model.Forward(pixels, 2, logits);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++) model.Forward(pixels, 2, logits);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Wrong_buffer_sizes_are_rejected_with_the_expected_size()
    {
        var model = new FashionSmall();
        var ex = Assert.Throws<ArgumentException>(() => model.Forward(new float[28 * 28 * 2 - 1], 2, new float[20]));
        Assert.Contains("1,568", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => model.Forward(new float[28 * 28], 1, new float[9]));
        Assert.Contains("10", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(new float[0], 0, new float[0]));
    }
}
