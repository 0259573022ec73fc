using ViTCompiler.Onnx;
using ViTCompiler.Reference;
using Xunit;

namespace ViTCompiler.Tests.Onnx;

/// <summary>Options and inputs that cannot be exported are refused up front, with a message that names what to change.</summary>
public class OnnxExportRejectionTests
{
    public static IEnumerable<object[]> HostileOptions =>
    [
        [new OnnxExportOptions { Opset = 16 }, "Opset 16"],
        [new OnnxExportOptions { Opset = 99 }, "Opset 99"],
        [new OnnxExportOptions { Opset = int.MinValue }, "Opset"],
        [new OnnxExportOptions { UseGeluOperator = true }, "UseGeluOperator"],
        [new OnnxExportOptions { Opset = 19, UseGeluOperator = true }, "opset 20"],
        [new OnnxExportOptions { InputName = "" }, "InputName"],
        [new OnnxExportOptions { InputName = null! }, "InputName"],
        [new OnnxExportOptions { InputName = "pix\nels" }, "pix\\u000Aels"],
        [new OnnxExportOptions { InputName = "1pixels" }, "InputName"],
        [new OnnxExportOptions { InputName = "blocks.0.norm1" }, "InputName"],
        [new OnnxExportOptions { InputName = new string('x', 129) }, "at most 128"],
        [new OnnxExportOptions { OutputName = "pixels" }, "different names"],
        [new OnnxExportOptions { OutputName = "logits; rm" }, "OutputName"],
        [new OnnxExportOptions { BatchSize = -1 }, "BatchSize"],
        [new OnnxExportOptions { BatchDimensionName = "" }, "BatchDimensionName"],
    ];

    [Theory]
    [MemberData(nameof(HostileOptions))]
    public void Invalid_options_are_refused_with_a_clear_message(OnnxExportOptions options, string expected)
    {
        var model = new FashionSmall();
        var error = Assert.Throws<ArgumentException>(() => OnnxExporter.ExportToBytes(model, options));
        Assert.StartsWith("Invalid ONNX export options:", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.Equal("options", error.ParamName);
        Assert.DoesNotContain('\n', error.Message);
        Assert.True(error.Message.Length < 400, error.Message);
    }

    [Fact]
    public void A_fixed_batch_needs_no_batch_dimension_name()
    {
        var model = new FashionSmall();
        byte[] file = OnnxExporter.ExportToBytes(model, new OnnxExportOptions { BatchSize = 2, BatchDimensionName = "" });
        Assert.Equal(2L, OnnxModelSummary.Read(file).Inputs[0].Dims[0]);
    }

    [Fact]
    public void A_parameter_block_of_the_wrong_length_is_refused()
    {
        var config = new VitConfig { ImageSize = 8, Patch = 4, Layers = 1, Hidden = 8, Heads = 2, Classes = 3 };
        var error = Assert.Throws<ArgumentException>(() => OnnxExporter.ExportToBytes(config, new float[config.ParameterCount - 1]));
        Assert.Contains($"{config.ParameterCount - 1:N0}", error.Message);
        Assert.Contains($"{config.ParameterCount:N0}", error.Message);
    }

    [Fact]
    public void An_invalid_configuration_is_refused()
    {
        var config = new VitConfig { ImageSize = 10, Patch = 4, Layers = 1, Hidden = 8, Heads = 2, Classes = 3 };
        var error = Assert.Throws<ArgumentException>(() => OnnxExporter.ExportToBytes(config, new float[1000]));
        Assert.Contains("not a multiple of Patch", error.Message);
    }

    [Fact]
    public void An_epsilon_that_float32_cannot_hold_is_refused()
    {
        var config = new VitConfig { ImageSize = 8, Patch = 4, Layers = 1, Hidden = 8, Heads = 2, Classes = 3, LayerNormEpsilon = 1e-60 };
        // The configuration rules (shared with the generator) refuse it before a model, and so an export, can exist.
        var error = Assert.Throws<ArgumentException>(() => OnnxExporter.ExportToBytes(config, new float[config.ParameterCount]));
        Assert.Contains("LayerNormEpsilon", error.Message);
        Assert.Contains("float range", error.Message);
        Assert.Throws<ArgumentException>(() => new ReferenceVitModel(config));
    }

    [Fact]
    public void A_model_beyond_two_gigabytes_is_refused_before_its_weights_are_copied()
    {
        // ViT-H/14 has 632 million parameters: 2.5 GB of float32, over protobuf's 2 GiB message limit. The size is
        // judged from the configuration before the parameter block is looked at, so an empty one stands in for it.
        var error = Assert.Throws<NotSupportedException>(() => OnnxExporter.ExportToBytes(VitConfig.Huge14, ReadOnlySpan<float>.Empty));
        Assert.Contains("2 GiB", error.Message);
    }

    [Fact]
    public void Null_arguments_and_unwritable_streams_are_refused()
    {
        var model = new FashionSmall();
        Assert.Throws<ArgumentNullException>(() => OnnxExporter.ExportToBytes((IVitWeights)null!));
        Assert.Throws<ArgumentNullException>(() => OnnxExporter.Export(model, (Stream)null!));
        Assert.ThrowsAny<ArgumentException>(() => OnnxExporter.Export(model, (string)null!));
        Assert.ThrowsAny<ArgumentException>(() => OnnxExporter.Export(model, "  "));
        using var readOnly = new MemoryStream(new byte[16], writable: false);
        var error = Assert.Throws<ArgumentException>(() => OnnxExporter.Export(model, readOnly));
        Assert.Contains("cannot be written", error.Message);
    }
}
