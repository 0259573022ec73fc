namespace ViTCompiler.Analysis;

/// <summary>
/// The principal components of a model's patch-embedding filters (the paper's Fig. 7 left: "RGB embedding filters
/// (first 28 principal components)"). The patch embedding is a linear map from a flattened (C, P, P) patch to D
/// numbers, i.e. D filters of C·P·P weights each; their principal components show which patch patterns the model
/// separates — for ViT-L/32 on ImageNet, plausible basis functions for fine structure within a patch.
/// </summary>
public static class EmbeddingFilters
{
    /// <summary>How many components the paper shows.</summary>
    public const int PaperComponents = 28;

    /// <summary>
    /// The first <paramref name="count"/> principal components (fewer when a patch has fewer than that many weights) of
    /// the rows of <c>patch_embed.proj.weight</c>, after subtracting the mean filter. Computed in double precision from
    /// the (C·P·P)² covariance of the D filters.
    /// </summary>
    /// <param name="config">The model's configuration.</param>
    /// <param name="parameters">The model's parameter block, laid out as <see cref="VitConfig.Layout"/> says.</param>
    /// <param name="count">Components to keep (at least 1).</param>
    public static FilterComponents PrincipalComponents(VitConfig config, ReadOnlySpan<float> parameters, int count = PaperComponents)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        CheckParameters(config, parameters);
        ReadOnlySpan<float> weights = config.Layout["patch_embed.proj.weight"].Of(parameters);
        int filters = config.Hidden, length = config.PatchDim;

        double[] mean = new double[length];
        for (int f = 0; f < filters; f++)
            for (int k = 0; k < length; k++) mean[k] += weights[f * length + k];
        for (int k = 0; k < length; k++) mean[k] /= filters;

        // Covariance of the filters (sample covariance; a single filter has none, so divide by 1 then).
        double[,] covariance = new double[length, length];
        double[] centred = new double[length];
        for (int f = 0; f < filters; f++)
        {
            for (int k = 0; k < length; k++) centred[k] = weights[f * length + k] - mean[k];
            for (int a = 0; a < length; a++)
            {
                double ca = centred[a];
                if (ca == 0) continue;
                for (int b = a; b < length; b++) covariance[a, b] += ca * centred[b];
            }
        }
        double denominator = Math.Max(1, filters - 1);
        for (int a = 0; a < length; a++)
            for (int b = a; b < length; b++)
            {
                covariance[a, b] /= denominator;
                covariance[b, a] = covariance[a, b];
            }

        (double[] values, double[,] vectors) = SymmetricEigen.Decompose(covariance);
        int kept = Math.Min(count, length);
        double[] components = new double[kept * length];
        double[] variances = new double[kept];
        for (int c = 0; c < kept; c++)
        {
            // An eigenvector's sign is arbitrary; fix it so that its largest-magnitude weight is positive.
            int largest = 0;
            for (int k = 1; k < length; k++)
                if (Math.Abs(vectors[k, c]) > Math.Abs(vectors[largest, c])) largest = k;
            double sign = vectors[largest, c] < 0 ? -1 : 1;
            for (int k = 0; k < length; k++) components[c * length + k] = sign * vectors[k, c];
            // Rounding can leave the smallest eigenvalues of a rank-deficient covariance a hair below zero.
            variances[c] = Math.Max(0, values[c]);
        }
        double total = 0;
        for (int a = 0; a < length; a++) total += covariance[a, a];
        return new FilterComponents(config.Channels, config.Patch, components, variances, total);
    }

    /// <summary>As <see cref="PrincipalComponents(VitConfig, ReadOnlySpan{float}, int)"/> for <paramref name="model"/>'s parameters.</summary>
    public static FilterComponents PrincipalComponents(IVitWeights model, int count = PaperComponents)
    {
        ArgumentNullException.ThrowIfNull(model);
        return PrincipalComponents(model.Config, model.Parameters, count);
    }

    internal static void CheckParameters(VitConfig config, ReadOnlySpan<float> parameters)
    {
        if (parameters.Length != config.ParameterCount)
            throw new ArgumentException($"The parameter block has {parameters.Length:N0} floats; {config} has {config.ParameterCount:N0}.", nameof(parameters));
    }
}

/// <summary>Principal components of patch-embedding filters, strongest first (<see cref="EmbeddingFilters.PrincipalComponents(VitConfig, ReadOnlySpan{float}, int)"/>).</summary>
public sealed class FilterComponents
{
    private readonly double[] _components;
    private readonly double[] _variances;

    internal FilterComponents(int channels, int patch, double[] components, double[] variances, double totalVariance)
    {
        Channels = channels;
        Patch = patch;
        _components = components;
        _variances = variances;
        TotalVariance = totalVariance;
    }

    /// <summary>Image channels C of a filter.</summary>
    public int Channels { get; }

    /// <summary>Patch side P of a filter.</summary>
    public int Patch { get; }

    /// <summary>Weights per filter, C·P·P.</summary>
    public int Length => Channels * Patch * Patch;

    /// <summary>Components kept.</summary>
    public int Count => _variances.Length;

    /// <summary>
    /// Component <paramref name="index"/> as a unit vector laid out (channel, row, column) like the filters, signed so
    /// that its largest-magnitude weight is positive.
    /// </summary>
    public ReadOnlySpan<double> Component(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return _components.AsSpan(index * Length, Length);
    }

    /// <summary>Variance of the filters along component <paramref name="index"/> (the covariance's eigenvalue).</summary>
    public double Variance(int index) => _variances[index];

    /// <summary>Total variance of the filters (the covariance's trace), over all C·P·P directions.</summary>
    public double TotalVariance { get; }

    /// <summary>Share of the total variance along component <paramref name="index"/>.</summary>
    public double ExplainedRatio(int index) => TotalVariance > 0 ? _variances[index] / TotalVariance : 0;
}
