using ViTCompiler.Analysis;
using ViTCompiler.Reference;
using Xunit;

namespace ViTCompiler.Tests.Analysis;

public class EmbeddingFiltersTests
{
    [Theory]
    [InlineData(1, 4, 64, 28)]  // Fashion-MNIST's shape: 16 weights per filter, so 16 components at most
    [InlineData(3, 3, 36, 5)]   // RGB 3 × 3 patches (27 weights), 36 filters
    [InlineData(3, 4, 20, 28)]  // fewer filters (20) than weights (48): the covariance has rank 19
    public void Components_match_power_iteration_with_deflation_in_double(int channels, int patch, int hidden, int count)
    {
        var config = new VitConfig { ImageSize = patch * 2, Channels = channels, Patch = patch, Layers = 1, Hidden = hidden, Heads = 1, MlpDim = 4, Classes = 2 };
        var model = new ReferenceVitModel(config);
        float[] weights = PlantedFilters(hidden, config.PatchDim, seed: (ulong)(channels * 100 + patch));
        using (ParameterEdit edit = model.EditParameters()) weights.CopyTo(edit[config.Layout["patch_embed.proj.weight"]]);

        FilterComponents pca = EmbeddingFilters.PrincipalComponents(model, count);
        int length = config.PatchDim;
        Assert.Equal(Math.Min(count, length), pca.Count);
        Assert.Equal((channels, patch, length), (pca.Channels, pca.Patch, pca.Length));

        double[,] covariance = Covariance(weights, hidden, length);
        double trace = 0;
        for (int i = 0; i < length; i++) trace += covariance[i, i];
        Assert.Equal(trace, pca.TotalVariance, 1e-9 * trace);

        // Compare only where the spectrum has a gap, so power iteration converges to a unique direction.
        int compared = 0;
        foreach ((double value, double[] vector) in PowerIteration(covariance, Math.Min(pca.Count, hidden - 1)))
        {
            Assert.Equal(value, pca.Variance(compared), 1e-9 * trace);
            double dot = 0;
            for (int k = 0; k < length; k++) dot += vector[k] * pca.Component(compared)[k];
            Assert.True(Math.Abs(Math.Abs(dot) - 1) < 1e-7, $"component {compared}: |cos| = {Math.Abs(dot):R}");
            compared++;
        }
        Assert.True(compared >= Math.Min(pca.Count, 5), $"only {compared} components compared");
        for (int c = 0; c + 1 < pca.Count; c++) Assert.True(pca.Variance(c) >= pca.Variance(c + 1));
    }

    [Fact]
    public void The_eigen_solver_recovers_a_known_spectrum_and_handles_degenerate_matrices()
    {
        (double[] values, double[,] vectors) = SymmetricEigen.Decompose(new double[,] { { 2, 1 }, { 1, 2 } });
        Assert.Equal(3, values[0], 1e-14);
        Assert.Equal(1, values[1], 1e-14);
        Assert.Equal(Math.Abs(vectors[0, 0]), Math.Abs(vectors[1, 0]), 1e-14);

        (values, _) = SymmetricEigen.Decompose(new double[4, 4]);
        Assert.All(values, v => Assert.Equal(0, v));
        (values, _) = SymmetricEigen.Decompose(new double[,] { { 5 } });
        Assert.Equal([5.0], values);
        Assert.Throws<ArgumentException>(() => SymmetricEigen.Decompose(new double[,] { { double.NaN, 0 }, { 0, 1 } }));
    }

    [Fact]
    public void A_components_sign_puts_its_largest_weight_positive()
    {
        var config = new VitConfig { ImageSize = 8, Channels = 1, Patch = 4, Layers = 1, Hidden = 32, Heads = 1, MlpDim = 4, Classes = 2 };
        var model = new ReferenceVitModel(config);
        using (ParameterEdit edit = model.EditParameters()) PlantedFilters(32, 16, seed: 3).CopyTo(edit[config.Layout["patch_embed.proj.weight"]]);
        FilterComponents pca = EmbeddingFilters.PrincipalComponents(model.Config, model.Parameters);
        for (int c = 0; c < pca.Count; c++)
        {
            ReadOnlySpan<double> v = pca.Component(c);
            double largest = 0;
            foreach (double x in v) if (Math.Abs(x) > Math.Abs(largest)) largest = x;
            Assert.True(largest > 0);
        }
    }

    /// <summary>Filters along a few strong directions of clearly different strength, plus noise: a spectrum with gaps.</summary>
    private static float[] PlantedFilters(int filters, int length, ulong seed)
    {
        var rng = new VitRandom(seed);
        float[] weights = new float[filters * length];
        int strong = Math.Min(6, length);
        double[][] directions = new double[strong][];
        for (int s = 0; s < strong; s++)
        {
            directions[s] = new double[length];
            for (int k = 0; k < length; k++) directions[s][k] = rng.NextGaussian();
        }
        for (int f = 0; f < filters; f++)
        {
            for (int k = 0; k < length; k++) weights[f * length + k] = (float)(0.01 * rng.NextGaussian() + 0.3);
            for (int s = 0; s < strong; s++)
            {
                double amplitude = rng.NextGaussian() * Math.Pow(2.5, -s);
                for (int k = 0; k < length; k++) weights[f * length + k] += (float)(amplitude * directions[s][k]);
            }
        }
        return weights;
    }

    /// <summary>Sample covariance straight from its definition: mean of the products of deviations, over n − 1.</summary>
    private static double[,] Covariance(float[] weights, int filters, int length)
    {
        var covariance = new double[length, length];
        for (int a = 0; a < length; a++)
            for (int b = 0; b < length; b++)
            {
                double meanA = 0, meanB = 0;
                for (int f = 0; f < filters; f++) { meanA += weights[f * length + a]; meanB += weights[f * length + b]; }
                meanA /= filters;
                meanB /= filters;
                double sum = 0;
                for (int f = 0; f < filters; f++) sum += (weights[f * length + a] - meanA) * (weights[f * length + b] - meanB);
                covariance[a, b] = sum / (filters - 1);
            }
        return covariance;
    }

    /// <summary>
    /// The leading eigenpairs by power iteration with Hotelling deflation, stopping at the first one whose ratio to the
    /// next is too close to 1 to converge (its successors would inherit the error).
    /// </summary>
    private static IEnumerable<(double Value, double[] Vector)> PowerIteration(double[,] matrix, int count)
    {
        int n = matrix.GetLength(0);
        var a = (double[,])matrix.Clone();
        var rng = new VitRandom(99);
        for (int c = 0; c < count; c++)
        {
            double[] v = new double[n];
            for (int i = 0; i < n; i++) v[i] = rng.NextGaussian();
            double value = 0;
            bool converged = false;
            for (int iteration = 0; iteration < 200_000 && !converged; iteration++)
            {
                double[] w = new double[n];
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < n; j++) w[i] += a[i, j] * v[j];
                double norm = Math.Sqrt(w.Sum(x => x * x));
                if (norm == 0) yield break;
                double change = 0;
                for (int i = 0; i < n; i++)
                {
                    w[i] /= norm;
                    change = Math.Max(change, Math.Abs(w[i] - v[i]));
                }
                v = w;
                value = norm;
                converged = change < 1e-13;
            }
            if (!converged) yield break;
            yield return (value, v);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) a[i, j] -= value * v[i] * v[j];
        }
    }
}
