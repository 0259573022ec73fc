using ViTCompiler.Onnx;
using Xunit;
using Xunit.Abstractions;

namespace ViTCompiler.Tests.Onnx;

/// <summary>The exported bytes, decoded by an independent minimal protobuf reader, hold the graph ONNX specifies.</summary>
public class OnnxStructureTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(nameof(FashionSmall))]
    [InlineData(nameof(MeanPooled))]
    [InlineData(nameof(NoQkvBias))]
    public void The_file_decodes_to_the_expected_model(string name)
    {
        CompiledVit model = TestModels.All[name]();
        TestData.Randomize(model, 81);
        VitConfig c = model.Config;
        OnnxModelSummary onnx = OnnxModelSummary.Read(OnnxExporter.ExportToBytes(model));

        Assert.Equal(8, onnx.IrVersion); // opset 17 was released with IR version 8
        Assert.Equal(("", 17L), Assert.Single(onnx.Opsets));
        Assert.Equal("ViTCompiler", onnx.ProducerName);
        Assert.Equal(c.Hidden.ToString(), onnx.Metadata["vit.hidden"]);
        Assert.Equal(c.HasClassToken ? "class_token" : "mean", onnx.Metadata["vit.pooling"]);

        OnnxValueSummary input = Assert.Single(onnx.Inputs);
        Assert.Equal("pixels", input.Name);
        Assert.Equal(1, input.ElementType); // FLOAT
        Assert.Equal(["batch", (long)c.Channels, (long)c.ImageSize, (long)c.ImageSize], input.Dims);
        OnnxValueSummary logits = Assert.Single(onnx.Outputs);
        Assert.Equal("logits", logits.Name);
        Assert.Equal(["batch", (long)c.Classes], logits.Dims);

        // Every parameter tensor is there once; qkv is split into three transposed weights (and three biases).
        var weights = onnx.Initializers.Where(t => !t.Name.StartsWith("const.", StringComparison.Ordinal)).ToList();
        int expected = c.Layout.Count + c.Layers * (c.QkvBias ? 4 : 2);
        Assert.Equal(expected, weights.Count);
        Assert.Equal(c.ParameterCount, weights.Sum(t => t.ElementCount));
        Assert.InRange(onnx.Initializers.Count - weights.Count, 1, 12); // a few shared shapes and scalars
        Assert.Equal(onnx.Initializers.Count, onnx.Initializers.Select(t => t.Name).Distinct().Count());
        foreach (OnnxTensorSummary t in onnx.Initializers)
            Assert.Equal(t.ElementCount * (t.DataType == 1 ? 4 : 8), t.Raw.Length);

        // Weights are the model's, and linear weights are stored transposed (in × out).
        ReadOnlySpan<float> p = model.Parameters;
        OnnxTensorSummary head = onnx.Initializers.Single(t => t.Name == "head.weight_t");
        Assert.Equal([(long)c.Hidden, c.Classes], head.Dims);
        float[] headT = head.Floats(), headW = c.Layout["head.weight"].Of(p).ToArray();
        for (int o = 0; o < c.Classes; o++)
            for (int i = 0; i < c.Hidden; i++) Assert.Equal(headW[o * c.Hidden + i], headT[i * c.Classes + o]);
        OnnxTensorSummary k = onnx.Initializers.Single(t => t.Name == "blocks.1.attn.k.weight_t");
        float[] qkv = c.Layout["blocks.1.attn.qkv.weight"].Of(p).ToArray(), kT = k.Floats();
        Assert.Equal(qkv[(c.Hidden + 3) * c.Hidden + 2], kT[2 * c.Hidden + 3]); // row D+3 (k's output 3), column 2
        Assert.Equal(c.Layout["pos_embed"].Of(p).ToArray(), onnx.Initializers.Single(t => t.Name == "pos_embed").Floats());

        // Nodes are in topological order, each value defined once, and only standard operators are used.
        var defined = new HashSet<string>(onnx.Inputs.Select(v => v.Name).Concat(onnx.Initializers.Select(t => t.Name)));
        string[] standard = ["Conv", "Reshape", "Transpose", "Shape", "Concat", "Expand", "Add", "Mul", "Div", "Erf", "MatMul",
            "Softmax", "LayerNormalization", "Gather", "ReduceMean"];
        foreach (OnnxNodeSummary node in onnx.Nodes)
        {
            Assert.Contains(node.OpType, standard);
            Assert.Equal("", node.Domain);
            foreach (string i in node.Inputs) Assert.True(defined.Contains(i), $"{node.Name} reads {i} before it is defined");
            foreach (string o in node.Outputs) Assert.True(defined.Add(o), $"{o} is defined twice");
        }
        Assert.Contains("logits", defined);
        Assert.Equal(c.Layers * 2 + 1, onnx.Nodes.Count(n => n.OpType == "LayerNormalization"));
        Assert.All(onnx.Nodes.Where(n => n.OpType == "LayerNormalization"),
            n => Assert.Equal((float)c.LayerNormEpsilon, n.Attributes["epsilon"].Float(2)));
        Assert.Equal(c.HasClassToken ? 0 : 1, onnx.Nodes.Count(n => n.OpType == "ReduceMean"));
        Assert.Equal(c.HasClassToken ? 1 : 0, onnx.Nodes.Count(n => n.OpType == "Gather"));
        // Every attribute carries its type (required since IR version 2), and list attributes are lists even when short.
        var attributeTypes = new Dictionary<string, long>
        {
            ["kernel_shape"] = 7, ["strides"] = 7, ["perm"] = 7, ["axes"] = 7, // INTS
            ["axis"] = 2, ["keepdims"] = 2, ["start"] = 2, ["end"] = 2,      // INT
            ["epsilon"] = 1,                                                  // FLOAT
        };
        foreach (OnnxNodeSummary node in onnx.Nodes)
            foreach ((string attribute, ProtoMessage value) in node.Attributes)
                Assert.True(attributeTypes[attribute] == value.Int(20), $"{node.Name}: attribute {attribute} has type {value.Int(20)}");
        OnnxNodeSummary conv = onnx.Nodes.Single(n => n.OpType == "Conv");
        Assert.Equal([(long)c.Patch, c.Patch], conv.Attributes["kernel_shape"].Int64s(8));
        Assert.Equal([(long)c.Patch, c.Patch], conv.Attributes["strides"].Int64s(8));
    }

    [Fact]
    public void Onnx_Runtime_fuses_the_gelu_and_the_attention_scale()
    {
        // The graph is shaped for ORT's optimiser: ask it to save what it made of the graph and look for the fused ops.
        // (Its SkipLayerNormalization fusion needs a residual sum read only by the LayerNorm, as in post-LN BERT; in a
        // pre-LN ViT the sum also feeds the next residual, so LayerNormalization stays, as ORT's own kernel.)
        var model = new TinyWide();
        TestData.Randomize(model, 91);
        string optimized = Path.Combine(Path.GetTempPath(), $"vit-onnx-optimized-{Guid.NewGuid():N}.onnx");
        try
        {
            using (new OrtSession(OnnxExporter.ExportToBytes(model), optimized)) { }
            OnnxModelSummary onnx = OnnxModelSummary.Read(File.ReadAllBytes(optimized));
            var histogram = onnx.Nodes.GroupBy(n => n.OpType).OrderBy(g => g.Key).Select(g => $"{g.Key}×{g.Count()}");
            output.WriteLine("after ORT_ENABLE_ALL: " + string.Join(", ", histogram));

            Assert.DoesNotContain(onnx.Nodes, n => n.OpType is "Erf" or "Div"); // GELU's x / √2 and the scores' / √hd
            Assert.Contains(onnx.Nodes, n => n.OpType is "Gelu" or "BiasGelu");
            Assert.Contains(onnx.Nodes, n => n.OpType == "FusedMatMul");        // q·kᵀ with the 1/√hd scale folded in
            Assert.Equal(model.Config.Layers * 2 + 1, onnx.Nodes.Count(n => n.OpType is "LayerNormalization" or "SkipLayerNormalization"));
        }
        finally
        {
            File.Delete(optimized);
        }
    }
}
