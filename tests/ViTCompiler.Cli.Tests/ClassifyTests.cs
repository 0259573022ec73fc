using System.Text.Json;
using ViTCompiler.Data;
using ViTCompiler.Imaging;
using ViTCompiler.IO;
using ViTCompiler.Reference;
using Xunit;
using ImagePreprocessing = ViTCompiler.Imaging.ImagePreprocessing;

namespace ViTCompiler.Cli.Tests;

public class ClassifyTests
{
    [Fact]
    public void Png_and_jpeg_get_the_reference_engines_probabilities_and_fashion_labels()
    {
        using var dir = new TempDirectory();
        ReferenceVitModel model = Cli.Randomized(Cli.FashionConfig, 7);
        HuggingFaceWeights.Save(dir.File("hf"), model);
        string png = TestImages.Png(dir.File("bar.png"));
        string jpeg = TestImages.Jpeg(dir.File("disc.jpg"));

        CliResult result = Cli.Ok("classify", png, jpeg, "--weights", dir.File("hf"), "--json", "--top", "3");
        JsonElement[] lines = result.JsonLines;
        Assert.Equal(2, lines.Length);
        Assert.Equal("", result.Error); // a compiled model runs it: no warning

        // What the CLI should have computed: HF checkpoint without preprocessor_config → Google's 0.5/0.5, grey, 28 px.
        var loader = new ImageLoader(ImagePreprocessing.Google(28) with { Color = ColorMode.Grey });
        string[] paths = [png, jpeg];
        for (int i = 0; i < 2; i++)
        {
            float[] pixels = new float[28 * 28];
            loader.Load(paths[i], pixels);
            float[] logits = new float[10];
            model.Forward(pixels, 1, logits);
            double[] expected = Softmax(logits);
            int[] order = Enumerable.Range(0, 10).OrderByDescending(c => expected[c]).ToArray();

            Assert.Equal(paths[i], lines[i].GetProperty("image").GetString());
            JsonElement[] top = lines[i].GetProperty("top").EnumerateArray().ToArray();
            Assert.Equal(3, top.Length);
            for (int r = 0; r < 3; r++)
            {
                int index = top[r].GetProperty("index").GetInt32();
                Assert.Equal(order[r], index);
                Assert.Equal(FashionMnist.ClassNames[index], top[r].GetProperty("label").GetString());
                Assert.Equal(expected[index], top[r].GetProperty("probability").GetDouble(), 3);
            }
        }
    }

    [Fact]
    public void Text_output_lists_each_image_with_percentages()
    {
        using var dir = new TempDirectory();
        HuggingFaceWeights.Save(dir.File("hf"), Cli.Randomized(Cli.FashionConfig, 8));
        string png = TestImages.Png(dir.File("bar.png"));
        CliResult result = Cli.Ok("classify", png, "--weights", dir.File("hf"));
        string[] lines = result.OutputLines;
        Assert.Equal(6, lines.Length);                 // the path, then the default top 5
        Assert.Equal(png, lines[0]);
        Assert.All(lines.Skip(1), line => Assert.Matches(@"^\d+\.\d\d% .+ \[\d\]$", line));
    }

    [Fact]
    public void A_corrupt_image_is_reported_and_the_others_are_still_classified()
    {
        using var dir = new TempDirectory();
        HuggingFaceWeights.Save(dir.File("hf"), Cli.Randomized(Cli.FashionConfig, 9));
        string good1 = TestImages.Png(dir.File("a.png"));
        string bad = TestImages.Corrupt(dir.File("broken.png"));
        string missing = dir.File("missing.png");
        string good2 = TestImages.Jpeg(dir.File("b.jpg"));

        CliResult result = Cli.Run("classify", good1, bad, missing, good2, "--weights", dir.File("hf"), "--json");
        Assert.Equal(ExitCodes.FileProblem, result.ExitCode);
        Assert.Equal([good1, good2], result.JsonLines.Select(l => l.GetProperty("image").GetString()));
        Assert.Contains("broken.png", result.Error);
        Assert.Contains("missing.png", result.Error);
        Assert.DoesNotContain("   at ", result.Error); // no stack trace
    }

    [Fact]
    public void A_checkpoint_brings_its_labels_and_normalisation()
    {
        using var dir = new TempDirectory();
        ReferenceVitModel model = Cli.Randomized(Cli.FashionConfig with { Classes = 3 }, 10);
        string[] labels = ["cat", "dog", "l'oiseau"];
        VitCheckpoint.Save(dir.File("model.safetensors"), model, metadata: new Dictionary<string, string>
        {
            ["labels"] = "[\"cat\",\"dog\",\"l'oiseau\"]", ["image_mean"] = "0.25", ["image_std"] = "0.5",
        });
        string png = TestImages.Png(dir.File("x.png"));
        CliResult result = Cli.Ok("classify", png, "--weights", dir.File("model.safetensors"), "--json", "--top", "10");
        Assert.DoesNotContain("reference engine", result.Error); // the compiled fashion-mnist encoder, with a 3-way head
        JsonElement[] top = Assert.Single(result.JsonLines).GetProperty("top").EnumerateArray().ToArray();
        Assert.Equal(3, top.Length);                      // --top is capped at the number of classes

        var loader = new ImageLoader(ImagePreprocessing.Google(28) with { Color = ColorMode.Grey, Normalization = new ChannelNormalization([0.25f], [0.5f]) });
        float[] pixels = new float[28 * 28];
        loader.Load(png, pixels);
        float[] logits = new float[3];
        model.Forward(pixels, 1, logits);
        double[] expected = Softmax(logits);
        foreach (JsonElement entry in top)
        {
            int index = entry.GetProperty("index").GetInt32();
            Assert.Equal(labels[index], entry.GetProperty("label").GetString());
            Assert.Equal(expected[index], entry.GetProperty("probability").GetDouble(), 5);
        }
    }

    [Fact]
    public void A_different_image_size_needs_asking_and_then_interpolates_the_positions()
    {
        using var dir = new TempDirectory();
        HuggingFaceWeights.Save(dir.File("hf"), Cli.Randomized(Cli.FashionConfig, 11));
        string png = TestImages.Png(dir.File("x.png"));
        CliResult result = Cli.Ok("classify", png, "--weights", dir.File("hf"), "--image-size", "32", "--json");
        Assert.Single(result.JsonLines);
        Assert.Contains("reference engine", result.Error);

        CliResult bad = Cli.Run("classify", png, "--weights", dir.File("hf"), "--image-size", "30");
        Assert.Equal(ExitCodes.Usage, bad.ExitCode);
        Assert.Contains("multiple of the model's patch size 4", bad.Error);
    }

    [Fact]
    public void Every_supported_format_decodes_including_a_tiff_with_exif_tags()
    {
        using var dir = new TempDirectory();
        HuggingFaceWeights.Save(dir.File("hf"), Cli.Randomized(Cli.FashionConfig, 12));
        var paths = new List<string> { Path.Combine(AppContext.BaseDirectory, "Fixtures", "exif-tags.tif") };
        using (var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(20, 16))
        {
            foreach (string extension in (string[])["png", "jpg", "bmp", "gif", "webp", "tga", "ppm"])
            {
                string path = dir.File("sample." + extension);
                SixLabors.ImageSharp.ImageExtensions.Save(image, path);
                paths.Add(path);
            }
        }
        CliResult result = Cli.Ok(["classify", .. paths, "--weights", dir.File("hf"), "--json", "--top", "1"]);
        Assert.Equal(paths, result.JsonLines.Select(l => l.GetProperty("image").GetString()));
    }

    internal static double[] Softmax(float[] logits)
    {
        double max = logits.Max();
        double[] e = logits.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }
}
