namespace ViTCompiler;

/// <summary>
/// A Vision Transformer's configuration and parameters: what loaders, savers, exporters and weight transfer need.
/// Models that can also run are <see cref="IVitClassifier"/>; models that can also train are <see cref="IVitTrainable"/>.
/// </summary>
public interface IVitWeights
{
    /// <summary>The hyper-parameters (and through <see cref="VitConfig.Layout"/>, the parameter names and offsets).</summary>
    VitConfig Config { get; }

    /// <summary>All parameters in one contiguous block, laid out as <see cref="VitConfig.Layout"/> says.</summary>
    ReadOnlySpan<float> Parameters { get; }

    /// <summary>
    /// Opens the parameter block for writing. Whatever the model derives from its weights (packed panels, caches) is
    /// rebuilt before the next pass, so a write can never be silently ignored. Write inside a <c>using</c> scope:
    /// <code>using (ParameterEdit edit = model.EditParameters()) source.CopyTo(edit.Values);</code>
    /// </summary>
    ParameterEdit EditParameters();
}

/// <summary>
/// Write access to a model's parameter block, from <see cref="IVitWeights.EditParameters"/>. The model treats its
/// derived state as stale from the moment the edit is opened and again when it is disposed.
/// </summary>
public readonly ref struct ParameterEdit
{
    private readonly Action? _written;

    /// <summary>
    /// For implementers of <see cref="IVitWeights"/>: wraps <paramref name="values"/>, calling <paramref name="written"/>
    /// on <see cref="Dispose"/> (pass a cached delegate: an edit is opened on every optimiser step).
    /// </summary>
    public ParameterEdit(Span<float> values, Action? written)
    {
        Values = values;
        _written = written;
    }

    /// <summary>The parameter block, writable, laid out as <see cref="VitConfig.Layout"/> says.</summary>
    public Span<float> Values { get; }

    /// <summary>The elements of one tensor, writable.</summary>
    public Span<float> this[ParameterTensor tensor] => tensor.Of(Values);

    /// <summary>Tells the model its parameters were written.</summary>
    public void Dispose() => _written?.Invoke();
}
