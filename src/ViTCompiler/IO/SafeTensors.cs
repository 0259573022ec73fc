using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace ViTCompiler.IO;

/// <summary>Produces a tensor's elements when the writer reaches it (so large blocks are never copied first).</summary>
public delegate ReadOnlySpan<float> TensorData();

/// <summary>One tensor to write: its name, shape and a source of <c>product(shape)</c> float elements.</summary>
/// <param name="Name">Unique, non-empty, not <c>__metadata__</c>.</param>
/// <param name="Shape">Row-major shape; an empty list is a scalar.</param>
/// <param name="Data">Called once, while the file is written.</param>
public sealed record SafeTensorsEntry(string Name, IReadOnlyList<int> Shape, TensorData Data)
{
    /// <summary>An entry over an array.</summary>
    public SafeTensorsEntry(string name, IReadOnlyList<int> shape, float[] data) : this(name, shape, () => data) { }
}

/// <summary>Reads and writes the safetensors format (https://github.com/huggingface/safetensors).</summary>
public static class SafeTensors
{
    /// <summary>Opens and validates a file; see <see cref="SafeTensorsFile"/>.</summary>
    public static SafeTensorsFile Open(string path) => SafeTensorsFile.Open(path);

    /// <summary>
    /// Writes F32 tensors and optional metadata the way the reference implementation does: compact JSON header with
    /// <c>__metadata__</c> first (keys sorted) and the tensors sorted by name, data in the same order without gaps, the
    /// header padded with spaces so the data starts at a multiple of 8 bytes. The write is atomic: a temporary file in
    /// the same directory is filled, flushed and moved over <paramref name="path"/>, so a failure part-way (including
    /// an exception thrown by an entry's <see cref="TensorData"/>) leaves any previous file untouched.
    /// </summary>
    public static void Write(string path, IEnumerable<SafeTensorsEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        SafeTensorsEntry[] ordered = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToArray();
        long[] counts = new long[ordered.Length];
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < ordered.Length; i++)
        {
            SafeTensorsEntry t = ordered[i];
            if (string.IsNullOrEmpty(t.Name) || t.Name == "__metadata__") throw new ArgumentException($"'{t.Name}' cannot name a tensor.", nameof(tensors));
            if (!names.Add(t.Name)) throw new ArgumentException($"Two tensors are named '{t.Name}'.", nameof(tensors));
            long count = 1;
            foreach (int d in t.Shape)
            {
                if (d < 0) throw new ArgumentException($"Tensor '{t.Name}' has a negative dimension in {Shapes.Text(t.Shape)}.", nameof(tensors));
                count = checked(count * d);
            }
            counts[i] = count;
        }
        byte[] header = Header(ordered, counts, metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            for (int i = 0; i < ordered.Length; i++)
            {
                ReadOnlySpan<float> data = ordered[i].Data();
                if (data.Length != counts[i])
                    throw new ArgumentException($"Tensor '{ordered[i].Name}' {Shapes.Text(ordered[i].Shape)} needs {counts[i]:N0} elements; its data has {data.Length:N0}.", nameof(tensors));
                WriteLittleEndian(stream, data);
            }
        });
    }

    private static byte[] Header(SafeTensorsEntry[] ordered, long[] counts, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new MemoryStream();
        // Relaxed escaping keeps names and labels readable (the reference writer does not escape non-ASCII either).
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (KeyValuePair<string, string> entry in metadata.OrderBy(e => e.Key, StringComparer.Ordinal))
                    json.WriteString(entry.Key, entry.Value);
                json.WriteEndObject();
            }
            long offset = 0;
            for (int i = 0; i < ordered.Length; i++)
            {
                json.WriteStartObject(ordered[i].Name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (int d in ordered[i].Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += counts[i] * sizeof(float);
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // Pad with spaces so that 8 + header length is a multiple of 8 and F32 data is aligned when mapped.
        int padding = (int)((8 - buffer.Length % 8) % 8);
        for (int i = 0; i < padding; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    internal static void WriteLittleEndian(Stream stream, ReadOnlySpan<float> data)
    {
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(data));
            return;
        }
        byte[] chunk = new byte[4096 * sizeof(float)];
        for (int done = 0; done < data.Length; done += 4096)
        {
            int n = Math.Min(4096, data.Length - done);
            for (int i = 0; i < n; i++) System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(chunk.AsSpan(4 * i), data[done + i]);
            stream.Write(chunk, 0, n * sizeof(float));
        }
    }
}
