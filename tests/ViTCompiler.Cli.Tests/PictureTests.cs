using System.Text.Json;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using ViTCompiler.Analysis;
using ViTCompiler.Data;
using ViTCompiler.Imaging;
using ViTCompiler.IO;
using ViTCompiler.Reference;
using Xunit;
using ImagePreprocessing = ViTCompiler.Imaging.ImagePreprocessing;

namespace ViTCompiler.Cli.Tests;

/// <summary><c>vit explain</c> and <c>vit inspect</c>: their numbers against the library on the reference engine, and real pictures.</summary>
public class PictureTests
{
    [Fact]
    public void Explain_writes_a_rollout_and_a_head_picture_per_image_and_the_reference_engines_rollout_as_json()
    {
        using var dir = new TempDirectory();
        ReferenceVitModel model = Cli.Randomized(Cli.FashionConfig, 31);
        HuggingFaceWeights.Save(dir.File("hf"), model);
        string png = TestImages.Png(dir.File("bar.png"));
        string jpeg = TestImages.Jpeg(dir.File("disc.jpg"));

        CliResult result = Cli.Ok("explain", png, jpeg, "--weights", dir.File("hf"), "--out", dir.File("out"), "--json", "--top", "2");
        JsonElement[] lines = result.JsonLines;
        Assert.Equal(2, lines.Length);

        // HF weights without a preprocessor config: Google's preprocessing, grey, 28 px (as classify).
        var loader = new ImageLoader(ImagePreprocessing.Google(28) with { Color = ColorMode.Grey });
        string[] paths = [png, jpeg];
        for (int i = 0; i < 2; i++)
        {
            float[] pixels = new float[28 * 28];
            loader.Load(paths[i], pixels);
            float[] attention = AttentionMaps.Capture(model, pixels, 1, new float[10]);
            PatchMap expected = AttentionMaps.Rollout(model.Config, attention);

            Assert.Equal(paths[i], lines[i].GetProperty("image").GetString());
            Assert.Equal(2, lines[i].GetProperty("top").GetArrayLength());
            Assert.Equal(6, lines[i].GetProperty("layer").GetInt32());
            JsonElement[] rows = lines[i].GetProperty("rollout").EnumerateArray().ToArray();
            Assert.Equal(7, rows.Length);
            for (int r = 0; r < 7; r++)
                for (int c = 0; c < 7; c++) Assert.Equal(expected[r, c], rows[r][c].GetDouble(), 4e-4);

            AssertPicture(lines[i].GetProperty("rollout_png").GetString()!, 560, 480);
            AssertPicture(lines[i].GetProperty("heads_png").GetString()!, 810, -1);
        }
        Assert.True(File.Exists(dir.File("out/bar.rollout.png")) && File.Exists(dir.File("out/disc.heads.png")));
    }

    [Fact]
    public void Explain_reports_a_bad_image_and_a_bad_layer()
    {
        using var dir = new TempDirectory();
        HuggingFaceWeights.Save(dir.File("hf"), Cli.Randomized(Cli.FashionConfig, 32));
        string good = TestImages.Png(dir.File("a.png"));
        string bad = TestImages.Corrupt(dir.File("broken.png"));

        CliResult partial = Cli.Run("explain", good, bad, "--weights", dir.File("hf"), "--out", dir.File("out"), "--layer", "2");
        Assert.Equal(ExitCodes.FileProblem, partial.ExitCode);
        Assert.Contains("heads (layer 2)", partial.Output);
        Assert.Contains("broken.png", partial.Error);

        CliResult layer = Cli.Run("explain", good, "--weights", dir.File("hf"), "--out", dir.File("out"), "--layer", "7");
        Assert.Equal(ExitCodes.Usage, layer.ExitCode);
        Assert.Contains("between 1 and the model's 6 layers", layer.Error);
    }

    [Fact]
    public void Inspect_draws_the_figure_7_panels_with_the_librarys_numbers()
    {
        using var dir = new TempDirectory();
        ReferenceVitModel model = Cli.Randomized(Cli.FashionConfig, 33);
        HuggingFaceWeights.Save(dir.File("hf"), model);
        string idx = FashionMnist.FindShippedTestSplit() ?? throw new InvalidOperationException("data/fashion-mnist was not found above the test's folder.");

        CliResult result = Cli.Ok("inspect", "--weights", dir.File("hf"), "--out", dir.File("out"), "--images", idx, "--max-images", "5", "--json");
        JsonElement report = Assert.Single(result.JsonLines);
        Assert.Equal(report.GetRawText() + "\n", File.ReadAllText(dir.File("out/inspect.json")));  // the file holds what --json printed

        FilterComponents filters = EmbeddingFilters.PrincipalComponents(model);
        JsonElement pca = report.GetProperty("embedding_filters");
        Assert.Equal(16, pca.GetProperty("components").GetInt32());  // 4 × 4 grey patches: 16 weights per filter
        Assert.Equal(filters.ExplainedRatio(0), pca.GetProperty("explained_ratio")[0].GetDouble(), 1e-6);
        string[] csv = File.ReadAllLines(pca.GetProperty("csv").GetString()!);
        Assert.Equal(17, csv.Length);
        Assert.Equal(3 + 16, csv[1].Split(',').Length);
        AssertPicture(pca.GetProperty("png").GetString()!, 720, -1);

        PositionSimilaritySummary summary = PositionSimilarity.Compute(model).Summarize();
        JsonElement position = report.GetProperty("position_similarity");
        Assert.Equal(summary.SameRowOrColumn, position.GetProperty("same_row_or_column").GetDouble(), 1e-6);
        Assert.Equal(summary.NearestInRowOrColumn, position.GetProperty("nearest_in_row_or_column").GetDouble(), 1e-6);
        Assert.Equal(1 + 49 * 49, File.ReadAllLines(position.GetProperty("csv").GetString()!).Length);
        AssertPicture(position.GetProperty("png").GetString()!, 640, 560);

        // The compiled model's attention distance against the reference engine's on the same five images.
        var batcher = new ImageBatcher(FashionMnist.LoadTest(idx).Slice(0, 5), BatcherOptions.Evaluation(5, ChannelNormalization.Google));
        float[] pixels = new float[batcher.FloatsPerBatch];
        batcher.TryNextBatch(pixels, new int[5], out _);
        var expected = new AttentionDistance(model.Config);
        expected.Add(AttentionMaps.Capture(model, pixels, 5, new float[50]), 5);
        JsonElement distance = report.GetProperty("attention_distance");
        Assert.Equal(5, distance.GetProperty("images").GetInt32());
        for (int l = 0; l < 6; l++)
            for (int h = 0; h < 4; h++) Assert.Equal(expected.Mean()[l, h], distance.GetProperty("pixels")[l][h].GetDouble(), 0.01);
        Assert.Equal(1 + 6 * 4, File.ReadAllLines(distance.GetProperty("csv").GetString()!).Length);
        AssertPicture(distance.GetProperty("png").GetString()!, 640, 440);
    }

    [Fact]
    public void Inspect_without_images_reads_only_the_weights_and_says_how_to_measure_distance()
    {
        using var dir = new TempDirectory();
        HuggingFaceWeights.Save(dir.File("hf"), Cli.Randomized(Cli.FashionConfig, 34));
        CliResult result = Cli.Ok("inspect", "--weights", dir.File("hf"), "--out", dir.File("out"));
        Assert.Contains("pass --images DIR", result.Output);
        Assert.Contains("position embeddings: mean cosine similarity", result.Output);
        Assert.True(File.Exists(dir.File("out/embedding-filters.png")));
        Assert.False(File.Exists(dir.File("out/attention-distance.png")));
        Assert.False(JsonDocument.Parse(File.ReadAllText(dir.File("out/inspect.json"))).RootElement.TryGetProperty("attention_distance", out _));
    }

    /// <summary>A PNG of the given size (height −1: any) with real content: many colours, some dark pixels (text, axes).</summary>
    private static void AssertPicture(string path, int width, int height)
    {
        using Image<Rgba32> image = Image.Load<Rgba32>(path);
        Assert.Equal(width, image.Width);
        if (height > 0) Assert.Equal(height, image.Height);
        (int colours, int dark) = ViTCompiler.Testing.PictureContent.Count(image);
        Assert.True(colours > 20, $"{path}: only {colours} colours");
        Assert.True(dark > 100, $"{path}: only {dark} dark pixels");
    }
}
