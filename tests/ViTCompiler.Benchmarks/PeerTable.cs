using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ViTCompiler.Cli;
using ViTCompiler.Reference;

namespace ViTCompiler.Benchmarks;

/// <summary>
/// The side-by-side table of the performance issue: for each model and batch, the generated code (JIT, and the
/// NativeAOT `vit` binary when published), ONNX Runtime on the same weights, PyTorch (Debian's, same architecture) and
/// the reference engine, all in one run, with an FMA peak probe so the table also says how much of the machine each
/// reaches. Medians of repeated runs after warm-up; ratios are to ONNX Runtime.
/// Run: dotnet run -c Release --project tests/ViTCompiler.Benchmarks -- table [--runs N] [--threads T] [--out FILE]
/// </summary>
public static class PeerTable
{
    /// <param name="Isa">The instruction set the row ran with: the generated kernels' path and tiles (and the published
    /// vit's variant), or how a peer chooses its own.</param>
    private sealed record Row(string Model, int Batch, string Engine, double MedianMs, double MinMs, string Isa = "—")
    {
        public double PerImageMs => MedianMs / Batch;
    }

    public static int Run(string[] args)
    {
        int runs = Option(args, "--runs", 10), threads = Option(args, "--threads", 2);
        string models = OptionText(args, "--models", "ti16,s16,b16");
        string batches = OptionText(args, "--batches", "1,8");
        string? output = OptionTextOrNull(args, "--out");
        string aot = OptionText(args, "--aot", "artifacts/vit/vit");

        double peak = PeakProbe.Measure(threads);
        var rows = new List<Row>();
        foreach (string name in models.Split(','))
            foreach (int batch in batches.Split(',').Select(int.Parse))
            {
                CompiledVit model = BenchmarkModels.Create(name);
                model.Threads = threads;
                float[] pixels = BenchmarkModels.Pixels(model.Config, batch);
                float[] logits = new float[batch * model.Config.Classes], ortLogits = new float[logits.Length];
                using (var ort = new OrtPeer(model, threads))
                {
                    // The two in-process engines take turns run by run, so both see the same machine.
                    string kernels = model.Engine.Replace("generated, ", "", StringComparison.Ordinal);
                    rows.AddRange(Interleaved(name, batch, runs,
                        ("generated (JIT)", () => model.Forward(pixels, batch, logits)),
                        ("ONNX Runtime 1.31.1", () => ort.Run(pixels, batch, ortLogits)))
                        .Select(r => r with { Isa = r.Engine.StartsWith("ONNX", StringComparison.Ordinal) ? "MLAS, chosen by CPUID" : kernels }));
                }
                if (File.Exists(aot)) rows.Add(AotBench(aot, name, batch, runs, threads));
                Row? torch = PyTorch(name, batch, runs, threads);
                if (torch is not null) rows.Add(torch);
                if (name == "ti16" && batch == 1)
                {
                    var reference = new ReferenceVitModel(model.Config, seed: 1);
                    rows.Add(Time(name, batch, "reference engine (double)", 3, () => reference.Forward(pixels, batch, logits), maxWarmupSeconds: 5) with { Isa = "scalar, double" });
                }
                Console.Error.WriteLine($"  measured {name} batch {batch}");
            }

        string table = Format(rows, peak, threads, runs);
        Console.WriteLine(table);
        if (output is not null) File.WriteAllText(output, table);
        return 0;
    }

    /// <summary>
    /// Training throughput of the Fashion-MNIST model (forward + backward + clipping + AdamW at batch 128) against
    /// PyTorch doing the same (forward, backward, AdamW), side by side, with the ratio.
    /// Run: dotnet run -c Release --project tests/ViTCompiler.Benchmarks -- train-table [--runs N] [--threads T] [--batch B]
    /// </summary>
    public static int RunTraining(string[] args)
    {
        int runs = Option(args, "--runs", 10), threads = Option(args, "--threads", 2), batch = Option(args, "--batch", 128);
        CompiledVit model = BenchmarkModels.Create("fashion");
        model.Threads = threads;
        var optimizer = new ViTCompiler.Training.AdamW(model.Config.Layout);
        float[] pixels = BenchmarkModels.Pixels(model.Config, batch);
        int[] labels = Enumerable.Range(0, batch).Select(i => i % 10).ToArray();
        Row ours = Time("fashion", batch, "generated (JIT): TrainStep + clip + AdamW", runs, () =>
        {
            model.Gradients.Clear();
            model.TrainStep(pixels, labels, batch, default, default);
            ViTCompiler.Training.GradientClipping.ClipByGlobalNorm(model.Gradients, 1f);
            optimizer.Step(model, 1e-3f);
        });
        string script = Path.Combine(RepoRoot(), "tests", "peers", "pytorch_vit.py");
        string json = Capture("/usr/bin/python3", $"{script} train --model fashion --batch {batch} --runs {runs} --threads {threads}");
        using JsonDocument doc = JsonDocument.Parse(json);
        double torchMs = doc.RootElement.GetProperty("median_ms").GetDouble();
        Console.WriteLine($"Fashion-MNIST ViT (6 × 64, patch 4), batch {batch}, {threads} threads, medians of {runs} steps:");
        Console.WriteLine($"  {ours.Engine}: {ours.MedianMs:F1} ms/step = {batch * 1000 / ours.MedianMs:F0} images/s");
        Console.WriteLine($"  {doc.RootElement.GetProperty("peer").GetString()} (Debian): {torchMs:F1} ms/step = {batch * 1000 / torchMs:F0} images/s");
        Console.WriteLine($"  ratio: {torchMs / ours.MedianMs:F1}× PyTorch's throughput");
        return 0;
    }

    private static IEnumerable<Row> Interleaved(string model, int batch, int runs, params (string Engine, Action Run)[] engines)
    {
        // Warm-up per engine: until the JIT has tiered up what the run calls (TieredWarmup: Tier-1 needs 30 calls of a
        // method, and the forward pass is called once per run), and at least two seconds for weight packing and ORT's
        // first-run allocations.
        foreach (var e in engines)
        {
            var clock = Stopwatch.StartNew();
            TieredWarmup.Run(e.Run, minRuns: 3);
            while (clock.ElapsedMilliseconds < 2000) e.Run();
        }
        var times = engines.Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < runs; r++)
            for (int i = 0; i < engines.Length; i++)
            {
                // Both engines keep their worker threads spinning for a few milliseconds after a run; on two cores
                // those spinners would steal the other engine's next run. A pause lets them go to sleep first.
                Thread.Sleep(50);
                long start = Stopwatch.GetTimestamp();
                engines[i].Run();
                times[i].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        for (int i = 0; i < engines.Length; i++)
        {
            times[i].Sort();
            yield return new Row(model, batch, engines[i].Engine, times[i][times[i].Count / 2], times[i][0]);
        }
    }

    private static Row Time(string model, int batch, string engine, int runs, Action run, double maxWarmupSeconds = 20)
    {
        // Warm-up until tiered (TieredWarmup): with two warm-up steps, as this had, the training step was timed in
        // Tier-0 code and read 924 images/s where the trainer, thousands of steps in, ran 1,450-1,900.
        TieredWarmup.Run(run, minRuns: 2, maxWarmupSeconds);
        var times = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            long start = Stopwatch.GetTimestamp();
            run();
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        times.Sort();
        return new Row(model, batch, engine, times[times.Count / 2], times[0]);
    }

    private static readonly Dictionary<string, string> s_presets = new() { ["ti16"] = "vit-ti16", ["s16"] = "vit-s16", ["b16"] = "vit-b16" };

    private static Row AotBench(string vit, string model, int batch, int runs, int threads)
    {
        string json = Capture(vit, $"bench --preset {s_presets[model]} --batch {batch} --runs {runs} --threads {threads} --json");
        using JsonDocument doc = JsonDocument.Parse(json);
        // The published vit runs the variant its CPU calls for (vit-x86-64-v4 on AVX-512): vit info names it.
        using JsonDocument info = JsonDocument.Parse(Capture(vit, $"info --preset {s_presets[model]} --json"));
        string isa = doc.RootElement.GetProperty("engine").GetString()!.Replace("generated, ", "", StringComparison.Ordinal)
            + (info.RootElement.TryGetProperty("variant", out JsonElement variant) ? $", vit {variant.GetString()}" : "");
        return new Row(model, batch, "generated (NativeAOT)", doc.RootElement.GetProperty("median_ms").GetDouble(), doc.RootElement.GetProperty("min_ms").GetDouble(), isa);
    }

    private static Row? PyTorch(string model, int batch, int runs, int threads)
    {
        string script = Path.Combine(RepoRoot(), "tests", "peers", "pytorch_vit.py");
        try
        {
            string json = Capture("/usr/bin/python3", $"{script} forward --model {model} --batch {batch} --runs {runs} --threads {threads}");
            using JsonDocument doc = JsonDocument.Parse(json);
            return new Row(model, batch, doc.RootElement.GetProperty("peer").GetString() + " (Debian)",
                doc.RootElement.GetProperty("median_ms").GetDouble(), doc.RootElement.GetProperty("min_ms").GetDouble(), "OpenBLAS, chosen by CPUID");
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"  PyTorch skipped ({e.Message.Split('\n')[0]}); apt-get install -y python3-torch libopenblas0-pthread");
            return null;
        }
    }

    private static string Capture(string program, string arguments)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {arguments} exited {process.ExitCode}: {error.Result}");
        return text.Trim().Split('\n').Last();
    }

    private static string RepoRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
            if (File.Exists(Path.Combine(dir, "ViTCompiler.sln"))) return dir;
        return Directory.GetCurrentDirectory();
    }

    private static string Format(List<Row> rows, double peak, int threads, int runs)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"fp32 FMA peak measured in this run ({PeakProbe.Isa}, {threads} threads): {peak:F0} GFLOP/s. Medians of {runs} runs.");
        text.AppendLine();
        text.AppendLine("| model | batch | engine | instruction set | median ms / batch | ms / image | min ms | GFLOP/s | % of peak | × ONNX Runtime |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var group in rows.GroupBy(r => (r.Model, r.Batch)))
        {
            Row? ort = group.FirstOrDefault(r => r.Engine.StartsWith("ONNX", StringComparison.Ordinal));
            double flops = 2.0 * BenchmarkModels.Create(group.Key.Model).Config.MacsPerImage * group.Key.Batch;
            foreach (Row r in group)
            {
                double gflops = flops / (r.MedianMs / 1000) / 1e9;
                string ratio = ort is null ? "—" : (r.MedianMs / ort.MedianMs).ToString("F2", CultureInfo.InvariantCulture);
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"| {r.Model} | {r.Batch} | {r.Engine} | {r.Isa} | {r.MedianMs:F1} | {r.PerImageMs:F1} | {r.MinMs:F1} | {gflops:F0} | {100 * gflops / peak:F0} % | {ratio} |");
            }
        }
        return text.ToString();
    }

    private static int Option(string[] args, string name, int fallback) =>
        int.TryParse(OptionTextOrNull(args, name), out int value) ? value : fallback;

    private static string OptionText(string[] args, string name, string fallback) => OptionTextOrNull(args, name) ?? fallback;

    private static string? OptionTextOrNull(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
