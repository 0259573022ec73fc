using ViTCompiler.IO;
using ViTCompiler.Reference;
using ViTCompiler.Tests.IO;
using Xunit;

namespace ViTCompiler.Cli.Tests;

/// <summary><c>vit train</c> with the data's classes, hostile image folders, and <c>--from</c> / <c>--image-size</c>.</summary>
public class FineTuneTests
{
    private static readonly string[] s_four = ["ant", "bee", "cat", "dog"];

    public static TheoryData<string> Formats => ["checkpoint", "timm", "hf", "npz"];

    /// <summary>Writes <paramref name="model"/> in one of the formats the loaders read.</summary>
    private static string Save(TempDirectory dir, IVitWeights model, string format)
    {
        switch (format)
        {
            case "checkpoint": Weights.Save(dir.File("pre.safetensors"), model, WeightsFormat.Checkpoint); return dir.File("pre.safetensors");
            case "timm": Weights.Save(dir.File("pre-timm.safetensors"), model, WeightsFormat.Timm); return dir.File("pre-timm.safetensors");
            case "hf": Weights.Save(dir.File("pre-hf"), model, WeightsFormat.HuggingFace); return dir.File("pre-hf");
            default: JaxFixture.Write(dir.File("pre.npz"), model); return dir.File("pre.npz");
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void From_carries_the_encoder_over_and_starts_a_zero_head_for_the_folders_classes(string format)
    {
        using var dir = new TempDirectory();
        string data = TrainingTests.ShapesFolder(dir, "four", s_four, perClass: 5);
        ReferenceVitModel source = Cli.Randomized(Cli.FashionConfig, 12);
        string weights = Save(dir, source, format);
        string output = dir.File("tuned.safetensors");

        // A learning rate of 1e-30 leaves every weight where the transfer put it, so the checkpoint shows the transfer itself.
        CliResult result = Cli.Ok("train", "--data", data, "--from", weights, "--steps", "1", "--lr", "1e-30", "--out", output, "--json");
        Assert.Contains("new zero head for 4 classes", result.Error);
        Assert.DoesNotContain("reference engine", result.Error); // the compiled fashion-mnist encoder, with a 4-way head

        WeightsDescription tuned = Weights.Describe(output);
        Assert.Equal(Cli.FashionConfig with { Classes = 4 }, tuned.Config);
        Assert.Equal(s_four, tuned.Labels);
        var loaded = new ReferenceVitModel(tuned.Config);
        Weights.Load(output, loaded);
        foreach (ParameterTensor t in tuned.Config.Layout)
        {
            if (t.Name.StartsWith("head.", StringComparison.Ordinal))
                Assert.All(t.Of(loaded.Parameters).ToArray(), v => Assert.True(Math.Abs(v) < 1e-20, $"{t.Name}: {v}"));
            else
                Assert.True(t.Of(loaded.Parameters).SequenceEqual(Cli.FashionConfig.Layout[t.Name].Of(source.Parameters)), t.Name);
        }
        // The paper's recipe: SGD (momentum 0.9, no weight decay), clipping at 1; the batch is the paper's 512, or the set when smaller.
        ViTCompiler.Training.TrainerOptions saved = ViTCompiler.Training.Trainer.ReadSettings(output);
        Assert.Equal(ViTCompiler.Training.OptimizerKind.Sgd, saved.Optimizer);
        Assert.Equal((0f, 0.9f, 1f, 18), (saved.WeightDecay, saved.Momentum, saved.GradientClipNorm, saved.BatchSize)); // 18: 20 images, 2 held out
    }

    [Fact]
    public void From_at_another_image_size_interpolates_the_position_embeddings_as_the_library_does()
    {
        using var dir = new TempDirectory();
        string data = TrainingTests.ShapesFolder(dir, "four", s_four, perClass: 5);
        ReferenceVitModel source = Cli.Randomized(Cli.FashionConfig, 13);
        string weights = Save(dir, source, "checkpoint");
        string output = dir.File("tuned56.safetensors");

        CliResult result = Cli.Ok("train", "--data", data, "--from", weights, "--image-size", "56", "--steps", "1", "--lr", "1e-30", "--out", output);
        Assert.Contains("interpolated from 7² to 14²", result.Error);
        Assert.DoesNotContain("reference engine", result.Error); // fashion-mnist-56 is compiled in

        VitConfig config = Weights.Describe(output).Config;
        Assert.Equal(Cli.FashionConfig with { ImageSize = 56, Classes = 4 }, config);
        var loaded = new ReferenceVitModel(config);
        Weights.Load(output, loaded);
        float[] expected = new float[config.Layout["pos_embed"].Count];
        PositionEmbedding.Resize(Cli.FashionConfig.Layout["pos_embed"].Of(source.Parameters), 7, 7, expected, 14, 14, config.Hidden, 1, PositionInterpolation.Bicubic);
        Assert.True(config.Layout["pos_embed"].Of(loaded.Parameters).SequenceEqual(expected));
        Assert.True(config.Layout["blocks.0.attn.qkv.weight"].Of(loaded.Parameters).SequenceEqual(Cli.FashionConfig.Layout["blocks.0.attn.qkv.weight"].Of(source.Parameters)));
    }

    [Fact]
    public void A_size_vit_has_not_compiled_runs_on_the_reference_engine_and_names_the_compiled_sizes()
    {
        using var dir = new TempDirectory();
        string data = TrainingTests.ShapesFolder(dir, "two", ["a", "b"], perClass: 4);
        string weights = Save(dir, Cli.Randomized(Cli.FashionConfig, 14), "checkpoint");
        CliResult result = Cli.Ok("train", "--data", data, "--from", weights, "--image-size", "32", "--steps", "1", "--batch", "4", "--out", dir.File("t.safetensors"));
        Assert.Contains("compiled at 28 px, 56 px only", result.Error);
        Assert.Contains("reference engine", result.Error);
    }

    [Fact]
    public void From_mistakes_are_usage_errors()
    {
        using var dir = new TempDirectory();
        string data = TrainingTests.ShapesFolder(dir, "two", ["a", "b"], perClass: 4);
        string weights = Save(dir, Cli.Randomized(Cli.FashionConfig, 15), "checkpoint");

        CliResult both = Cli.Run("train", "--data", data, "--from", weights, "--preset", "fashion-mnist");
        Assert.Equal(ExitCodes.Usage, both.ExitCode);
        Assert.Contains("--preset and --from", both.Error);

        CliResult sizeAlone = Cli.Run("train", "--data", data, "--image-size", "56");
        Assert.Equal(ExitCodes.Usage, sizeAlone.ExitCode);
        Assert.Contains("give it with --from", sizeAlone.Error);

        CliResult odd = Cli.Run("train", "--data", data, "--from", weights, "--image-size", "30");
        Assert.Equal(ExitCodes.Usage, odd.ExitCode);
        Assert.Contains("not a multiple of the model's patch size 4", odd.Error);

        CliResult missing = Cli.Run("train", "--data", data, "--from", dir.File("nothing.safetensors"));
        Assert.Equal(ExitCodes.FileProblem, missing.ExitCode);
        Assert.Contains("nothing.safetensors", missing.Error);
    }

    [Fact]
    public void Hostile_training_folders_get_clear_messages()
    {
        using var dir = new TempDirectory();

        // A class folder without images (only a text file): it would be an output the model can never learn.
        string empty = TrainingTests.ShapesFolder(dir, "empty", ["a", "b"], perClass: 4);
        Directory.CreateDirectory(Path.Combine(empty, "c"));
        File.WriteAllText(Path.Combine(empty, "c", "readme.txt"), "no pictures here");
        CliResult emptyResult = Cli.Run("train", "--data", empty, "--steps", "1");
        Assert.Equal(ExitCodes.FileProblem, emptyResult.ExitCode);
        Assert.Contains("no usable images: 'c'", emptyResult.Error);

        // One class: nothing to tell apart.
        string one = TrainingTests.ShapesFolder(dir, "one", ["only"], perClass: 4);
        CliResult oneResult = Cli.Run("train", "--data", one, "--steps", "1");
        Assert.Equal(ExitCodes.FileProblem, oneResult.ExitCode);
        Assert.Contains("one class folder ('only')", oneResult.Error);

        // The classes one level too deep: the message points at the folder that holds them.
        string outer = Path.Combine(dir.Path, "outer");
        Directory.CreateDirectory(outer);
        Directory.Move(TrainingTests.ShapesFolder(dir, "animals", ["cat", "dog"], perClass: 4), Path.Combine(outer, "animals"));
        CliResult nested = Cli.Run("train", "--data", outer, "--steps", "1");
        Assert.Equal(ExitCodes.FileProblem, nested.ExitCode);
        Assert.Contains($"did you mean --data {Path.Combine(outer, "animals")}", nested.Error);

        // No class folders at all, only files.
        string flat = Path.Combine(dir.Path, "flat");
        Directory.CreateDirectory(flat);
        TestImages.Png(Path.Combine(flat, "x.png"));
        CliResult flatResult = Cli.Run("train", "--data", flat, "--steps", "1");
        Assert.NotEqual(0, flatResult.ExitCode);
        Assert.Contains("no subfolders", flatResult.Error);

        // A test folder with other classes than the training folder.
        string train = TrainingTests.ShapesFolder(dir, "train", ["a", "b"], perClass: 4);
        string test = TrainingTests.ShapesFolder(dir, "test", ["a", "z"], perClass: 2);
        CliResult mismatch = Cli.Run("train", "--data", train, "--test", test, "--steps", "1");
        Assert.Equal(ExitCodes.Usage, mismatch.ExitCode);
        Assert.Contains("differ from the training folder", mismatch.Error);

        foreach (CliResult r in new[] { emptyResult, oneResult, nested, flatResult, mismatch }) Assert.DoesNotContain("   at ", r.Error);
    }

    [Fact]
    public void Eval_maps_a_folder_of_some_classes_onto_the_models_names_and_prints_them()
    {
        using var dir = new TempDirectory();
        string data = TrainingTests.ShapesFolder(dir, "four", s_four, perClass: 5);
        string checkpoint = dir.File("four.safetensors");
        Cli.Ok("train", "--data", data, "--steps", "2", "--batch", "8", "--out", checkpoint);

        // The same images with only two of the classes: labels follow the model's names, not the folder's order.
        string some = Path.Combine(dir.Path, "some");
        foreach (string name in new[] { "cat", "dog" })
        {
            Directory.CreateDirectory(Path.Combine(some, name));
            foreach (string file in Directory.GetFiles(Path.Combine(data, name))) File.Copy(file, Path.Combine(some, name, Path.GetFileName(file)));
        }
        CliResult all = Cli.Ok("eval", "--weights", checkpoint, "--data", data);
        Assert.Contains("classes: ant, bee, cat, dog", all.Output);
        Cli.Ok("eval", "--weights", checkpoint, "--data", some);

        Directory.CreateDirectory(Path.Combine(some, "eel"));
        TestImages.Png(Path.Combine(some, "eel", "e.png"));
        CliResult unknown = Cli.Run("eval", "--weights", checkpoint, "--data", some);
        Assert.Equal(ExitCodes.Usage, unknown.ExitCode);
        Assert.Contains("'eel' that the model does not know", unknown.Error);
    }

    [Fact]
    public void Probe_fits_on_k_shots_per_class_and_tests_on_the_rest()
    {
        using var dir = new TempDirectory();
        string data = TrainingTests.ShapesFolder(dir, "four", s_four, perClass: 6);
        string weights = Save(dir, Cli.Randomized(Cli.FashionConfig, 16), "timm");

        System.Text.Json.JsonElement probe = Assert.Single(Cli.Ok("probe", "--weights", weights, "--data", data, "--shots", "2", "--json").JsonLines);
        Assert.Equal(8, probe.GetProperty("fit_images").GetInt32());
        Assert.Equal(16, probe.GetProperty("test_images").GetInt32());
        Assert.Equal(Cli.FashionConfig.Hidden, probe.GetProperty("features").GetInt32());
        Assert.Equal(probe.GetProperty("correct").GetInt32() / 16.0, probe.GetProperty("accuracy").GetDouble(), 6);
        Assert.Equal(s_four, probe.GetProperty("labels").EnumerateArray().Select(e => e.GetString()));

        // The text output reports the same fit (the shots are drawn deterministically from the seed).
        CliResult text = Cli.Ok("probe", "--weights", weights, "--data", data, "--shots", "2");
        Assert.Contains("2-shot linear probe on 64-dimensional features", text.Output);
        Assert.Contains($"({probe.GetProperty("correct").GetInt32()}/16 held-out images)", text.Output);

        CliResult tooMany = Cli.Run("probe", "--weights", weights, "--data", data, "--shots", "7");
        Assert.Equal(ExitCodes.Usage, tooMany.ExitCode);
        Assert.Contains("fewer than the 7 shots", tooMany.Error);
        CliResult all = Cli.Run("probe", "--weights", weights, "--data", data, "--shots", "6");
        Assert.Equal(ExitCodes.Usage, all.ExitCode);
        Assert.Contains("no images left to evaluate", all.Error);
    }
}
