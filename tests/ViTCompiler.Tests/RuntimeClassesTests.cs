using ViTCompiler.IO;
using Xunit;
using Xunit.Abstractions;

namespace ViTCompiler.Tests;

/// <summary>
/// The head's width is chosen when a generated model is constructed: one compiled encoder serves any class count. These
/// check a K-class model built from classes compiled with another default, against the reference engine.
/// </summary>
public class RuntimeClassesTests(ITestOutputHelper output)
{
    public static TheoryData<int> ClassCounts => [2, 3, 7, 1000];

    [Theory]
    [MemberData(nameof(ClassCounts))]
    public void A_K_class_model_has_the_layout_and_the_encoder_of_its_class(int classes)
    {
        var model = new OddWidth(seed: 5, classes: classes);
        var standard = new OddWidth(seed: 5);

        Assert.Equal(OddWidth.ModelConfig with { Classes = classes }, model.Config);
        Assert.Equal(model.Config.ParameterCount, model.Parameters.Length);
        Assert.Equal(OddWidth.DefaultClasses, standard.Config.Classes);
        // Everything before the head is the same tensor at the same offset, initialised the same.
        int encoder = model.Config.Layout["head.weight"].Offset;
        Assert.Equal(standard.Config.Layout["head.weight"].Offset, encoder);
        Assert.True(model.Parameters[..encoder].SequenceEqual(standard.Parameters[..encoder]));
        Assert.Equal([classes, OddWidth.Hidden], model.Config.Layout["head.weight"].Shape);
        Assert.Equal(encoder + classes * OddWidth.Hidden, model.Config.Layout["head.bias"].Offset);
    }

    [Theory]
    [MemberData(nameof(ClassCounts))]
    public void Forward_matches_the_reference_at_any_class_count(int classes)
    {
        foreach (int batch in new[] { 1, 3 })
        {
            ForwardCheck.Result result = ForwardCheck.Run(new OddWidth(classes: classes), $"OddWidth, {classes} classes", batch);
            output.WriteLine(result.ToString());
            Assert.True(result.LogitError < ForwardCheck.Tolerance, result.ToString());
        }
        // Mean pooling takes another path to the head.
        ForwardCheck.Result mean = ForwardCheck.Run(new MeanPooled(classes: classes), $"MeanPooled, {classes} classes", 2);
        Assert.True(mean.LogitError < ForwardCheck.Tolerance, mean.ToString());
    }

    [Theory]
    [MemberData(nameof(ClassCounts))]
    public void Gradients_match_the_reference_at_any_class_count(int classes)
    {
        foreach ((CompiledVit model, string name) in new (CompiledVit, string)[] { (new OddWidth(classes: classes), "OddWidth"), (new MeanPooled(classes: classes), "MeanPooled") })
        {
            GradientCheck.Result result = GradientCheck.Run(model, $"{name}, {classes} classes", 3, GradientCheck.Regularised);
            output.WriteLine(result.ToString());
            Assert.True(result.LossError < 1e-5, result.ToString());
            Assert.True(result.WorstTensorError < GradientCheck.Tolerance, result.ToString());
        }
    }

    [Theory]
    [MemberData(nameof(ClassCounts))]
    public void A_K_class_model_starts_at_ln_K_and_learns(int classes)
    {
        // The paper's zero head gives uniform predictions, so the first loss is ln K whatever the encoder does.
        var model = new PixelPatches(seed: 3, classes: classes);
        VitConfig c = model.Config;
        const int batch = 8;
        int[] labels = Enumerable.Range(0, batch).Select(i => i * 7 % classes).ToArray();
        // Each label gets its share of bright pixels (with noise; labels 6 apart share one), so the task can be learnt.
        float[] pixels = new float[batch * c.PixelsPerImage];
        var rng = new VitRandom(4);
        for (int i = 0; i < batch; i++)
            for (int j = 0; j < c.PixelsPerImage; j++)
                pixels[i * c.PixelsPerImage + j] = (float)((j % (labels[i] % 6 + 2) == 0 ? 1 : -1) + 0.3 * (rng.NextDouble() - 0.5));

        var optimizer = new ViTCompiler.Training.AdamW(c.Layout, weightDecay: 0);
        float first = 0, last = 0;
        for (int step = 0; step < 40; step++)
        {
            model.Gradients.Clear();
            last = model.TrainStep(pixels, labels, batch, new TrainStepOptions(), default);
            if (step == 0) first = last;
            optimizer.Step(model, 3e-3f);
        }
        output.WriteLine($"{classes} classes: loss {first:F5} -> {last:F5} (ln K = {Math.Log(classes):F5})");
        Assert.Equal(Math.Log(classes), first, 5);
        Assert.True(last < 0.5 * first, $"loss went from {first} to {last} in 40 steps");
    }

    [Theory]
    [MemberData(nameof(ClassCounts))]
    public void A_K_class_model_round_trips_with_its_class_names(int classes)
    {
        string folder = Directory.CreateTempSubdirectory("vit-classes-").FullName;
        try
        {
            var model = new OddWidth(seed: 8, classes: classes);
            TestData.Randomize(model, 9);
            string[] names = Enumerable.Range(0, classes).Select(i => $"kind {i}").ToArray();
            string path = Path.Combine(folder, "model.safetensors");
            VitCheckpoint.Save(path, model, metadata: new Dictionary<string, string> { [CheckpointMetadata.Labels] = CheckpointMetadata.LabelsJson(names) });

            WeightsDescription description = Weights.Describe(path);
            Assert.Equal(classes, description.Config.Classes);
            Assert.Equal(names, description.Labels);
            var loaded = new OddWidth(classes: description.Config.Classes);
            Weights.Load(path, loaded);
            Assert.True(loaded.Parameters.SequenceEqual(model.Parameters));

            // A model with another head is refused, with both counts named.
            var other = new OddWidth(classes: classes == 2 ? 3 : 2);
            var e = Assert.ThrowsAny<Exception>(() => Weights.Load(path, other));
            Assert.Contains(classes.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void A_class_count_below_one_is_refused(int classes)
    {
        var e = Assert.Throws<ArgumentException>(() => new OddWidth(classes: classes));
        Assert.Contains("Classes", e.Message);
    }

    [Fact]
    public void A_class_count_above_the_limit_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new OddWidth(classes: 1_000_001));
        Assert.Contains("1,000,000", e.Message);
    }
}
