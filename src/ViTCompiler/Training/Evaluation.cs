using System.Numerics.Tensors;
using ViTCompiler.Data;

namespace ViTCompiler.Training;

/// <summary>How a model did on a labelled image set.</summary>
/// <param name="Images">Images evaluated.</param>
/// <param name="Correct">Images whose highest logit is their label.</param>
/// <param name="Loss">Mean softmax cross-entropy (no label smoothing), in nats.</param>
public readonly record struct EvaluationResult(int Images, int Correct, double Loss)
{
    /// <summary>Correct / Images, in [0, 1].</summary>
    public double Accuracy => Images == 0 ? 0 : (double)Correct / Images;

    /// <summary>"accuracy 87.31% (1,746/2,000), loss 0.3712".</summary>
    public override string ToString() => $"accuracy {100 * Accuracy:F2}% ({Correct:N0}/{Images:N0}), loss {Loss:F4}";
}

/// <summary>
/// Evaluates models on one labelled image set: normalised batches through <see cref="IVitClassifier.Forward(ReadOnlySpan{float}, int, Span{float})"/>,
/// accuracy and mean cross-entropy. Buffers are made once, so repeated evaluations (one per epoch) allocate nothing.
/// </summary>
/// <remarks>
/// With <c>testTimeFlip</c>, every image is also run mirrored left–right and the two views' logits are averaged before
/// the arg-max and the loss (test-time augmentation with the flip a model was trained with): twice the forward passes,
/// usually a few tenths of a point of accuracy for a model trained with <see cref="BatcherOptions.HorizontalFlip"/>.
/// </remarks>
public sealed class Evaluator
{
    private readonly LabeledImages _images;
    private readonly BatcherOptions _options;
    private ImageBatcher _batcher;
    private readonly float[] _pixels;
    private readonly int[] _labels;
    private float[] _logits = [], _mirroredLogits = [];

    /// <summary>An evaluator over <paramref name="images"/>, in their stored order, without augmentation.</summary>
    /// <param name="images">The images, e.g. the test split.</param>
    /// <param name="normalization">The normalisation the model was trained with.</param>
    /// <param name="batchSize">Images per forward pass.</param>
    /// <param name="testTimeFlip">Average each image's logits with its mirror image's (see the remarks).</param>
    public Evaluator(LabeledImages images, ChannelNormalization normalization, int batchSize = 256, bool testTimeFlip = false)
    {
        ArgumentNullException.ThrowIfNull(images);
        _images = images;
        _options = BatcherOptions.Evaluation(Math.Min(batchSize, images.Count), normalization);
        _batcher = new ImageBatcher(images, _options);
        TestTimeFlip = testTimeFlip;
        _pixels = new float[_batcher.FloatsPerBatch];
        _labels = new int[_options.BatchSize];
    }

    /// <summary>The images evaluated.</summary>
    public LabeledImages Images => _images;

    /// <summary>Whether <see cref="Evaluate(IVitClassifier)"/> averages each image's logits with its mirror image's.</summary>
    public bool TestTimeFlip { get; }

    /// <summary>Runs <paramref name="model"/> over every image once (twice with <see cref="TestTimeFlip"/>) and returns accuracy and mean loss.</summary>
    /// <exception cref="ArgumentException">The images do not fit the model (size, channels or classes).</exception>
    public EvaluationResult Evaluate(IVitClassifier model) => Evaluate(model, TestTimeFlip);

    /// <summary>
    /// Runs <paramref name="model"/> over every image, with the test-time flip or without it whatever
    /// <see cref="TestTimeFlip"/> says, and returns accuracy and mean loss.
    /// </summary>
    /// <exception cref="ArgumentException">The images do not fit the model (size, channels or classes).</exception>
    public EvaluationResult Evaluate(IVitClassifier model, bool testTimeFlip)
    {
        ArgumentNullException.ThrowIfNull(model);
        CheckFits(_images, model.Config, "evaluation");
        int classes = model.Config.Classes;
        if (_logits.Length != _options.BatchSize * classes) _logits = new float[_options.BatchSize * classes];
        if (testTimeFlip && _mirroredLogits.Length != _logits.Length) _mirroredLogits = new float[_logits.Length];
        // An earlier evaluation that threw part-way leaves the batcher inside its pass: start a fresh one.
        if (_batcher.Position != 0) _batcher = new ImageBatcher(_images, _options);

        int images = 0, correct = 0;
        double loss = 0;
        while (_batcher.TryNextBatch(_pixels, _labels, out int count))
        {
            Span<float> logits = _logits.AsSpan(0, count * classes);
            Span<float> pixels = _pixels.AsSpan(0, count * _images.PixelsPerImage);
            model.Forward(pixels, count, logits);
            if (testTimeFlip)
            {
                // Normalisation is per pixel, so mirroring the normalised rows is normalising the mirror image.
                for (int row = 0; row < pixels.Length; row += _images.Width) pixels.Slice(row, _images.Width).Reverse();
                Span<float> mirrored = _mirroredLogits.AsSpan(0, logits.Length);
                model.Forward(pixels, count, mirrored);
                TensorPrimitives.Add(logits, mirrored, logits);
                TensorPrimitives.Multiply(logits, 0.5f, logits);
            }
            for (int i = 0; i < count; i++)
            {
                ReadOnlySpan<float> row = logits.Slice(i * classes, classes);
                if (ArgMax(row) == _labels[i]) correct++;
                loss += CrossEntropy(row, _labels[i]);
            }
            images += count;
        }
        return new EvaluationResult(images, correct, loss / images);
    }

    /// <summary>The index of the largest value (the first one on ties; NaN never wins).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        // TensorPrimitives.IndexOfMax costs more than the loop on 10 classes and less from 32 up (docs/PERFORMANCE.md,
        // "TensorPrimitives"). It answers the first NaN where there is one, and ranks +0 above an equal −0 that comes
        // first; this method's contract differs in both, so those rows take the loop.
        int best;
        if (values.Length >= 32)
        {
            best = TensorPrimitives.IndexOfMax(values);
            if (!float.IsNaN(values[best]) && values[best] != 0) return best;
        }
        best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best] || float.IsNaN(values[best])) best = i;
        return best;
    }

    /// <summary>−log softmax(<paramref name="logits"/>)[<paramref name="label"/>], in double precision.</summary>
    public static double CrossEntropy(ReadOnlySpan<float> logits, int label)
    {
        double max = double.NegativeInfinity;
        foreach (float z in logits) max = Math.Max(max, z);
        double sum = 0;
        foreach (float z in logits) sum += Math.Exp(z - max);
        return max + Math.Log(sum) - logits[label];
    }

    /// <summary>Throws a clear <see cref="ArgumentException"/> when <paramref name="images"/> cannot feed a model of <paramref name="config"/>.</summary>
    internal static void CheckFits(LabeledImages images, VitConfig config, string role)
    {
        if (images.Channels != config.Channels || images.Height != config.ImageSize || images.Width != config.ImageSize)
            throw new ArgumentException(
                $"The {role} images are {images.Channels} × {images.Height} × {images.Width} (C × H × W), but the model ({config}) takes " +
                $"{config.Channels} × {config.ImageSize} × {config.ImageSize}. Resize the images or declare the model for this size.");
        if (images.Classes > config.Classes)
            throw new ArgumentException(
                $"The {role} images have {images.Classes} classes, but the model's head has {config.Classes} outputs. Declare the model with Classes = {images.Classes}.");
    }
}
