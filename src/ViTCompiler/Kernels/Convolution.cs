using System.Numerics;
using System.ComponentModel;

namespace ViTCompiler.Infrastructure;

/// <summary>
/// The data movement and normalisation of the hybrid's convolutional stem. A convolution is im2col then one matrix
/// product through <see cref="Gemm"/> (so it uses the generated micro-kernels of every instruction set); its backward is
/// two products and <see cref="Col2Im"/>. Every function works one image per work item in a fixed order, so results do
/// not depend on the thread count.
/// </summary>
/// <remarks>
/// Shape legend: B batch, S map side, C channels, k kernel side, s stride, p padding, O output side (S + 2p − k) / s + 1.
/// A map is NCHW when <c>channelsLast</c> is false (the input pixels) and NHWC when true (the stem's own maps, which is
/// what a product with one row per position writes).
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class Convolution
{
    private struct MapJob
    {
        public float* Input, Output;
        public int Channels, Size, Kernel, Stride, Padding;
        public bool ChannelsLast, TapMajor;

        /// <summary>Where element (channel, row, column) of one image's map is: NCHW or NHWC.</summary>
        public readonly (long Channel, long Row, long Column) Strides =>
            ChannelsLast ? (1, (long)Size * Channels, Channels) : ((long)Size * Size, Size, 1);

        /// <summary>
        /// Where a column row keeps (channel, tap) and how far apart its channels are: tap-major (tap·C + channel) or
        /// channel-major (channel·k² + tap).
        /// </summary>
        public readonly (long Tap, long Channel) ColumnStrides => TapMajor ? (Channels, 1) : (1, (long)Kernel * Kernel);
    }

    /// <summary>Output side of a convolution: (S + 2p − k) / s + 1.</summary>
    public static int OutputSize(int size, int kernel, int stride, int padding) => (size + 2 * padding - kernel) / stride + 1;

    /// <summary>
    /// (B, C, S, S) or (B, S, S, C) -> (B·O², C·k·k): one row per output position; positions outside the map read zero.
    /// Each row is flattened (channel, row, column) when <paramref name="tapMajor"/> is false — the order of a torch
    /// convolution weight (C_out, C, k, k), which is how patches are cut (k = s, p = 0) — and (row, column, channel) when
    /// true, which for an NHWC map copies each kernel tap's C channels as one contiguous run (the stem's convolutions,
    /// whose weights are permuted to match by <see cref="ToTapMajor"/>).
    /// </summary>
    public static void Im2Col(WorkerPool pool, int threads, float* input, int batch, int channels, int size, bool channelsLast,
        int kernel, int stride, int padding, float* columns, bool tapMajor = false)
    {
        var job = new MapJob { Input = input, Output = columns, Channels = channels, Size = size, Kernel = kernel, Stride = stride, Padding = padding, ChannelsLast = channelsLast, TapMajor = tapMajor };
        pool.Run(batch, threads, &Im2ColImage, &job);
    }

    private static void Im2ColImage(void* context, int b, int worker)
    {
        MapJob* j = (MapJob*)context;
        int c = j->Channels, s = j->Size, k = j->Kernel, o = OutputSize(s, k, j->Stride, j->Padding), width = c * k * k;
        float* map = j->Input + b * (long)c * s * s;
        float* rows = j->Output + (long)b * o * o * width;
        (long channelStride, long rowStride, long columnStride) = j->Strides;
        (long tapStride, long toChannel) = j->ColumnStrides;
        bool runs = channelStride == 1 && toChannel == 1; // both sides contiguous over the channels
        for (int oy = 0; oy < o; oy++)
            for (int ox = 0; ox < o; ox++)
            {
                float* row = rows + ((long)oy * o + ox) * width;
                // One bounds test per kernel tap, then the tap's channels.
                for (int ky = 0; ky < k; ky++)
                {
                    int y = oy * j->Stride - j->Padding + ky;
                    for (int kx = 0; kx < k; kx++)
                    {
                        int x = ox * j->Stride - j->Padding + kx;
                        float* to = row + (ky * k + kx) * tapStride;
                        int ch = 0;
                        if ((uint)y < (uint)s && (uint)x < (uint)s)
                        {
                            float* from = map + y * rowStride + x * columnStride;
                            // A run is a few vectors (the stem's 32 or 64 channels): copied inline, not through a call.
                            if (runs && Vector.IsHardwareAccelerated)
                                for (; ch <= c - Vector<float>.Count; ch += Vector<float>.Count)
                                    Vector.Store(Vector.Load(from + ch), to + ch);
                            for (; ch < c; ch++) to[ch * toChannel] = from[ch * channelStride];
                        }
                        else if (runs) new Span<float>(to, c).Clear(); // padding: the border taps only
                        else for (; ch < c; ch++) to[ch * toChannel] = 0f;
                    }
                }
            }
    }

    /// <summary>
    /// The adjoint of <see cref="Im2Col"/> (same layouts): d map = Σ of every column entry that read it (entries that read
    /// padding are dropped). Overwrites <paramref name="dinput"/>; each map element sums its entries in position order.
    /// </summary>
    public static void Col2Im(WorkerPool pool, int threads, float* dcolumns, int batch, int channels, int size, bool channelsLast,
        int kernel, int stride, int padding, float* dinput, bool tapMajor = false)
    {
        var job = new MapJob { Input = dcolumns, Output = dinput, Channels = channels, Size = size, Kernel = kernel, Stride = stride, Padding = padding, ChannelsLast = channelsLast, TapMajor = tapMajor };
        pool.Run(batch, threads, &Col2ImImage, &job);
    }

    private static void Col2ImImage(void* context, int b, int worker)
    {
        MapJob* j = (MapJob*)context;
        int c = j->Channels, s = j->Size, k = j->Kernel, o = OutputSize(s, k, j->Stride, j->Padding), width = c * k * k;
        float* map = j->Output + b * (long)c * s * s;
        new Span<float>(map, c * s * s).Clear();
        float* rows = j->Input + (long)b * o * o * width;
        (long channelStride, long rowStride, long columnStride) = j->Strides;
        (long tapStride, long fromChannel) = j->ColumnStrides;
        bool runs = channelStride == 1 && fromChannel == 1;
        // A map element gets at most one entry per position, so the sums run in position order whatever the inner order.
        for (int oy = 0; oy < o; oy++)
            for (int ox = 0; ox < o; ox++)
            {
                float* row = rows + ((long)oy * o + ox) * width;
                for (int ky = 0; ky < k; ky++)
                {
                    int y = oy * j->Stride - j->Padding + ky;
                    if ((uint)y >= (uint)s) continue;
                    for (int kx = 0; kx < k; kx++)
                    {
                        int x = ox * j->Stride - j->Padding + kx;
                        if ((uint)x >= (uint)s) continue;
                        float* from = row + (ky * k + kx) * tapStride, to = map + y * rowStride + x * columnStride;
                        int ch = 0;
                        if (runs && Vector.IsHardwareAccelerated)
                            for (; ch <= c - Vector<float>.Count; ch += Vector<float>.Count)
                                Vector.Store(Vector.Load(to + ch) + Vector.Load(from + ch), to + ch);
                        for (; ch < c; ch++) to[ch * channelStride] += from[ch * fromChannel];
                    }
                }
            }
    }

    /// <summary>
    /// A convolution weight (C_out, C, k²) in torch order -> (C_out, k², C): the order of <see cref="Im2Col"/>'s
    /// tap-major columns, so that the product with them is the same convolution.
    /// </summary>
    public static void ToTapMajor(float* weight, float* tapMajor, int outChannels, int channels, int taps)
    {
        for (int n = 0; n < outChannels; n++)
        {
            float* from = weight + (long)n * channels * taps, to = tapMajor + (long)n * channels * taps;
            for (int ch = 0; ch < channels; ch++)
                for (int t = 0; t < taps; t++) to[t * channels + ch] = from[ch * taps + t];
        }
    }

    /// <summary>
    /// gradient (C_out, C, k²) in torch order += <paramref name="tapMajor"/> (C_out, k², C): brings a weight gradient
    /// computed against tap-major columns back to the parameter's layout.
    /// </summary>
    public static void AddFromTapMajor(float* tapMajor, float* gradient, int outChannels, int channels, int taps)
    {
        for (int n = 0; n < outChannels; n++)
        {
            float* from = tapMajor + (long)n * channels * taps, to = gradient + (long)n * channels * taps;
            for (int ch = 0; ch < channels; ch++)
                for (int t = 0; t < taps; t++) to[ch * taps + t] += from[t * channels + ch];
        }
    }

    private struct NormJob
    {
        public float* X, Y, Dy, Gamma, Beta, Mean, Rstd, Partials;
        public int Positions, Channels, Groups;
        public float Epsilon;
    }

    /// <summary>
    /// y = ReLU(GroupNorm(x) · γ + β) on NHWC maps (B, P positions, C): each image's channels fall into G groups of C/G,
    /// normalised over all positions of the group. Keeps mean and 1/√(var + ε) per (image, group) in
    /// <paramref name="mean"/> and <paramref name="rstd"/> (B·G each). <paramref name="y"/> may be <paramref name="x"/>.
    /// </summary>
    public static void GroupNormReluForward(WorkerPool pool, int threads, float* x, float* gamma, float* beta, float* y,
        int batch, int positions, int channels, int groups, float epsilon, float* mean, float* rstd)
    {
        var job = new NormJob { X = x, Y = y, Gamma = gamma, Beta = beta, Mean = mean, Rstd = rstd, Positions = positions, Channels = channels, Groups = groups, Epsilon = epsilon };
        pool.Run(batch, threads, &ForwardImage, &job);
    }

    private static void ForwardImage(void* context, int b, int worker)
    {
        NormJob* j = (NormJob*)context;
        int p = j->Positions, c = j->Channels, groups = j->Groups, width = c / groups;
        float* x = j->X + (long)b * p * c, y = j->Y + (long)b * p * c;
        // Per-channel sums over the positions (vectors across the channels of a position), then per group. Each channel's
        // sum is kept in float over blocks of positions and in double across blocks: the groups hold thousands of values.
        float* groupMean = stackalloc float[c], scale = stackalloc float[c], partial = stackalloc float[c];
        double* total = stackalloc double[c];
        SumOverPositions(x, null, p, c, partial, total);
        for (int g = 0; g < groups; g++)
        {
            double sum = 0;
            for (int e = g * width; e < (g + 1) * width; e++) sum += total[e];
            float m = (float)(sum / ((double)p * width));
            j->Mean[b * groups + g] = m;
            for (int e = g * width; e < (g + 1) * width; e++) groupMean[e] = m;
        }
        SumOverPositions(x, groupMean, p, c, partial, total);
        for (int g = 0; g < groups; g++)
        {
            double squares = 0;
            for (int e = g * width; e < (g + 1) * width; e++) squares += total[e];
            float r = (float)(1.0 / Math.Sqrt(squares / ((double)p * width) + j->Epsilon));
            j->Rstd[b * groups + g] = r;
            for (int e = g * width; e < (g + 1) * width; e++) scale[e] = r * j->Gamma[e];
        }
        float* beta = j->Beta;
        for (int i = 0; i < p; i++)
        {
            float* xi = x + (long)i * c, yi = y + (long)i * c;
            int e = 0;
            if (Vector.IsHardwareAccelerated)
                for (; e <= c - Vector<float>.Count; e += Vector<float>.Count)
                {
                    Vector<float> value = (Vector.Load(xi + e) - Vector.Load(groupMean + e)) * Vector.Load(scale + e) + Vector.Load(beta + e);
                    Vector.Store(Vector.Max(value, Vector<float>.Zero), yi + e);
                }
            for (; e < c; e++)
            {
                float value = (xi[e] - groupMean[e]) * scale[e] + beta[e];
                yi[e] = value > 0f ? value : 0f;
            }
        }
    }

    /// <summary>
    /// total[e] = Σ over positions of x[i, e] (when <paramref name="centre"/> is null) or of (x[i, e] − centre[e])², summed
    /// in float over blocks of 64 positions and in double across blocks.
    /// </summary>
    private static void SumOverPositions(float* x, float* centre, int positions, int channels, float* partial, double* total)
    {
        const int Block = 64;
        new Span<double>(total, channels).Clear();
        for (int start = 0; start < positions; start += Block)
        {
            new Span<float>(partial, channels).Clear();
            for (int i = start; i < Math.Min(start + Block, positions); i++)
            {
                float* xi = x + (long)i * channels;
                int e = 0;
                if (Vector.IsHardwareAccelerated)
                    for (; e <= channels - Vector<float>.Count; e += Vector<float>.Count)
                    {
                        Vector<float> v = Vector.Load(xi + e);
                        if (centre != null) { v -= Vector.Load(centre + e); v *= v; }
                        Vector.Store(Vector.Load(partial + e) + v, partial + e);
                    }
                for (; e < channels; e++)
                {
                    float v = xi[e];
                    if (centre != null) { v -= centre[e]; v *= v; }
                    partial[e] += v;
                }
            }
            for (int e = 0; e < channels; e++) total[e] += partial[e];
        }
    }

    /// <summary>
    /// Backward of <see cref="GroupNormReluForward"/>: on entry <paramref name="dy"/> is d loss / d y, on return d loss / d x
    /// (in place). dγ and dβ are added into <paramref name="dgamma"/> and <paramref name="dbeta"/> through per-image
    /// partial sums (<paramref name="partials"/>, B·2C floats) reduced in image order.
    /// </summary>
    public static void GroupNormReluBackward(WorkerPool pool, int threads, float* dy, float* x, float* y, float* mean, float* rstd,
        float* gamma, float* dgamma, float* dbeta, float* partials, int batch, int positions, int channels, int groups)
    {
        var job = new NormJob { Dy = dy, X = x, Y = y, Mean = mean, Rstd = rstd, Gamma = gamma, Partials = partials, Positions = positions, Channels = channels, Groups = groups };
        pool.Run(batch, threads, &BackwardImage, &job);
        for (int b = 0; b < batch; b++)
        {
            float* part = partials + (long)b * 2 * channels;
            for (int e = 0; e < channels; e++)
            {
                dgamma[e] += part[e];
                dbeta[e] += part[channels + e];
            }
        }
    }

    private static void BackwardImage(void* context, int b, int worker)
    {
        NormJob* j = (NormJob*)context;
        int p = j->Positions, c = j->Channels, groups = j->Groups, width = c / groups;
        float* dy = j->Dy + (long)b * p * c, x = j->X + (long)b * p * c, y = j->Y + (long)b * p * c, gamma = j->Gamma;
        float* dgamma = j->Partials + (long)b * 2 * c, dbeta = dgamma + c;
        new Span<float>(dgamma, 2 * c).Clear();
        // Per-channel values of the channel's group: mean, 1/σ, and the two means of the dx formula below.
        float* mean = stackalloc float[c], rstd = stackalloc float[c], meanDxhat = stackalloc float[c], meanDxhatXhat = stackalloc float[c];
        for (int e = 0; e < c; e++)
        {
            mean[e] = j->Mean[b * groups + e / width];
            rstd[e] = j->Rstd[b * groups + e / width];
        }
        // y = ReLU(z): dz = dy where y > 0. z = x̂·γ + β: dγ += dz·x̂, dβ += dz, dx̂ = dz·γ. Vectors across the channels of
        // a position; each channel still sums its positions in order.
        for (int i = 0; i < p; i++)
        {
            long at = (long)i * c;
            int e = 0;
            if (Vector.IsHardwareAccelerated)
                for (; e <= c - Vector<float>.Count; e += Vector<float>.Count)
                {
                    Vector<float> dz = Vector.ConditionalSelect(Vector.GreaterThan(Vector.Load(y + at + e), Vector<float>.Zero),
                        Vector.Load(dy + at + e), Vector<float>.Zero);
                    Vector<float> xhat = (Vector.Load(x + at + e) - Vector.Load(mean + e)) * Vector.Load(rstd + e);
                    Vector.Store(dz, dy + at + e);
                    Vector.Store(Vector.Load(dgamma + e) + dz * xhat, dgamma + e);
                    Vector.Store(Vector.Load(dbeta + e) + dz, dbeta + e);
                }
            for (; e < c; e++)
            {
                float dz = y[at + e] > 0f ? dy[at + e] : 0f;
                float xhat = (x[at + e] - mean[e]) * rstd[e];
                dy[at + e] = dz;
                dgamma[e] += dz * xhat;
                dbeta[e] += dz;
            }
        }
        // Σ dx̂ = Σ γ·dβ and Σ dx̂·x̂ = Σ γ·dγ over the group's channels.
        double count = (double)p * width;
        for (int g = 0; g < groups; g++)
        {
            double a = 0, bb = 0;
            for (int e = g * width; e < (g + 1) * width; e++)
            {
                a += (double)gamma[e] * dbeta[e];
                bb += (double)gamma[e] * dgamma[e];
            }
            for (int e = g * width; e < (g + 1) * width; e++)
            {
                meanDxhat[e] = (float)(a / count);
                meanDxhatXhat[e] = (float)(bb / count);
            }
        }
        // dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)) over the group
        for (int i = 0; i < p; i++)
        {
            long at = (long)i * c;
            int e = 0;
            if (Vector.IsHardwareAccelerated)
                for (; e <= c - Vector<float>.Count; e += Vector<float>.Count)
                {
                    Vector<float> r = Vector.Load(rstd + e);
                    Vector<float> xhat = (Vector.Load(x + at + e) - Vector.Load(mean + e)) * r;
                    Vector.Store(r * (Vector.Load(dy + at + e) * Vector.Load(gamma + e) - Vector.Load(meanDxhat + e)
                        - xhat * Vector.Load(meanDxhatXhat + e)), dy + at + e);
                }
            for (; e < c; e++)
            {
                float xhat = (x[at + e] - mean[e]) * rstd[e];
                dy[at + e] = rstd[e] * (dy[at + e] * gamma[e] - meanDxhat[e] - xhat * meanDxhatXhat[e]);
            }
        }
    }
}
