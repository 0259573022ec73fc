using ViTCompiler.Infrastructure;
using Xunit;

namespace ViTCompiler.Tests;

/// <summary>
/// im2col and col2im in both column orders against their definition written out element by element, and the weight
/// permutation that makes a tap-major product the same convolution. (The stems built on them are checked end to end
/// against the reference engine by the forward and backward tests.)
/// </summary>
public unsafe class ConvolutionTests
{
    public static TheoryData<int, int, bool, int, int, int, bool> Cases => new()
    {
        // channels, size, channelsLast, kernel, stride, padding, tapMajor
        { 3, 7, false, 3, 2, 1, true },   // NCHW input, tap-major (a stem's first stage)
        { 5, 6, true, 3, 1, 1, true },    // NHWC, contiguous runs, odd channel count
        { 9, 5, true, 3, 2, 1, true },    // stride 2 onto an odd side, more channels than a vector
        { 4, 6, true, 2, 2, 0, false },   // patches cut from an NHWC map, channel-major
        { 2, 5, false, 3, 1, 1, false },  // NCHW, channel-major
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Im2col_and_col2im_follow_their_definition(int c, int s, bool channelsLast, int k, int stride, int padding, bool tapMajor)
    {
        const int Batch = 3;
        int o = Convolution.OutputSize(s, k, stride, padding), width = c * k * k;
        float[] map = TestData.Uniform(Batch * c * s * s, seed: 11), columns = new float[Batch * o * o * width];
        float[] dcolumns = TestData.Uniform(columns.Length, seed: 12), dmap = new float[map.Length];
        fixed (float* m = map, col = columns, dc = dcolumns, dm = dmap)
        {
            Convolution.Im2Col(WorkerPool.Shared, 2, m, Batch, c, s, channelsLast, k, stride, padding, col, tapMajor);
            Convolution.Col2Im(WorkerPool.Shared, 2, dc, Batch, c, s, channelsLast, k, stride, padding, dm, tapMajor);
        }

        // The definition: entry (b, position, channel, ky, kx) reads map (b, channel, y, x) or zero outside the map;
        // col2im adds each entry back to where it was read.
        var expectedMap = new double[map.Length];
        for (int b = 0; b < Batch; b++)
            for (int oy = 0; oy < o; oy++)
                for (int ox = 0; ox < o; ox++)
                    for (int ch = 0; ch < c; ch++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                            {
                                int y = oy * stride - padding + ky, x = ox * stride - padding + kx;
                                int within = tapMajor ? (ky * k + kx) * c + ch : ch * k * k + ky * k + kx;
                                int entry = ((b * o + oy) * o + ox) * width + within;
                                bool inside = y >= 0 && y < s && x >= 0 && x < s;
                                int at = !inside ? -1 : channelsLast ? ((b * s + y) * s + x) * c + ch : ((b * c + ch) * s + y) * s + x;
                                Assert.Equal(inside ? map[at] : 0f, columns[entry]);
                                if (inside) expectedMap[at] += dcolumns[entry];
                            }
        for (int i = 0; i < map.Length; i++)
            Assert.Equal(expectedMap[i], dmap[i], 1e-5);
    }

    [Fact]
    public void Tap_major_weights_are_the_weights_in_column_order_and_their_gradient_goes_back()
    {
        const int Out = 5, C = 3, Taps = 9;
        int k = C * Taps;
        float[] weight = TestData.Uniform(Out * k, seed: 21), tapMajor = new float[weight.Length];
        float[] gradient = TestData.Uniform(weight.Length, seed: 23), before = (float[])gradient.Clone();
        fixed (float* w = weight, t = tapMajor, g = gradient)
        {
            Convolution.ToTapMajor(w, t, Out, C, Taps);
            Convolution.AddFromTapMajor(t, g, Out, C, Taps); // adds the weight itself, permuted back
        }
        // (out, channel, tap) of the torch layout is (out, tap, channel) of the columns' order.
        for (int n = 0; n < Out; n++)
            for (int ch = 0; ch < C; ch++)
                for (int tap = 0; tap < Taps; tap++)
                    Assert.Equal(weight[n * k + ch * Taps + tap], tapMajor[n * k + tap * C + ch]);
        for (int i = 0; i < weight.Length; i++) Assert.Equal(before[i] + weight[i], gradient[i]);
    }
}
