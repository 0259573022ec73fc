namespace ViTCompiler;

/// <summary>A Vision Transformer that can classify: every generated model and the reference engine.</summary>
public interface IVitClassifier : IVitWeights
{
    /// <summary>What computes the forward pass, e.g. "generated, Vector256 (6×16 tiles)" or "reference (double precision)".</summary>
    string Engine { get; }

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
