using ViTCompiler.IO;
using ViTCompiler.Reference;
using Xunit;

namespace ViTCompiler.Tests.IO;

/// <summary>Save a randomised model in each format, load it into a fresh one: the same parameters bit for bit, the same logits.</summary>
public class RoundTripTests
{
    private static T Randomized<T>(T model, ulong seed) where T : IVitWeights
    {
        TestData.Randomize(model, seed);
        return model;
    }

    [Theory]
    [InlineData(nameof(OddWidth))]
    [InlineData(nameof(NoQkvBias))]
    [InlineData(nameof(MeanPooled))]
    public void Timm_round_trip(string name)
    {
        using var dir = new TempDirectory();
        CompiledVit saved = TestModels.All[name]();
        TestData.Randomize(saved, 21);
        string path = dir.File("model.safetensors");
        TimmWeights.Save(path, saved);
        CompiledVit loaded = TestModels.All[name]();
        TimmWeights.Load(path, loaded);
        IoAssert.SameModel(saved, loaded);
        Assert.Equal(WeightsFormat.Timm, Weights.Detect(path));
        Assert.Equal(saved.Config, TimmWeights.ReadConfig(path));
        using SafeTensorsFile file = SafeTensors.Open(path);
        Assert.Equal(saved.Config.Layout.Select(t => t.Name).Order(StringComparer.Ordinal), file.Tensors.Select(t => t.Name));
    }

    [Theory]
    [InlineData(nameof(OddWidth))]
    [InlineData(nameof(NoQkvBias))]
    public void HuggingFace_round_trip_with_labels_and_preprocessing(string name)
    {
        using var dir = new TempDirectory();
        CompiledVit saved = TestModels.All[name]();
        TestData.Randomize(saved, 22);
        string[] labels = Enumerable.Range(0, saved.Config.Classes).Select(i => $"class {i} & co").ToArray();
        var preprocessing = new ImagePreprocessing { Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f], Height = 21, Width = 21, Resample = 3 };
        HuggingFaceWeights.Save(dir.Path, saved, labels, preprocessing);
        Assert.True(File.Exists(dir.File("model.safetensors")));
        Assert.True(File.Exists(dir.File("config.json")));

        CompiledVit loaded = TestModels.All[name]();
        HuggingFaceConfig? info = HuggingFaceWeights.Load(dir.Path, loaded);
        IoAssert.SameModel(saved, loaded);
        Assert.NotNull(info);
        Assert.Equal(labels, info.Labels);
        Assert.Equal(saved.Config.Heads, info.Config.Heads);
        Assert.Equal(saved.Config.LayerNormEpsilon, info.Config.LayerNormEpsilon);
        Assert.Equal(saved.Config.MlpWidth, info.Config.MlpWidth);
        Assert.Equal(saved.Config.ImageSize, info.Config.ImageSize);
        Assert.Equal(saved.Config.QkvBias, info.Config.QkvBias);
        Assert.Equal(preprocessing.Mean, info.Preprocessing!.Mean);
        Assert.Equal(preprocessing.Std, info.Preprocessing.Std);
        Assert.Equal(3, info.Preprocessing.Resample);
        Assert.Equal("bicubic", info.Preprocessing.ResampleName);
        Assert.Equal(21, info.Preprocessing.Height);

        Assert.Equal(WeightsFormat.HuggingFace, Weights.Detect(dir.Path));
        Assert.Equal(WeightsFormat.HuggingFace, Weights.Detect(dir.File("model.safetensors")));
        VitConfig read = Weights.ReadConfig(dir.Path);
        Assert.Equal(saved.Config with { MlpDim = saved.Config.MlpWidth }, read with { MlpDim = read.MlpWidth });
    }

    [Fact]
    public void HuggingFace_names_split_the_fused_qkv_into_query_key_value_rows()
    {
        using var dir = new TempDirectory();
        var model = Randomized(new OddWidth(), 23);
        HuggingFaceWeights.Save(dir.Path, model);
        using SafeTensorsFile file = SafeTensors.Open(dir.File("model.safetensors"));
        int d = model.Config.Hidden;
        float[] qkv = model.Config.Layout["blocks.1.attn.qkv.weight"].Of(model.Parameters).ToArray();
        Assert.Equal(qkv[..(d * d)], file.ReadFloats("vit.encoder.layer.1.attention.attention.query.weight"));
        Assert.Equal(qkv[(d * d)..(2 * d * d)], file.ReadFloats("vit.encoder.layer.1.attention.attention.key.weight"));
        Assert.Equal(qkv[(2 * d * d)..], file.ReadFloats("vit.encoder.layer.1.attention.attention.value.weight"));
        Assert.Equal([1L, model.Config.Tokens, d], file["vit.embeddings.position_embeddings"].Shape);
        Assert.Equal("pt", file.Metadata["format"]);
    }

    [Fact]
    public void A_HuggingFace_ViTModel_without_prefix_or_classifier_loads_with_KeepHead_and_its_pooler_is_ignored()
    {
        using var dir = new TempDirectory();
        var saved = Randomized(new OddWidth(), 24);
        HuggingFaceWeights.Save(dir.Path, saved);
        // Rewrite as ViTModel: strip "vit.", drop the classifier, add a pooler.
        string path = dir.File("model.safetensors");
        var raw = new RawSafeTensors { Metadata = new() { ["format"] = "pt" } };
        using (SafeTensorsFile file = SafeTensors.Open(path))
            foreach (SafeTensorInfo t in file.Tensors)
                if (!t.Name.StartsWith("classifier.")) raw.AddF32(t.Name["vit.".Length..], t.Shape.ToArray(), file.ReadFloats(t.Name));
        int d = saved.Config.Hidden;
        raw.AddF32("pooler.dense.weight", [d, d], new float[d * d]).AddF32("pooler.dense.bias", [d], new float[d]);
        raw.Write(path);

        var fresh = new OddWidth();
        float[] headBefore = fresh.Config.Layout["head.weight"].Of(fresh.Parameters).ToArray();
        var e = Assert.Throws<WeightsMismatchException>(() => HuggingFaceWeights.Load(dir.Path, fresh));
        Assert.Contains("classifier.weight", e.Message);
        Assert.Contains("KeepHead", e.Message);
        Assert.Equal(WeightsFormat.HuggingFace, Weights.Detect(path));

        HuggingFaceWeights.Load(dir.Path, fresh, new LoadOptions { KeepHead = true });
        Assert.Equal(headBefore, fresh.Config.Layout["head.weight"].Of(fresh.Parameters).ToArray());
        foreach (ParameterTensor t in saved.Config.Layout.Where(t => !t.Name.StartsWith("head.")))
            Assert.True(t.Of(saved.Parameters).SequenceEqual(t.Of(fresh.Parameters)), t.Name);
    }

    [Fact]
    public void HuggingFace_config_defaults_apply_to_missing_keys_and_python_floats_are_accepted()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("config.json"), """{"model_type": "vit", "hidden_size": 64.0, "num_attention_heads": 4, "num_hidden_layers": 2, "id2label": {"1": "b", "0": "a"}}""");
        HuggingFaceConfig info = HuggingFaceWeights.ReadConfig(dir.Path);
        Assert.Equal(64, info.Config.Hidden);
        Assert.Equal(3072, info.Config.MlpWidth);
        Assert.Equal(224, info.Config.ImageSize);
        Assert.Equal(1e-12, info.Config.LayerNormEpsilon);
        Assert.Equal(["a", "b"], info.Labels);
        Assert.Null(info.Preprocessing);

        File.WriteAllText(dir.File("preprocessor_config.json"), """{"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "size": {"shortest_edge": 256}, "resample": 2}""");
        info = HuggingFaceWeights.ReadConfig(dir.File("config.json"));
        Assert.Equal(256, info.Preprocessing!.ShortestEdge);
        Assert.Null(info.Preprocessing.Height);
        Assert.Equal("bilinear", info.Preprocessing.ResampleName);
    }

    [Theory]
    [InlineData(nameof(OddWidth))]
    [InlineData(nameof(NoQkvBias))]
    [InlineData(nameof(MeanPooled))]
    public void Checkpoint_round_trip_with_optimizer_blocks_and_metadata(string name)
    {
        using var dir = new TempDirectory();
        CompiledVit saved = TestModels.All[name]();
        TestData.Randomize(saved, 25);
        var checkpoint = VitCheckpoint.FromModel(saved);
        int n = saved.Parameters.Length;
        checkpoint.Blocks["optimizer.m"] = Enumerable.Range(0, n).Select(i => i * 1e-3f).ToArray();
        checkpoint.Blocks["optimizer.v"] = Enumerable.Range(0, n).Select(i => 1f / (i + 1)).ToArray();
        checkpoint.Metadata["step"] = "1234";
        checkpoint.Metadata["rng"] = "1,2,3,4";
        string path = dir.File("run.ckpt.safetensors");
        checkpoint.Save(path);

        VitCheckpoint back = VitCheckpoint.Load(path);
        Assert.Equal(saved.Config, back.Config);
        Assert.Equal(checkpoint.Parameters, back.Parameters);
        Assert.Equal(checkpoint.Blocks["optimizer.m"], back.Blocks["optimizer.m"]);
        Assert.Equal(checkpoint.Blocks["optimizer.v"], back.Blocks["optimizer.v"]);
        Assert.Equal("1234", back.Metadata["step"]);
        Assert.Equal("1,2,3,4", back.Metadata["rng"]);
        Assert.Equal(2, back.Metadata.Count);

        CompiledVit applied = TestModels.All[name]();
        back.ApplyTo(applied);
        IoAssert.SameModel(saved, applied);

        CompiledVit direct = TestModels.All[name]();
        Assert.Equal(WeightsFormat.Checkpoint, Weights.Load(path, direct));
        IoAssert.SameModel(saved, direct);
        Assert.Equal(saved.Config, Weights.ReadConfig(path));
    }

    [Fact]
    public void Checkpoint_saved_straight_from_a_model_loads()
    {
        using var dir = new TempDirectory();
        var saved = Randomized(new OddWidth(), 26);
        string path = dir.File("c.safetensors");
        VitCheckpoint.Save(path, saved, new Dictionary<string, float[]> { ["optimizer.m"] = [1f, 2f] }, new Dictionary<string, string> { ["step"] = "7" });
        var loaded = new OddWidth();
        VitCheckpoint.LoadInto(path, loaded);
        IoAssert.SameModel(saved, loaded);
        Assert.Equal([1f, 2f], VitCheckpoint.Load(path).Blocks["optimizer.m"]);
    }

    [Fact]
    public void Checkpoint_refuses_reserved_metadata_keys_and_block_names_that_shadow_parameters()
    {
        using var dir = new TempDirectory();
        var checkpoint = VitCheckpoint.FromModel(new OddWidth());
        checkpoint.Metadata["vit.config"] = "{}";
        Assert.Throws<ArgumentException>(() => checkpoint.Save(dir.File("a")));
        checkpoint.Metadata.Clear();
        checkpoint.Blocks["head.bias"] = [1f];
        Assert.Throws<ArgumentException>(() => checkpoint.Save(dir.File("a")));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Theory]
    [InlineData("", false)]
    [InlineData("opt/target/", false)]
    [InlineData("params/", true)]
    public void Jax_npz_in_the_papers_layout_loads_to_the_same_logits(string prefix, bool compress)
    {
        using var dir = new TempDirectory();
        var saved = Randomized(new OddWidth(), 27);
        string path = dir.File("ViT-test.npz");
        JaxFixture.Write(path, saved, new JaxFixture.Options(prefix, compress));
        var loaded = new OddWidth();
        JaxWeights.Load(path, loaded);
        IoAssert.SameModel(saved, loaded);
        Assert.Equal(WeightsFormat.Jax, Weights.Detect(path));
        Assert.Equal(saved.Config, Weights.ReadConfig(path));
    }

    [Fact]
    public void Jax_npz_of_a_mean_pooled_model_without_qkv_bias_loads()
    {
        using var dir = new TempDirectory();
        var saved = new ReferenceVitModel(new VitConfig { ImageSize = 12, Channels = 2, Patch = 3, Layers = 2, Hidden = 12, Heads = 3, MlpDim = 20, Classes = 4, Pooling = VitPooling.Mean, QkvBias = false });
        TestData.Randomize(saved, 28);
        string path = dir.File("gap.npz");
        JaxFixture.Write(path, saved);
        var loaded = new ReferenceVitModel(saved.Config);
        Weights.Load(path, loaded);
        IoAssert.SameModel(saved, loaded);
        Assert.Equal(saved.Config, JaxWeights.ReadConfig(path));
    }

    [Fact]
    public void Jax_float16_and_float64_arrays_load()
    {
        using var dir = new TempDirectory();
        var saved = Randomized(new FashionSmall(), 29);
        // Round the parameters to half precision first so the F16 file holds them exactly.
        using (ParameterEdit edit = saved.EditParameters())
            for (int i = 0; i < edit.Values.Length; i++) edit.Values[i] = (float)(Half)edit.Values[i];
        foreach (string descr in (string[])["<f2", "<f8", ">f4"])
        {
            string path = dir.File($"m{descr[1..]}.npz");
            JaxFixture.Write(path, saved, new JaxFixture.Options(Descr: descr));
            var loaded = new FashionSmall();
            JaxWeights.Load(path, loaded);
            IoAssert.SameModel(saved, loaded);
        }
    }

    [Fact]
    public void Jax_pre_logits_is_refused_clearly_unless_the_head_is_dropped()
    {
        using var dir = new TempDirectory();
        var saved = Randomized(new OddWidth(), 30);
        string path = dir.File("in21k.npz");
        JaxFixture.Write(path, saved, new JaxFixture.Options(PreLogits: true));
        var e = IoAssert.FailsDerived<WeightsMismatchException>(path, () => JaxWeights.Load(path, new OddWidth()), "pre_logits/kernel", "not supported", "KeepHead");
        Assert.Equal(2, e.Unexpected.Count);
        var loaded = new OddWidth();
        JaxWeights.Load(path, loaded, new LoadOptions { KeepHead = true });
        Assert.True(saved.Config.Layout["blocks.0.attn.qkv.weight"].Of(saved.Parameters).SequenceEqual(loaded.Config.Layout["blocks.0.attn.qkv.weight"].Of(loaded.Parameters)));
    }

    [Fact]
    public void Every_format_loads_through_the_single_entry_point()
    {
        using var dir = new TempDirectory();
        var saved = Randomized(new OddWidth(), 31);
        foreach (WeightsFormat format in (WeightsFormat[])[WeightsFormat.Timm, WeightsFormat.HuggingFace, WeightsFormat.Checkpoint])
        {
            string sub = Path.Combine(dir.Path, format.ToString());
            Directory.CreateDirectory(sub);
            string path = Path.Combine(sub, "weights.safetensors");
            Weights.Save(path, saved, format);
            var loaded = new OddWidth();
            Assert.Equal(format, Weights.Load(path, loaded));
            IoAssert.SameModel(saved, loaded);
        }
        Assert.Throws<NotSupportedException>(() => Weights.Save(dir.File("x.npz"), saved, WeightsFormat.Jax));
    }

    [Fact]
    public void A_timm_file_from_elsewhere_needs_the_head_count_to_describe_itself()
    {
        using var dir = new TempDirectory();
        var saved = Randomized(new OddWidth(), 32);
        string path = dir.File("timm.safetensors");
        // As timm writes it: no vit.config metadata.
        var raw = new RawSafeTensors();
        foreach (ParameterTensor t in saved.Config.Layout) raw.AddF32(t.Name, t.Shape.Select(d => (long)d).ToArray(), t.Of(saved.Parameters));
        raw.Write(path);
        IoAssert.Fails(path, () => Weights.ReadConfig(path), "head count", "heads");
        Assert.Equal(saved.Config, Weights.ReadConfig(path, heads: 3));
        var loaded = new OddWidth();
        Weights.Load(path, loaded);
        IoAssert.SameModel(saved, loaded);
    }
}
