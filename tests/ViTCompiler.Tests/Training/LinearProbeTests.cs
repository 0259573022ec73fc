using ViTCompiler.Data;
using ViTCompiler.Training;
using Xunit;

namespace ViTCompiler.Tests.Training;

public class LinearProbeTests
{
    private static (float[] Features, int[] Labels) Random(int n, int d, int classes, int seed)
    {
        var rng = new VitRandom((ulong)seed);
        float[] x = new float[n * d];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 4 - 2);
        int[] y = Enumerable.Range(0, n).Select(i => (i * 5 + seed) % classes).ToArray();
        return (x, y);
    }

    /// <summary>
    /// The normal equations written out plainly and solved by Gaussian elimination with partial pivoting (not the
    /// Cholesky factorisation the library uses): [X 1]ᵀ[X 1] + diag(λ, …, λ, 0) times W equals [X 1]ᵀY.
    /// </summary>
    private static double[,] IndependentSolve(float[] x, int[] y, int d, int classes, double lambda)
    {
        int n = y.Length, m = d + 1;
        double Feature(int i, int j) => j == d ? 1 : x[i * d + j];
        var a = new double[m, m + classes];
        for (int r = 0; r < m; r++)
        {
            for (int c = 0; c < m; c++)
            {
                double sum = 0;
                for (int i = 0; i < n; i++) sum += Feature(i, r) * Feature(i, c);
                a[r, c] = sum + (r == c && r < d ? lambda : 0);
            }
            for (int k = 0; k < classes; k++)
            {
                double sum = 0;
                for (int i = 0; i < n; i++) sum += Feature(i, r) * (y[i] == k ? 1.0 : -1.0);
                a[r, m + k] = sum;
            }
        }
        for (int col = 0; col < m; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < m; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col])) pivot = r;
            for (int c = 0; c < m + classes; c++) (a[col, c], a[pivot, c]) = (a[pivot, c], a[col, c]);
            for (int r = 0; r < m; r++)
            {
                if (r == col) continue;
                double factor = a[r, col] / a[col, col];
                for (int c = col; c < m + classes; c++) a[r, c] -= factor * a[col, c];
            }
        }
        var w = new double[m, classes];
        for (int r = 0; r < m; r++)
            for (int k = 0; k < classes; k++) w[r, k] = a[r, m + k] / a[r, r];
        return w;
    }

    [Theory]
    [InlineData(40, 7, 3, 0.5)]   // more images than features
    [InlineData(10, 33, 5, 1.0)]  // few-shot: fewer images than features, held up by λ
    [InlineData(25, 1, 2, 0.0)]   // one feature, no regularisation
    [InlineData(12, 64, 4, 1e-3)] // Fashion's width, 3 shots per class, little regularisation
    public void The_closed_form_matches_an_independent_solve_of_the_normal_equations(int n, int d, int classes, double lambda)
    {
        (float[] x, int[] y) = Random(n, d, classes, seed: n + d);
        LinearProbeModel probe = LinearProbe.Fit(x, d, y, classes, lambda);
        double[,] expected = IndependentSolve(x, y, d, classes, lambda);

        double scale = 0, worst = 0;
        for (int r = 0; r <= d; r++)
            for (int k = 0; k < classes; k++)
            {
                scale = Math.Max(scale, Math.Abs(expected[r, k]));
                worst = Math.Max(worst, Math.Abs(probe.Weights[r * classes + k] - expected[r, k]));
            }
        Assert.True(worst <= 1e-8 * Math.Max(1, scale), $"worst difference {worst:E2} at scale {scale:E2}");
    }

    [Fact]
    public void Outputs_are_the_linear_map_and_separable_classes_are_all_found()
    {
        // Three well-separated clusters in 5 dimensions.
        const int d = 5, classes = 3, perClass = 20;
        var rng = new VitRandom(3);
        float[] x = new float[classes * perClass * d];
        int[] y = new int[classes * perClass];
        for (int i = 0; i < y.Length; i++)
        {
            y[i] = i % classes;
            for (int j = 0; j < d; j++) x[i * d + j] = (float)((j == y[i] ? 3 : 0) + 0.3 * (rng.NextDouble() - 0.5));
        }
        LinearProbeModel probe = LinearProbe.Fit(x, d, y, classes);
        Assert.Equal(1.0, probe.Accuracy(x, y));

        double[] outputs = new double[classes];
        probe.Outputs(x.AsSpan(0, d), outputs);
        for (int k = 0; k < classes; k++)
        {
            double expected = probe.Weights[d * classes + k];
            for (int j = 0; j < d; j++) expected += x[j] * probe.Weights[j * classes + k];
            Assert.Equal(expected, outputs[k], 12);
        }
    }

    [Fact]
    public void Degenerate_features_without_regularisation_and_bad_arguments_are_refused()
    {
        float[] x = [1, 2, 2, 4, 3, 6]; // the second feature is twice the first
        var e = Assert.Throws<ArgumentException>(() => LinearProbe.Fit(x, 2, [0, 1, 0], 2, regularization: 0));
        Assert.Contains("regularisation above 0", e.Message);
        LinearProbe.Fit(x, 2, [0, 1, 0], 2, regularization: 0.1);
        Assert.Throws<ArgumentOutOfRangeException>(() => LinearProbe.Fit(x, 2, [0, 2, 0], 2));
        Assert.Throws<ArgumentException>(() => LinearProbe.Fit(x, 3, [0, 1, 0], 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => LinearProbe.Fit(x, 2, [0, 1, 0], 2, regularization: -1));
    }

    [Fact]
    public void The_feature_extractor_outputs_what_the_head_reads()
    {
        var model = new OddWidth(seed: 1);
        TestData.Randomize(model, 2);
        var extractor = new OddWidth(classes: OddWidth.Hidden);
        LinearProbe.MakeFeatureExtractor(model, extractor);

        VitConfig c = model.Config;
        const int count = 5;
        byte[] bytes = new byte[count * c.PixelsPerImage];
        new Random(4).NextBytes(bytes);
        var images = new LabeledImages(bytes, new int[count], c.Channels, c.ImageSize, c.ImageSize, c.Classes);
        float[] features = LinearProbe.Features(extractor, images, ChannelNormalization.Google, batchSize: 2);

        // The original model's logits are the head applied to those features.
        var batcher = new ImageBatcher(images, BatcherOptions.Evaluation(count, ChannelNormalization.Google));
        float[] pixels = new float[batcher.FloatsPerBatch];
        Assert.True(batcher.TryNextBatch(pixels, new int[count], out _));
        float[] logits = new float[count * c.Classes];
        model.Forward(pixels, count, logits);
        ReadOnlySpan<float> w = c.Layout["head.weight"].Of(model.Parameters), b = c.Layout["head.bias"].Of(model.Parameters);
        double[] expected = new double[logits.Length];
        for (int i = 0; i < count; i++)
            for (int k = 0; k < c.Classes; k++)
            {
                double sum = b[k];
                for (int j = 0; j < c.Hidden; j++) sum += (double)w[k * c.Hidden + j] * features[i * c.Hidden + j];
                expected[i * c.Classes + k] = sum;
            }
        Assert.True(TestData.RelativeError(logits, expected) < 1e-5);

        Assert.Throws<ArgumentException>(() => LinearProbe.MakeFeatureExtractor(model, new OddWidth(classes: 5)));
        Assert.Throws<ArgumentException>(() => LinearProbe.Features(model, images, ChannelNormalization.Google));
    }

    [Fact]
    public void Shots_are_the_asked_number_per_class_and_the_rest_is_held_out()
    {
        int[] labels = Enumerable.Range(0, 50).Select(i => i % 4 == 3 ? 3 : i % 3).ToArray();
        var images = new LabeledImages(new byte[50], labels, 1, 1, 1, 4);
        (int[] fit, int[] rest) = LinearProbe.SelectShots(images, 5, seed: 7);
        Assert.All(Enumerable.Range(0, 4), k => Assert.Equal(5, fit.Count(i => labels[i] == k)));
        Assert.Equal(Enumerable.Range(0, 50), fit.Concat(rest).Order());
        Assert.Equal(fit, LinearProbe.SelectShots(images, 5, seed: 7).Fit);
        var e = Assert.Throws<ArgumentException>(() => LinearProbe.SelectShots(images, 13, seed: 7));
        Assert.Contains("fewer than the 13 shots", e.Message);
    }
}
