namespace ViTCompiler;

/// <summary>
/// A Vision Transformer with its parameters: what every generated model, and the reference engine, implements, so
/// that trainers, loaders, exporters and the CLI work with any of them.
/// </summary>
public interface IVitModel
{
    /// <summary>The hyper-parameters (and through <see cref="VitConfig.Layout"/>, the parameter names and offsets).</summary>
    VitConfig Config { get; }

    /// <summary>What computes the forward pass, e.g. "generated, Vector256 6×16 tiles" or "reference (double precision)".</summary>
    string Engine { get; }

    /// <summary>
    /// All parameters in one contiguous block, laid out as <see cref="VitConfig.Layout"/> says. After writing to it,
    /// call <see cref="ParametersChanged"/> so caches derived from the weights (packed panels) are rebuilt.
    /// </summary>
    Span<float> Parameters { get; }

    /// <summary>Tells the model that <see cref="Parameters"/> was written to.</summary>
    void ParametersChanged();

    /// <summary>How many threads a forward or backward pass may use (at least 1).</summary>
    int Threads { get; set; }

    /// <summary>
    /// Classifies <paramref name="batch"/> images given as NCHW floats (already normalised) and writes
    /// (batch, classes) logits. Allocates nothing once the workspace for this batch size exists.
    /// </summary>
    void Forward(ReadOnlySpan<float> pixels, int batch, Span<float> logits);

    /// <summary>
    /// As <see cref="Forward(ReadOnlySpan{float}, int, Span{float})"/>, also writing every layer's attention
    /// probabilities as (batch, layers, heads, tokens, tokens) into <paramref name="attention"/>.
    /// </summary>
    void Forward(ReadOnlySpan<float> pixels, int batch, Span<float> logits, Span<float> attention);

    /// <summary>The gradient block: same length and layout as <see cref="Parameters"/>.</summary>
    Span<float> Gradients { get; }

    /// <summary>
    /// One training pass over a batch: forward in training mode (dropout and stochastic depth as
    /// <paramref name="options"/> say), softmax cross-entropy against <paramref name="labels"/>, and backward.
    /// <b>Adds</b> the gradient of the batch's mean loss into <see cref="Gradients"/> (clear it first, or accumulate
    /// over micro-batches) and returns that mean loss. Writes the logits when <paramref name="logits"/> is not empty.
    /// </summary>
    float TrainStep(ReadOnlySpan<float> pixels, ReadOnlySpan<int> labels, int batch, in TrainStepOptions options, Span<float> logits);
}

/// <summary>What varies between training steps of <see cref="IVitModel.TrainStep"/>.</summary>
/// <param name="LabelSmoothing">ε: the target is (1 − ε)·onehot + ε/classes.</param>
/// <param name="Dropout">Drop probability after every dense layer except qkv, and after adding the position embeddings.</param>
/// <param name="DropPath">Stochastic depth: probability that a residual branch is skipped for an image.</param>
/// <param name="Seed">Seeds the dropout masks of this step; a trainer derives it from its own generator so runs replay exactly.</param>
public readonly record struct TrainStepOptions(float LabelSmoothing = 0f, float Dropout = 0f, float DropPath = 0f, ulong Seed = 0)
{
    /// <summary>Throws when a probability is outside [0, 1).</summary>
    public void Validate()
    {
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1)) throw new ArgumentOutOfRangeException(nameof(LabelSmoothing), LabelSmoothing, "Label smoothing must be in [0, 1).");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "Dropout must be in [0, 1).");
        if (!(DropPath >= 0 && DropPath < 1)) throw new ArgumentOutOfRangeException(nameof(DropPath), DropPath, "DropPath must be in [0, 1).");
    }
}
