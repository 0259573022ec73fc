using ViTCompiler.Data;

namespace ViTCompiler.Training;

/// <summary>
/// Few-shot linear evaluation (paper §4.1): the frozen pre-logits representation of a few labelled images per class is
/// mapped to {−1, 1}ᴷ targets by regularised least squares, solved in closed form, and the held-out images are
/// classified by the largest of the K outputs.
/// </summary>
/// <remarks>
/// The pre-logits representation is what the head reads (the final LayerNorm of the [class] token, or of the token
/// mean). It is read through the ordinary forward pass of a model whose head is the identity: a model with the same
/// encoder and <c>Classes = Hidden</c> (generated models take the class count at run time, e.g.
/// <c>new MyVit(classes: MyVit.Hidden)</c>), prepared by <see cref="MakeFeatureExtractor"/>.
/// </remarks>
public static class LinearProbe
{
    /// <summary>
    /// Makes <paramref name="extractor"/> output <paramref name="source"/>'s pre-logits features: the encoder is copied
    /// and the head set to the identity (weights I, bias 0), so its D "logits" are the D features, exactly.
    /// </summary>
    /// <exception cref="ArgumentException">The extractor's configuration is not the source's with Classes = Hidden.</exception>
    public static void MakeFeatureExtractor(IVitWeights source, IVitWeights extractor)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(extractor);
        VitConfig trained = source.Config, to = extractor.Config;
        if (to != trained with { Classes = trained.Hidden })
            throw new ArgumentException($"A feature extractor for a {trained} needs the same settings with Classes = Hidden ({trained.Hidden}); it is a {to}.", nameof(extractor));
        ReadOnlySpan<float> parameters = source.Parameters;
        using ParameterEdit edit = extractor.EditParameters();
        Span<float> destination = edit.Values;
        foreach (ParameterTensor t in to.Layout)
        {
            Span<float> into = t.Of(destination);
            if (t.Name == "head.weight")
            {
                into.Clear();
                for (int i = 0; i < to.Hidden; i++) into[i * to.Hidden + i] = 1;
            }
            else if (t.Name == "head.bias") into.Clear();
            else trained.Layout[t.Name].Of(parameters).CopyTo(into);
        }
    }

    /// <summary>The (images, Hidden) pre-logits features of every image, in order, through a model made by <see cref="MakeFeatureExtractor"/>.</summary>
    public static float[] Features(IVitClassifier extractor, LabeledImages images, ChannelNormalization normalization, int batchSize = 64)
    {
        ArgumentNullException.ThrowIfNull(extractor);
        ArgumentNullException.ThrowIfNull(images);
        VitConfig c = extractor.Config;
        if (c.Classes != c.Hidden)
            throw new ArgumentException($"The extractor must have Classes = Hidden ({c.Hidden}) and an identity head (see MakeFeatureExtractor); it has {c.Classes} classes.", nameof(extractor));
        if (images.Channels != c.Channels || images.Height != c.ImageSize || images.Width != c.ImageSize)
            throw new ArgumentException($"The images are {images.Channels} × {images.Height} × {images.Width}; the model takes {c.Channels} × {c.ImageSize} × {c.ImageSize}.", nameof(images));
        int d = c.Hidden;
        float[] features = new float[(long)images.Count * d <= Array.MaxLength ? images.Count * d : throw new ArgumentException("Too many images for one feature array.", nameof(images))];
        var batcher = new ImageBatcher(images, BatcherOptions.Evaluation(Math.Max(1, Math.Min(batchSize, images.Count)), normalization));
        float[] pixels = new float[batcher.FloatsPerBatch];
        int[] labels = new int[batcher.Options.BatchSize];
        int done = 0;
        while (batcher.TryNextBatch(pixels, labels, out int count))
        {
            extractor.Forward(pixels.AsSpan(0, count * images.PixelsPerImage), count, features.AsSpan(done * d, count * d));
            done += count;
        }
        return features;
    }

    /// <summary>
    /// Solves min ‖[X 1]·W − Y‖² + λ‖W without its bias row‖² for W, (D + 1) × K, where Y holds +1 at each image's class
    /// and −1 elsewhere: the normal equations (XᵀX + λI)W = XᵀY, by Cholesky in double precision.
    /// </summary>
    /// <param name="features">(n, dimensions) features, one row per training image.</param>
    /// <param name="dimensions">Features per image D.</param>
    /// <param name="labels">n labels in [0, classes).</param>
    /// <param name="classes">K.</param>
    /// <param name="regularization">λ ≥ 0 (the bias is not regularised; with λ = 0 the features must span D dimensions).</param>
    public static LinearProbeModel Fit(ReadOnlySpan<float> features, int dimensions, ReadOnlySpan<int> labels, int classes, double regularization = DefaultRegularization)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        if (!(regularization >= 0) || !double.IsFinite(regularization))
            throw new ArgumentOutOfRangeException(nameof(regularization), regularization, "The regularisation must be zero or a positive finite number.");
        int n = labels.Length;
        if (n == 0) throw new ArgumentException("At least one labelled image is needed.", nameof(labels));
        if ((long)n * dimensions != features.Length)
            throw new ArgumentException($"features must hold {n} × {dimensions} values (one row per label); it holds {features.Length}.", nameof(features));
        foreach (int label in labels)
            if ((uint)label >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), label, $"A label must be in [0, {classes}).");

        int m = dimensions + 1; // the features and a constant 1 for the bias
        double[] gram = new double[m * m], rhs = new double[m * classes];
        double[] row = new double[m];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < dimensions; j++) row[j] = features[i * dimensions + j];
            row[dimensions] = 1;
            for (int a = 0; a < m; a++)
            {
                double ra = row[a];
                if (ra == 0) continue;
                for (int b = 0; b <= a; b++) gram[a * m + b] += ra * row[b];
                for (int k = 0; k < classes; k++) rhs[a * classes + k] += ra * (k == labels[i] ? 1 : -1);
            }
        }
        for (int a = 0; a < dimensions; a++) gram[a * m + a] += regularization;

        // Cholesky: gram = L·Lᵀ (lower triangle in place), then L·Z = rhs and Lᵀ·W = Z.
        for (int j = 0; j < m; j++)
        {
            double diagonal = gram[j * m + j];
            for (int k = 0; k < j; k++) diagonal -= gram[j * m + k] * gram[j * m + k];
            if (!(diagonal > 1e-12 * (1 + Math.Abs(gram[j * m + j]))))
                throw new ArgumentException($"The features do not determine a unique solution (feature {j} is a combination of the others); use a regularisation above 0.", nameof(features));
            double l = Math.Sqrt(diagonal);
            gram[j * m + j] = l;
            for (int i = j + 1; i < m; i++)
            {
                double sum = gram[i * m + j];
                for (int k = 0; k < j; k++) sum -= gram[i * m + k] * gram[j * m + k];
                gram[i * m + j] = sum / l;
            }
        }
        for (int k = 0; k < classes; k++)
        {
            for (int i = 0; i < m; i++)
            {
                double sum = rhs[i * classes + k];
                for (int j = 0; j < i; j++) sum -= gram[i * m + j] * rhs[j * classes + k];
                rhs[i * classes + k] = sum / gram[i * m + i];
            }
            for (int i = m - 1; i >= 0; i--)
            {
                double sum = rhs[i * classes + k];
                for (int j = i + 1; j < m; j++) sum -= gram[j * m + i] * rhs[j * classes + k];
                rhs[i * classes + k] = sum / gram[i * m + i];
            }
        }
        return new LinearProbeModel(dimensions, classes, rhs);
    }

    /// <summary>λ when none is given: features are LayerNorm outputs (about unit scale per dimension), so 1 shrinks little.</summary>
    public const double DefaultRegularization = 1.0;

    /// <summary>
    /// Picks <paramref name="shots"/> images of each class (deterministically from <paramref name="seed"/>) for fitting;
    /// the rest are returned for evaluation.
    /// </summary>
    /// <exception cref="ArgumentException">A class has <paramref name="shots"/> images or fewer (none would be left to evaluate).</exception>
    public static (int[] Fit, int[] Held) SelectShots(LabeledImages images, int shots, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfLessThan(shots, 1);
        int[] order = Enumerable.Range(0, images.Count).ToArray();
        new Random(unchecked((int)seed ^ 0x5407)).Shuffle(order);
        int[] taken = new int[images.Classes];
        var fit = new List<int>();
        var rest = new List<int>();
        foreach (int i in order)
        {
            if (taken[images.Label(i)] < shots) { taken[images.Label(i)]++; fit.Add(i); }
            else rest.Add(i);
        }
        for (int k = 0; k < images.Classes; k++)
            if (taken[k] < shots)
                throw new ArgumentException($"Class {images.ClassName(k)} has {taken[k]} image{(taken[k] == 1 ? "" : "s")}, fewer than the {shots} shots asked for.", nameof(shots));
        fit.Sort();
        rest.Sort();
        return (fit.ToArray(), rest.ToArray());
    }
}

/// <summary>A fitted linear probe: K outputs from D features and a bias, the class the largest output.</summary>
public sealed class LinearProbeModel
{
    private readonly double[] _weights;

    internal LinearProbeModel(int dimensions, int classes, double[] weights)
    {
        Dimensions = dimensions;
        Classes = classes;
        _weights = weights;
    }

    /// <summary>Features per image D.</summary>
    public int Dimensions { get; }

    /// <summary>Classes K.</summary>
    public int Classes { get; }

    /// <summary>The (D + 1) × K solution, row-major; the last row is the bias.</summary>
    public ReadOnlySpan<double> Weights => _weights;

    /// <summary>The K outputs for one image's features.</summary>
    public void Outputs(ReadOnlySpan<float> features, Span<double> outputs)
    {
        if (features.Length != Dimensions) throw new ArgumentException($"features must hold {Dimensions} values; it holds {features.Length}.", nameof(features));
        if (outputs.Length != Classes) throw new ArgumentException($"outputs must hold {Classes} values; it holds {outputs.Length}.", nameof(outputs));
        for (int k = 0; k < Classes; k++) outputs[k] = _weights[Dimensions * Classes + k];
        for (int j = 0; j < Dimensions; j++)
        {
            double f = features[j];
            for (int k = 0; k < Classes; k++) outputs[k] += f * _weights[j * Classes + k];
        }
    }

    /// <summary>The predicted class of each row of <paramref name="features"/>.</summary>
    public int[] Predict(ReadOnlySpan<float> features)
    {
        if (features.Length % Dimensions != 0) throw new ArgumentException($"features must hold whole rows of {Dimensions} values.", nameof(features));
        int n = features.Length / Dimensions;
        int[] predictions = new int[n];
        double[] outputs = new double[Classes];
        for (int i = 0; i < n; i++)
        {
            Outputs(features.Slice(i * Dimensions, Dimensions), outputs);
            int best = 0;
            for (int k = 1; k < Classes; k++) if (outputs[k] > outputs[best]) best = k;
            predictions[i] = best;
        }
        return predictions;
    }

    /// <summary>How many rows' predicted class is their label.</summary>
    public int Correct(ReadOnlySpan<float> features, ReadOnlySpan<int> labels)
    {
        int[] predictions = Predict(features);
        if (predictions.Length != labels.Length) throw new ArgumentException($"labels must hold one label per row ({predictions.Length}); it holds {labels.Length}.", nameof(labels));
        int correct = 0;
        for (int i = 0; i < predictions.Length; i++) if (predictions[i] == labels[i]) correct++;
        return correct;
    }

    /// <summary>The share of rows whose predicted class is their label (0 for no rows).</summary>
    public double Accuracy(ReadOnlySpan<float> features, ReadOnlySpan<int> labels) =>
        labels.Length == 0 ? 0 : (double)Correct(features, labels) / labels.Length;
}
