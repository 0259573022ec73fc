namespace ViTCompiler.Analysis;

/// <summary>
/// Mean attention distance of every head in every layer over a set of images (the paper's Fig. 7 right and
/// Appendix D.7): for a patch attending to the patches, the attention-weighted distance in pixels between the query
/// patch's centre and the key patches' centres, averaged over query patches and images. It is the analogue of a
/// CNN's receptive field size.
/// </summary>
/// <remarks>
/// Only patch tokens count, as queries and as keys: the [class] token has no place in the image. Each query's
/// attention over the patch keys is re-normalised to sum to 1, so that attention parked on the [class] token does not
/// read as short distances. Add captures with <see cref="Add"/>; read the result with <see cref="Mean"/>.
/// </remarks>
public sealed class AttentionDistance
{
    private readonly VitConfig _config;
    private readonly double[] _distances;
    private readonly double[] _sums;

    /// <summary>Starts an empty average for models of <paramref name="config"/>.</summary>
    public AttentionDistance(VitConfig config)
    {
        _config = (config ?? throw new ArgumentNullException(nameof(config))).Validate();
        _distances = PatchDistances(config);
        _sums = new double[config.Layers * config.Heads];
    }

    /// <summary>Images added so far.</summary>
    public int Images { get; private set; }

    /// <summary>
    /// Distance in pixels between the centres of patches i and j, as a (patches × patches) row-major table:
    /// Patch · √(Δrow² + Δcolumn²).
    /// </summary>
    public static double[] PatchDistances(VitConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        int grid = config.GridSize, patches = config.PatchCount;
        double[] table = new double[patches * patches];
        for (int i = 0; i < patches; i++)
            for (int j = 0; j < patches; j++)
            {
                int dr = i / grid - j / grid, dc = i % grid - j % grid;
                table[i * patches + j] = config.Patch * Math.Sqrt(dr * dr + dc * dc);
            }
        return table;
    }

    /// <summary>
    /// The mean distance a head would have if it spread its attention evenly over all patches: the mean of
    /// <see cref="PatchDistances"/>. A head well below it looks locally; one near it looks everywhere.
    /// </summary>
    public static double UniformDistance(VitConfig config) => PatchDistances(config).Average();

    /// <summary>Adds <paramref name="batch"/> images' attention, (batch, layers, heads, tokens, tokens).</summary>
    public void Add(ReadOnlySpan<float> attention, int batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        int perImage = AttentionMaps.FloatsPerImage(_config);
        if (attention.Length != (long)batch * perImage)
            throw new ArgumentException($"{batch} images' attention is {batch} × {perImage:N0} floats; got {attention.Length:N0}.", nameof(attention));
        int n = _config.Tokens, first = _config.HasClassToken ? 1 : 0, patches = _config.PatchCount;
        for (int b = 0; b < batch; b++)
            for (int lh = 0; lh < _sums.Length; lh++)
            {
                ReadOnlySpan<float> head = attention.Slice(b * perImage + lh * n * n, n * n);
                double total = 0;
                for (int i = 0; i < patches; i++)
                {
                    ReadOnlySpan<float> row = head.Slice((first + i) * n + first, patches);
                    ReadOnlySpan<double> distance = _distances.AsSpan(i * patches, patches);
                    double weighted = 0, mass = 0;
                    for (int j = 0; j < patches; j++)
                    {
                        weighted += row[j] * distance[j];
                        mass += row[j];
                    }
                    if (mass > 0) total += weighted / mass;
                }
                _sums[lh] += total / patches;
            }
        Images += batch;
    }

    /// <summary>The mean distance in pixels as [layer, head]; throws when no image was added.</summary>
    public double[,] Mean()
    {
        if (Images == 0) throw new InvalidOperationException("No attention was added: call Add with at least one image's capture first.");
        var result = new double[_config.Layers, _config.Heads];
        for (int l = 0; l < _config.Layers; l++)
            for (int h = 0; h < _config.Heads; h++) result[l, h] = _sums[l * _config.Heads + h] / Images;
        return result;
    }
}
