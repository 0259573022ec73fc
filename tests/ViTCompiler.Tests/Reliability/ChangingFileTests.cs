using ViTCompiler.IO;
using ViTCompiler.Tests.IO;
using Xunit;

namespace ViTCompiler.Tests.Reliability;

/// <summary>
/// Issue 10, case 4: the weights were memory-mapped, so another program truncating the file while a model loaded
/// killed the process with SIGBUS (no message, nothing to catch). Reads now go through the open file and notice.
/// </summary>
public class ChangingFileTests
{
    private static string Saved(TempDirectory dir, out OddWidth model)
    {
        model = new OddWidth();
        TestData.Randomize(model, 7);
        string path = dir.File("w.safetensors");
        TimmWeights.Save(path, model);
        return path;
    }

    [Fact]
    public void A_file_truncated_after_opening_gives_an_error_not_a_crash()
    {
        using var dir = new TempDirectory();
        string path = Saved(dir, out _);
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        string last = file.Tensors.MaxBy(t => t.End)!.Name;
        // As `truncate -s 1000 w.st` does (and `cp smaller.st w.st`, which truncates first).
        using (var other = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) other.SetLength(1000);

        var e = Assert.Throws<WeightsFileException>(() => file.ReadFloats(last));
        Assert.Contains(path, e.Message);
        Assert.Contains("changed while it was being read", e.Message);
        Assert.Contains("another program", e.Message);
    }

    [Fact]
    public void A_file_rewritten_in_place_with_the_same_length_is_noticed_by_its_modification_time()
    {
        using var dir = new TempDirectory();
        string path = Saved(dir, out _);
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        byte[] bytes = File.ReadAllBytes(path);
        Array.Reverse(bytes, bytes.Length - 4000, 4000);
        using (var other = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) other.Write(bytes);
        // Set the time explicitly: the kernel's clock for file times can be coarser than this test is quick.
        File.SetLastWriteTimeUtc(path, File.GetLastWriteTimeUtc(path).AddSeconds(1));

        var e = Assert.Throws<WeightsFileException>(() => file.ReadFloats(file.Tensors[0].Name));
        Assert.Contains("changed while it was being read", e.Message);
    }

    [Fact]
    public void A_file_replaced_by_rename_keeps_reading_the_opened_one()
    {
        // Atomic writers (ours included) rename a new file over the old: the open file is still the old one, whole.
        using var dir = new TempDirectory();
        string path = Saved(dir, out OddWidth model);
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        var other = new OddWidth();
        TestData.Randomize(other, 8);
        TimmWeights.Save(path, other);

        var loaded = new OddWidth();
        TimmWeights.Load(file, loaded, LoadOptions.Default);
        Assert.True(model.Parameters.SequenceEqual(loaded.Parameters));
    }
}
