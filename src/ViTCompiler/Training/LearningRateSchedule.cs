using System.Text.Json.Serialization;

namespace ViTCompiler.Training;

/// <summary>How the learning rate falls after the warm-up (in JSON: <c>"cosine"</c>, <c>"linear"</c>, <c>"constant"</c>).</summary>
public enum LearningRateDecay
{
    /// <summary>Half a cosine from the peak down to the floor (the paper's choice).</summary>
    [JsonStringEnumMemberName("cosine")] Cosine,
    /// <summary>A straight line from the peak down to the floor.</summary>
    [JsonStringEnumMemberName("linear")] Linear,
    /// <summary>Stays at the peak.</summary>
    [JsonStringEnumMemberName("constant")] Constant,
}

/// <summary>
/// Linear warm-up to a peak learning rate, then a cosine or linear decay to a floor at the last step.
/// </summary>
/// <remarks>
/// For step s counted from 0 (the update about to be taken), W warm-up steps and T steps in all:
/// <list type="bullet">
/// <item>s &lt; W: η = peak · (s + 1) / W, so the first update already moves and step W − 1 reaches the peak;</item>
/// <item>otherwise, with progress p = (s − W) / (T − W) clamped to [0, 1]:
/// cosine η = floor + (peak − floor) · ½(1 + cos πp), linear η = floor + (peak − floor) · (1 − p).</item>
/// </list>
/// Values are computed in double precision and rounded once, so a step's rate does not depend on the steps before it
/// (a resumed run gets exactly the same rates).
/// </remarks>
public sealed record LearningRateSchedule
{
    /// <summary>A schedule; see the type's remarks for the formula.</summary>
    /// <param name="peak">Learning rate at the end of the warm-up.</param>
    /// <param name="totalSteps">T: updates in the whole run (the decay reaches the floor at step T).</param>
    /// <param name="warmupSteps">W: updates of linear warm-up (0 for none).</param>
    /// <param name="decay">The shape after the warm-up.</param>
    /// <param name="floor">Learning rate the decay ends at (0 by default).</param>
    /// <exception cref="ArgumentOutOfRangeException">A rate is negative or not finite, the floor is above the peak, or a step count is negative.</exception>
    public LearningRateSchedule(float peak, long totalSteps, long warmupSteps = 0, LearningRateDecay decay = LearningRateDecay.Cosine, float floor = 0f)
    {
        if (!(peak >= 0) || !float.IsFinite(peak)) throw new ArgumentOutOfRangeException(nameof(peak), peak, "The peak learning rate must be zero or a positive finite number.");
        if (!(floor >= 0) || floor > peak) throw new ArgumentOutOfRangeException(nameof(floor), floor, $"The floor must be between 0 and the peak ({peak}).");
        if (totalSteps < 0) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "The number of steps cannot be negative.");
        if (warmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, "The number of warm-up steps cannot be negative.");
        if (decay is not (LearningRateDecay.Cosine or LearningRateDecay.Linear or LearningRateDecay.Constant))
            throw new ArgumentOutOfRangeException(nameof(decay), decay, "Unknown decay.");
        Peak = peak;
        TotalSteps = totalSteps;
        WarmupSteps = warmupSteps;
        Decay = decay;
        Floor = floor;
    }

    /// <summary>A constant learning rate.</summary>
    public static LearningRateSchedule Constant(float rate) => new(rate, 0, 0, LearningRateDecay.Constant, rate);

    /// <summary>Learning rate at the end of the warm-up.</summary>
    public float Peak { get; }

    /// <summary>T: updates in the whole run.</summary>
    public long TotalSteps { get; }

    /// <summary>W: updates of linear warm-up.</summary>
    public long WarmupSteps { get; }

    /// <summary>The shape after the warm-up.</summary>
    public LearningRateDecay Decay { get; }

    /// <summary>Learning rate at the end of the decay.</summary>
    public float Floor { get; }

    /// <summary>The learning rate of update <paramref name="step"/> (counted from 0).</summary>
    public float At(long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "Steps are counted from 0.");
        if (step < WarmupSteps) return (float)((double)Peak * (step + 1) / WarmupSteps);
        if (Decay == LearningRateDecay.Constant) return Peak;
        long span = TotalSteps - WarmupSteps;
        double progress = span <= 0 ? 1 : Math.Clamp((double)(step - WarmupSteps) / span, 0, 1);
        double shape = Decay == LearningRateDecay.Cosine ? 0.5 * (1 + Math.Cos(Math.PI * progress)) : 1 - progress;
        return (float)(Floor + ((double)Peak - Floor) * shape);
    }
}
