using System.Text.Json;
using Xunit;

namespace ViTCompiler.Cli.Tests;

/// <summary>
/// The keys of every <c>--json</c> output, in order: the contract docs/CLI.md describes and scripts rely on. The keys
/// come from property names through a naming policy, so a renamed property would change them silently without this.
/// </summary>
public class JsonOutputTests
{
    private static string Keys(JsonElement e) => string.Join(' ', e.EnumerateObject().Select(p => p.Name));

    [Fact]
    public void Every_command_writes_the_documented_keys_in_order()
    {
        using var dir = new TempDirectory();
        string data = TrainingTests.IdxFolder(dir);
        string checkpoint = dir.File("c.safetensors");

        JsonElement train = Assert.Single(Cli.Ok("train", "--data", data, "--steps", "1", "--batch", "16", "--out", checkpoint, "--json").JsonLines);
        Assert.Equal("steps total_steps completed cancelled train_loss train_accuracy test_images test_accuracy test_loss images_per_second elapsed_seconds checkpoint ranks", Keys(train));

        JsonElement eval = Assert.Single(Cli.Ok("eval", "--weights", checkpoint, "--data", data, "--json").JsonLines);
        Assert.Equal("weights images correct accuracy loss test_time_flip", Keys(eval));
        Assert.False(eval.GetProperty("test_time_flip").GetBoolean());
        JsonElement flipped = Assert.Single(Cli.Ok("eval", "--weights", checkpoint, "--data", data, "--flip", "--json").JsonLines);
        Assert.True(flipped.GetProperty("test_time_flip").GetBoolean());
        Assert.Equal(eval.GetProperty("images").GetInt32(), flipped.GetProperty("images").GetInt32());

        string png = TestImages.Png(dir.File("bar.png"));
        JsonElement classify = Assert.Single(Cli.Ok("classify", png, "--weights", checkpoint, "--top", "2", "--json").JsonLines);
        Assert.Equal("image top", Keys(classify));
        Assert.Equal(2, classify.GetProperty("top").GetArrayLength());
        Assert.Equal("index label probability", Keys(classify.GetProperty("top")[0]));

        JsonElement explain = Assert.Single(Cli.Ok("explain", png, "--weights", checkpoint, "--out", dir.File("pictures"), "--top", "2", "--json").JsonLines);
        Assert.Equal("image top rollout layer rollout_png heads_png", Keys(explain));
        Assert.Equal("index label probability", Keys(explain.GetProperty("top")[0]));

        JsonElement inspect = Assert.Single(Cli.Ok("inspect", "--weights", checkpoint, "--out", dir.File("pictures"), "--images", data, "--max-images", "4", "--json").JsonLines);
        Assert.Equal("weights model embedding_filters position_similarity attention_distance", Keys(inspect));
        Assert.Equal("components explained_ratio png csv", Keys(inspect.GetProperty("embedding_filters")));
        Assert.Equal("same_row_or_column elsewhere nearest_in_row_or_column chance_nearest_in_row_or_column png csv", Keys(inspect.GetProperty("position_similarity")));
        Assert.Equal("images pixels uniform_pixels png csv", Keys(inspect.GetProperty("attention_distance")));

        JsonElement bench = Assert.Single(Cli.Ok("bench", "--preset", "fashion-mnist", "--runs", "1", "--warmup", "0", "--json").JsonLines);
        Assert.Equal("preset engine batch threads runs warmup median_ms min_ms per_image_ms per_image_min_ms images_per_second flops_per_image gflop_per_second", Keys(bench));

        const string config = "image_size channels patch layers hidden heads mlp_dim classes pooling layer_norm_epsilon qkv_bias tokens parameters " +
            "macs_per_image flops_per_image parameter_bytes activation_bytes_per_image engine compiled_class isa cpu_features runtime threads variant variant_reason schedule";
        Assert.Equal("name source " + config, Keys(Assert.Single(Cli.Ok("info", "--preset", "fashion-mnist", "--json").JsonLines)));
        Assert.Equal("name source format " + config, Keys(Assert.Single(Cli.Ok("info", "--weights", checkpoint, "--json").JsonLines)));

        JsonElement selftest = Assert.Single(Cli.Ok("selftest", "--preset", "fashion-mnist", "--json").JsonLines);
        Assert.Equal("preset engine batch forward_error gradient_error worst_tensor passed", Keys(selftest));
    }
}
