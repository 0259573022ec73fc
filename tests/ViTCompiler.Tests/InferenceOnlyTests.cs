using System.Runtime.InteropServices;
using Xunit;

namespace ViTCompiler.Tests;

/// <summary>
/// <see cref="CompiledVit.InferenceOnly"/>: the weight matrices are released from the parameter block as they are packed,
/// the model still computes exactly what a normal one does, and whatever needs the released block says so.
/// </summary>
public unsafe partial class InferenceOnlyTests
{
    [Theory]
    [InlineData(nameof(OddWidth))]
    [InlineData(nameof(MeanPooled))]
    [InlineData(nameof(NoQkvBias))]
    [InlineData(nameof(ManyTokens))]
    public void Logits_are_bit_identical_to_a_model_that_keeps_its_parameters(string name)
    {
        CompiledVit normal = TestModels.All[name](), inferenceOnly = TestModels.All[name]();
        inferenceOnly.InferenceOnly = true;
        TestData.Randomize(normal, 3);
        TestData.Randomize(inferenceOnly, 3); // written before the first pass, as a loader does
        float[] pixels = TestData.Pixels(normal.Config, 3, 4);
        float[] expected = new float[3 * normal.Config.Classes], actual = new float[expected.Length], again = new float[expected.Length];
        normal.Forward(pixels, 3, expected);
        inferenceOnly.Forward(pixels, 3, actual);
        Assert.True(inferenceOnly.ParameterMatricesReleased);
        inferenceOnly.Forward(pixels, 3, again); // the released block is not packed again
        Assert.Equal(expected, actual);
        Assert.Equal(expected, again);
    }

    [Fact]
    public void Once_released_the_parameters_cannot_be_read_edited_or_trained()
    {
        var model = new FashionSmall { InferenceOnly = true };
        TestData.Randomize(model, 1);
        Assert.False(model.ParameterMatricesReleased);
        Assert.Equal(model.Config.ParameterCount, model.Parameters.Length); // still readable before the first pass
        float[] pixels = TestData.Pixels(model.Config, 1, 2);
        float[] logits = new float[FashionSmall.DefaultClasses];
        model.Forward(pixels, 1, logits);

        var read = Assert.Throws<InvalidOperationException>(() => model.Parameters.Length);
        Assert.Contains("InferenceOnly", read.Message);
        Assert.Throws<InvalidOperationException>(() => { using ParameterEdit edit = model.EditParameters(); });
        Assert.Throws<InvalidOperationException>(() => model.TrainStep(pixels, [3], 1, default, logits));
        Assert.Throws<InvalidOperationException>(() => model.InferenceOnly = false);
    }

    [Fact]
    public void An_inference_only_model_does_not_train_even_before_packing()
    {
        var model = new FashionSmall { InferenceOnly = true };
        float[] pixels = TestData.Pixels(model.Config, 1, 2);
        var e = Assert.Throws<InvalidOperationException>(() => model.TrainStep(pixels, [1], 1, default, default));
        Assert.Contains("InferenceOnly", e.Message);
        Assert.False(model.ParameterMatricesReleased);
    }

    /// <summary>TinyWide, with the parameter block's address (a protected member generated code uses).</summary>
    private sealed class AddressedTinyWide : TinyWide
    {
        public float* Block => ParameterPointer;
    }

    [Fact]
    public void The_matrices_pages_are_given_back_to_the_operating_system()
    {
        if (!OperatingSystem.IsLinux()) return; // elsewhere the pages stay resident (documented)
        var model = new AddressedTinyWide { InferenceOnly = true };
        TestData.Randomize(model, 1);
        ParameterTensor qkv = model.Config.Layout["blocks.0.attn.qkv.weight"], norm = model.Config.Layout["blocks.0.norm1.weight"];
        int resident = ResidentPages(model.Block + qkv.Offset, qkv.Count, out int pages);
        Assert.Equal(pages, resident); // written by the initialisation and Randomize

        model.Forward(TestData.Pixels(model.Config, 1, 2), 1, new float[TinyWide.DefaultClasses]);
        Assert.Equal(0, ResidentPages(model.Block + qkv.Offset, qkv.Count, out pages));
        Assert.True(pages > 50, $"only {pages} whole pages in the qkv weight");
        // The small tensors stay: the forward pass reads them from the block (a released page would read as zero).
        Assert.NotEqual(0f, model.Block[norm.Offset]);
    }

    // Counts the resident pages among the whole pages inside [start, start + floats), with mincore(2).
    private static int ResidentPages(float* start, long floats, out int pages)
    {
        long size = Environment.SystemPageSize;
        long first = ((long)start + size - 1) & ~(size - 1), end = (long)(start + floats) & ~(size - 1);
        pages = (int)Math.Max(0, (end - first) / size);
        byte[] vector = new byte[Math.Max(1, pages)];
        fixed (byte* v = vector)
            Assert.Equal(0, MinCore((nint)first, (nuint)(pages * size), v));
        return vector.Take(pages).Count(b => (b & 1) != 0);
    }

    [LibraryImport("libc", EntryPoint = "mincore")]
    private static partial int MinCore(nint address, nuint length, byte* vector);
}
