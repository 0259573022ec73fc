using System.Text.Json;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using ViTCompiler.Data;
using Xunit;

namespace ViTCompiler.Cli.Tests;

public class TrainingTests
{
    /// <summary>An IDX training and test split of 28 × 28 images whose class is where a bright bar sits.</summary>
    internal static string IdxFolder(TempDirectory dir, int train = 96, int test = 32)
    {
        string folder = Path.Combine(dir.Path, "idx");
        Directory.CreateDirectory(folder);
        void Split(string imagesFile, string labelsFile, int count, int seed)
        {
            var random = new Random(seed);
            byte[] pixels = new byte[count * 28 * 28];
            byte[] labels = new byte[count];
            for (int i = 0; i < count; i++)
            {
                int label = random.Next(10);
                labels[i] = (byte)label;
                for (int y = 0; y < 28; y++)
                    for (int x = 0; x < 28; x++)
                        pixels[i * 784 + y * 28 + x] = (byte)(x / 3 == label ? 220 : random.Next(40));
            }
            Idx.WriteImages(Path.Combine(folder, imagesFile), pixels, count, 28, 28);
            Idx.WriteLabels(Path.Combine(folder, labelsFile), labels);
        }
        Split(FashionMnist.TrainImagesFile, FashionMnist.TrainLabelsFile, train, 1);
        Split(FashionMnist.TestImagesFile + ".gz", FashionMnist.TestLabelsFile + ".gz", test, 2);
        return folder;
    }

    /// <summary>An image folder of 32 × 32 grey PNGs, one subfolder per class; class c is a disc, a square or stripes (by c mod 3), shifted by c.</summary>
    internal static string ShapesFolder(TempDirectory dir, string name, string[] classes, int perClass)
    {
        string root = Path.Combine(dir.Path, name);
        for (int c = 0; c < classes.Length; c++)
        {
            Directory.CreateDirectory(Path.Combine(root, classes[c]));
            for (int i = 0; i < perClass; i++)
            {
                using var image = new Image<L8>(32, 32);
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++)
                        image[x, y] = new L8((byte)((c % 3) switch { 0 => (x - 16 - c / 3) * (x - 16 - c / 3) + (y - 16) * (y - 16) < 80 + i, 1 => x > 8 && x < 24 && y > 8 + c / 3 && y < 24, _ => (x + i + c / 3) % 8 < 4 } ? 230 : 20));
                image.SaveAsPng(Path.Combine(root, classes[c], $"{i}.png"));
            }
        }
        return root;
    }

    [Fact]
    public void Train_writes_a_checkpoint_that_resumes_evaluates_classifies_and_exports()
    {
        using var dir = new TempDirectory();
        string data = IdxFolder(dir);
        string checkpoint = dir.File("fashion.safetensors");

        JsonElement trained = Assert.Single(Cli.Ok("train", "--data", data, "--steps", "2", "--batch", "16", "--out", checkpoint, "--json").JsonLines);
        Assert.Equal(2, trained.GetProperty("steps").GetInt64());
        Assert.True(trained.GetProperty("completed").GetBoolean());
        Assert.Equal(32, trained.GetProperty("test_images").GetInt32());
        Assert.Equal(checkpoint, trained.GetProperty("checkpoint").GetString());
        Assert.True(trained.GetProperty("train_loss").GetDouble() > 0);

        // --resume continues the same run with its saved settings; only the length changes.
        JsonElement resumed = Assert.Single(Cli.Ok("train", "--data", data, "--resume", checkpoint, "--steps", "4", "--json").JsonLines);
        Assert.Equal(4, resumed.GetProperty("steps").GetInt64());

        JsonElement evaluated = Assert.Single(Cli.Ok("eval", "--weights", checkpoint, "--data", data, "--json").JsonLines);
        Assert.Equal(32, evaluated.GetProperty("images").GetInt32());
        double accuracy = evaluated.GetProperty("accuracy").GetDouble();
        Assert.InRange(accuracy, 0, 1);
        Assert.Equal(evaluated.GetProperty("correct").GetInt32() / 32.0, accuracy, 6);

        // The checkpoint names its classes and normalisation, so classify needs nothing else.
        string png = TestImages.Png(dir.File("bar.png"));
        JsonElement top = Assert.Single(Cli.Ok("classify", png, "--weights", checkpoint, "--json", "--top", "1").JsonLines).GetProperty("top")[0];
        Assert.Contains(top.GetProperty("label").GetString(), FashionMnist.ClassNames);

        Cli.Ok("export-onnx", dir.File("model.onnx"), "--weights", checkpoint);
        Assert.True(new FileInfo(dir.File("model.onnx")).Length > Cli.FashionConfig.ParameterCount * 4);
    }

    [Fact]
    public void Train_on_an_image_folder_keeps_the_folder_names_as_labels()
    {
        using var dir = new TempDirectory();
        string root = ShapesFolder(dir, "shapes", ["circle", "square", "stripe"], perClass: 12);
        File.WriteAllText(Path.Combine(root, "circle", "notes.txt"), "not an image");
        string checkpoint = dir.File("shapes.safetensors");
        CliResult result = Cli.Ok("train", "--data", root, "--steps", "2", "--batch", "8", "--out", checkpoint);
        Assert.Contains("finished after 2 of 2 steps", result.Output);
        Assert.Contains("held out", result.Error);

        string circle = Path.Combine(root, "circle", "0.png");
        JsonElement[] top = Assert.Single(Cli.Ok("classify", circle, "--weights", checkpoint, "--json", "--top", "10").JsonLines).GetProperty("top").EnumerateArray().ToArray();
        string[] labels = top.OrderBy(t => t.GetProperty("index").GetInt32()).Select(t => t.GetProperty("label").GetString()!).ToArray();
        // The head has the folder's three classes, no more.
        Assert.Equal(["circle", "square", "stripe"], labels);
        Assert.Equal(3, ViTCompiler.IO.Weights.Describe(checkpoint).Config.Classes);

        JsonElement evaluated = Assert.Single(Cli.Ok("eval", "--weights", checkpoint, "--data", root, "--json").JsonLines);
        Assert.Equal(36, evaluated.GetProperty("images").GetInt32());
    }

    [Fact]
    public void Training_mistakes_are_reported_without_a_trace()
    {
        using var dir = new TempDirectory();
        CliResult missing = Cli.Run("train", "--data", dir.File("nowhere"));
        Assert.Equal(ExitCodes.FileProblem, missing.ExitCode);
        Assert.Contains("nowhere", missing.Error);

        string data = IdxFolder(dir, train: 20, test: 8);
        CliResult tooBig = Cli.Run("train", "--data", data, "--batch", "64", "--out", dir.File("x.safetensors"));
        Assert.Equal(ExitCodes.Usage, tooBig.ExitCode);
        Assert.Contains("fewer than one batch", tooBig.Error);

        CliResult rgb = Cli.Run("train", "--data", data, "--preset", "vit-ti16", "--batch", "4", "--steps", "1");
        Assert.Equal(ExitCodes.Usage, rgb.ExitCode);
        Assert.Contains("1 × 28 × 28", rgb.Error);
        Assert.DoesNotContain("   at ", rgb.Error);
    }

    [Fact]
    public void A_diverging_run_exits_4_and_a_changed_batch_cannot_resume()
    {
        using var dir = new TempDirectory();
        string data = IdxFolder(dir);
        CliResult diverged = Cli.Run("train", "--data", data, "--steps", "3", "--batch", "16", "--lr", "1e30", "--out", dir.File("d.safetensors"));
        Assert.Equal(ExitCodes.TrainingDiverged, diverged.ExitCode);
        Assert.Contains("diverged", diverged.Error);
        Assert.DoesNotContain("   at ", diverged.Error);

        string checkpoint = dir.File("c.safetensors");
        Cli.Ok("train", "--data", data, "--steps", "1", "--batch", "16", "--out", checkpoint);
        CliResult changed = Cli.Run("train", "--data", data, "--resume", checkpoint, "--batch", "8");
        Assert.Equal(ExitCodes.Usage, changed.ExitCode);
        Assert.Contains("batch size 16 → 8", changed.Error);
    }

    [Fact]
    public void Export_onnx_of_a_preset_and_its_mistakes()
    {
        using var dir = new TempDirectory();
        CliResult result = Cli.Ok("export-onnx", dir.File("fashion.onnx"), "--preset", "fashion-mnist", "--opset", "18");
        Assert.Contains("opset 18", result.Error);
        byte[] head = File.ReadAllBytes(dir.File("fashion.onnx"))[..2];
        Assert.Equal(0x08, head[0]); // protobuf field 1 (ir_version), varint

        Assert.Equal(ExitCodes.Usage, Cli.Run("export-onnx", dir.File("x.onnx"), "--preset", "fashion-mnist", "--opset", "12").ExitCode);
        Assert.Equal(ExitCodes.Usage, Cli.Run("export-onnx", dir.File("x.onnx")).ExitCode);
    }
}
