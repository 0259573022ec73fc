using System.Text.RegularExpressions;
using ViTCompiler.IO;
using ViTCompiler.Reference;
using ViTCompiler.Tests.IO;
using Xunit;

namespace ViTCompiler.Tests.Reliability;

/// <summary>
/// Found by the hostile corpus: a recorded configuration was taken on trust, so a 6 kB file whose metadata (or
/// config.json) claimed a 1.7-billion-parameter model made vit allocate it — 7 GB, twice over with gradients — before
/// the tensor shapes showed the file was something else.
/// </summary>
public class RecordedConfigTests
{
    private const string Huge = "{\"image_size\":2048,\"channels\":3,\"patch\":32,\"layers\":3,\"hidden\":8192,\"heads\":8,\"mlp_dim\":16384,\"classes\":1000," +
                                "\"pooling\":\"class_token\",\"layer_norm_epsilon\":1e-6,\"qkv_bias\":true}";

    private static string WithRecordedConfig(TempDirectory dir, IReadOnlyDictionary<string, string> metadata)
    {
        var raw = new RawSafeTensors { Metadata = new Dictionary<string, string>(metadata) };
        var model = new OddWidth();
        foreach (ParameterTensor t in model.Config.Layout) raw.AddF32(t.Name, t.Shape.Select(d => (long)d).ToArray(), t.Of(model.Parameters));
        string path = dir.File("claims.safetensors");
        raw.Write(path);
        return path;
    }

    [Fact]
    public void A_checkpoint_or_timm_file_claiming_a_larger_model_than_it_holds_is_refused()
    {
        using var dir = new TempDirectory();
        string checkpoint = WithRecordedConfig(dir, new Dictionary<string, string> { [VitCheckpoint.FormatKey] = VitCheckpoint.FormatVersion, [VitCheckpoint.ConfigKey] = Huge });
        IoAssert.Fails(checkpoint, () => Weights.ReadConfig(checkpoint), "metadata 'vit.config' describes ViT 2048px/32", "1,677,837,288 parameters", "does not describe these weights");
        IoAssert.Fails(checkpoint, () => VitCheckpoint.Load(checkpoint), "1,677,837,288 parameters");

        string timm = WithRecordedConfig(dir, new Dictionary<string, string> { [TimmWeights.ConfigKey] = Huge });
        IoAssert.Fails(timm, () => TimmWeights.ReadConfig(timm), "1,677,837,288 parameters");
    }

    [Fact]
    public void A_huggingface_config_claiming_a_larger_model_than_its_weights_is_refused_and_a_true_one_still_reads()
    {
        using var dir = new TempDirectory();
        HuggingFaceWeights.Save(dir.Path, new OddWidth());
        Assert.Equal(new OddWidth().Config.Hidden, HuggingFaceWeights.ReadConfig(dir.Path).Config.Hidden);

        string config = dir.File(HuggingFaceWeights.ConfigFileName);
        File.WriteAllText(config, Regex.Replace(File.ReadAllText(config), "\"num_hidden_layers\":\\s*\\d+", "\"num_hidden_layers\": 200"));
        IoAssert.Fails(dir.File(HuggingFaceWeights.WeightsFileName), () => HuggingFaceWeights.ReadConfig(dir.Path), $"'{config}' describes", "200 layers");
    }
}
