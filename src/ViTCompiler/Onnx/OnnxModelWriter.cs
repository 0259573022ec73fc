using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace ViTCompiler.Onnx;

/// <summary>What the ModelProto says about itself, beside the graph.</summary>
internal sealed record OnnxModelInfo(int Opset, string ProducerName, string ProducerVersion, string? DocString,
    IReadOnlyList<KeyValuePair<string, string>> Metadata);

/// <summary>
/// Serialises a ModelProto. Everything except the weights is encoded up front into small buffers; the weight tensors
/// are streamed straight from their arrays, which works because protobuf's length prefixes can be computed exactly
/// before a byte is written. The whole file's length is therefore known in advance too (<see cref="Length"/>).
/// </summary>
internal sealed class OnnxModelWriter
{
    /// <summary>
    /// Protobuf's reference parsers refuse messages of 2 GiB or more, so a self-contained .onnx file must stay below it
    /// (larger models need ONNX's external-data form, which this exporter does not write).
    /// </summary>
    public const long MaximumLength = int.MaxValue;

    private readonly ProtobufWriter _modelHead = new(), _modelTail = new(), _graphHead = new(), _graphTail = new();
    private readonly ProtobufWriter[] _initializerHeads;
    private readonly OnnxInitializer[] _initializers;
    private readonly long _graphLength;

    public OnnxModelWriter(OnnxGraph graph, OnnxModelInfo info)
    {
        // ModelProto fields in field-number order: 1-3, 6, then the graph (7), then 8 and 14.
        _modelHead.WriteInt64(OnnxProto.Model.IrVersion, OnnxProto.IrVersionFor(info.Opset));
        _modelHead.WriteString(OnnxProto.Model.ProducerName, info.ProducerName);
        _modelHead.WriteString(OnnxProto.Model.ProducerVersion, info.ProducerVersion);
        if (info.DocString is not null) _modelHead.WriteString(OnnxProto.Model.DocString, info.DocString);

        var opset = new ProtobufWriter();
        opset.WriteString(OnnxProto.OperatorSetId.Domain, "");
        opset.WriteInt64(OnnxProto.OperatorSetId.Version, info.Opset);
        _modelTail.WriteMessage(OnnxProto.Model.OpsetImport, opset);
        foreach ((string key, string value) in info.Metadata)
        {
            var entry = new ProtobufWriter();
            entry.WriteString(OnnxProto.StringStringEntry.Key, key);
            entry.WriteString(OnnxProto.StringStringEntry.Value, value);
            _modelTail.WriteMessage(OnnxProto.Model.MetadataProps, entry);
        }

        // GraphProto: nodes (1) and name (2), the initializers (5), then doc (10), inputs (11) and outputs (12).
        foreach (ProtobufWriter node in graph.Nodes) _graphHead.WriteMessage(OnnxProto.Graph.Node, node);
        _graphHead.WriteString(OnnxProto.Graph.Name, graph.Name);
        if (graph.DocString is not null) _graphTail.WriteString(OnnxProto.Graph.DocString, graph.DocString);
        foreach (OnnxValueInfo input in graph.Inputs) _graphTail.WriteMessage(OnnxProto.Graph.Input, EncodeValueInfo(input));
        foreach (OnnxValueInfo output in graph.Outputs) _graphTail.WriteMessage(OnnxProto.Graph.Output, EncodeValueInfo(output));

        _initializers = [.. graph.Initializers];
        _initializerHeads = new ProtobufWriter[_initializers.Length];
        long length = _graphHead.Length + _graphTail.Length;
        for (int i = 0; i < _initializers.Length; i++)
        {
            OnnxInitializer t = _initializers[i];
            var head = new ProtobufWriter();
            head.WritePackedInt64(OnnxProto.Tensor.Dims, t.Dims);
            head.WriteInt64(OnnxProto.Tensor.DataType, (long)t.DataType);
            head.WriteString(OnnxProto.Tensor.Name, t.Name);
            if (t.DocString is not null) head.WriteString(OnnxProto.Tensor.DocString, t.DocString);
            _initializerHeads[i] = head;
            length += ProtobufWriter.LengthDelimitedSize(OnnxProto.Graph.Initializer, TensorLength(i));
        }
        _graphLength = length;
        Length = _modelHead.Length + ProtobufWriter.LengthDelimitedSize(OnnxProto.Model.Graph, _graphLength) + _modelTail.Length;
        if (Length > MaximumLength) throw TooLarge(Length);
    }

    /// <summary>The error for a model whose file would reach protobuf's 2 GiB limit.</summary>
    public static NotSupportedException TooLarge(long bytes) =>
        new($"The ONNX file would need about {bytes:N0} bytes, but a self-contained ONNX file (one protobuf message) must stay below 2 GiB ({MaximumLength:N0} bytes), and this exporter does not write ONNX's external-data form. Export a smaller configuration.");

    /// <summary>Exact size of the file in bytes.</summary>
    public long Length { get; }

    /// <summary>Writes the whole ModelProto to <paramref name="destination"/> (sequentially; no seeking).</summary>
    public void WriteTo(Stream destination)
    {
        destination.Write(_modelHead.Written);
        var prefix = new ProtobufWriter(16);
        prefix.WriteLengthPrefix(OnnxProto.Model.Graph, _graphLength);
        destination.Write(prefix.Written);
        destination.Write(_graphHead.Written);
        for (int i = 0; i < _initializers.Length; i++)
        {
            var tensorPrefix = new ProtobufWriter(32);
            tensorPrefix.WriteLengthPrefix(OnnxProto.Graph.Initializer, TensorLength(i));
            destination.Write(tensorPrefix.Written);
            destination.Write(_initializerHeads[i].Written);
            var rawPrefix = new ProtobufWriter(16);
            rawPrefix.WriteLengthPrefix(OnnxProto.Tensor.RawData, _initializers[i].RawByteCount);
            destination.Write(rawPrefix.Written);
            WriteRaw(destination, _initializers[i]);
        }
        destination.Write(_graphTail.Written);
        destination.Write(_modelTail.Written);
    }

    private long TensorLength(int i) =>
        _initializerHeads[i].Length + ProtobufWriter.LengthDelimitedSize(OnnxProto.Tensor.RawData, _initializers[i].RawByteCount);

    /// <summary>raw_data: fixed-width little-endian elements, as onnx.proto requires whatever the host's byte order.</summary>
    private static void WriteRaw(Stream destination, OnnxInitializer t)
    {
        if (BitConverter.IsLittleEndian)
        {
            if (t.Floats is not null) destination.Write(MemoryMarshal.AsBytes(t.Floats.AsSpan()));
            else destination.Write(MemoryMarshal.AsBytes(t.Int64s.AsSpan()));
            return;
        }
        Span<byte> chunk = stackalloc byte[4096];
        if (t.Floats is not null)
            for (int start = 0; start < t.Floats.Length; start += chunk.Length / 4)
            {
                int count = Math.Min(chunk.Length / 4, t.Floats.Length - start);
                for (int i = 0; i < count; i++) BinaryPrimitives.WriteSingleLittleEndian(chunk.Slice(4 * i), t.Floats[start + i]);
                destination.Write(chunk[..(4 * count)]);
            }
        else
            foreach (long v in t.Int64s!)
            {
                BinaryPrimitives.WriteInt64LittleEndian(chunk, v);
                destination.Write(chunk[..8]);
            }
    }

    private static ProtobufWriter EncodeValueInfo(OnnxValueInfo value)
    {
        var shape = new ProtobufWriter();
        foreach (OnnxDimension d in value.Shape)
        {
            var dim = new ProtobufWriter();
            if (d.Symbol is not null) dim.WriteString(OnnxProto.Dimension.DimParam, d.Symbol);
            else dim.WriteInt64(OnnxProto.Dimension.DimValue, d.Value);
            shape.WriteMessage(OnnxProto.TensorShape.Dim, dim);
        }
        var tensor = new ProtobufWriter();
        tensor.WriteInt64(OnnxProto.TypeTensor.ElemType, (long)value.ElementType);
        tensor.WriteMessage(OnnxProto.TypeTensor.Shape, shape);
        var type = new ProtobufWriter();
        type.WriteMessage(OnnxProto.Type.TensorType, tensor);

        var info = new ProtobufWriter();
        info.WriteString(OnnxProto.ValueInfo.Name, value.Name);
        info.WriteMessage(OnnxProto.ValueInfo.Type, type);
        if (value.DocString is not null) info.WriteString(OnnxProto.ValueInfo.DocString, value.DocString);
        return info;
    }
}
