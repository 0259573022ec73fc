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

/// <summary>
/// Writes a model as the paper's JAX code saves it (numpy.savez of the flattened flax tree): the inverse of every
/// transpose the loader applies, written independently of the loader's code so the test checks the mapping, not its
/// mirror image.
/// </summary>
public static class JaxFixture
{
    public sealed record Options(string Prefix = "", bool Compress = false, bool PreLogits = false, string Descr = "<f4");

    public static Dictionary<string, (long[] Shape, float[] Values)> Arrays(IVitWeights model)
    {
        VitConfig c = model.Config;
        float[] p = model.Parameters.ToArray();
        float[] Get(string name) => c.Layout[name].Of(p.AsSpan()).ToArray();
        int d = c.Hidden, h = c.Heads, hd = c.HeadDim, m = c.MlpWidth, k = c.Patch, ch = c.Channels;
        var arrays = new Dictionary<string, (long[], float[])>();

        // torch (out, in) -> flax (in, out)
        static float[] Transpose(float[] w, int outs, int ins)
        {
            float[] r = new float[w.Length];
            for (int o = 0; o < outs; o++) for (int i = 0; i < ins; i++) r[i * outs + o] = w[o * ins + i];
            return r;
        }

        float[] conv = Get("patch_embed.proj.weight"); // (D, C, P, P)
        float[] hwio = new float[conv.Length];
        for (int o = 0; o < d; o++) for (int cc = 0; cc < ch; cc++) for (int y = 0; y < k; y++) for (int x = 0; x < k; x++)
            hwio[((y * k + x) * ch + cc) * d + o] = conv[((o * ch + cc) * k + y) * k + x];
        arrays["embedding/kernel"] = ([k, k, ch, d], hwio);
        arrays["embedding/bias"] = ([d], Get("patch_embed.proj.bias"));
        if (c.HasClassToken) arrays["cls"] = ([1, 1, d], Get("cls_token"));
        arrays["Transformer/posembed_input/pos_embedding"] = ([1, c.Tokens, d], Get("pos_embed"));
        for (int l = 0; l < c.Layers; l++)
        {
            string b = $"blocks.{l}.", j = $"Transformer/encoderblock_{l}/", a = j + "MultiHeadDotProductAttention_1/";
            arrays[j + "LayerNorm_0/scale"] = ([d], Get(b + "norm1.weight"));
            arrays[j + "LayerNorm_0/bias"] = ([d], Get(b + "norm1.bias"));
            float[] qkv = Get(b + "attn.qkv.weight");
            string[] names = ["query", "key", "value"];
            for (int t = 0; t < 3; t++)
            {
                float[] w = qkv.AsSpan(t * d * d, d * d).ToArray(); // rows h*hd+e, cols i
                float[] kernel = new float[d * d];                  // (i, h, e)
                for (int hh = 0; hh < h; hh++) for (int e = 0; e < hd; e++) for (int i = 0; i < d; i++)
                    kernel[(i * h + hh) * hd + e] = w[(hh * hd + e) * d + i];
                arrays[a + names[t] + "/kernel"] = ([d, h, hd], kernel);
                if (c.QkvBias) arrays[a + names[t] + "/bias"] = ([h, hd], Get(b + "attn.qkv.bias").AsSpan(t * d, d).ToArray());
            }
            float[] proj = Get(b + "attn.proj.weight"); // (o, h*hd+e)
            float[] outKernel = new float[d * d];       // (h, e, o)
            for (int hh = 0; hh < h; hh++) for (int e = 0; e < hd; e++) for (int o = 0; o < d; o++)
                outKernel[(hh * hd + e) * d + o] = proj[o * d + hh * hd + e];
            arrays[a + "out/kernel"] = ([h, hd, d], outKernel);
            arrays[a + "out/bias"] = ([d], Get(b + "attn.proj.bias"));
            arrays[j + "LayerNorm_2/scale"] = ([d], Get(b + "norm2.weight"));
            arrays[j + "LayerNorm_2/bias"] = ([d], Get(b + "norm2.bias"));
            arrays[j + "MlpBlock_3/Dense_0/kernel"] = ([d, m], Transpose(Get(b + "mlp.fc1.weight"), m, d));
            arrays[j + "MlpBlock_3/Dense_0/bias"] = ([m], Get(b + "mlp.fc1.bias"));
            arrays[j + "MlpBlock_3/Dense_1/kernel"] = ([m, d], Transpose(Get(b + "mlp.fc2.weight"), d, m));
            arrays[j + "MlpBlock_3/Dense_1/bias"] = ([d], Get(b + "mlp.fc2.bias"));
        }
        arrays["Transformer/encoder_norm/scale"] = ([d], Get("norm.weight"));
        arrays["Transformer/encoder_norm/bias"] = ([d], Get("norm.bias"));
        arrays["head/kernel"] = ([d, c.Classes], Transpose(Get("head.weight"), c.Classes, d));
        arrays["head/bias"] = ([c.Classes], Get("head.bias"));
        return arrays;
    }

    public static void Write(string path, IVitWeights model, Options? options = null)
    {
        options ??= new Options();
        var arrays = Arrays(model);
        if (options.PreLogits)
        {
            int d = model.Config.Hidden;
            arrays["pre_logits/kernel"] = ([d, d], new float[d * d]);
            arrays["pre_logits/bias"] = ([d], new float[d]);
        }
        WriteNpz(path, arrays.ToDictionary(kv => options.Prefix + kv.Key, kv => Npy(kv.Value.Shape, kv.Value.Values, options.Descr)), options.Compress);
    }

    public static void WriteNpz(string path, IReadOnlyDictionary<string, byte[]> entries, bool compress = false)
    {
        using var zip = new ZipArchive(File.Create(path), ZipArchiveMode.Create);
        foreach ((string name, byte[] bytes) in entries)
        {
            ZipArchiveEntry entry = zip.CreateEntry(name + ".npy", compress ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
            using Stream s = entry.Open();
            s.Write(bytes);
        }
    }

    /// <summary>An .npy file, version 1.0, as numpy writes it (header padded with spaces, ending in '\n', to 64 bytes).</summary>
    public static byte[] Npy(long[] shape, float[] values, string descr = "<f4", bool fortran = false, byte major = 1, string? header = null)
    {
        string shapeText = shape.Length == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape) + ")";
        string dict = header ?? $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shapeText}, }}";
        int lengthBytes = major == 1 ? 2 : 4;
        int total = 8 + lengthBytes + dict.Length + 1;
        int padding = (64 - total % 64) % 64;
        string text = dict + new string(' ', padding) + "\n";
        var data = new MemoryStream();
        data.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', major, 0]);
        byte[] length = new byte[lengthBytes];
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)text.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)text.Length);
        data.Write(length);
        data.Write(Encoding.ASCII.GetBytes(text));
        foreach (float v in values)
        {
            switch (descr)
            {
                case "<f2": { byte[] b = new byte[2]; BinaryPrimitives.WriteHalfLittleEndian(b, (Half)v); data.Write(b); break; }
                case "<f8": { byte[] b = new byte[8]; BinaryPrimitives.WriteDoubleLittleEndian(b, v); data.Write(b); break; }
                case ">f4": { byte[] b = new byte[4]; BinaryPrimitives.WriteSingleBigEndian(b, v); data.Write(b); break; }
                default: { byte[] b = new byte[4]; BinaryPrimitives.WriteSingleLittleEndian(b, v); data.Write(b); break; }
            }
        }
        return data.ToArray();
    }
}
