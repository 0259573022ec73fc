using System.Buffers.Binary;
using System.Text;

namespace ViTCompiler.Tests.Onnx;

/// <summary>
/// A minimal protobuf decoder, written independently of the exporter's encoder (and reading only field numbers from
/// onnx.proto), so the structure tests check the bytes rather than the encoder against itself.
/// </summary>
internal sealed class ProtoMessage
{
    private readonly List<(int Field, int WireType, ulong Value, ReadOnlyMemory<byte> Bytes)> _fields = [];

    public ProtoMessage(ReadOnlyMemory<byte> data)
    {
        ReadOnlySpan<byte> span = data.Span;
        int position = 0;
        while (position < span.Length)
        {
            ulong tag = ReadVarint(span, ref position);
            int field = (int)(tag >> 3), wire = (int)(tag & 7);
            if (field == 0) throw new InvalidDataException($"Field number 0 at byte {position}.");
            switch (wire)
            {
                case 0: _fields.Add((field, wire, ReadVarint(span, ref position), default)); break;
                case 1: Need(span, position, 8); _fields.Add((field, wire, BinaryPrimitives.ReadUInt64LittleEndian(span[position..]), default)); position += 8; break;
                case 5: Need(span, position, 4); _fields.Add((field, wire, BinaryPrimitives.ReadUInt32LittleEndian(span[position..]), default)); position += 4; break;
                case 2:
                    ulong length = ReadVarint(span, ref position);
                    if (length > (ulong)(span.Length - position)) throw new InvalidDataException($"Field {field} claims {length} bytes; {span.Length - position} remain.");
                    _fields.Add((field, wire, length, data.Slice(position, (int)length)));
                    position += (int)length;
                    break;
                default: throw new InvalidDataException($"Wire type {wire} (field {field}) is not used by ONNX.");
            }
        }
    }

    public IEnumerable<ProtoMessage> Messages(int field) => _fields.Where(f => f.Field == field && f.WireType == 2).Select(f => new ProtoMessage(f.Bytes));
    public ProtoMessage? Message(int field) => Messages(field).FirstOrDefault();
    public IEnumerable<string> Strings(int field) => _fields.Where(f => f.Field == field && f.WireType == 2).Select(f => Encoding.UTF8.GetString(f.Bytes.Span));
    public string? String(int field) => Strings(field).FirstOrDefault();
    /// <summary>A bytes field's payload, or empty when absent.</summary>
    public ReadOnlyMemory<byte> Bytes(int field) => _fields.FirstOrDefault(f => f.Field == field && f.WireType == 2).Bytes;
    public long? Int(int field) => _fields.Where(f => f.Field == field && f.WireType == 0).Select(f => (long?)(long)f.Value).FirstOrDefault();
    public float? Float(int field) => _fields.Where(f => f.Field == field && f.WireType == 5).Select(f => (float?)BitConverter.Int32BitsToSingle((int)f.Value)).FirstOrDefault();

    /// <summary>A repeated int64 field in either encoding: one varint per field, or packed into one length-delimited field.</summary>
    public List<long> Int64s(int field)
    {
        var values = new List<long>();
        foreach (var f in _fields.Where(f => f.Field == field))
        {
            if (f.WireType == 0) values.Add((long)f.Value);
            else if (f.WireType == 2)
            {
                ReadOnlySpan<byte> packed = f.Bytes.Span;
                int position = 0;
                while (position < packed.Length) values.Add((long)ReadVarint(packed, ref position));
            }
        }
        return values;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> span, ref int position)
    {
        ulong value = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            Need(span, position, 1);
            byte b = span[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new InvalidDataException("A varint is longer than ten bytes.");
    }

    private static void Need(ReadOnlySpan<byte> span, int position, int count)
    {
        if (span.Length - position < count) throw new InvalidDataException($"Truncated at byte {position}.");
    }
}

/// <summary>The parts of a decoded ONNX model the tests look at.</summary>
internal sealed record OnnxModelSummary(
    long IrVersion, string? ProducerName, List<(string Domain, long Version)> Opsets, Dictionary<string, string> Metadata,
    string? GraphName, List<OnnxNodeSummary> Nodes, List<OnnxTensorSummary> Initializers,
    List<OnnxValueSummary> Inputs, List<OnnxValueSummary> Outputs)
{
    public static OnnxModelSummary Read(byte[] file)
    {
        var model = new ProtoMessage(file);
        ProtoMessage graph = model.Message(7) ?? throw new InvalidDataException("The model has no graph (field 7).");
        return new OnnxModelSummary(
            model.Int(1) ?? 0, model.String(2),
            [.. model.Messages(8).Select(o => (o.String(1) ?? "", o.Int(2) ?? 0))],
            model.Messages(14).ToDictionary(e => e.String(1)!, e => e.String(2)!),
            graph.String(2),
            [.. graph.Messages(1).Select(OnnxNodeSummary.Read)],
            [.. graph.Messages(5).Select(OnnxTensorSummary.Read)],
            [.. graph.Messages(11).Select(OnnxValueSummary.Read)],
            [.. graph.Messages(12).Select(OnnxValueSummary.Read)]);
    }
}

internal sealed record OnnxNodeSummary(string OpType, string Domain, string? Name, List<string> Inputs, List<string> Outputs, Dictionary<string, ProtoMessage> Attributes)
{
    public static OnnxNodeSummary Read(ProtoMessage node) => new(
        node.String(4) ?? "", node.String(7) ?? "", node.String(3), [.. node.Strings(1)], [.. node.Strings(2)],
        node.Messages(5).ToDictionary(a => a.String(1)!, a => a));
}

internal sealed record OnnxTensorSummary(string Name, List<long> Dims, long DataType, ReadOnlyMemory<byte> Raw)
{
    public static OnnxTensorSummary Read(ProtoMessage tensor) =>
        new(tensor.String(8) ?? "", tensor.Int64s(1), tensor.Int(2) ?? 0, tensor.Bytes(9));

    public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);

    public float[] Floats()
    {
        float[] values = new float[Raw.Length / 4];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(Raw.Span[(4 * i)..]);
        return values;
    }
}

/// <summary>A graph input/output: name, element type and dimensions (a number, or the symbol's name).</summary>
internal sealed record OnnxValueSummary(string Name, long ElementType, List<object> Dims)
{
    public static OnnxValueSummary Read(ProtoMessage value)
    {
        ProtoMessage tensor = value.Message(2)?.Message(1) ?? throw new InvalidDataException($"Value '{value.String(1)}' has no tensor type.");
        var dims = new List<object>();
        foreach (ProtoMessage dim in tensor.Message(2)?.Messages(1) ?? [])
            dims.Add(dim.String(2) is { } symbol ? symbol : dim.Int(1) ?? -1);
        return new OnnxValueSummary(value.String(1) ?? "", tensor.Int(1) ?? 0, dims);
    }
}
