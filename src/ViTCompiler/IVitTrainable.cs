namespace ViTCompiler;

/// <summary>A Vision Transformer that can also compute gradients: what a <see cref="Training.Trainer"/> drives.</summary>
public interface IVitTrainable : IVitClassifier
{
    /// <summary>The gradient block: same length and layout as <see cref="IVitWeights.Parameters"/>.</summary>
    Span<float> Gradients { get; }

    /// <summary>
    /// One training pass over a batch: forward in training mode (dropout and stochastic depth as
    /// <paramref name="options"/> say), softmax cross-entropy against <paramref name="labels"/>, and backward.
    /// <b>Adds</b> the gradient of the batch's mean loss into <see cref="Gradients"/> (clear it first, or accumulate
    /// over micro-batches) and returns that mean loss. Writes the logits when <paramref name="logits"/> is not empty.
    /// </summary>
    /// <remarks>
    /// A generated model whose planner chose the image-parallel schedule (small encoders; <see cref="CompiledVit.Schedule"/>)
    /// computes a batch larger than its shard size as shards of images, one per thread, and adds their gradients in shard
    /// order; like the trainer's micro-batches, each shard draws its dropout masks from its own seed
    /// (<c>Dropout.ShardSeed</c>). The result is the same bit for bit for any thread count.
    /// </remarks>
    float TrainStep(ReadOnlySpan<float> pixels, ReadOnlySpan<int> labels, int batch, in TrainStepOptions options, Span<float> logits);
}

/// <summary>What varies between training steps of <see cref="IVitTrainable.TrainStep"/> (a whole run is described by <see cref="Training.TrainerOptions"/>).</summary>
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
