using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ViTCompiler.Onnx;
using Xunit;
using Xunit.Abstractions;

namespace ViTCompiler.Tests.Onnx;

/// <summary>Exported models run in ONNX Runtime and agree with the model that exported them and with the reference engine.</summary>
public class OnnxExportTests(ITestOutputHelper output)
{
    /// <summary>Same bound as the generated-code tests: float32 against double, relative to the logits' scale.</summary>
    private const double Tolerance = 1e-4;

    public static IEnumerable<object[]> Cases =>
        TestModels.All.Keys.SelectMany(name => new[] { new object[] { name, 1 }, new object[] { name, 5 } });

    [Theory]
    [MemberData(nameof(Cases))]
    public void Onnx_Runtime_matches_the_model_and_the_reference(string name, int batch)
    {
        CompiledVit model = TestModels.All[name]();
        TestData.Randomize(model, 11);
        float[] pixels = TestData.Pixels(model.Config, batch, 12);

        float[] ort;
        using (var session = new OrtSession(OnnxExporter.ExportToBytes(model)))
            ort = session.Run(model.Config, pixels, batch);

        float[] own = new float[batch * model.Config.Classes];
        model.Forward(pixels, batch, own);
        double[] reference = TestData.ReferenceLogits(model, pixels, batch);
        double vsReference = TestData.RelativeError(ort, reference);
        double vsModel = TestData.RelativeError(ort, TestData.ToDouble(own));
        output.WriteLine($"{name} batch {batch}: ORT vs reference {vsReference:E2}, ORT vs {model.Engine} {vsModel:E2}");
        Assert.True(vsReference < Tolerance, $"ORT vs reference: {vsReference:E3}");
        Assert.True(vsModel < Tolerance, $"ORT vs model: {vsModel:E3}");
    }

    public static IEnumerable<object[]> OpsetCases =>
        from name in new[] { nameof(MeanPooled), nameof(OddWidth) }
        from variant in new[] { (17, false), (18, false), (19, false), (20, false), (20, true), (21, true) }
        select new object[] { name, variant.Item1, variant.Item2 };

    [Theory]
    [MemberData(nameof(OpsetCases))]
    public void Every_supported_opset_runs_and_agrees(string name, int opset, bool geluOperator)
    {
        // Opset 18 moved ReduceMean's axes from an attribute to an input; 20 added the Gelu operator.
        CompiledVit model = TestModels.All[name]();
        TestData.Randomize(model, 21);
        float[] pixels = TestData.Pixels(model.Config, 2, 22);
        byte[] file = OnnxExporter.ExportToBytes(model, new OnnxExportOptions { Opset = opset, UseGeluOperator = geluOperator });

        OnnxModelSummary summary = OnnxModelSummary.Read(file);
        Assert.Equal(("", (long)opset), Assert.Single(summary.Opsets));
        Assert.Equal(geluOperator, summary.Nodes.Any(n => n.OpType == "Gelu"));
        Assert.Equal(!geluOperator, summary.Nodes.Any(n => n.OpType == "Erf"));

        using var session = new OrtSession(file);
        double error = TestData.RelativeError(session.Run(model.Config, pixels, 2), TestData.ReferenceLogits(model, pixels, 2));
        output.WriteLine($"{name} opset {opset}{(geluOperator ? " (Gelu operator)" : "")}: ORT vs reference {error:E2}");
        Assert.True(error < Tolerance, $"{error:E3}");
    }

    [Fact]
    public void The_batch_dimension_is_symbolic_and_any_batch_runs_on_one_session()
    {
        var model = new OddWidth();
        TestData.Randomize(model, 31);
        using var session = new OrtSession(OnnxExporter.ExportToBytes(model));

        NodeMetadata input = session.Session.InputMetadata["pixels"];
        Assert.Equal([-1, 3, 21, 21], input.Dimensions);
        Assert.Equal("batch", input.SymbolicDimensions[0]);
        Assert.Equal(TensorElementType.Float, input.ElementDataType);
        NodeMetadata logits = session.Session.OutputMetadata["logits"];
        Assert.Equal([-1, OddWidth.DefaultClasses], logits.Dimensions);
        Assert.Equal("batch", logits.SymbolicDimensions[0]);

        foreach (int batch in new[] { 1, 4, 2, 7 })
        {
            float[] pixels = TestData.Pixels(model.Config, batch, (ulong)(100 + batch));
            float[] own = new float[batch * OddWidth.DefaultClasses];
            model.Forward(pixels, batch, own);
            double error = TestData.RelativeError(session.Run(model.Config, pixels, batch), TestData.ToDouble(own));
            Assert.True(error < Tolerance, $"batch {batch}: {error:E3}");
        }
    }

    [Fact]
    public void A_fixed_batch_size_is_written_into_the_shapes()
    {
        var model = new MeanPooled();
        TestData.Randomize(model, 32);
        using var session = new OrtSession(OnnxExporter.ExportToBytes(model, new OnnxExportOptions { BatchSize = 3, InputName = "images", OutputName = "scores" }));
        Assert.Equal([3, 3, 16, 16], session.Session.InputMetadata["images"].Dimensions);
        Assert.Equal([3, MeanPooled.DefaultClasses], session.Session.OutputMetadata["scores"].Dimensions);

        float[] pixels = TestData.Pixels(model.Config, 3, 33);
        double error = TestData.RelativeError(session.Run(model.Config, pixels, 3, "images", "scores"), TestData.ReferenceLogits(model, pixels, 3));
        Assert.True(error < Tolerance, $"{error:E3}");
        Assert.Throws<OnnxRuntimeException>(() => session.Run(model.Config, TestData.Pixels(model.Config, 2, 34), 2, "images", "scores"));
    }

    [Fact]
    public void The_export_carries_the_current_parameters()
    {
        var model = new NoQkvBias();
        TestData.Randomize(model, 41);
        float[] pixels = TestData.Pixels(model.Config, 2, 42);
        byte[] before = OnnxExporter.ExportToBytes(model);

        TestData.Randomize(model, 43); // new weights, ParametersChanged called
        byte[] after = OnnxExporter.ExportToBytes(model);

        using var sessionBefore = new OrtSession(before);
        using var sessionAfter = new OrtSession(after);
        float[] logitsBefore = sessionBefore.Run(model.Config, pixels, 2), logitsAfter = sessionAfter.Run(model.Config, pixels, 2);
        Assert.NotEqual(logitsBefore, logitsAfter);
        float[] own = new float[2 * NoQkvBias.DefaultClasses];
        model.Forward(pixels, 2, own);
        Assert.True(TestData.RelativeError(logitsAfter, TestData.ToDouble(own)) < Tolerance);
    }

    [Fact]
    public void The_configuration_overload_exports_a_bare_parameter_block()
    {
        // No model instance: a configuration nobody compiled, with parameters from the reference engine's layout.
        var config = new VitConfig { ImageSize = 12, Channels = 2, Patch = 4, Layers = 2, Hidden = 15, Heads = 3, MlpDim = 7, Classes = 4 };
        var reference = new Reference.ReferenceVitModel(config);
        TestData.Randomize(reference, 51);
        float[] pixels = TestData.Pixels(config, 3, 52);

        using var stream = new MemoryStream();
        OnnxExporter.Export(config, reference.Parameters, stream);
        using var session = new OrtSession(stream.ToArray());
        double error = TestData.RelativeError(session.Run(config, pixels, 3), TestData.ReferenceLogits(reference, pixels, 3));
        Assert.True(error < Tolerance, $"{error:E3}");
    }

    [Fact]
    public void Exporting_to_a_file_replaces_it_atomically_and_leaves_no_temporary_files()
    {
        string directory = Path.Combine(Path.GetTempPath(), "vit-onnx-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            string path = Path.Combine(directory, "model.onnx");
            File.WriteAllText(path, "an older file");
            var model = new FashionSmall();
            TestData.Randomize(model, 61);

            OnnxExporter.Export(model, path);
            Assert.Equal(OnnxExporter.ExportToBytes(model), File.ReadAllBytes(path));
            Assert.Equal([path], Directory.GetFiles(directory));

            float[] pixels = TestData.Pixels(model.Config, 2, 62);
            using (var session = new OrtSession(path))
                Assert.True(TestData.RelativeError(session.Run(model.Config, pixels, 2), TestData.ReferenceLogits(model, pixels, 2)) < Tolerance);

            // A refused export leaves the file as it was.
            byte[] good = File.ReadAllBytes(path);
            Assert.Throws<ArgumentException>(() => OnnxExporter.Export(model, path, new OnnxExportOptions { Opset = 9 }));
            Assert.Equal(good, File.ReadAllBytes(path));
            Assert.Equal([path], Directory.GetFiles(directory));

            var missing = Path.Combine(directory, "no-such-folder", "model.onnx");
            var error = Assert.Throws<DirectoryNotFoundException>(() => OnnxExporter.Export(model, missing));
            Assert.Contains("no-such-folder", error.Message);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Exports_are_deterministic()
    {
        var model = new PixelPatches();
        TestData.Randomize(model, 71);
        Assert.Equal(OnnxExporter.ExportToBytes(model), OnnxExporter.ExportToBytes(model));
    }
}
