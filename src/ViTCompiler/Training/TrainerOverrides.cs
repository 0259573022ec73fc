using ViTCompiler.Data;

namespace ViTCompiler.Training;

/// <summary>
/// The run-shaping settings a user chose for this session (a training program's command-line flags; null = not given),
/// applied over a recipe for a new run or over the settings a checkpoint recorded for a resumed one — so that a plain
/// resume continues the run exactly and a flag given now still wins.
/// </summary>
/// <remarks>
/// <para>On a resumed run, <see cref="Epochs"/>, <see cref="MaxSteps"/>, <see cref="LearningRate"/>, <see cref="Seed"/>
/// and <see cref="Normalization"/> may change (the run then continues sensibly but no longer replays the original:
/// pass <c>allowChangedSettings: true</c> to <see cref="Trainer.Resume"/>); <see cref="BatchSize"/> and
/// <see cref="Optimizer"/> must match the checkpoint, whose batcher position and optimiser moments depend on them, and
/// <see cref="Trainer.Resume"/> refuses a change with a message naming it.</para>
/// </remarks>
/// <example><code>
/// TrainerOptions recipe = TrainerOptions.FashionMnist with { CheckpointPath = "run.safetensors" };
/// var flags = new TrainerOverrides { Epochs = 2 };
/// TrainerOptions options = flags.ApplyTo(resumeFrom is null ? recipe : Trainer.ReadSettings(resumeFrom, recipe));
/// </code></example>
public sealed record TrainerOverrides
{
    /// <summary>Passes over the training set. Given alone, it also replaces a step count recorded in a checkpoint.</summary>
    public int? Epochs { get; init; }

    /// <summary>Updates in the whole run (wins over <see cref="Epochs"/>).</summary>
    public long? MaxSteps { get; init; }

    /// <summary>Images per update (must match a resumed checkpoint).</summary>
    public int? BatchSize { get; init; }

    /// <summary>Micro-batches per update (may change on a resumed run: the update is the same, up to float rounding).</summary>
    public int? Accumulate { get; init; }

    /// <summary>Peak learning rate; the schedule's floor is lowered to it if it was higher.</summary>
    public float? LearningRate { get; init; }

    /// <summary>The optimiser (must match a resumed checkpoint).</summary>
    public OptimizerKind? Optimizer { get; init; }

    /// <summary>Seed of the shuffling, augmentation and dropout.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Pixel normalisation.</summary>
    public ChannelNormalization? Normalization { get; init; }

    /// <summary><paramref name="options"/> with every setting given here replaced; the others are kept.</summary>
    public TrainerOptions ApplyTo(TrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        TrainerOptions o = options;
        // An epoch count asked for now means epochs, even when the recorded run was a step count.
        if (Epochs is int epochs) o = o with { Epochs = epochs, MaxSteps = 0 };
        if (MaxSteps is long steps) o = o with { MaxSteps = steps };
        if (BatchSize is int batch) o = o with { BatchSize = batch };
        if (Accumulate is int accumulate) o = o with { Accumulate = accumulate };
        if (LearningRate is float rate) o = o with { LearningRate = rate, MinLearningRate = Math.Min(o.MinLearningRate, rate) };
        if (Optimizer is OptimizerKind optimizer) o = o with { Optimizer = optimizer };
        if (Seed is ulong seed) o = o with { Seed = seed };
        if (Normalization is not null) o = o with { Normalization = Normalization };
        return o;
    }
}
