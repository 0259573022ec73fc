using System.Buffers.Binary;
using ViTCompiler.IO;
using ViTCompiler.Reference;
using Xunit;

namespace ViTCompiler.Tests.IO;

/// <summary>Files that do not fit the model, or are broken: each fails with a message naming the file and the problem, and leaves the model untouched.</summary>
public class LoaderRejectionTests
{
    private static OddWidth Saved(TempDirectory dir, out string path)
    {
        var model = new OddWidth();
        TestData.Randomize(model, 41);
        path = dir.File("model.safetensors");
        TimmWeights.Save(path, model);
        return model;
    }

    /// <summary>Writes the timm tensors of <paramref name="model"/> as a third-party file (no metadata), edited by <paramref name="edit"/>.</summary>
    private static string Rewritten(TempDirectory dir, IVitWeights model, Func<ParameterTensor, (string Name, long[] Shape, float[] Values)?> edit, params (string, long[], float[])[] extra)
    {
        string path = dir.File("edited.safetensors");
        var raw = new RawSafeTensors();
        foreach (ParameterTensor t in model.Config.Layout)
        {
            var entry = edit(t);
            if (entry is { } e) raw.AddF32(e.Name, e.Shape, e.Values);
        }
        foreach ((string name, long[] shape, float[] values) in extra) raw.AddF32(name, shape, values);
        raw.Write(path);
        return path;
    }

    private static (string, long[], float[])? Keep(IVitWeights m, ParameterTensor t) => (t.Name, t.Shape.Select(d => (long)d).ToArray(), t.Of(m.Parameters).ToArray());

    private static void AssertUntouched(IVitWeights model, float[] before) => Assert.True(model.Parameters.SequenceEqual(before), "the model was modified by a failed load");

    [Fact]
    public void Missing_extra_and_misshaped_tensors_are_all_listed_by_name()
    {
        using var dir = new TempDirectory();
        var saved = new OddWidth();
        TestData.Randomize(saved, 42);
        string path = Rewritten(dir, saved, t => t.Name switch
        {
            "blocks.0.norm2.bias" => null,
            "blocks.1.mlp.fc1.weight" => ("blocks.1.mlp.fc1.weight", [99, 36], new float[99 * 36]),
            _ => Keep(saved, t),
        }, ("blocks.2.norm1.weight", [36], new float[36]));
        var target = new OddWidth();
        float[] before = target.Parameters.ToArray();
        var e = IoAssert.FailsDerived<WeightsMismatchException>(path, () => TimmWeights.Load(path, target),
            "missing (1)", "blocks.0.norm2.bias (36)",
            "unexpected (1)", "blocks.2.norm1.weight (36)",
            "wrong shape (1)", "blocks.1.mlp.fc1.weight is (99, 36), the model needs (100, 36)");
        Assert.Equal(["blocks.0.norm2.bias (36)"], e.Missing);
        AssertUntouched(target, before);
    }

    [Fact]
    public void A_head_of_another_size_suggests_KeepHead_which_then_loads_the_rest()
    {
        using var dir = new TempDirectory();
        var saved = new OddWidth();
        TestData.Randomize(saved, 43);
        string path = Rewritten(dir, saved, t => t.Name switch
        {
            "head.weight" => ("head.weight", [1000, 36], new float[36000]),
            "head.bias" => ("head.bias", [1000], new float[1000]),
            _ => Keep(saved, t),
        });
        IoAssert.FailsDerived<WeightsMismatchException>(path, () => TimmWeights.Load(path, new OddWidth()), "head.weight is (1000, 36)", "KeepHead");
        var loaded = new OddWidth();
        TimmWeights.Load(path, loaded, new LoadOptions { KeepHead = true });
        Assert.True(saved.Config.Layout["norm.weight"].Of(saved.Parameters).SequenceEqual(loaded.Config.Layout["norm.weight"].Of(loaded.Parameters)));
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "Infinity")]
    public void Non_finite_weights_are_refused_naming_the_tensor_and_element(float bad, string shown)
    {
        using var dir = new TempDirectory();
        var saved = new OddWidth();
        TestData.Randomize(saved, 44);
        ParameterTensor fc2 = saved.Config.Layout["blocks.1.mlp.fc2.weight"];
        using (ParameterEdit edit = saved.EditParameters()) edit[fc2][1 * 100 + 7] = bad; // row 1, column 7 of (36, 100)
        string path = dir.File("nan.safetensors");
        TimmWeights.Save(path, saved);
        var target = new OddWidth();
        float[] before = target.Parameters.ToArray();
        IoAssert.Fails(path, () => TimmWeights.Load(path, target), "'blocks.1.mlp.fc2.weight'", shown, "[1, 7]");
        AssertUntouched(target, before);
    }

    [Fact]
    public void Integer_tensors_in_place_of_weights_are_reported()
    {
        using var dir = new TempDirectory();
        var saved = new OddWidth();
        string path = dir.File("ints.safetensors");
        var raw = new RawSafeTensors();
        foreach (ParameterTensor t in saved.Config.Layout)
        {
            long[] shape = t.Shape.Select(d => (long)d).ToArray();
            if (t.Name == "cls_token") raw.Add(t.Name, "I32", shape, new byte[4 * t.Count]);
            else raw.AddF32(t.Name, shape, t.Of(saved.Parameters));
        }
        raw.Write(path);
        IoAssert.FailsDerived<WeightsMismatchException>(path, () => Weights.Load(path, new OddWidth()), "unreadable element type", "cls_token is I32");
    }

    [Fact]
    public void Loading_timm_weights_saved_with_another_head_count_names_the_field()
    {
        using var dir = new TempDirectory();
        // Same shapes as OddWidth except the heads: shapes alone cannot tell, the recorded configuration can.
        var other = new ReferenceVitModel(new OddWidth().Config with { Heads = 2 });
        string path = dir.File("heads.safetensors");
        TimmWeights.Save(path, other);
        IoAssert.Fails(path, () => TimmWeights.Load(path, new OddWidth()), "Heads: file 2, model 3");
    }

    [Fact]
    public void Checkpoint_into_a_different_model_names_each_differing_field()
    {
        using var dir = new TempDirectory();
        string path = dir.File("c.safetensors");
        VitCheckpoint.Save(path, new NoQkvBias());
        IoAssert.Fails(path, () => Weights.Load(path, new FashionSmall()),
            "ImageSize: file 32, model 28", "Hidden: file 48, model 64", "LayerNormEpsilon: file 1E-12, model 1E-06", "QkvBias: file False, model True");
        var checkpoint = VitCheckpoint.Load(path);
        IoAssert.Fails("(checkpoint in memory)", () => checkpoint.ApplyTo(new FashionSmall()), "Hidden: file 48, model 64");
    }

    [Fact]
    public void A_checkpoint_with_a_broken_config_or_format_marker_is_refused()
    {
        using var dir = new TempDirectory();
        string path = dir.File("c.safetensors");
        new RawSafeTensors { Metadata = new() { ["vit.format"] = "vitcompiler-checkpoint/1", ["vit.config"] = "{'hidden': 3}" } }.AddF32("a", [1], [1f]).Write(path);
        IoAssert.Fails(path, () => VitCheckpoint.Load(path), "vit.config", "not valid JSON");
        new RawSafeTensors { Metadata = new() { ["vit.format"] = "vitcompiler-checkpoint/1", ["vit.config"] = "{\"hidden\": 3}" } }.AddF32("a", [1], [1f]).Write(path);
        IoAssert.Fails(path, () => VitCheckpoint.Load(path), "vit.config", "has no 'image_size'");
        new RawSafeTensors { Metadata = new() { ["vit.format"] = "vitcompiler-checkpoint/9" } }.AddF32("a", [1], [1f]).Write(path);
        IoAssert.Fails(path, () => VitCheckpoint.Load(path), "vitcompiler-checkpoint/9");
    }

    [Fact]
    public void A_checkpoint_missing_a_parameter_is_refused_on_load()
    {
        using var dir = new TempDirectory();
        string path = dir.File("c.safetensors");
        VitCheckpoint.Save(path, new OddWidth());
        var raw = new RawSafeTensors();
        using (SafeTensorsFile file = SafeTensors.Open(path))
        {
            raw.Metadata = new(file.Metadata);
            foreach (SafeTensorInfo t in file.Tensors)
                if (t.Name != "norm.bias") raw.AddF32(t.Name, t.Shape.ToArray(), file.ReadFloats(t.Name));
        }
        string cut = dir.File("cut.safetensors");
        raw.Write(cut);
        IoAssert.FailsDerived<WeightsMismatchException>(cut, () => VitCheckpoint.Load(cut), "missing (1)", "norm.bias (36)");
        IoAssert.FailsDerived<WeightsMismatchException>(cut, () => VitCheckpoint.LoadInto(cut, new OddWidth()), "norm.bias (36)");
    }

    [Fact]
    public void HuggingFace_config_that_disagrees_with_the_model_is_refused_field_by_field()
    {
        using var dir = new TempDirectory();
        var model = new OddWidth();
        HuggingFaceWeights.Save(dir.Path, model);
        string config = dir.File("config.json");
        string text = File.ReadAllText(config);
        File.WriteAllText(config, text.Replace("\"num_attention_heads\": 3", "\"num_attention_heads\": 4"));
        IoAssert.Fails(config, () => HuggingFaceWeights.Load(dir.Path, new OddWidth()), "Heads: file 4, model 3");
        File.WriteAllText(config, text.Replace("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"gelu_new\""));
        IoAssert.Fails(config, () => HuggingFaceWeights.Load(dir.Path, new OddWidth()), "hidden_act is 'gelu_new'");
        File.WriteAllText(config, text.Replace("\"model_type\": \"vit\"", "\"model_type\": \"deit\""));
        IoAssert.Fails(config, () => HuggingFaceWeights.Load(dir.Path, new OddWidth()), "model_type is 'deit'");
        File.WriteAllText(config, text[..^5]);
        IoAssert.Fails(config, () => HuggingFaceWeights.Load(dir.Path, new OddWidth()), "not valid JSON");
        File.WriteAllText(config, text.Replace("\"0\": \"LABEL_0\"", "\"9\": \"LABEL_0\""));
        IoAssert.Fails(config, () => HuggingFaceWeights.Load(dir.Path, new OddWidth()), "id2label", "class 9");
    }

    [Fact]
    public void HuggingFace_weights_without_config_still_get_every_name_and_shape_checked()
    {
        using var dir = new TempDirectory();
        HuggingFaceWeights.Save(dir.Path, new OddWidth());
        File.Delete(dir.File("config.json"));
        string path = dir.File("model.safetensors");
        Assert.Null(HuggingFaceWeights.Load(path, new OddWidth()));
        IoAssert.FailsDerived<WeightsMismatchException>(path, () => HuggingFaceWeights.Load(path, new TinyWide()),
            "vit.encoder.layer.0.attention.attention.query.weight is (36, 36), the model needs (192, 192)",
            "unexpected (16)", "vit.encoder.layer.1.");
        IoAssert.Fails(path, () => HuggingFaceWeights.ReadConfig(path), "no config.json");
    }

    [Fact]
    public void Mean_pooled_models_cannot_be_written_as_HuggingFace()
    {
        using var dir = new TempDirectory();
        Assert.Throws<NotSupportedException>(() => HuggingFaceWeights.Save(dir.Path, new MeanPooled()));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Files_of_one_format_given_to_another_loader_fail_with_the_full_list()
    {
        using var dir = new TempDirectory();
        HuggingFaceWeights.Save(dir.Path, new OddWidth());
        string path = dir.File("model.safetensors");
        var e = IoAssert.FailsDerived<WeightsMismatchException>(path, () => TimmWeights.Load(path, new OddWidth()), "as timm ViT weights");
        Assert.Equal(new OddWidth().Config.Layout.Count, e.Missing.Count);
        IoAssert.Fails(path, () => JaxWeights.Load(path, new OddWidth()), "not a readable zip");
    }

    [Fact]
    public void Unknown_files_are_not_taken_for_weights()
    {
        using var dir = new TempDirectory();
        string path = dir.File("notes.txt");
        File.WriteAllText(path, "hello, this is not a model");
        IoAssert.Fails(path, () => Weights.Detect(path), "header length");
        IoAssert.Fails(dir.File("absent.safetensors"), () => Weights.Load(dir.File("absent.safetensors"), new OddWidth()), "cannot be opened");
        IoAssert.Fails(dir.Path, () => Weights.Detect(dir.Path), "model.safetensors");
    }

    // ---- npz ----

    private static string Npz(TempDirectory dir, Func<string, byte[], byte[]?> edit, params (string, byte[])[] extra)
    {
        var model = new OddWidth();
        TestData.Randomize(model, 45);
        var entries = new Dictionary<string, byte[]>();
        foreach ((string name, (long[] shape, float[] values)) in JaxFixture.Arrays(model))
            if (edit(name, JaxFixture.Npy(shape, values)) is byte[] bytes) entries[name] = bytes;
        foreach ((string name, byte[] bytes) in extra) entries[name] = bytes;
        string path = dir.File("edited.npz");
        JaxFixture.WriteNpz(path, entries);
        return path;
    }

    [Fact]
    public void Corrupt_and_truncated_zips_are_refused()
    {
        using var dir = new TempDirectory();
        string good = Npz(dir, (_, b) => b);
        byte[] bytes = File.ReadAllBytes(good);
        string path = dir.File("cut.npz");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        IoAssert.Fails(path, () => Weights.Load(path, new OddWidth()), "not a readable zip");
        byte[] garbage = new byte[4096];
        new Random(5).NextBytes(garbage);
        "PK\u0003\u0004"u8.CopyTo(garbage);
        File.WriteAllBytes(path, garbage);
        Assert.Equal(WeightsFormat.Jax, Weights.Detect(path));
        IoAssert.Fails(path, () => Weights.Load(path, new OddWidth()));
    }

    [Fact]
    public void Corrupted_compressed_data_is_refused()
    {
        using var dir = new TempDirectory();
        var model = new OddWidth();
        TestData.Randomize(model, 46);
        string path = dir.File("c.npz");
        JaxFixture.Write(path, model, new JaxFixture.Options(Compress: true));
        byte[] bytes = File.ReadAllBytes(path);
        var rng = new Random(7);
        for (int round = 0; round < 40; round++)
        {
            byte[] copy = (byte[])bytes.Clone();
            for (int k = 0; k < 3; k++) copy[rng.Next(64, copy.Length - 200)] ^= (byte)(1 + rng.Next(255));
            File.WriteAllBytes(path, copy);
            var target = new OddWidth();
            try { JaxWeights.Load(path, target); }
            catch (WeightsFileException e) { Assert.Contains(path, e.Message); }
        }
    }

    [Fact]
    public void Npy_with_bad_magic_is_refused() =>
        WithNpy((shape, values) => { byte[] b = JaxFixture.Npy(shape, values); b[1] = (byte)'X'; return b; }, ".npy magic");

    [Fact]
    public void Npy_in_fortran_order_is_refused() =>
        WithNpy((shape, values) => JaxFixture.Npy(shape, values, fortran: true), "Fortran");

    [Fact]
    public void Npy_of_an_integer_type_is_reported() =>
        WithNpy((shape, values) => JaxFixture.Npy(shape, values, descr: "<i4"), "NumPy type '<i4'");

    [Fact]
    public void Npy_with_an_unsupported_version_is_refused() =>
        WithNpy((shape, values) => { byte[] b = JaxFixture.Npy(shape, values); b[6] = 7; return b; }, "version 7");

    [Fact]
    public void Npy_with_a_malformed_header_is_refused()
    {
        WithNpy((shape, _) => JaxFixture.Npy(shape, [], header: "{'descr': '<f4', 'fortran_order': False, 'shape': (36,), 'evil': 1}"), "unexpected key 'evil'");
        WithNpy((shape, _) => JaxFixture.Npy(shape, [], header: "{'descr': '<f4', 'shape': (36,)}"), "no 'fortran_order'");
        WithNpy((shape, _) => JaxFixture.Npy(shape, [], header: "{'descr': '<f4', 'fortran_order': False, 'shape': (36"), "malformed header");
        WithNpy((shape, _) => JaxFixture.Npy(shape, [], header: "__import__('os')"), "malformed header");
    }

    [Fact]
    public void Npy_with_truncated_data_is_refused() =>
        WithNpy((shape, values) => JaxFixture.Npy(shape, values)[..^4], "embedding/bias", "needs", "bytes");

    [Fact]
    public void Npy_with_a_shape_that_does_not_fit_the_model_is_listed() =>
        WithNpy((_, values) => JaxFixture.Npy([6, 6], values), "embedding/bias is (6, 6), the model needs (36)");

    [Fact]
    public void Npz_with_missing_and_extra_arrays_lists_them()
    {
        using var dir = new TempDirectory();
        string path = Npz(dir, (name, b) => name == "Transformer/encoderblock_1/MlpBlock_3/Dense_1/bias" ? null : b,
            ("Transformer/encoderblock_9/LayerNorm_0/scale", JaxFixture.Npy([36], new float[36])));
        IoAssert.FailsDerived<WeightsMismatchException>(path, () => JaxWeights.Load(path, new OddWidth()),
            "Transformer/encoderblock_1/MlpBlock_3/Dense_1/bias (36)", "Transformer/encoderblock_9/LayerNorm_0/scale (36)");
    }

    [Fact]
    public void Npz_heads_that_differ_from_the_model_are_a_shape_error()
    {
        using var dir = new TempDirectory();
        var other = new ReferenceVitModel(new OddWidth().Config with { Heads = 2 });
        string path = dir.File("h.npz");
        JaxFixture.Write(path, other);
        IoAssert.FailsDerived<WeightsMismatchException>(path, () => JaxWeights.Load(path, new OddWidth()),
            "MultiHeadDotProductAttention_1/query/kernel is (36, 2, 18), the model needs (36, 3, 12)");
    }

    [Fact]
    public void Npz_with_NaN_is_refused_naming_the_array()
    {
        using var dir = new TempDirectory();
        string path = Npz(dir, (name, b) =>
        {
            if (name != "Transformer/encoder_norm/scale") return b;
            BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(b.Length - 36 * 4 + 4 * 5), float.NaN);
            return b;
        });
        var target = new OddWidth();
        float[] before = target.Parameters.ToArray();
        IoAssert.Fails(path, () => JaxWeights.Load(path, target), "'Transformer/encoder_norm/scale'", "NaN", "[5]");
        AssertUntouched(target, before);
    }

    private static void WithNpy(Func<long[], float[], byte[]> make, params string[] fragments)
    {
        using var dir = new TempDirectory();
        string path = Npz(dir, (name, b) => name == "embedding/bias" ? make([36], Enumerable.Range(0, 36).Select(i => (float)i).ToArray()) : b);
        var target = new OddWidth();
        float[] before = target.Parameters.ToArray();
        IoAssert.Fails(path, () => Weights.Load(path, target), fragments);
        AssertUntouched(target, before);
    }
}
