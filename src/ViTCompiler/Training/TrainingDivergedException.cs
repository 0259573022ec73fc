namespace ViTCompiler.Training;

/// <summary>
/// Training produced a NaN or infinite value. The trainer stops before the bad value reaches the parameters or a
/// checkpoint: the last checkpoint written stays as it was and can be resumed (with a lower learning rate, say).
/// </summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the exception; the message says what went wrong, where, and what to do.</summary>
    public TrainingDivergedException(long step, int epoch, string quantity, double value, float learningRate, string? lastCheckpoint, long lastCheckpointStep)
        : base(Describe(step, epoch, quantity, value, learningRate, lastCheckpoint, lastCheckpointStep))
    {
        Step = step;
        Epoch = epoch;
        Quantity = quantity;
        Value = value;
        LearningRate = learningRate;
        LastCheckpoint = lastCheckpoint;
        LastCheckpointStep = lastCheckpointStep;
    }

    /// <summary>The update (counted from 1) that produced the value.</summary>
    public long Step { get; }

    /// <summary>The epoch (counted from 0) it belongs to.</summary>
    public int Epoch { get; }

    /// <summary>What was not finite: "loss", "gradient norm", "parameters", "optimizer state" or "test loss".</summary>
    public string Quantity { get; }

    /// <summary>The offending value (NaN or ±∞).</summary>
    public double Value { get; }

    /// <summary>The learning rate at that step.</summary>
    public float LearningRate { get; }

    /// <summary>The last checkpoint this trainer wrote or resumed from, untouched; null if there is none.</summary>
    public string? LastCheckpoint { get; }

    /// <summary>The step that checkpoint holds (−1 when there is none).</summary>
    public long LastCheckpointStep { get; }

    private static string Describe(long step, int epoch, string quantity, double value, float learningRate, string? lastCheckpoint, long lastCheckpointStep)
    {
        string where = $"Training diverged at step {step} (epoch {epoch + 1}): the {quantity} is {Name(value)}.";
        string saved = lastCheckpoint is null
            ? " No checkpoint had been written."
            : $" Nothing was saved after it: the last good checkpoint '{lastCheckpoint}' (step {lastCheckpointStep}) is untouched and can be resumed.";
        return where + saved + $" Try a lower learning rate (it was {learningRate:G4}), a longer warm-up, or gradient clipping, and check the data for NaN or infinite pixels.";
    }

    private static string Name(double value) =>
        double.IsNaN(value) ? "NaN" : double.IsPositiveInfinity(value) ? "+infinity" : double.IsNegativeInfinity(value) ? "-infinity" : value.ToString("G6");
}
