namespace ViTCompiler.Training;

/// <summary>What a <see cref="TrainingProgress"/> report marks.</summary>
public enum TrainingProgressKind
{
    /// <summary>
    /// A call to <see cref="Trainer.Run(long, CancellationToken)"/> begins; <see cref="TrainingProgress.Message"/> describes
    /// the run (model, engine, optimiser, the steps it will take), or is null when there is nothing left to train.
    /// </summary>
    Started,

    /// <summary>An update completed; loss and accuracy are over the epoch so far, the pace is the epoch's (or the session's, early on).</summary>
    Step,

    /// <summary>
    /// <see cref="TrainerOptions.LogEverySteps"/> updates completed; loss, accuracy and pace are over those updates, as the
    /// metrics log records them.
    /// </summary>
    Interval,

    /// <summary>An epoch ended (the run's last may be partial); loss, accuracy and pace are over it, <see cref="TrainingProgress.Test"/> is the evaluation.</summary>
    EpochEnded,

    /// <summary>Something worth telling that is not an error, in <see cref="TrainingProgress.Message"/> (e.g. a resume on another thread count).</summary>
    Note,

    /// <summary>
    /// The call to <c>Run</c> is returning or throwing: always its last report. <see cref="TrainingProgress.Message"/>
    /// says why it stopped early when it was cancelled (and whether a checkpoint was saved); on an error, the exception says why.
    /// </summary>
    Finished,
}

/// <summary>
/// One progress report from a <see cref="Trainer"/>, delivered through the <see cref="IProgress{T}"/> given to its
/// constructor (<see cref="ConsoleProgress"/> draws them as a bar or as lines).
/// </summary>
/// <remarks>
/// Reports are made on the training thread, synchronously, in order: <see cref="TrainingProgressKind.Started"/>, then per
/// update a <see cref="TrainingProgressKind.Step"/> (followed by <see cref="TrainingProgressKind.Interval"/> every
/// <see cref="TrainerOptions.LogEverySteps"/> updates and <see cref="TrainingProgressKind.EpochEnded"/> at an epoch's
/// end), and <see cref="TrainingProgressKind.Finished"/> last. The report is a struct, so a consumer that keeps up costs
/// the training loop no allocation; one that is slow (a UI) should hand the report on and return.
/// </remarks>
public readonly record struct TrainingProgress
{
    /// <summary>What this report marks.</summary>
    public TrainingProgressKind Kind { get; init; }

    /// <summary>Updates completed in the whole run (earlier sessions included).</summary>
    public long Step { get; init; }

    /// <summary>Updates the run is planned for.</summary>
    public long TotalSteps { get; init; }

    /// <summary>The epoch of the last update (from 0); before the first update, the epoch the next one belongs to.</summary>
    public int Epoch { get; init; }

    /// <summary>Epochs the run spans.</summary>
    public int TotalEpochs { get; init; }

    /// <summary>The learning rate of the last update.</summary>
    public float LearningRate { get; init; }

    /// <summary>Mean training loss over the span the <see cref="Kind"/> names (NaN before any update).</summary>
    public double Loss { get; init; }

    /// <summary>Fraction of training images classified right over the same span, in [0, 1].</summary>
    public double Accuracy { get; init; }

    /// <summary>Training throughput, evaluation and checkpoints excluded.</summary>
    public double ImagesPerSecond { get; init; }

    /// <summary>Estimated seconds until the run ends, evaluations included; NaN until there is a pace to go by.</summary>
    public double EtaSeconds { get; init; }

    /// <summary>Wall-clock seconds since the run began, carried across resumes.</summary>
    public double ElapsedSeconds { get; init; }

    /// <summary>The evaluation on the test set (<see cref="TrainingProgressKind.EpochEnded"/> with a test set; otherwise null).</summary>
    public EvaluationResult? Test { get; init; }

    /// <summary>Text for a person (<see cref="TrainingProgressKind.Started"/>, <see cref="TrainingProgressKind.Note"/>, <see cref="TrainingProgressKind.Finished"/>), or null.</summary>
    public string? Message { get; init; }
}
