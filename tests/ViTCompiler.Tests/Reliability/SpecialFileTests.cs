using ViTCompiler.Data;
using ViTCompiler.Imaging;
using ViTCompiler.IO;
using ViTCompiler.Tests.IO;
using Xunit;

namespace ViTCompiler.Tests.Reliability;

/// <summary>
/// Issue 10, case 3: a FIFO (or a device, or a folder) where a file is expected made every loader block forever in
/// open(2). Each must now refuse it at once with a message naming the path and what it is.
/// </summary>
public class SpecialFileTests
{
    private static void RefusedAtOnce(string path, Action load)
    {
        Exception? e = SpecialFiles.Within(10, load);
        Assert.NotNull(e);
        Assert.True(e is IOException or InvalidDataException, $"{e.GetType().Name}: {e.Message}"); // each loader's own kind of error
        Assert.Contains(path, e.Message);
        Assert.Contains("named pipe (FIFO)", e.Message);
    }

    [Fact]
    public void Every_loader_refuses_a_fifo_instead_of_waiting_for_a_writer()
    {
        using var dir = new TempDirectory();
        string fifo = dir.File("pipe");
        if (!SpecialFiles.TryMakeFifo(fifo)) return;

        RefusedAtOnce(fifo, () => SafeTensorsFile.Open(fifo));
        RefusedAtOnce(fifo, () => Weights.Detect(fifo));
        RefusedAtOnce(fifo, () => NpzFile.Open(fifo));
        RefusedAtOnce(fifo, () => Idx.ReadImages(fifo));
        RefusedAtOnce(fifo, () => new ImageLoader(new ViTCompiler.Imaging.ImagePreprocessing { Size = 8 }).Load(fifo, new float[3 * 64]));
        RefusedAtOnce(fifo, () => FileGuard.ReadAllBytes(fifo, 100, problem => new IOException($"'{fifo}' {problem}")));
    }

    [Fact]
    public void A_huggingface_folder_whose_config_or_weights_is_a_fifo_is_refused()
    {
        using var dir = new TempDirectory();
        var model = new OddWidth();
        HuggingFaceWeights.Save(dir.Path, model);
        string config = dir.File(HuggingFaceWeights.ConfigFileName);
        File.Delete(config);
        if (!SpecialFiles.TryMakeFifo(config)) return;
        RefusedAtOnce(config, () => HuggingFaceWeights.ReadConfig(dir.Path));
        RefusedAtOnce(config, () => HuggingFaceWeights.Load(dir.Path, new OddWidth()));

        File.Delete(config);
        HuggingFaceWeights.Save(dir.Path, model);
        string weights = dir.File(HuggingFaceWeights.WeightsFileName);
        File.Delete(weights);
        SpecialFiles.TryMakeFifo(weights);
        RefusedAtOnce(weights, () => Weights.Load(dir.Path, new OddWidth()));
    }

    [Fact]
    public void Devices_and_folders_are_named_for_what_they_are()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.Contains("character device", FileGuard.Problem("/dev/null"));
        Assert.Contains("folder", FileGuard.Problem(Path.GetTempPath()));
        Assert.Null(FileGuard.Problem(typeof(SpecialFileTests).Assembly.Location));
        Assert.Null(FileGuard.Problem("/no/such/file")); // left to the open, which says "does not exist" as before
        var e = Assert.Throws<WeightsFileException>(() => SafeTensorsFile.Open("/dev/zero"));
        Assert.Contains("'/dev/zero': is a character device, not a regular file", e.Message);
    }
}
