namespace ViTCompiler.Onnx;

/// <summary>One dimension of a graph input or output: a fixed size, or a named symbol (e.g. "batch") bound at run time.</summary>
internal readonly record struct OnnxDimension(long Value, string? Symbol)
{
    public static OnnxDimension Fixed(long value) => new(value, null);
    public static OnnxDimension Symbolic(string symbol) => new(0, symbol);
}

/// <summary>A graph input or output: name, element type and shape.</summary>
internal sealed record OnnxValueInfo(string Name, OnnxProto.DataType ElementType, OnnxDimension[] Shape, string? DocString);

/// <summary>A named constant tensor of the graph. Exactly one of <see cref="Floats"/> and <see cref="Int64s"/> is set.</summary>
internal sealed record OnnxInitializer(string Name, long[] Dims, float[]? Floats, long[]? Int64s, string? DocString)
{
    public OnnxProto.DataType DataType => Floats is not null ? OnnxProto.DataType.Float : OnnxProto.DataType.Int64;

    /// <summary>Bytes of the little-endian raw_data payload.</summary>
    public long RawByteCount => Floats is not null ? 4L * Floats.Length : 8L * Int64s!.Length;
}

/// <summary>A node attribute, kept as the few kinds the exporter uses. The factories are named by kind, because an
/// attribute declared as a list (e.g. ReduceMean's axes) must be written as one even when it holds a single value.</summary>
internal readonly record struct OnnxAttribute(string Name, OnnxProto.AttributeType Type, long IntValue, float FloatValue, long[]? IntsValue, string? TextValue)
{
    public static OnnxAttribute Int(string name, long value) => new(name, OnnxProto.AttributeType.Int, value, 0, null, null);
    public static OnnxAttribute Float(string name, float value) => new(name, OnnxProto.AttributeType.Float, 0, value, null, null);
    public static OnnxAttribute Ints(string name, params long[] values) => new(name, OnnxProto.AttributeType.Ints, 0, 0, values, null);
    public static OnnxAttribute Text(string name, string value) => new(name, OnnxProto.AttributeType.String, 0, 0, null, value);

    public void Encode(ProtobufWriter w)
    {
        w.WriteString(OnnxProto.Attribute.Name, Name);
        switch (Type)
        {
            case OnnxProto.AttributeType.Int: w.WriteInt64(OnnxProto.Attribute.I, IntValue); break;
            case OnnxProto.AttributeType.Float: w.WriteFloat(OnnxProto.Attribute.F, FloatValue); break;
            // onnx.proto (proto2) does not declare "ints" packed, but every protobuf parser must accept the packed form
            // of a repeated scalar field; packed is what the writer has and is the more compact.
            case OnnxProto.AttributeType.Ints: w.WritePackedInt64(OnnxProto.Attribute.Ints, IntsValue); break;
            case OnnxProto.AttributeType.String: w.WriteString(OnnxProto.Attribute.S, TextValue!); break;
            default: throw new InvalidOperationException($"Attribute type {Type} is not written by this exporter.");
        }
        w.WriteInt64(OnnxProto.Attribute.Type, (long)Type);
    }
}

/// <summary>
/// An ONNX graph under construction: nodes encoded as they are added (in topological order, because every input must
/// already exist), initializers kept as arrays until the file is written, and the graph's inputs and outputs.
/// </summary>
/// <remarks>
/// Every value name is defined exactly once; a node that reads a name nobody defined, or defines one twice, is a bug in
/// the exporter, reported as <see cref="InvalidOperationException"/> rather than as an invalid file discovered later
/// by a runtime.
/// </remarks>
internal sealed class OnnxGraph(string name, string? docString)
{
    private readonly List<ProtobufWriter> _nodes = [];
    private readonly List<OnnxInitializer> _initializers = [];
    private readonly List<OnnxValueInfo> _inputs = [], _outputs = [];
    private readonly HashSet<string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _nodeNames = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);

    public string Name { get; } = name;
    public string? DocString { get; } = docString;
    public IReadOnlyList<ProtobufWriter> Nodes => _nodes;
    public IReadOnlyList<OnnxInitializer> Initializers => _initializers;
    public IReadOnlyList<OnnxValueInfo> Inputs => _inputs;
    public IReadOnlyList<OnnxValueInfo> Outputs => _outputs;

    public string AddInput(string name, OnnxProto.DataType type, OnnxDimension[] shape, string? docString = null)
    {
        Define(name);
        _inputs.Add(new OnnxValueInfo(name, type, shape, docString));
        return name;
    }

    /// <summary>Declares an already-computed value as a graph output.</summary>
    public void AddOutput(string name, OnnxProto.DataType type, OnnxDimension[] shape, string? docString = null)
    {
        if (!_values.Contains(name)) throw new InvalidOperationException($"ONNX export bug: output '{name}' is not computed by any node.");
        _outputs.Add(new OnnxValueInfo(name, type, shape, docString));
    }

    public string AddInitializer(string name, long[] dims, float[] values, string? docString = null)
    {
        CheckCount(name, dims, values.Length);
        Define(name);
        _initializers.Add(new OnnxInitializer(name, dims, values, null, docString));
        return name;
    }

    public string AddInitializer(string name, long[] dims, long[] values, string? docString = null)
    {
        CheckCount(name, dims, values.Length);
        Define(name);
        _initializers.Add(new OnnxInitializer(name, dims, null, values, docString));
        return name;
    }

    /// <summary>A float scalar (rank 0) initializer, shared by every node that needs the same value.</summary>
    public string Scalar(string name, float value)
    {
        string key = "f:" + BitConverter.SingleToInt32Bits(value);
        if (_constants.TryGetValue(key, out string? existing)) return existing;
        _constants[key] = name;
        return AddInitializer(name, [], [value]);
    }

    /// <summary>An int64 initializer (a shape, axes, an index), shared by every node that needs the same value.</summary>
    public string Int64s(string name, long[] dims, long[] values)
    {
        string key = "i:" + string.Join(",", dims) + ":" + string.Join(",", values);
        if (_constants.TryGetValue(key, out string? existing)) return existing;
        _constants[key] = name;
        return AddInitializer(name, dims, values);
    }

    /// <summary>Adds a node of the default domain whose single output is called <paramref name="output"/>; returns that name.</summary>
    public string Node(string opType, string output, string[] inputs, params OnnxAttribute[] attributes)
    {
        foreach (string input in inputs)
            if (!_values.Contains(input))
                throw new InvalidOperationException($"ONNX export bug: node '{output}' ({opType}) reads '{input}' before anything defines it.");
        Define(output);
        // The node is named after the value it produces: names are unique that way and read well in graph viewers.
        if (!_nodeNames.Add(output)) throw new InvalidOperationException($"ONNX export bug: two nodes are named '{output}'.");

        var node = new ProtobufWriter(64 + 16 * inputs.Length);
        foreach (string input in inputs) node.WriteString(OnnxProto.Node.Input, input);
        node.WriteString(OnnxProto.Node.Output, output);
        node.WriteString(OnnxProto.Node.Name, output);
        node.WriteString(OnnxProto.Node.OpType, opType);
        foreach (OnnxAttribute attribute in attributes)
        {
            var a = new ProtobufWriter();
            attribute.Encode(a);
            node.WriteMessage(OnnxProto.Node.Attribute, a);
        }
        _nodes.Add(node);
        return output;
    }

    private void Define(string name)
    {
        if (string.IsNullOrEmpty(name)) throw new InvalidOperationException("ONNX export bug: a value has an empty name.");
        if (!_values.Add(name)) throw new InvalidOperationException($"ONNX export bug: the value '{name}' is defined twice.");
    }

    private static void CheckCount(string name, long[] dims, int count)
    {
        long expected = 1;
        foreach (long d in dims) expected *= d;
        if (expected != count) throw new InvalidOperationException($"ONNX export bug: initializer '{name}' has shape ({string.Join(", ", dims)}) but {count} values.");
    }
}
