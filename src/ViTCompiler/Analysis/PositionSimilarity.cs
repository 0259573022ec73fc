namespace ViTCompiler.Analysis;

/// <summary>
/// Cosine similarity between the learned position embeddings of every pair of patch positions (the paper's Fig. 7
/// center): the model learns to encode distance in the image, so nearby positions — and positions in the same row or
/// column — tend to have similar embeddings. The [class] token's embedding has no place on the grid and is left out.
/// </summary>
public sealed class PositionSimilarity
{
    private readonly double[] _similarity;

    private PositionSimilarity(int grid, double[] similarity)
    {
        GridSize = grid;
        _similarity = similarity;
    }

    /// <summary>Patches per image side.</summary>
    public int GridSize { get; }

    /// <summary>Patch positions, GridSize².</summary>
    public int Positions => GridSize * GridSize;

    /// <summary>Cosine similarity of the embeddings of positions <paramref name="query"/> and <paramref name="key"/> (row-major indices).</summary>
    public double this[int query, int key]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(query);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(query, Positions);
            ArgumentOutOfRangeException.ThrowIfNegative(key);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(key, Positions);
            return _similarity[query * Positions + key];
        }
    }

    /// <summary>The similarity of the position at (<paramref name="row"/>, <paramref name="column"/>) with every position, on the grid.</summary>
    public PatchMap For(int row, int column)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, GridSize);
        ArgumentOutOfRangeException.ThrowIfNegative(column);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(column, GridSize);
        return new PatchMap(GridSize, GridSize, _similarity.AsSpan((row * GridSize + column) * Positions, Positions).ToArray());
    }

    /// <summary>Computes the similarities from the <c>pos_embed</c> tensor of <paramref name="parameters"/>.</summary>
    /// <param name="config">The model's configuration.</param>
    /// <param name="parameters">The model's parameter block, laid out as <see cref="VitConfig.Layout"/> says.</param>
    public static PositionSimilarity Compute(VitConfig config, ReadOnlySpan<float> parameters)
    {
        ArgumentNullException.ThrowIfNull(config);
        EmbeddingFilters.CheckParameters(config, parameters);
        int d = config.Hidden, positions = config.PatchCount;
        ReadOnlySpan<float> table = config.Layout["pos_embed"].Of(parameters).Slice(config.HasClassToken ? d : 0, positions * d);
        double[] norms = new double[positions];
        for (int i = 0; i < positions; i++) norms[i] = Math.Sqrt(Dot(table.Slice(i * d, d), table.Slice(i * d, d)));
        double[] similarity = new double[positions * positions];
        for (int i = 0; i < positions; i++)
            for (int j = i; j < positions; j++)
            {
                double denominator = norms[i] * norms[j];
                // A zero embedding points nowhere: call it unrelated to everything rather than divide by zero.
                double cosine = denominator > 0 ? Dot(table.Slice(i * d, d), table.Slice(j * d, d)) / denominator : 0;
                cosine = Math.Clamp(cosine, -1, 1);
                similarity[i * positions + j] = cosine;
                similarity[j * positions + i] = cosine;
            }
        return new PositionSimilarity(config.GridSize, similarity);
    }

    /// <summary>As <see cref="Compute(VitConfig, ReadOnlySpan{float})"/> for <paramref name="model"/>'s parameters.</summary>
    public static PositionSimilarity Compute(IVitWeights model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Compute(model.Config, model.Parameters);
    }

    /// <summary>
    /// The paper's qualitative claim as numbers: similarity to positions in the same row or column against the rest,
    /// and how often a position's most similar other position shares its row or column.
    /// </summary>
    public PositionSimilaritySummary Summarize()
    {
        int g = GridSize, p = Positions;
        double same = 0, elsewhere = 0;
        long sameCount = 0, elsewhereCount = 0;
        int nearestInLine = 0;
        for (int i = 0; i < p; i++)
        {
            int best = -1;
            for (int j = 0; j < p; j++)
            {
                if (j == i) continue;
                double s = _similarity[i * p + j];
                bool inLine = i / g == j / g || i % g == j % g;
                if (inLine) { same += s; sameCount++; }
                else { elsewhere += s; elsewhereCount++; }
                if (best < 0 || s > _similarity[i * p + best]) best = j;
            }
            if (best >= 0 && (i / g == best / g || i % g == best % g)) nearestInLine++;
        }
        return new PositionSimilaritySummary(
            sameCount > 0 ? same / sameCount : double.NaN,
            elsewhereCount > 0 ? elsewhere / elsewhereCount : double.NaN,
            p > 1 ? (double)nearestInLine / p : double.NaN,
            p > 1 ? 2.0 * (g - 1) / (p - 1) : double.NaN);
    }

    private static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += (double)a[i] * b[i];
        return sum;
    }
}

/// <summary>How strongly position embeddings follow the patch grid's rows and columns (<see cref="PositionSimilarity.Summarize"/>).</summary>
/// <param name="SameRowOrColumn">Mean cosine similarity between distinct positions that share a row or a column.</param>
/// <param name="Elsewhere">Mean cosine similarity between positions that share neither.</param>
/// <param name="NearestInRowOrColumn">Share of positions whose most similar other position is in the same row or column.</param>
/// <param name="ChanceNearestInRowOrColumn">That share if the most similar position were random: 2(G − 1) / (G² − 1).</param>
public readonly record struct PositionSimilaritySummary(double SameRowOrColumn, double Elsewhere, double NearestInRowOrColumn, double ChanceNearestInRowOrColumn);
