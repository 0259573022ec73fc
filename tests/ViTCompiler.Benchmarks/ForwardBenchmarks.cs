using BenchmarkDotNet.Attributes;
using ViTCompiler.Cli;
using ViTCompiler.Reference;

namespace ViTCompiler.Benchmarks;

/// <summary>
/// Generated forward pass against the reference engine, batch 1 and 8, with allocation diagnostics.
/// Run: dotnet run -c Release --project tests/ViTCompiler.Benchmarks -- --filter *ForwardBenchmarks*
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class ForwardBenchmarks
{
    private CompiledVit _model = null!;
    private float[] _pixels = [], _logits = [];

    [Params("ti16", "s16", "b16")]
    public string Model { get; set; } = "ti16";

    [Params(1, 8)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = BenchmarkModels.Create(Model);
        _pixels = BenchmarkModels.Pixels(_model.Config, Batch);
        _logits = new float[Batch * _model.Config.Classes];
        // Packs the weights, and runs until the JIT has tiered up the forward pass: BenchmarkDotNet's own warm-up calls
        // a benchmark this long only a few times, which leaves it in Tier-0 code (TieredWarmup).
        TieredWarmup.Run(() => _model.Forward(_pixels, Batch, _logits), minRuns: 1);
    }

    [Benchmark]
    public void Generated() => _model.Forward(_pixels, Batch, _logits);
}

/// <summary>The reference engine (double precision, one image at a time): the baseline the generated code replaces.</summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class ReferenceBenchmarks
{
    private ReferenceVitModel _model = null!;
    private float[] _pixels = [], _logits = [];

    [Params("ti16", "b16")]
    public string Model { get; set; } = "ti16";

    [GlobalSetup]
    public void Setup()
    {
        _model = new ReferenceVitModel(BenchmarkModels.Create(Model).Config, seed: 1);
        _pixels = BenchmarkModels.Pixels(_model.Config, 1);
        _logits = new float[_model.Config.Classes];
    }

    [Benchmark]
    public void Reference() => _model.Forward(_pixels, 1, _logits);
}

/// <summary>Training throughput of the Fashion-MNIST model: one TrainStep (forward + backward) at batch 128.</summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class TrainingBenchmarks
{
    private const int Batch = 128;
    private CompiledVit _model = null!;
    private float[] _pixels = [];
    private int[] _labels = [];

    [GlobalSetup]
    public void Setup()
    {
        _model = BenchmarkModels.Create("fashion");
        _pixels = BenchmarkModels.Pixels(_model.Config, Batch);
        _labels = Enumerable.Range(0, Batch).Select(i => i % 10).ToArray();
        TieredWarmup.Run(() => TrainStep(), minRuns: 1);
    }

    [Benchmark(OperationsPerInvoke = Batch)] // reported per image
    public float TrainStep()
    {
        _model.Gradients.Clear();
        return _model.TrainStep(_pixels, _labels, Batch, default, default);
    }
}
