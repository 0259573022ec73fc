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
}
