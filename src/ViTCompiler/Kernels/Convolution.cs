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
        public bool ChannelsLast;

        /// <summary>Where element (channel, row, column) of one image's map is: NCHW or NHWC.</summary>
        public readonly (long Channel, long Row, long Column) Strides =>
            ChannelsLast ? (1, (long)Size * Channels, Channels) : ((long)Size * Size, Size, 1);
    }

    /// <summary>Output side of a convolution: (S + 2p − k) / s + 1.</summary>
    public static int OutputSize(int size, int kernel, int stride, int padding) => (size + 2 * padding - kernel) / stride + 1;

    /// <summary>
    /// (B, C, S, S) or (B, S, S, C) -> (B·O², C·k·k): one row per output position, flattened (channel, row, column) to
    /// match a torch convolution weight (C_out, C, k, k); positions outside the map read zero. With k = s and p = 0 this
    /// cuts patches.
    /// </summary>
    public static void Im2Col(WorkerPool pool, int threads, float* input, int batch, int channels, int size, bool channelsLast,
        int kernel, int stride, int padding, float* columns)
    {
        var job = new MapJob { Input = input, Output = columns, Channels = channels, Size = size, Kernel = kernel, Stride = stride, Padding = padding, ChannelsLast = channelsLast };
        pool.Run(batch, threads, &Im2ColImage, &job);
    }

    private static void Im2ColImage(void* context, int b, int worker)
    {
        MapJob* j = (MapJob*)context;
        int c = j->Channels, s = j->Size, k = j->Kernel, o = OutputSize(s, k, j->Stride, j->Padding), width = c * k * k;
        float* map = j->Input + b * (long)c * s * s;
        float* rows = j->Output + (long)b * o * o * width;
        (long channelStride, long rowStride, long columnStride) = j->Strides;
        for (int oy = 0; oy < o; oy++)
            for (int ox = 0; ox < o; ox++)
            {
                float* row = rows + ((long)oy * o + ox) * width;
                for (int ch = 0; ch < c; ch++)
                    for (int ky = 0; ky < k; ky++)
                    {
                        int y = oy * j->Stride - j->Padding + ky;
                        for (int kx = 0; kx < k; kx++)
                        {
                            int x = ox * j->Stride - j->Padding + kx;
                            row[(ch * k + ky) * k + kx] = (uint)y < (uint)s && (uint)x < (uint)s
                                ? map[ch * channelStride + y * rowStride + x * columnStride]
                                : 0f;
                        }
                    }
            }
    }

    /// <summary>
    /// The adjoint of <see cref="Im2Col"/>: d map = Σ of every column entry that read it (entries that read padding are
    /// dropped). Overwrites <paramref name="dinput"/>; sums in a fixed (position, channel, row, column) order.
    /// </summary>
    public static void Col2Im(WorkerPool pool, int threads, float* dcolumns, int batch, int channels, int size, bool channelsLast,
        int kernel, int stride, int padding, float* dinput)
    {
        var job = new MapJob { Input = dcolumns, Output = dinput, Channels = channels, Size = size, Kernel = kernel, Stride = stride, Padding = padding, ChannelsLast = channelsLast };
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
        for (int oy = 0; oy < o; oy++)
            for (int ox = 0; ox < o; ox++)
            {
                float* row = rows + ((long)oy * o + ox) * width;
                for (int ch = 0; ch < c; ch++)
                    for (int ky = 0; ky < k; ky++)
                    {
                        int y = oy * j->Stride - j->Padding + ky;
                        if ((uint)y >= (uint)s) continue;
                        for (int kx = 0; kx < k; kx++)
                        {
                            int x = ox * j->Stride - j->Padding + kx;
                            if ((uint)x < (uint)s) map[ch * channelStride + y * rowStride + x * columnStride] += row[(ch * k + ky) * k + kx];
                        }
                    }
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
        for (int g = 0; g < groups; g++)
        {
            // Two passes in double: the groups hold thousands of values, and the variance must not lose them.
            double sum = 0;
            for (int i = 0; i < p; i++)
                for (int e = g * width; e < (g + 1) * width; e++) sum += x[(long)i * c + e];
            double average = sum / ((double)p * width), squares = 0;
            for (int i = 0; i < p; i++)
                for (int e = g * width; e < (g + 1) * width; e++)
                {
                    double centred = x[(long)i * c + e] - average;
                    squares += centred * centred;
                }
            float m = (float)average, s = (float)(1.0 / Math.Sqrt(squares / ((double)p * width) + j->Epsilon));
            j->Mean[b * groups + g] = m;
            j->Rstd[b * groups + g] = s;
            for (int i = 0; i < p; i++)
                for (int e = g * width; e < (g + 1) * width; e++)
                {
                    float value = (x[(long)i * c + e] - m) * s * j->Gamma[e] + j->Beta[e];
                    y[(long)i * c + e] = value > 0f ? value : 0f;
                }
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
        float* dy = j->Dy + (long)b * p * c, x = j->X + (long)b * p * c, y = j->Y + (long)b * p * c;
        float* dgamma = j->Partials + (long)b * 2 * c, dbeta = dgamma + c;
        new Span<float>(dgamma, 2 * c).Clear();
        for (int g = 0; g < groups; g++)
        {
            float m = j->Mean[b * groups + g], s = j->Rstd[b * groups + g];
            // y = ReLU(z): dz = dy where y > 0. z = x̂·γ + β: dγ += dz·x̂, dβ += dz, dx̂ = dz·γ.
            double meanDxhat = 0, meanDxhatXhat = 0;
            for (int i = 0; i < p; i++)
                for (int e = g * width; e < (g + 1) * width; e++)
                {
                    long at = (long)i * c + e;
                    float dz = y[at] > 0f ? dy[at] : 0f;
                    float xhat = (x[at] - m) * s;
                    dy[at] = dz;
                    dgamma[e] += dz * xhat;
                    dbeta[e] += dz;
                    double dxhat = dz * j->Gamma[e];
                    meanDxhat += dxhat;
                    meanDxhatXhat += dxhat * xhat;
                }
            double count = (double)p * width;
            float a = (float)(meanDxhat / count), bb = (float)(meanDxhatXhat / count);
            // dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)) over the group
            for (int i = 0; i < p; i++)
                for (int e = g * width; e < (g + 1) * width; e++)
                {
                    long at = (long)i * c + e;
                    float xhat = (x[at] - m) * s;
                    dy[at] = s * (dy[at] * j->Gamma[e] - a - xhat * bb);
                }
        }
    }
}
