using ViTCompiler.Data;
using ViTCompiler.IO;
using Xunit;

namespace ViTCompiler.Tests.IO;

public class DescribeTests
{
    [Fact]
    public void A_checkpoint_describes_its_configuration_labels_and_normalisation()
    {
        using var dir = new TempDirectory();
        var model = new OddWidth();
        string[] labels = ["a", "b", "c", "d", "e", "f", "g"];
        VitCheckpoint.Save(dir.File("m.safetensors"), model, metadata: new Dictionary<string, string>
        {
            [CheckpointMetadata.Labels] = CheckpointMetadata.LabelsJson(labels),
            [CheckpointMetadata.ImageMean] = CheckpointMetadata.FloatsText([0.25f, 0.5f, 0.75f]),
            [CheckpointMetadata.ImageStd] = CheckpointMetadata.FloatsText([0.1f, 0.2f, 0.3f]),
        });

        WeightsDescription d = Weights.Describe(dir.File("m.safetensors"));
        Assert.Equal(WeightsFormat.Checkpoint, d.Format);
        Assert.Equal("checkpoint", d.FormatName);
        Assert.Equal(OddWidth.ModelConfig, d.Config);
        Assert.Equal(labels, d.Labels);
        Assert.Equal([0.25f, 0.5f, 0.75f], d.Normalization!.Mean.ToArray());
        Assert.Equal([0.1f, 0.2f, 0.3f], d.Normalization!.Std.ToArray());
    }

    [Fact]
    public void A_HuggingFace_folder_brings_its_labels_and_preprocessing_and_a_config_file_replaces_the_configuration()
    {
        using var dir = new TempDirectory();
        var model = new OddWidth();
        string folder = dir.File("hf");
        Directory.CreateDirectory(folder);
        HuggingFaceWeights.Save(folder, model, ["zero", "one", "two", "three", "four", "five", "six"],
            new ImagePreprocessing { Mean = [0.1f, 0.2f, 0.3f], Std = [0.4f, 0.5f, 0.6f], Height = 21, Width = 21 });

        WeightsDescription d = Weights.Describe(folder);
        Assert.Equal(WeightsFormat.HuggingFace, d.Format);
        Assert.Equal(OddWidth.ModelConfig with { LayerNormEpsilon = d.Config.LayerNormEpsilon }, d.Config);
        Assert.Equal("three", d.Labels![3]);
        Assert.Equal([0.4f, 0.5f, 0.6f], d.Preprocessing!.Std);

        // A vit config JSON with only some keys: the rest are VitConfig's defaults.
        File.WriteAllText(dir.File("small.json"), """{ "image_size": 32, "patch": 8, "hidden": 24, "heads": 2, "layers": 1, "classes": 7 }""");
        WeightsDescription given = Weights.Describe(folder, new DescribeOptions { ConfigPath = dir.File("small.json") });
        Assert.Equal(new VitConfig { ImageSize = 32, Patch = 8, Hidden = 24, Heads = 2, Layers = 1, Classes = 7 }, given.Config);
        Assert.Null(given.Labels); // a given configuration replaces the folder's config.json, which may be missing or wrong

        File.WriteAllText(dir.File("bad.json"), """{ "image_size": 32, "pach": 8 }""");
        var e = Assert.Throws<WeightsFileException>(() => Weights.Describe(folder, new DescribeOptions { ConfigPath = dir.File("bad.json") }));
        Assert.Contains("unknown field 'pach'", e.Message);
    }

    [Fact]
    public void A_foreign_timm_file_of_a_standard_width_assumes_the_standard_head_count_and_says_so()
    {
        using var dir = new TempDirectory();
        var config = new VitConfig { ImageSize = 32, Patch = 16, Layers = 1, Hidden = 192, Heads = 3, Classes = 2 };
        var model = new ViTCompiler.Reference.ReferenceVitModel(config);
        SafeTensors.Write(dir.File("t.safetensors"), config.Layout.Select(t => new SafeTensorsEntry(t.Name, t.Shape, t.Of(model.Parameters).ToArray())));

        WeightsDescription d = Weights.Describe(dir.File("t.safetensors"));
        Assert.Equal(config, d.Config);
        Assert.Contains("assuming 3", Assert.Single(d.Notes));
        Assert.Equal(config with { Heads = 4 }, Weights.Describe(dir.File("t.safetensors"), new DescribeOptions { Heads = 4 }).Config);
    }
}
