using System.Buffers.Binary;
using System.Text;

namespace ViTCompiler.Onnx;

/// <summary>The protobuf wire types this exporter needs (the encoding's low three tag bits).</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    Fixed32 = 5,
}

/// <summary>
/// A minimal protocol-buffers encoder into a growable byte buffer: varints, fixed 32-bit floats, length-delimited
/// strings, bytes and sub-messages, and packed repeated integers. It encodes only what ONNX needs; the schema (field
/// numbers) lives in <see cref="OnnxProto"/>.
/// </summary>
/// <remarks>
/// A sub-message is prefixed by its length, so it is encoded into its own writer first and then copied in with
/// <see cref="WriteMessage"/>. That is fine for nodes and value infos (bytes each); weight tensors are far larger and are
/// never buffered here: <see cref="OnnxModelWriter"/> computes their encoded size up front and streams them.
/// </remarks>
internal sealed class ProtobufWriter
{
    private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private byte[] _buffer;
    private int _length;

    public ProtobufWriter(int capacity = 64) => _buffer = new byte[Math.Max(capacity, 16)];

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    /// <summary>Number of bytes written so far.</summary>
    public int Length => _length;

    /// <summary>Bytes that <see cref="WriteVarint"/> uses for <paramref name="value"/> (1 to 10).</summary>
    public static int VarintSize(ulong value)
    {
        int size = 1;
        while (value >= 0x80) { value >>= 7; size++; }
        return size;
    }

    /// <summary>Bytes of a field's tag.</summary>
    public static int TagSize(int field) => VarintSize((ulong)field << 3);

    /// <summary>Bytes of a whole length-delimited field whose payload is <paramref name="payload"/> bytes long.</summary>
    public static long LengthDelimitedSize(int field, long payload) => TagSize(field) + VarintSize((ulong)payload) + payload;

    /// <summary>Writes <paramref name="value"/> seven bits at a time, low bits first, high bit set on all but the last byte.</summary>
    public void WriteVarint(ulong value)
    {
        Span<byte> target = Reserve(10);
        int i = 0;
        while (value >= 0x80)
        {
            target[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        target[i++] = (byte)value;
        _length += i;
    }

    public void WriteTag(int field, WireType wireType) => WriteVarint(((ulong)field << 3) | (uint)wireType);

    /// <summary>An int64/int32/enum field. Negative values take ten bytes (two's complement), as protobuf specifies.</summary>
    public void WriteInt64(int field, long value)
    {
        WriteTag(field, WireType.Varint);
        WriteVarint((ulong)value);
    }

    public void WriteFloat(int field, float value)
    {
        WriteTag(field, WireType.Fixed32);
        BinaryPrimitives.WriteSingleLittleEndian(Reserve(4), value);
        _length += 4;
    }

    public void WriteString(int field, string value)
    {
        int byteCount = s_utf8.GetByteCount(value);
        WriteLengthPrefix(field, byteCount);
        s_utf8.GetBytes(value, Reserve(byteCount));
        _length += byteCount;
    }

    public void WriteBytes(int field, ReadOnlySpan<byte> value)
    {
        WriteLengthPrefix(field, value.Length);
        WriteRaw(value);
    }

    /// <summary>A sub-message that was encoded into <paramref name="message"/>.</summary>
    public void WriteMessage(int field, ProtobufWriter message) => WriteBytes(field, message.Written);

    /// <summary>Tag and length of a length-delimited field; the caller writes the <paramref name="length"/> payload bytes next.</summary>
    public void WriteLengthPrefix(int field, long length)
    {
        WriteTag(field, WireType.LengthDelimited);
        WriteVarint((ulong)length);
    }

    /// <summary>A repeated int64 field in packed form: one tag, the total length, then the varints back to back.</summary>
    public void WritePackedInt64(int field, ReadOnlySpan<long> values)
    {
        if (values.IsEmpty) return; // an empty repeated field is simply absent
        long payload = 0;
        foreach (long v in values) payload += VarintSize((ulong)v);
        WriteLengthPrefix(field, payload);
        foreach (long v in values) WriteVarint((ulong)v);
    }

    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Reserve(bytes.Length));
        _length += bytes.Length;
    }

    /// <summary>Exact UTF-8 length of a string field's payload.</summary>
    public static int StringByteCount(string value) => s_utf8.GetByteCount(value);

    private Span<byte> Reserve(int count)
    {
        if (_buffer.Length - _length < count)
        {
            long wanted = Math.Max((long)_buffer.Length * 2, (long)_length + count);
            if (wanted > Array.MaxLength) wanted = (long)_length + count;
            if (wanted > Array.MaxLength) throw new InvalidOperationException("A protobuf message grew beyond the largest array .NET can allocate.");
            Array.Resize(ref _buffer, (int)wanted);
        }
        return _buffer.AsSpan(_length, count);
    }
}
