// Shared by ViTCompiler.Tests (the JAX loader's tests) and ViTCompiler.Cli.Tests (vit train --from a .npz), linked into both.
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using ViTCompiler.IO;

namespace ViTCompiler.Tests.IO;

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
