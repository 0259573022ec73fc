using System.ComponentModel;
using System.Numerics;

namespace ViTCompiler.Infrastructure;

/// <summary>
/// LayerNorm over rows of width D: y = (x − mean) · rstd · γ + β with rstd = 1/√(var + ε), two passes over the row
/// (mean, then the squared deviations) for accuracy. Training keeps mean and rstd per row for the backward pass.
/// </summary>
/// <remarks>
/// Hand-written, not TensorPrimitives: each pass here fuses what TensorPrimitives does in several (the normalisation's
/// subtract, multiply, multiply-add; the backward's two sums; the parameter gradients' two accumulations), and rows are
/// 64–768 floats, where its fixed cost per call shows. Each was slower as TensorPrimitives calls, and so was
/// TensorPrimitives.Sum for the mean alone (docs/PERFORMANCE.md, "TensorPrimitives").
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class LayerNorm
{
    /// <summary>Normalises one row; stores mean and rstd when the pointers are not null.</summary>
    public static void ForwardRow(float* x, float* gamma, float* beta, float* y, int width, float epsilon, float* mean, float* rstd)
    {
        float mu = Sum(x, width) / width;
        float variance = SquaredDeviations(x, mu, width) / width;
        float r = 1f / MathF.Sqrt(variance + epsilon);
        if (mean != null) *mean = mu;
        if (rstd != null) *rstd = r;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> vm = new(mu), vr = new(r);
            for (; i <= width - Vector<float>.Count; i += Vector<float>.Count)
                Vector.Store((Vector.Load(x + i) - vm) * vr * Vector.Load(gamma + i) + Vector.Load(beta + i), y + i);
        }
        for (; i < width; i++) y[i] = (x[i] - mu) * r * gamma[i] + beta[i];
    }

    /// <summary>
    /// dx (+)= rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)) for one row, with dx̂ = dy · γ and x̂ recomputed from x.
    /// The parameter gradients are left to <see cref="ParameterGradients"/>, which sums over rows column by column.
    /// </summary>
    public static void BackwardRow(float* dy, float* x, float mean, float rstd, float* gamma, float* dx, int width, bool accumulate)
    {
        // Two sums over the row first, then the update.
        float sumDxhat = 0, sumDxhatXhat = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> a = Vector<float>.Zero, b = Vector<float>.Zero, vm = new(mean), vr = new(rstd);
            for (; i <= width - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector<float> dxhat = Vector.Load(dy + i) * Vector.Load(gamma + i);
                a += dxhat;
                b += dxhat * ((Vector.Load(x + i) - vm) * vr);
            }
            sumDxhat = Vector.Sum(a);
            sumDxhatXhat = Vector.Sum(b);
        }
        for (; i < width; i++)
        {
            float dxhat = dy[i] * gamma[i];
            sumDxhat += dxhat;
            sumDxhatXhat += dxhat * (x[i] - mean) * rstd;
        }
        float m1 = sumDxhat / width, m2 = sumDxhatXhat / width;
        i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> vm = new(mean), vr = new(rstd), v1 = new(m1), v2 = new(m2);
            for (; i <= width - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector<float> xhat = (Vector.Load(x + i) - vm) * vr;
                Vector<float> g = vr * (Vector.Load(dy + i) * Vector.Load(gamma + i) - v1 - xhat * v2);
                if (accumulate) g += Vector.Load(dx + i);
                Vector.Store(g, dx + i);
            }
        }
        for (; i < width; i++)
        {
            float xhat = (x[i] - mean) * rstd;
            float g = rstd * (dy[i] * gamma[i] - m1 - xhat * m2);
            dx[i] = accumulate ? dx[i] + g : g;
        }
    }

    private static float Sum(float* x, int n)
    {
        int i = 0;
        float s = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> acc = Vector<float>.Zero;
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count) acc += Vector.Load(x + i);
            s = Vector.Sum(acc);
        }
        for (; i < n; i++) s += x[i];
        return s;
    }

    private static float SquaredDeviations(float* x, float mean, int n)
    {
        int i = 0;
        float s = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> acc = Vector<float>.Zero, vm = new(mean);
            for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
            {
                Vector<float> d = Vector.Load(x + i) - vm;
                acc += d * d;
            }
            s = Vector.Sum(acc);
        }
        for (; i < n; i++) s += (x[i] - mean) * (x[i] - mean);
        return s;
    }

    private struct RowsJob
    {
        public float* X, Gamma, Beta, Y, Mean, Rstd, Dy, Dx;
        public int Width, Rows;
        public float Epsilon;
        public bool Accumulate;
    }

    /// <summary>Normalises <paramref name="rows"/> contiguous rows in parallel; mean/rstd may be null.</summary>
    public static void Forward(WorkerPool pool, int threads, float* x, float* gamma, float* beta, float* y, int rows, int width,
        float epsilon, float* mean = null, float* rstd = null)
    {
        var job = new RowsJob { X = x, Gamma = gamma, Beta = beta, Y = y, Mean = mean, Rstd = rstd, Width = width, Epsilon = epsilon };
        pool.RunRanges(rows, threads, Math.Max(1, 8192 / width), &ForwardRange, &job);
    }

    private static void ForwardRange(void* context, int start, int end)
    {
        RowsJob* j = (RowsJob*)context;
        for (int r = start; r < end; r++)
            ForwardRow(j->X + (long)r * j->Width, j->Gamma, j->Beta, j->Y + (long)r * j->Width, j->Width, j->Epsilon,
                j->Mean == null ? null : j->Mean + r, j->Rstd == null ? null : j->Rstd + r);
    }

    /// <summary>Input gradients of <paramref name="rows"/> rows in parallel (see <see cref="BackwardRow"/>).</summary>
    public static void Backward(WorkerPool pool, int threads, float* dy, float* x, float* mean, float* rstd, float* gamma, float* dx,
        int rows, int width, bool accumulate)
    {
        var job = new RowsJob { Dy = dy, X = x, Mean = mean, Rstd = rstd, Gamma = gamma, Dx = dx, Width = width, Accumulate = accumulate };
        pool.RunRanges(rows, threads, Math.Max(1, 8192 / width), &BackwardRange, &job);
    }

    private static void BackwardRange(void* context, int start, int end)
    {
        RowsJob* j = (RowsJob*)context;
        for (int r = start; r < end; r++)
            BackwardRow(j->Dy + (long)r * j->Width, j->X + (long)r * j->Width, j->Mean[r], j->Rstd[r], j->Gamma,
                j->Dx + (long)r * j->Width, j->Width, j->Accumulate);
    }

    /// <summary>dγ[i] += Σ_r dy[r, i] · x̂[r, i] and dβ[i] += Σ_r dy[r, i], in parallel over columns (fixed summation order).</summary>
    public static void ParameterGradients(WorkerPool pool, int threads, float* dy, float* x, float* mean, float* rstd,
        float* dgamma, float* dbeta, int rows, int width)
    {
        var job = new RowsJob { Dy = dy, X = x, Mean = mean, Rstd = rstd, Gamma = dgamma, Beta = dbeta, Width = width, Rows = rows };
        // Columns are split in multiples of 64 so each range reads whole cache lines of every row.
        pool.RunRanges((width + 63) / 64, threads, 1, &ParameterGradientRange, &job);
    }

    private static void ParameterGradientRange(void* context, int start, int end)
    {
        RowsJob* j = (RowsJob*)context;
        int rows = j->Rows, width = j->Width;
        int c0 = start * 64, c1 = Math.Min(width, end * 64);
        for (int r = 0; r < rows; r++)
        {
            float* dy = j->Dy + (long)r * width, x = j->X + (long)r * width;
            float m = j->Mean[r], s = j->Rstd[r];
            int c = c0;
            if (Vector.IsHardwareAccelerated)
            {
                Vector<float> vm = new(m), vs = new(s);
                for (; c <= c1 - Vector<float>.Count; c += Vector<float>.Count)
                {
                    Vector<float> g = Vector.Load(dy + c);
                    Vector.Store(Vector.Load(j->Gamma + c) + g * (Vector.Load(x + c) - vm) * vs, j->Gamma + c);
                    Vector.Store(Vector.Load(j->Beta + c) + g, j->Beta + c);
                }
            }
            for (; c < c1; c++)
            {
                j->Gamma[c] += dy[c] * (x[c] - m) * s;
                j->Beta[c] += dy[c];
            }
        }
    }
}
