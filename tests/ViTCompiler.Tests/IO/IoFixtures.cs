using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using ViTCompiler.IO;
using Xunit;

namespace ViTCompiler.Tests.IO;

/// <summary>A fresh directory per test, removed afterwards.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vit-io-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

public static class IoAssert
{
    /// <summary>Forward pass of a few fixed images.</summary>
    public static float[] Logits(IVitClassifier model, int batch = 2, ulong seed = 11)
    {
        float[] pixels = TestData.Pixels(model.Config, batch, seed);
        float[] logits = new float[batch * model.Config.Classes];
        model.Forward(pixels, batch, logits);
        return logits;
    }

    /// <summary>Same parameters bit for bit, and therefore the same logits.</summary>
    public static void SameModel(IVitClassifier expected, IVitClassifier actual)
    {
        Assert.True(expected.Parameters.SequenceEqual(actual.Parameters), "parameters differ");
        Assert.Equal(Logits(expected), Logits(actual));
    }

    /// <summary>The exception names the file and contains every fragment.</summary>
    public static T Fails<T>(string path, Action action, params string[] fragments) where T : Exception
    {
        T e = Assert.Throws<T>(action);
        Assert.Contains(path, e.Message);
        foreach (string f in fragments) Assert.Contains(f, e.Message);
        return e;
    }

    public static WeightsFileException Fails(string path, Action action, params string[] fragments) =>
        FailsDerived<WeightsFileException>(path, action, fragments);

    public static T FailsDerived<T>(string path, Action action, params string[] fragments) where T : Exception
    {
        T e = Assert.ThrowsAny<T>(action);
        Assert.Contains(path, e.Message);
        foreach (string f in fragments) Assert.Contains(f, e.Message);
        return e;
    }
}

/// <summary>
/// Writes safetensors bytes by hand, the way the reference (Rust/Python) implementation lays them out, independently
/// of the library's writer: compact JSON, <c>__metadata__</c> first, tensors sorted by dtype (widest first) then name,
/// data in that order, header padded with spaces to a multiple of 8. Also lets tests write arbitrary headers.
/// </summary>
public sealed class RawSafeTensors
{
    private readonly List<(string Name, string DType, long[] Shape, byte[] Data)> _tensors = [];
    public Dictionary<string, string>? Metadata { get; set; }

    public RawSafeTensors Add(string name, string dtype, long[] shape, byte[] data)
    {
        _tensors.Add((name, dtype, shape, data));
        return this;
    }

    public RawSafeTensors AddF32(string name, long[] shape, ReadOnlySpan<float> values)
    {
        byte[] data = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4 * i), values[i]);
        return Add(name, "F32", shape, data);
    }

    public RawSafeTensors AddF16(string name, long[] shape, ReadOnlySpan<float> values)
    {
        byte[] data = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(data.AsSpan(2 * i), (Half)values[i]);
        return Add(name, "F16", shape, data);
    }

    public RawSafeTensors AddBF16(string name, long[] shape, ReadOnlySpan<float> values)
    {
        byte[] data = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2 * i), (ushort)(BitConverter.SingleToUInt32Bits(values[i]) >> 16));
        return Add(name, "BF16", shape, data);
    }

    public RawSafeTensors AddF64(string name, long[] shape, ReadOnlySpan<float> values)
    {
        byte[] data = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(8 * i), values[i]);
        return Add(name, "F64", shape, data);
    }

    private static string Escape(string text) => System.Text.Json.JsonEncodedText.Encode(text, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString();

    private static int Rank(string dtype) => dtype switch { "F64" or "I64" or "U64" => 8, "F32" or "I32" or "U32" => 4, "F16" or "BF16" or "I16" or "U16" => 2, _ => 1 };

    public (string Header, byte[] Data) Layout()
    {
        var ordered = _tensors.OrderByDescending(t => Rank(t.DType)).ThenBy(t => t.Name, StringComparer.Ordinal).ToList();
        var json = new StringBuilder("{");
        if (Metadata is not null)
        {
            json.Append("\"__metadata__\":{");
            json.Append(string.Join(",", Metadata.Select(kv => $"\"{Escape(kv.Key)}\":\"{Escape(kv.Value)}\"")));
            json.Append("},");
        }
        long offset = 0;
        var data = new MemoryStream();
        foreach (var t in ordered)
        {
            json.Append($"\"{t.Name}\":{{\"dtype\":\"{t.DType}\",\"shape\":[{string.Join(",", t.Shape)}],\"data_offsets\":[{offset},{offset + t.Data.Length}]}},");
            offset += t.Data.Length;
            data.Write(t.Data);
        }
        if (json[^1] == ',') json.Length--;
        json.Append('}');
        return (json.ToString(), data.ToArray());
    }

    public void Write(string path) { (string header, byte[] data) = Layout(); WriteRaw(path, header, data); }

    /// <summary>A file from a header text (padded as HF pads it) and data bytes.</summary>
    public static void WriteRaw(string path, string header, byte[] data, bool pad = true)
    {
        byte[] text = Encoding.UTF8.GetBytes(header);
        int padding = pad ? (8 - text.Length % 8) % 8 : 0;
        byte[] file = new byte[8 + text.Length + padding + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)(text.Length + padding));
        text.CopyTo(file, 8);
        for (int i = 0; i < padding; i++) file[8 + text.Length + i] = (byte)' ';
        data.CopyTo(file, 8 + text.Length + padding);
        File.WriteAllBytes(path, file);
    }
}
