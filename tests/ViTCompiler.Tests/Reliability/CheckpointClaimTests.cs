using ViTCompiler.Data;
using ViTCompiler.IO;
using ViTCompiler.Tests.Data;
using ViTCompiler.Training;
using Xunit;

namespace ViTCompiler.Tests.Reliability;

/// <summary>
/// Issue 10, cases 6 and 7: two runs writing one checkpoint both "succeeded" while the file alternated between them;
/// an unwritable checkpoint path was found only at the first save, after an epoch; leftover temporary files stayed.
/// </summary>
public class CheckpointClaimTests
{
    private static readonly Lazy<LabeledImages> s_t10k = new(() => FashionMnist.LoadTest(FashionMnist.FindShippedTestSplit()!));

    private static Trainer NewTrainer(string checkpoint, long steps = 2) => new(new FashionSmall(seed: 1), s_t10k.Value.Slice(0, 32), null, new TrainerOptions
    {
        MaxSteps = steps, BatchSize = 16, Seed = 3, CheckpointPath = checkpoint, Threads = 1,
    });

    [Fact]
    public void A_second_run_on_the_same_checkpoint_is_refused_naming_the_holder()
    {
        using var folder = new TempFolder();
        string checkpoint = folder.File("run.safetensors");
        using var first = NewTrainer(checkpoint, steps: 4);
        using var second = NewTrainer(checkpoint);
        IOException? refused = null;
        // While the first run is in its second step, the second tries to start.
        first.StepCompleted += info =>
        {
            if (info.Step == 2) refused = Assert.Throws<IOException>(() => second.Run());
        };
        Assert.True(first.Run().Completed);
        Assert.NotNull(refused);
        Assert.Contains($"'{Path.GetFullPath(checkpoint)}' is being written by this process ({Environment.ProcessId})", refused.Message);
        Assert.Contains(checkpoint + ".lock", refused.Message);
        Assert.Equal(0, second.Step);

        // Released (and removed) when the run ends: the second may go now.
        Assert.False(File.Exists(checkpoint + ".lock"));
        Assert.True(second.Run().Completed);
    }

    [Fact]
    public void The_lock_file_names_the_process_and_a_lock_left_by_a_killed_process_is_taken_over()
    {
        using var folder = new TempFolder();
        string checkpoint = folder.File("run.safetensors");
        // What `kill -9` leaves: the file, but no lock on it (the system drops the lock with the process).
        File.WriteAllText(checkpoint + ".lock", "999999\nhost elsewhere\n");
        using var trainer = NewTrainer(checkpoint);
        string? note = null;
        trainer.StepCompleted += _ => note ??= ReadPastLock(checkpoint + ".lock");
        Assert.True(trainer.Run().Completed);
        Assert.StartsWith($"{Environment.ProcessId}\n", note);
    }

    private static string ReadPastLock(string path)
    {
        Span<byte> buffer = stackalloc byte[512];
        int read = UnixFile.ReadUnlocked(path, buffer);
        return read < 0 ? $"{Environment.ProcessId}\n(not readable here)" : System.Text.Encoding.UTF8.GetString(buffer[..read]);
    }

    [Fact]
    public void An_unwritable_checkpoint_path_fails_before_the_first_step()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.File("file"), "not a folder");
        string checkpoint = Path.Combine(folder.Path, "file", "run.safetensors"); // its "folder" is a file: unwritable, even for root
        using var trainer = NewTrainer(checkpoint);
        int steps = 0;
        trainer.StepCompleted += _ => steps++;
        var e = Assert.Throws<IOException>(() => trainer.Run());
        Assert.Contains($"Cannot write checkpoints to '{checkpoint}': '{folder.File("file")}' is a file, not a folder", e.Message);
        Assert.Equal(0, steps);

        // The trainer is not spoiled by it: pointed elsewhere it would run; here, the same one runs once the path works.
        File.Delete(folder.File("file"));
        Assert.True(trainer.Run().Completed);
    }

    [Fact]
    public void Temporary_files_of_an_interrupted_save_are_removed_when_a_run_starts()
    {
        using var folder = new TempFolder();
        string checkpoint = folder.File("run.safetensors");
        string leftover = folder.File(".run.safetensors.k3j5h2g1.abc.tmp");
        File.WriteAllText(leftover, "half a checkpoint");
        using var trainer = NewTrainer(checkpoint);
        trainer.Run();
        Assert.False(File.Exists(leftover));
        Assert.Equal(["run.safetensors"], Directory.GetFiles(folder.Path).Select(Path.GetFileName));
    }
}
