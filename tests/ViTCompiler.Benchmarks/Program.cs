using System.Diagnostics;
using BenchmarkDotNet.Running;
using ViTCompiler;
using ViTCompiler.Benchmarks;
using ViTCompiler.Cli;

// `dotnet run -c Release --project tests/ViTCompiler.Benchmarks -- quick [model] [batch]` prints medians without
// BenchmarkDotNet (seconds instead of minutes); anything else goes to BenchmarkDotNet's switcher.
// `serve-load [--vit PATH] [--models ...] [--clients 1,8,32,128] [--requests N] [--seconds S]`: load on `vit serve` (docs/SERVE.md).
if (args.Length > 0 && args[0] == "serve-load") return ServeLoad.Run(args[1..]);
if (args.Length > 0 && args[0] == "primitives") return PrimitivesBenchmarks.Run(args[1..]);
if (args.Length > 0 && args[0] == "table") return PeerTable.Run(args);
if (args.Length > 0 && args[0] == "train-table") return PeerTable.RunTraining(args);
if (args.Length > 0 && args[0] == "gemm") return GemmEfficiency.Run(args);
if (args.Length > 0 && args[0] == "recipe") return RecipeRuns.Run(args);
if (args.Length > 0 && args[0] == "time-to-accuracy") return TimeToAccuracy.Run(args);
if (args.Length > 0 && args[0] == "reference")
{
    // `reference MODEL [runs]`: the double-precision reference engine's forward time at batch 1.
    var reference = new ViTCompiler.Reference.ReferenceVitModel(BenchmarkModels.Create(args.Length > 1 ? args[1] : "ti16").Config, seed: 1);
    float[] image = BenchmarkModels.Pixels(reference.Config, 1);
    float[] scores = new float[reference.Config.Classes];
    var runs = new List<double>();
    for (int i = 0; i < (args.Length > 2 ? int.Parse(args[2]) : 3); i++)
    {
        long start = Stopwatch.GetTimestamp();
        reference.Forward(image, 1, scores);
        runs.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }
    runs.Sort();
    Console.WriteLine($"reference {args[1]} batch 1: median {runs[runs.Count / 2]:F0} ms, min {runs[0]:F0} ms over {runs.Count} runs [{reference.Engine}]");
    return 0;
}
if (args.Length > 0 && args[0] == "peak")
{
    foreach (int threads in new[] { 1, Environment.ProcessorCount })
        Console.WriteLine($"fp32 FMA peak, {PeakProbe.Isa}, {threads} thread(s): {PeakProbe.Measure(threads):F0} GFLOP/s");
    return 0;
}
if (args.Length > 0 && args[0] == "quick")
{
    string name = args.Length > 1 ? args[1] : "ti16";
    int batch = args.Length > 2 ? int.Parse(args[2]) : 1;
    bool train = args.Length > 3 && args[3] == "train";
    CompiledVit model = BenchmarkModels.Create(name);
    float[] pixels = BenchmarkModels.Pixels(model.Config, batch);
    float[] logits = new float[batch * model.Config.Classes];
    int[] labels = Enumerable.Range(0, batch).Select(i => i % model.Config.Classes).ToArray();
    var times = new List<double>();
    int iterations = int.TryParse(Environment.GetEnvironmentVariable("VIT_QUICK_RUNS"), out int q) ? q : 10;
    Action step = train
        ? () => { model.Gradients.Clear(); model.TrainStep(pixels, labels, batch, default, logits); }
        : () => model.Forward(pixels, batch, logits);
    int warmup = TieredWarmup.Run(step, minRuns: 2); // until the JIT has tiered the step up, as in a long job
    for (int i = 0; i < iterations; i++)
    {
        long start = Stopwatch.GetTimestamp();
        step();
        times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }
    times.Sort();
    double median = times[times.Count / 2];
    double gflop = (train ? 3.0 : 1.0) * model.Config.FlopsPerImage * batch / 1e9;
    Console.WriteLine($"{name} batch {batch} {(train ? "train step" : "forward")}: median {median:F2} ms, min {times[0]:F2} ms, " +
        $"{batch * 1000 / median:F0} images/s, ~{gflop / (median / 1000):F0} GFLOP/s  [{model.Engine}, {model.Schedule}, {model.Threads} threads, after {warmup} warm-up runs]");
    return 0;
}
BenchmarkSwitcher.FromAssembly(typeof(BenchmarkModels).Assembly).Run(args);
return 0;
