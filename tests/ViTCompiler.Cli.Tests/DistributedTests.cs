using System.Diagnostics;
using System.Text.Json;
using ViTCompiler.IO;
using ViTCompiler.Training;
using Xunit;
using Xunit.Abstractions;

namespace ViTCompiler.Cli.Tests;

/// <summary>A test that needs Open MPI's <c>mpirun</c>; skipped, saying so, where it is not installed.</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute()
    {
        if (Mpi.Launcher is null) Skip = "mpirun is not on PATH: install Open MPI (apt-get install openmpi-bin libopenmpi-dev) to run the MPI tests.";
    }
}

/// <summary>Starts <c>vit</c> (this build's vit.dll, under the JIT) as ranks of <c>mpirun</c>, on loopback only.</summary>
public static class Mpi
{
    public static string? Launcher { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(folder => Path.Combine(folder, "mpirun")).FirstOrDefault(File.Exists);

    private static string Vit => Path.Combine(AppContext.BaseDirectory, "vit.dll");

    /// <summary>
    /// mpirun's arguments for one or more rank groups (Open MPI's "A : B" form), each group's vit arguments given whole.
    /// CI runs as root, so --allow-run-as-root; --oversubscribe lets 2 ranks share fewer cores; TCP only on loopback.
    /// </summary>
    public static ProcessStartInfo StartInfo(params (int Ranks, string[] Args)[] groups)
    {
        var info = new ProcessStartInfo(Launcher!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in (string[])["--allow-run-as-root", "--oversubscribe", "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo"])
            info.ArgumentList.Add(a);
        for (int g = 0; g < groups.Length; g++)
        {
            if (g > 0) info.ArgumentList.Add(":");
            info.ArgumentList.Add("-np");
            info.ArgumentList.Add(groups[g].Ranks.ToString(System.Globalization.CultureInfo.InvariantCulture));
            info.ArgumentList.Add("dotnet");
            info.ArgumentList.Add(Vit);
            foreach (string a in groups[g].Args) info.ArgumentList.Add(a);
        }
        return info;
    }

    /// <summary>Runs to the end (at most <paramref name="timeout"/>) and returns exit code and both streams.</summary>
    public static CliResult Run(TimeSpan timeout, params (int Ranks, string[] Args)[] groups)
    {
        using Process process = Process.Start(StartInfo(groups))!;
        Task<string> output = process.StandardOutput.ReadToEndAsync(), error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"mpirun did not finish within {timeout.TotalSeconds:N0} s");
        }
        return new CliResult(process.ExitCode, output.Result, error.Result);
    }
}

/// <summary>
/// <c>vit train</c> under <c>mpirun</c> (docs/DISTRIBUTED.md): the same global batch trains the same model on 2 ranks as
/// on one process, a killed rank ends the run with a non-zero exit and an intact checkpoint, and ranks started with
/// different settings stop at once naming the difference. The models are the fashion-mnist preset on the shipped split.
/// </summary>
public class DistributedTests(ITestOutputHelper output)
{
    private static readonly string s_data = FashionData();

    private static string FashionData() => ViTCompiler.Data.FashionMnist.FindShippedTestSplit()
        ?? throw new InvalidOperationException("data/fashion-mnist was not found above the test folder.");

    /// <summary>Relative difference allowed in a step's loss between 1 and 2 ranks (docs/DISTRIBUTED.md, "Tolerance").</summary>
    private const double LossTolerance = 1e-4;

    /// <summary>Absolute difference allowed in a parameter after 20 steps: a tenth of one AdamW step at the peak rate 3e-3.</summary>
    private const double ParameterTolerance = 3e-4;

    private static string[] Train(string folder, string name, params string[] more) =>
        ["train", "--data", s_data, "--batch", "128", "--threads", "1", "--log-every", "1", "--out", Path.Combine(folder, name + ".safetensors"),
         "--metrics", Path.Combine(folder, name + ".jsonl"), "--json", .. more];

    private static (double Loss, double GradNorm)[] Steps(string metrics) => File.ReadAllLines(metrics)
        .Select(line => JsonDocument.Parse(line).RootElement)
        .Where(r => r.GetProperty("kind").GetString() == "step")
        .Select(r => (r.GetProperty("loss").GetDouble(), r.GetProperty("grad_norm").GetDouble())).ToArray();

    private static float[] Parameters(string checkpoint) => VitCheckpoint.Load(checkpoint).Parameters;

    [MpiFact]
    public void Two_ranks_of_64_train_like_one_process_with_batches_of_128()
    {
        using var folder = new TempDirectory();
        CliResult two = Mpi.Run(TimeSpan.FromMinutes(4), (2, Train(folder.Path, "two", "--steps", "20")));
        Assert.True(two.ExitCode == 0, two.ToString());
        JsonElement summary = Assert.Single(two.JsonLines); // rank 0 alone prints
        Assert.Equal(2, summary.GetProperty("ranks").GetInt32());
        // The one-process run: in this test process, which no launcher started, so without MPI.
        JsonElement one = Assert.Single(Cli.Ok(Train(folder.Path, "one", "--steps", "20")).JsonLines);
        Assert.Equal(1, one.GetProperty("ranks").GetInt32());

        (double Loss, double GradNorm)[] expected = Steps(folder.File("one.jsonl")), actual = Steps(folder.File("two.jsonl"));
        Assert.Equal(20, expected.Length);
        Assert.Equal(20, actual.Length);
        double lossDiff = expected.Zip(actual).Max(p => Math.Abs(p.First.Loss - p.Second.Loss) / p.First.Loss);
        float[] a = Parameters(folder.File("one.safetensors")), b = Parameters(folder.File("two.safetensors"));
        double paramDiff = a.Zip(b).Max(p => Math.Abs(p.First - p.Second));
        output.WriteLine($"2 ranks × 64 vs 1 × 128, 20 steps: largest relative loss difference {lossDiff:E2}, largest parameter difference {paramDiff:E2}");
        Assert.True(lossDiff <= LossTolerance, $"a step's loss differs by {lossDiff:E2} (relative)");
        Assert.True(paramDiff <= ParameterTolerance, $"a parameter differs by {paramDiff:E2}");
        Assert.Equal(one.GetProperty("test_accuracy").GetDouble(), summary.GetProperty("test_accuracy").GetDouble(), 3);
    }

    [MpiFact]
    public void A_killed_rank_ends_the_run_within_a_minute_and_the_checkpoint_survives()
    {
        using var folder = new TempDirectory();
        string checkpoint = folder.File("run.safetensors");
        CliResult first = Mpi.Run(TimeSpan.FromMinutes(2), (2, ["train", "--data", s_data, "--steps", "2", "--batch", "32", "--threads", "1", "--out", checkpoint]));
        Assert.True(first.ExitCode == 0, first.ToString());

        // Resume for many steps, and kill rank 1 once steps are being taken.
        using Process mpirun = Process.Start(Mpi.StartInfo((2, ["train", "--data", s_data, "--resume", checkpoint, "--steps", "2000", "--threads", "1", "--log-every", "1"])))!;
        Task<string> stdout = mpirun.StandardOutput.ReadToEndAsync();
        var errorLines = new List<string>();
        var stepping = new TaskCompletionSource();
        mpirun.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (errorLines) errorLines.Add(e.Data);
            if (e.Data.Contains("step 5/", StringComparison.Ordinal)) stepping.TrySetResult();
        };
        mpirun.BeginErrorReadLine();
        Assert.True(stepping.Task.Wait(TimeSpan.FromMinutes(2)), "the resumed run took no steps: " + string.Join('\n', errorLines));
        int rank1 = RankProcess(mpirun.Id, 1);
        Process.GetProcessById(rank1).Kill();
        var clock = Stopwatch.StartNew();
        bool ended = mpirun.WaitForExit(TimeSpan.FromSeconds(60));
        if (!ended) mpirun.Kill(entireProcessTree: true);
        output.WriteLine($"killed rank 1 (pid {rank1}); mpirun ended after {clock.Elapsed.TotalSeconds:F1} s with exit code {(ended ? mpirun.ExitCode : -1)}");
        Assert.True(ended, "mpirun still ran 60 s after a rank was killed");
        Assert.NotEqual(0, mpirun.ExitCode);

        // The checkpoint on disk is the complete one of the first run: it loads, and resumes at its step.
        VitCheckpoint saved = VitCheckpoint.Load(checkpoint);
        Assert.Equal("2", saved.Metadata["trainer.step"]);
        Assert.Equal("2", saved.Metadata["trainer.ranks"]);
        Assert.Equal(32, Trainer.ReadSettings(checkpoint).BatchSize);
    }

    /// <summary>The process mpirun started as <paramref name="rank"/> (its child whose environment names that rank).</summary>
    private static int RankProcess(int mpirun, int rank)
    {
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                int parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
                if (parent == mpirun && File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').Contains($"OMPI_COMM_WORLD_RANK={rank}")) return pid;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        throw new InvalidOperationException($"No process of rank {rank} under mpirun {mpirun}.");
    }

    [MpiFact]
    public void Ranks_with_different_settings_stop_at_once_naming_the_difference()
    {
        using var folder = new TempDirectory();
        string[] Args(string batch) => ["train", "--data", s_data, "--steps", "2", "--batch", batch, "--threads", "1", "--out", folder.File("run.safetensors")];
        CliResult result = Mpi.Run(TimeSpan.FromMinutes(2), (1, Args("64")), (1, Args("32")));
        Assert.True(result.ExitCode == ExitCodes.Distributed, result.ToString());
        Assert.Contains("Rank 1 of 2 started differently from rank 0: setting batch_size: rank 0 has 64, this rank 32", result.Error);
        Assert.False(File.Exists(folder.File("run.safetensors")));
    }

    [Fact]
    public void Asked_for_MPI_without_its_library_says_so_in_one_line()
    {
        // A child process, so the environment variables reach only it.
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])[Path.Combine(AppContext.BaseDirectory, "vit.dll"), "train", "--data", s_data, "--steps", "1", "--out", Path.Combine(Path.GetTempPath(), "never.safetensors")])
            info.ArgumentList.Add(a);
        info.Environment["VIT_MPI"] = "1";
        info.Environment["VIT_MPI_LIBRARY"] = "/nonexistent/libmpi.so.40";
        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(1)));
        Assert.Equal(ExitCodes.Distributed, process.ExitCode);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("cannot be loaded", error);
        Assert.Contains("VIT_MPI_LIBRARY", error);
        Assert.DoesNotContain("DllNotFoundException", error);
    }
}
