using System.Diagnostics;
using System.Text;
using ViTCompiler.Data;
using ViTCompiler.IO;
using Xunit;

namespace ViTCompiler.Cli.Tests;

/// <summary>Issue 10 as a user meets it on the command line: the cases reproduced with the commands the issue gives.</summary>
public class ReliabilityTests
{
    private static bool MakeFifo(string path)
    {
        if (!OperatingSystem.IsLinux()) return false;
        using Process mkfifo = Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        return mkfifo.ExitCode == 0;
    }

    [Fact]
    public async Task Info_on_a_fifo_fails_at_once_and_init_leaves_it_a_fifo()
    {
        using var dir = new TempDirectory();
        string fifo = dir.File("f.safetensors");
        if (!MakeFifo(fifo)) return;
        // Before: blocked in open(2) until some process wrote to the FIFO (here: never; WaitAsync throws after 20 s).
        CliResult info = await Task.Run(() => Cli.Run("info", "--weights", fifo)).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(ExitCodes.FileProblem, info.ExitCode);
        Assert.Contains("named pipe (FIFO)", info.Error);

        CliResult init = Cli.Run("init", fifo, "--preset", "fashion-mnist");
        Assert.Equal(ExitCodes.FileProblem, init.ExitCode);
        Assert.Contains("it is a named pipe (FIFO), not a regular file", init.Error);
        Assert.True(new FileInfo(fifo).Length == 0 && Directory.GetFiles(dir.Path).Length == 1, "the FIFO was replaced");
    }

    [Fact]
    public void A_lone_small_t10k_split_holds_out_a_fifth_instead_of_a_raw_exception()
    {
        using var dir = new TempDirectory();
        string data = TrainingTests.IdxFolder(dir, train: 8, test: 64);
        foreach (string train in Directory.GetFiles(data, "train-*")) File.Delete(train);
        CliResult result = Cli.Ok("train", "--data", data, "--steps", "1", "--batch", "8", "--out", dir.File("x.safetensors"));
        Assert.Contains("training on its first 52 images and testing on the last 12", result.Error);
        Assert.DoesNotContain("Parameter", result.Error);
    }

    [Fact]
    public void Training_images_without_labels_are_reported()
    {
        using var dir = new TempDirectory();
        string data = TrainingTests.IdxFolder(dir, train: 16, test: 40);
        File.Delete(Path.Combine(data, FashionMnist.TrainLabelsFile));
        CliResult idx = Cli.Ok("train", "--data", data, "--steps", "1", "--batch", "8", "--out", dir.File("x.safetensors"));
        Assert.Contains($"has {FashionMnist.TrainImagesFile} but no {FashionMnist.TrainLabelsFile}", idx.Error);

        string root = Path.Combine(dir.Path, "shapes");
        foreach (string c in new[] { "a", "b" })
        {
            Directory.CreateDirectory(Path.Combine(root, c));
            for (int i = 0; i < 4; i++) TestImages.Png(Path.Combine(root, c, $"{i}.png"));
        }
        TestImages.Png(Path.Combine(root, "stray.png"));
        CliResult folder = Cli.Ok("train", "--data", root, "--steps", "1", "--batch", "4", "--out", dir.File("y.safetensors"));
        Assert.Contains("1 image directly in", folder.Error);
        Assert.Contains("'stray.png'", folder.Error);
    }

    [Fact]
    public void Echoed_file_text_is_capped()
    {
        using var dir = new TempDirectory();
        string config = dir.File("c.json");
        File.WriteAllText(config, "{\"hidden\": " + new string('9', 5000) + "}");
        CliResult huge = Cli.Run("init", dir.File("x.safetensors"), "--config", config);
        Assert.Equal(ExitCodes.FileProblem, huge.ExitCode);
        Assert.All(huge.Error.Split('\n'), line => Assert.True(line.Length <= CliContext.MaxLineChars + 64, $"a {line.Length}-character line"));

        // Every tensor of the model as I32: each one is "unreadable", and the message had a line for each (82).
        string ints = dir.File("ints.safetensors");
        var entries = new List<(string Name, long[] Shape)>();
        foreach (ParameterTensor t in Cli.FashionConfig.Layout) entries.Add((t.Name, t.Shape.Select(d => (long)d).ToArray()));
        WriteInt32SafeTensors(ints, entries);
        CliResult unreadable = Cli.Run("eval", "--weights", ints, "--heads", "4", "--data", TrainingTests.IdxFolder(dir, 8, 8));
        Assert.Equal(ExitCodes.FileProblem, unreadable.ExitCode);
        Assert.Contains("unreadable element type", unreadable.Error);
        Assert.Contains("more", unreadable.Error);
        int lines = unreadable.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        Assert.True(lines <= 20, $"{lines} lines:\n{unreadable.Error}");
    }

    private static void WriteInt32SafeTensors(string path, IReadOnlyList<(string Name, long[] Shape)> tensors)
    {
        var header = new StringBuilder("{");
        long offset = 0;
        foreach ((string name, long[] shape) in tensors)
        {
            long bytes = 4 * shape.Aggregate(1L, (a, b) => a * b);
            header.Append($"\"{name}\":{{\"dtype\":\"I32\",\"shape\":[{string.Join(',', shape)}],\"data_offsets\":[{offset},{offset + bytes}]}},");
            offset += bytes;
        }
        header[^1] = '}';
        byte[] json = Encoding.UTF8.GetBytes(header.ToString());
        using var file = File.Create(path);
        file.Write(BitConverter.GetBytes((ulong)json.Length));
        file.Write(json);
        file.Write(new byte[offset]);
    }

    [Fact]
    public async Task A_second_trainer_on_the_same_checkpoint_is_refused_and_sigterm_saves_like_ctrl_c()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDirectory();
        string data = TrainingTests.IdxFolder(dir, train: 64, test: 16);
        string checkpoint = dir.File("same.safetensors");
        string vit = Path.Combine(AppContext.BaseDirectory, "vit.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { vit, "train", "--data", data, "--steps", "1000000", "--batch", "16", "--threads", "1", "--out", checkpoint }) start.ArgumentList.Add(a);
        using Process first = Process.Start(start)!;
        var error = new StringBuilder();
        var training = new TaskCompletionSource();
        first.ErrorDataReceived += (_, e) =>
        {
            lock (error) error.AppendLine(e.Data);
            if (e.Data?.Contains("epoch 1/") == true) training.TrySetResult(); // past its first checkpoint
        };
        first.BeginErrorReadLine();
        Task<string> output = first.StandardOutput.ReadToEndAsync();
        try
        {
            await training.Task.WaitAsync(TimeSpan.FromSeconds(120)); // the first run is training

            // Case 6: the second run is refused at its start, naming the first one's process.
            CliResult second = Cli.Run("train", "--data", data, "--steps", "2", "--batch", "16", "--out", checkpoint);
            Assert.Equal(ExitCodes.FileProblem, second.ExitCode);
            Assert.Contains($"is being written by process {first.Id}", second.Error);

            // Case 7: SIGTERM (what kill, timeout and batch schedulers send) saves and exits as Ctrl-C does.
            using (Process kill = Process.Start("kill", ["-TERM", first.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
            await first.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120)); // it stops after SIGTERM
        }
        finally
        {
            if (!first.HasExited) first.Kill();
        }
        first.WaitForExit();
        Assert.Equal(ExitCodes.Terminated, first.ExitCode);
        string report = await output;
        Assert.Contains("SIGTERM: stopping after the current step", error.ToString());
        Assert.Contains("stopped after", report);
        using SafeTensorsFile saved = SafeTensorsFile.Open(checkpoint);
        long step = long.Parse(saved.Metadata["trainer.step"], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"stopped after {step:N0} of", report);
        Assert.Equal(["same.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName)); // no .lock, no .tmp
    }
}
