using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using ViTCompiler.Infrastructure;
using ViTCompiler.IO;
using ViTCompiler.Training;

namespace ViTCompiler.Benchmarks;

/// <summary>
/// Hand-written element-wise code against <see cref="TensorPrimitives"/> on the same data, one class per operation,
/// the hand-written variant the baseline so the Ratio column reads "TensorPrimitives time / hand-written time". The
/// library uses whichever won (docs/PERFORMANCE.md, "TensorPrimitives"): where TensorPrimitives
/// won, the hand-written loop it replaced lives on only here, in <see cref="Replaced"/>; where the hand-written code
/// won, the TensorPrimitives composition lives only here.
/// <code>
/// dotnet run -c Release --project tests/ViTCompiler.Benchmarks -- primitives                 # all of them
/// dotnet run -c Release --project tests/ViTCompiler.Benchmarks -- primitives --filter '*Softmax*'
/// DOTNET_EnableAVX512=0 dotnet run -c Release --project tests/ViTCompiler.Benchmarks -- primitives   # the AVX2 path
/// </code>
/// </summary>
public static class PrimitivesBenchmarks
{
    /// <summary>
    /// Runs the comparisons in this process (no generated benchmark projects to build, and an environment variable such
    /// as DOTNET_EnableAVX512=0 applies to both variants), short runs: the two variants of an operation run back to
    /// back in one run, so their ratio survives a busy machine better than either time does.
    /// </summary>
    public static int Run(string[] args)
    {
        IConfig config = DefaultConfig.Instance
            .AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(12))
            .WithOptions(ConfigOptions.DisableLogFile);
        Type[] types = typeof(PrimitivesBenchmarks).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(PrimitivesBenchmarks).Namespace && t.Name.StartsWith("Primitives", StringComparison.Ordinal) && !t.IsAbstract)
            .ToArray();
        BenchmarkSwitcher.FromTypes(types).Run(args.Length == 0 ? ["--filter", "*"] : args, config);
        return 0;
    }

    /// <summary>A pinned array of uniform values in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    internal static float[] Pinned(long count, ulong seed, float low = -1f, float high = 1f)
    {
        float[] values = GC.AllocateArray<float>(checked((int)count), pinned: true);
        var rng = new VitRandom(seed);
        for (int i = 0; i < values.Length; i++) values[i] = low + (high - low) * rng.NextSingle();
        return values;
    }

    internal static unsafe float* Address(float[] pinned) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));

    /// <summary>About ViT-Ti/16's parameter block (5.7M floats, 23 MB): past the caches, as an 86M block is.</summary>
    public const int BlockLength = 5_000_000;
}

/// <summary>z = x + y: a bias-gradient column strip (64), token rows (192, 768), a range of the residual stream (16,384).</summary>
public unsafe class PrimitivesAdd
{
    private float[] _x = [], _y = [], _z = [];

    [Params(64, 192, 768, 16384)]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _x = PrimitivesBenchmarks.Pinned(Length, 1);
        _y = PrimitivesBenchmarks.Pinned(Length, 2);
        _z = PrimitivesBenchmarks.Pinned(Length, 3);
    }

    [Benchmark(Baseline = true)]
    public void HandWritten() => TokenOps.Add(PrimitivesBenchmarks.Address(_x), PrimitivesBenchmarks.Address(_y), PrimitivesBenchmarks.Address(_z), Length);

    [Benchmark]
    public void Primitives() => TensorPrimitives.Add(_x, _y, _z);
}

/// <summary>x *= s: a pooled row (768) and gradient clipping over a whole block.</summary>
public unsafe class PrimitivesScale
{
    private float[] _x = [];

    [Params(64, 768, PrimitivesBenchmarks.BlockLength)]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup() => _x = PrimitivesBenchmarks.Pinned(Length, 1);

    // A factor of 1 leaves the values, and so the timing, the same over millions of invocations (no drift into subnormals).
    [Benchmark(Baseline = true)]
    public void HandWritten() => TokenOps.Scale(PrimitivesBenchmarks.Address(_x), 1f, Length);

    [Benchmark]
    public void Primitives() => TensorPrimitives.Multiply(_x, 1f, _x);
}

/// <summary>
/// Softmax over every row of one (image, head) score square, N × N: 50 tokens (the Fashion-MNIST model), 197 (ViT-B/16
/// at 224²). In place, as the attention kernel does it; after the first call the rows hold probabilities, which exp
/// costs the same on.
/// </summary>
public unsafe class PrimitivesSoftmax
{
    private float[] _scores = [];

    [Params(50, 197)]
    public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup() => _scores = PrimitivesBenchmarks.Pinned((long)Tokens * Tokens, 1, -8f, 8f);

    [Benchmark(Baseline = true)]
    public void HandWritten()
    {
        float* p = PrimitivesBenchmarks.Address(_scores);
        for (int i = 0; i < Tokens; i++) Replaced.SoftmaxRow(p + (long)i * Tokens, Tokens, 0.125f);
    }

    /// <summary>The library's: TensorPrimitives.Max, then the fused exp-and-sum loop and the scaling loop.</summary>
    [Benchmark]
    public void Mixed()
    {
        float* p = PrimitivesBenchmarks.Address(_scores);
        for (int i = 0; i < Tokens; i++) Softmax.Row(p + (long)i * Tokens, Tokens, 0.125f);
    }

    /// <summary>Max, x − max, · scale, exp, sum, × 1/sum: six passes where the hand-written row makes three.</summary>
    [Benchmark]
    public void Primitives()
    {
        float* p = PrimitivesBenchmarks.Address(_scores);
        for (int i = 0; i < Tokens; i++)
        {
            var row = new Span<float>(p + (long)i * Tokens, Tokens);
            float max = TensorPrimitives.Max(row);
            TensorPrimitives.Subtract(row, max, row);
            TensorPrimitives.Multiply(row, 0.125f, row);
            TensorPrimitives.Exp(row, row);
            TensorPrimitives.Multiply(row, 1f / TensorPrimitives.Sum(row), row);
        }
    }
}

/// <summary>
/// Softmax backward over a score square, ds = p ⊙ (dp − Σ dp ⊙ p) · scale, in place over dp. dp is copied back from a
/// pristine square first in every variant (CopyOnly times that alone): run in place over and over, dp would shrink into subnormals.
/// </summary>
public unsafe class PrimitivesSoftmaxBackward
{
    private float[] _p = [], _dp = [], _pristine = [];

    [Params(50, 197)]
    public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _p = PrimitivesBenchmarks.Pinned((long)Tokens * Tokens, 1, 0f, 2f / Tokens);
        _pristine = PrimitivesBenchmarks.Pinned((long)Tokens * Tokens, 2);
        _dp = PrimitivesBenchmarks.Pinned((long)Tokens * Tokens, 3);
    }

    [Benchmark]
    public void CopyOnly() => _pristine.CopyTo(_dp, 0);

    [Benchmark(Baseline = true)]
    public void HandWritten()
    {
        _pristine.CopyTo(_dp, 0);
        float* p = PrimitivesBenchmarks.Address(_p), dp = PrimitivesBenchmarks.Address(_dp);
        for (int i = 0; i < Tokens; i++) Softmax.BackwardRow(p + (long)i * Tokens, dp + (long)i * Tokens, Tokens, 0.125f);
    }

    /// <summary>Dot, then (dp − dot) · p, then · scale: three passes where the hand-written row makes two.</summary>
    [Benchmark]
    public void Primitives()
    {
        _pristine.CopyTo(_dp, 0);
        float* p = PrimitivesBenchmarks.Address(_p), dp = PrimitivesBenchmarks.Address(_dp);
        for (int i = 0; i < Tokens; i++)
        {
            var prow = new ReadOnlySpan<float>(p + (long)i * Tokens, Tokens);
            var row = new Span<float>(dp + (long)i * Tokens, Tokens);
            float dot = TensorPrimitives.Dot(prow, row);
            TensorPrimitives.AddMultiply(row, -dot, prow, row);
            TensorPrimitives.Multiply(row, 0.125f, row);
        }
    }
}

/// <summary>LayerNorm forward over the 197 rows of one image, width 64 (Fashion-MNIST model) and 768 (ViT-B).</summary>
public unsafe class PrimitivesLayerNorm
{
    private const int Rows = 197;
    private float[] _x = [], _gamma = [], _beta = [], _y = [], _mean = [], _rstd = [];

    [Params(64, 768)]
    public int Width { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _x = PrimitivesBenchmarks.Pinned((long)Rows * Width, 1, -3f, 3f);
        _gamma = PrimitivesBenchmarks.Pinned(Width, 2, 0.5f, 1.5f);
        _beta = PrimitivesBenchmarks.Pinned(Width, 3);
        _y = PrimitivesBenchmarks.Pinned((long)Rows * Width, 4);
        _mean = PrimitivesBenchmarks.Pinned(Rows, 5);
        _rstd = PrimitivesBenchmarks.Pinned(Rows, 6);
    }

    [Benchmark(Baseline = true)]
    public void HandWritten()
    {
        float* x = PrimitivesBenchmarks.Address(_x), y = PrimitivesBenchmarks.Address(_y);
        float* gamma = PrimitivesBenchmarks.Address(_gamma), beta = PrimitivesBenchmarks.Address(_beta);
        float* mean = PrimitivesBenchmarks.Address(_mean), rstd = PrimitivesBenchmarks.Address(_rstd);
        for (int r = 0; r < Rows; r++)
            LayerNorm.ForwardRow(x + (long)r * Width, gamma, beta, y + (long)r * Width, Width, 1e-6f, mean + r, rstd + r);
    }

    /// <summary>Sum, x − μ (into y), sum of squares, · rstd, · γ + β: five passes where the hand-written row makes three.</summary>
    [Benchmark]
    public void Primitives()
    {
        for (int r = 0; r < Rows; r++)
        {
            ReadOnlySpan<float> x = _x.AsSpan(r * Width, Width);
            Span<float> y = _y.AsSpan(r * Width, Width);
            float mu = TensorPrimitives.Sum(x) / Width;
            TensorPrimitives.Subtract(x, mu, y);
            float rs = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares<float>(y) / Width + 1e-6f);
            _mean[r] = mu;
            _rstd[r] = rs;
            TensorPrimitives.Multiply(y, rs, y);
            TensorPrimitives.MultiplyAdd(y, _gamma, _beta, y);
        }
    }
}

/// <summary>
/// LayerNorm's backward over the 197 rows of one image: the input gradients, and the parameter gradients
/// dγ += Σ_r dy·x̂, dβ += Σ_r dy (one thread), each compared within its category.
/// </summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public unsafe class PrimitivesLayerNormBackward
{
    private const int Rows = 197;
    private float[] _x = [], _dy = [], _gamma = [], _dx = [], _mean = [], _rstd = [], _dgamma = [], _dbeta = [], _dxhat = [], _xhat = [];

    [Params(64, 768)]
    public int Width { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _x = PrimitivesBenchmarks.Pinned((long)Rows * Width, 1, -3f, 3f);
        _dy = PrimitivesBenchmarks.Pinned((long)Rows * Width, 2);
        _gamma = PrimitivesBenchmarks.Pinned(Width, 3, 0.5f, 1.5f);
        _dx = PrimitivesBenchmarks.Pinned((long)Rows * Width, 4);
        _mean = PrimitivesBenchmarks.Pinned(Rows, 5, -0.1f, 0.1f);
        _rstd = PrimitivesBenchmarks.Pinned(Rows, 6, 0.5f, 1.5f);
        _dgamma = PrimitivesBenchmarks.Pinned(Width, 7);
        _dbeta = PrimitivesBenchmarks.Pinned(Width, 8);
        _dxhat = PrimitivesBenchmarks.Pinned(Width, 9);
        _xhat = PrimitivesBenchmarks.Pinned(Width, 10);
    }

    [Benchmark(Baseline = true), BenchmarkCategory("input")]
    public void HandWritten()
    {
        float* x = PrimitivesBenchmarks.Address(_x), dy = PrimitivesBenchmarks.Address(_dy), gamma = PrimitivesBenchmarks.Address(_gamma);
        float* dx = PrimitivesBenchmarks.Address(_dx);
        for (int r = 0; r < Rows; r++)
            LayerNorm.BackwardRow(dy + (long)r * Width, x + (long)r * Width, _mean[r], _rstd[r], gamma, dx + (long)r * Width, Width, accumulate: false);
    }

    /// <summary>dx̂ = dy·γ, Σdx̂, x̂ = (x − μ)·rstd, Σdx̂·x̂, dx̂ − x̂·m2, − m1, · rstd: eight passes and two scratch rows where the hand-written row makes two passes and none.</summary>
    [Benchmark, BenchmarkCategory("input")]
    public void Primitives()
    {
        Span<float> dxhat = _dxhat, xhat = _xhat;
        for (int r = 0; r < Rows; r++)
        {
            ReadOnlySpan<float> x = _x.AsSpan(r * Width, Width), dy = _dy.AsSpan(r * Width, Width);
            Span<float> dx = _dx.AsSpan(r * Width, Width);
            float mean = _mean[r], rstd = _rstd[r];
            TensorPrimitives.Multiply(dy, _gamma, dxhat);
            float m1 = TensorPrimitives.Sum<float>(dxhat) / Width;
            TensorPrimitives.Subtract(x, mean, xhat);
            TensorPrimitives.Multiply(xhat, rstd, xhat);
            float m2 = TensorPrimitives.Dot<float>(dxhat, xhat) / Width;
            TensorPrimitives.MultiplyAdd(xhat, -m2, dxhat, dx);
            TensorPrimitives.Subtract(dx, m1, dx);
            TensorPrimitives.Multiply(dx, rstd, dx);
        }
    }

    [Benchmark(Baseline = true), BenchmarkCategory("parameters")]
    public void ParametersHandWritten() => LayerNorm.ParameterGradients(WorkerPool.Shared, 1, PrimitivesBenchmarks.Address(_dy), PrimitivesBenchmarks.Address(_x),
        PrimitivesBenchmarks.Address(_mean), PrimitivesBenchmarks.Address(_rstd), PrimitivesBenchmarks.Address(_dgamma), PrimitivesBenchmarks.Address(_dbeta), Rows, Width);

    /// <summary>Per row x̂ = (x − μ)·rstd, dγ += dy·x̂, dβ += dy: four passes and a scratch row where the hand-written loop makes one.</summary>
    [Benchmark, BenchmarkCategory("parameters")]
    public void ParametersPrimitives()
    {
        Span<float> xhat = _xhat;
        for (int r = 0; r < Rows; r++)
        {
            ReadOnlySpan<float> x = _x.AsSpan(r * Width, Width), dy = _dy.AsSpan(r * Width, Width);
            TensorPrimitives.Subtract(x, _mean[r], xhat);
            TensorPrimitives.Multiply(xhat, _rstd[r], xhat);
            TensorPrimitives.MultiplyAdd(dy, xhat, _dgamma, _dgamma);
            TensorPrimitives.Add(_dbeta, dy, _dbeta);
        }
    }
}

/// <summary>
/// GELU (erf form) over one image's MLP activations, 197 × 3072, in pieces of <see cref="Piece"/>: 32 is a GEMM tile row
/// (the epilogue applies GELU to a tile while it is in registers' reach), 3072 a whole row.
/// </summary>
public unsafe class PrimitivesGelu
{
    private const int Elements = 197 * 3072;
    private float[] _x = [], _y = [], _t1 = [], _t2 = [], _t3 = [];

    [Params(32, 3072)]
    public int Piece { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _x = PrimitivesBenchmarks.Pinned(Elements, 1, -4f, 4f);
        _y = PrimitivesBenchmarks.Pinned(Elements, 2);
        _t1 = PrimitivesBenchmarks.Pinned(Piece, 3);
        _t2 = PrimitivesBenchmarks.Pinned(Piece, 4);
        _t3 = PrimitivesBenchmarks.Pinned(Piece, 5);
    }

    [Benchmark(Baseline = true)]
    public void HandWritten()
    {
        float* x = PrimitivesBenchmarks.Address(_x), y = PrimitivesBenchmarks.Address(_y);
        for (int i = 0; i < Elements; i += Piece) Activations.Gelu(x + i, y + i, Piece);
    }

    /// <summary>
    /// TensorPrimitives has no erf; this composes Abramowitz–Stegun from its pieces (17 passes) and still leaves out the
    /// sign select that keeps the negative tail accurate, so it is a lower bound on what a faithful composition costs.
    /// </summary>
    [Benchmark]
    public void Primitives()
    {
        Span<float> z = _t1, t = _t2, e = _t3;
        for (int i = 0; i < Elements; i += Piece)
        {
            ReadOnlySpan<float> x = _x.AsSpan(i, Piece);
            Span<float> y = _y.AsSpan(i, Piece);
            TensorPrimitives.Multiply(x, 0.70710678f, z);                 // z = x/√2
            TensorPrimitives.Multiply(z, z, e);
            TensorPrimitives.Negate(e, e);
            TensorPrimitives.Exp(e, e);                                 // e^(−z²)
            TensorPrimitives.Abs(z, t);
            TensorPrimitives.Multiply(t, 0.3275911f, t);
            TensorPrimitives.Add(t, 1f, t);
            TensorPrimitives.Reciprocal(t, t);                          // t = 1/(1 + p|z|)
            TensorPrimitives.Multiply(t, 1.061405429f, y);
            TensorPrimitives.Add(y, -1.453152027f, y);
            TensorPrimitives.MultiplyAdd(y, t, 1.421413741f, y);
            TensorPrimitives.MultiplyAdd(y, t, -0.284496736f, y);
            TensorPrimitives.MultiplyAdd(y, t, 0.254829592f, y);
            TensorPrimitives.Multiply(y, t, y);
            TensorPrimitives.Multiply(y, e, y);                         // q
            TensorPrimitives.Multiply(y, -0.5f, y);
            TensorPrimitives.Add(y, 1f, y);                             // Φ for z ≥ 0 only
            TensorPrimitives.Multiply(y, x, y);
        }
    }
}

/// <summary>One AdamW step over ViT-Ti/16's whole parameter block (5.7M floats; p, g, m, v: 91 MB, past the caches like ViT-B's 1.4 GB).</summary>
public class PrimitivesAdamW
{
    private AdamW _optimizer = null!;
    private float[] _p = [], _g = [], _m = [], _v = [], _scratch = [];

    [GlobalSetup]
    public void Setup()
    {
        ParameterLayout layout = new VitConfig { Hidden = 192, Heads = 3 }.Layout;
        _optimizer = new AdamW(layout);
        _p = PrimitivesBenchmarks.Pinned(layout.ParameterCount, 1, -0.1f, 0.1f);
        _g = PrimitivesBenchmarks.Pinned(layout.ParameterCount, 2, -0.01f, 0.01f);
        _m = PrimitivesBenchmarks.Pinned(layout.ParameterCount, 3, -0.001f, 0.001f);
        _v = PrimitivesBenchmarks.Pinned(layout.ParameterCount, 4, 0f, 1e-4f);
        _scratch = PrimitivesBenchmarks.Pinned(layout.ParameterCount, 5);
    }

    [Benchmark(Baseline = true)]
    public void HandWritten() => _optimizer.Step(_p, _g, 1e-3f);

    /// <summary>The same float operations in the same order as the fused loop, as eleven passes over whole blocks plus a scratch block.</summary>
    [Benchmark]
    public void Primitives()
    {
        const float beta1 = 0.9f, beta2 = 0.999f, stepSize = 1e-3f / 0.1f, inverseRootBias = 31.6f, keep = 1 - 1e-3f * 0.05f;
        Span<float> p = _p, m = _m, v = _v, t = _scratch;
        ReadOnlySpan<float> g = _g;
        TensorPrimitives.Multiply(m, beta1, m);
        TensorPrimitives.MultiplyAdd(g, 1 - beta1, m, m);                 // m = β1·m + (1 − β1)·g
        TensorPrimitives.Multiply(g, g, t);
        TensorPrimitives.Multiply(v, beta2, v);
        TensorPrimitives.MultiplyAdd(t, 1 - beta2, v, v);                 // v = β2·v + (1 − β2)·g²
        TensorPrimitives.Sqrt(v, t);
        TensorPrimitives.Multiply(t, inverseRootBias, t);
        TensorPrimitives.Add(t, 1e-8f, t);                                // √v / √(1 − β2ᵗ) + ε
        TensorPrimitives.Divide(m, t, t);
        TensorPrimitives.Multiply(p, keep, p);
        TensorPrimitives.MultiplyAdd(t, -stepSize, p, p);                 // θ·(1 − ηλ) − η/(1 − β1ᵗ) · m/denominator
    }
}

/// <summary>One SGD-with-momentum step over ViT-Ti/16's parameter block.</summary>
public class PrimitivesSgd
{
    private Sgd _optimizer = null!;
    private float[] _p = [], _g = [], _b = [], _scratch = [];

    [GlobalSetup]
    public void Setup()
    {
        ParameterLayout layout = new VitConfig { Hidden = 192, Heads = 3 }.Layout;
        _optimizer = new Sgd(layout, weightDecay: 1e-4f);
        _p = PrimitivesBenchmarks.Pinned(layout.ParameterCount, 1, -0.1f, 0.1f);
        _g = PrimitivesBenchmarks.Pinned(layout.ParameterCount, 2, -0.01f, 0.01f);
        _b = PrimitivesBenchmarks.Pinned(layout.ParameterCount, 3, -0.01f, 0.01f);
        _scratch = PrimitivesBenchmarks.Pinned(layout.ParameterCount, 5);
    }

    [Benchmark(Baseline = true)]
    public void HandWritten() => _optimizer.Step(_p, _g, 1e-3f);

    /// <summary>b = μ·b + (g + λ·θ), θ = θ − η·b as four passes and a scratch block.</summary>
    [Benchmark]
    public void Primitives()
    {
        Span<float> p = _p, b = _b, t = _scratch;
        TensorPrimitives.Multiply(p, 1e-4f, t);
        TensorPrimitives.Add(_g, t, t);
        TensorPrimitives.MultiplyAdd(b, 0.9f, t, b);
        TensorPrimitives.MultiplyAdd(b, -1e-3f, p, p);
    }
}

/// <summary>The global gradient norm over a block.</summary>
public class PrimitivesGlobalNorm
{
    private float[] _g = [];

    [GlobalSetup]
    public void Setup() => _g = PrimitivesBenchmarks.Pinned(PrimitivesBenchmarks.BlockLength, 1, -0.01f, 0.01f);

    /// <summary>Squares summed in double.</summary>
    [Benchmark(Baseline = true)]
    public double HandWritten() => GradientClipping.GlobalNorm(_g);

    /// <summary>TensorPrimitives.Norm: float accumulators, which lose the small squares of a long block.</summary>
    [Benchmark]
    public double PrimitivesFloat() => TensorPrimitives.Norm<float>(_g);

    /// <summary>Widen 4,096 floats to double on the stack, SumOfSquares in double: the hand-written precision through TensorPrimitives.</summary>
    [Benchmark]
    public double PrimitivesDouble()
    {
        Span<double> chunk = stackalloc double[4096];
        ReadOnlySpan<float> g = _g;
        double sum = 0;
        for (int i = 0; i < g.Length; i += chunk.Length)
        {
            ReadOnlySpan<float> piece = g.Slice(i, Math.Min(chunk.Length, g.Length - i));
            TensorPrimitives.ConvertChecked(piece, chunk[..piece.Length]);
            sum += TensorPrimitives.SumOfSquares<double>(chunk[..piece.Length]);
        }
        return Math.Sqrt(sum);
    }
}

/// <summary>Prediction (index of the largest logit) for a batch of 256: 10 classes (Fashion-MNIST), 1000 (ImageNet).</summary>
public class PrimitivesArgMax
{
    private const int Batch = 256;
    private float[] _logits = [];

    [Params(10, 32, 100, 1000)]
    public int Classes { get; set; }

    [GlobalSetup]
    public void Setup() => _logits = PrimitivesBenchmarks.Pinned(Batch * Classes, 1, -5f, 5f);

    [Benchmark(Baseline = true)]
    public int HandWritten()
    {
        int total = 0;
        for (int b = 0; b < Batch; b++) total += Replaced.ArgMax(_logits.AsSpan(b * Classes, Classes));
        return total;
    }

    /// <summary>The library's: TensorPrimitives.IndexOfMax from 32 classes up, the loop below that.</summary>
    [Benchmark]
    public int Mixed()
    {
        int total = 0;
        for (int b = 0; b < Batch; b++) total += Evaluator.ArgMax(_logits.AsSpan(b * Classes, Classes));
        return total;
    }

    [Benchmark]
    public int Primitives()
    {
        int total = 0;
        for (int b = 0; b < Batch; b++) total += TensorPrimitives.IndexOfMax<float>(_logits.AsSpan(b * Classes, Classes));
        return total;
    }
}

/// <summary>Softmax cross-entropy with label smoothing and its gradient, batch 128: 10 classes and 1000.</summary>
public unsafe class PrimitivesCrossEntropy
{
    private const int Batch = 128;
    private float[] _logits = [], _dlogits = [];
    private int[] _labels = [];

    [Params(10, 1000)]
    public int Classes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _logits = PrimitivesBenchmarks.Pinned(Batch * Classes, 1, -5f, 5f);
        _dlogits = PrimitivesBenchmarks.Pinned(Batch * Classes, 2);
        _labels = GC.AllocateArray<int>(Batch, pinned: true);
        for (int b = 0; b < Batch; b++) _labels[b] = b * 7 % Classes;
    }

    /// <summary>In double, one element at a time.</summary>
    [Benchmark(Baseline = true)]
    public float HandWritten() => Replaced.CrossEntropy(PrimitivesBenchmarks.Address(_logits),
        (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_labels)), Batch, Classes, 0.1f, PrimitivesBenchmarks.Address(_dlogits));

    /// <summary>In float: max, z − max, exp, sum, and the scaling of the gradient row.</summary>
    [Benchmark]
    public float Primitives() => Loss.CrossEntropy(PrimitivesBenchmarks.Address(_logits),
        (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_labels)), Batch, Classes, 0.1f, PrimitivesBenchmarks.Address(_dlogits));
}

/// <summary>The checkpoint's scan for a non-finite value over a block (all finite: the common case, the whole block read).</summary>
public class PrimitivesNonFiniteScan
{
    private float[] _values = [];

    [GlobalSetup]
    public void Setup() => _values = PrimitivesBenchmarks.Pinned(PrimitivesBenchmarks.BlockLength, 1);

    [Benchmark(Baseline = true)]
    public int HandWritten() => Replaced.IndexOfNonFinite(_values);

    [Benchmark]
    public int Primitives() => FineTuning.IndexOfNonFinite(_values);
}

/// <summary>Weight loading: F16 and F64 elements to float, one ViT-B/16 fc1 matrix (768 × 3072).</summary>
public class PrimitivesFloatConversion
{
    private const int Elements = 768 * 3072;
    private byte[] _source = [];
    private float[] _destination = [];

    [Params("F16", "F64")]
    public string Encoding { get; set; } = "F16";

    [GlobalSetup]
    public void Setup()
    {
        float[] values = PrimitivesBenchmarks.Pinned(Elements, 1);
        _destination = new float[Elements];
        if (Encoding == "F16")
        {
            Half[] half = values.Select(v => (Half)v).ToArray();
            _source = MemoryMarshal.AsBytes(half.AsSpan()).ToArray();
        }
        else _source = MemoryMarshal.AsBytes(values.Select(v => (double)v).ToArray().AsSpan()).ToArray();
    }

    [Benchmark(Baseline = true)]
    public void HandWritten() => Replaced.Convert(_source, Encoding == "F16", _destination);

    [Benchmark]
    public void Primitives() => FloatConversion.Convert(_source, Encoding == "F16" ? FloatEncoding.F16 : FloatEncoding.F64, bigEndian: false, _destination);
}

/// <summary>
/// The hand-written loops that TensorPrimitives replaced in the library, kept here (and only here) as the baselines
/// that show it is at least as fast.
/// </summary>
internal static unsafe class Replaced
{
    /// <summary>Softmax.Row before: the maximum by a <see cref="Vector{T}"/> loop (the exp-and-sum and scaling passes are unchanged).</summary>
    public static void SoftmaxRow(float* row, int n, float scale)
    {
        int i = 0;
        float max = float.NegativeInfinity;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            Vector<float> m = new(float.NegativeInfinity);
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count) m = Vector.Max(m, Vector.Load(row + i));
            for (int k = 0; k < Vector<float>.Count; k++) max = MathF.Max(max, m[k]);
        }
        for (; i < n; i++) max = MathF.Max(max, row[i]);
        Softmax.ExpNormalize(row, n, max, scale);
    }

    /// <summary>Evaluator.ArgMax before.</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best] || float.IsNaN(values[best])) best = i;
        return best;
    }

    /// <summary>FineTuning.IndexOfNonFinite before.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    /// <summary>Loss.CrossEntropy before: in double, one element at a time.</summary>
    public static float CrossEntropy(float* logits, int* labels, int batch, int classes, float smoothing, float* dlogits)
    {
        double total = 0;
        for (int b = 0; b < batch; b++)
        {
            float* z = logits + (long)b * classes;
            float* dz = dlogits + (long)b * classes;
            float max = float.NegativeInfinity;
            for (int c = 0; c < classes; c++) max = MathF.Max(max, z[c]);
            double sum = 0;
            for (int c = 0; c < classes; c++) sum += Math.Exp(z[c] - max);
            double logSum = max + Math.Log(sum);
            for (int c = 0; c < classes; c++)
            {
                double q = (c == labels[b] ? 1 - smoothing : 0) + (double)smoothing / classes;
                double logP = z[c] - logSum;
                total -= q * logP;
                dz[c] = (float)((Math.Exp(logP) - q) / batch);
            }
        }
        return (float)(total / batch);
    }

    /// <summary>FloatConversion.Convert before, little-endian F16 and F64.</summary>
    public static void Convert(ReadOnlySpan<byte> source, bool half, Span<float> destination)
    {
        if (half)
            for (int i = 0; i < destination.Length; i++)
                destination[i] = (float)BitConverter.UInt16BitsToHalf(MemoryMarshal.Read<ushort>(source.Slice(2 * i)));
        else
            for (int i = 0; i < destination.Length; i++)
                destination[i] = (float)BitConverter.Int64BitsToDouble(MemoryMarshal.Read<long>(source.Slice(8 * i)));
    }
}
