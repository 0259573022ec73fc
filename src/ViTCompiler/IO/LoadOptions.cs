namespace ViTCompiler.IO;

/// <summary>How a loader may adapt a file to a model that differs from it.</summary>
public sealed record LoadOptions
{
    /// <summary>The defaults: the file must match the model exactly.</summary>
    public static LoadOptions Default { get; } = new();

    /// <summary>
    /// When the file's position embeddings cover a different patch grid than the model's (another image size with the
    /// same patch size), interpolate them (paper §3.2) instead of failing. The [class] token's embedding is kept.
    /// </summary>
    public bool ResizePositions { get; init; }

    /// <summary>The interpolation <see cref="ResizePositions"/> uses; bicubic, as timm does, by default.</summary>
    public PositionInterpolation Interpolation { get; init; } = PositionInterpolation.Bicubic;

    /// <summary>
    /// Do not load the classification head (nor a pre-logits layer): keep the model's own, whatever the file's head
    /// looks like or whether it has one. This is how the paper fine-tunes on a new label set (a fresh, zero-initialised
    /// D × K head).
    /// </summary>
    public bool KeepHead { get; init; }
}
