namespace ViTCompiler.Training;

/// <summary>
/// What an optimiser must save so that a resumed run continues exactly: its name, how many updates it has taken, and
/// its state blocks (moments), each a float array laid out like the parameter block.
/// </summary>
/// <param name="Optimizer">The optimiser's <see cref="Optimizer.Name"/>, e.g. <c>adamw</c>.</param>
/// <param name="Step">Updates taken so far (AdamW's bias correction depends on it).</param>
/// <param name="Blocks">State blocks by name (e.g. <c>optimizer.m</c>, <c>optimizer.v</c>), each as long as the parameter block.</param>
public sealed record OptimizerState(string Optimizer, long Step, IReadOnlyDictionary<string, float[]> Blocks);

/// <summary>
/// An optimiser over a model's contiguous parameter block: its state (moments) lives in whole float blocks aligned
/// with the parameter layout, as in llm.c, so an update is one pass over a few long arrays — vectorised, and allocating
/// nothing.
/// </summary>
/// <remarks>
/// Weight decay, where an optimiser has it, applies only to <see cref="ParameterKind.Matrix"/> tensors (dense and
/// patch-projection weights): biases, LayerNorm scales and shifts, the position embeddings and the [class] token are
/// never decayed, as in the paper's code and timm. The mask is fixed by the layout; see <see cref="Decays"/>.
/// </remarks>
public abstract class Optimizer
{
    // Runs of consecutive tensors that all decay or all do not: a handful of long segments instead of a per-element mask.
    private readonly int[] _segmentStart;
    private readonly int[] _segmentLength;
    private readonly bool[] _segmentDecays;

    /// <summary>Prepares an optimiser for parameters laid out as <paramref name="layout"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The weight decay is negative or not finite.</exception>
    protected Optimizer(ParameterLayout layout, float weightDecay)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (!(weightDecay >= 0) || !float.IsFinite(weightDecay))
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Weight decay must be zero or a positive finite number.");
        if (layout.ParameterCount > Array.MaxLength)
            throw new ArgumentException($"The model has {layout.ParameterCount:N0} parameters, more than one state block can hold.", nameof(layout));
        Layout = layout;
        ParameterCount = (int)layout.ParameterCount;
        WeightDecay = weightDecay;

        var starts = new List<int>();
        var lengths = new List<int>();
        var decays = new List<bool>();
        foreach (ParameterTensor t in layout)
        {
            bool decay = Decays(t.Kind);
            if (decays.Count > 0 && decays[^1] == decay && starts[^1] + lengths[^1] == t.Offset)
            {
                lengths[^1] += t.Count;
                continue;
            }
            starts.Add(t.Offset);
            lengths.Add(t.Count);
            decays.Add(decay);
        }
        _segmentStart = [.. starts];
        _segmentLength = [.. lengths];
        _segmentDecays = [.. decays];
    }

    /// <summary>Short lower-case name saved in checkpoints, e.g. <c>adamw</c> or <c>sgd</c>.</summary>
    public abstract string Name { get; }

    /// <summary>The parameter layout the state blocks follow.</summary>
    public ParameterLayout Layout { get; }

    /// <summary>Length of the parameter block (and of every state block).</summary>
    public int ParameterCount { get; }

    /// <summary>Weight-decay coefficient λ, applied to <see cref="ParameterKind.Matrix"/> tensors only.</summary>
    public float WeightDecay { get; }

    /// <summary>Updates taken so far.</summary>
    public long StepCount { get; private set; }

    /// <summary>Whether tensors of <paramref name="kind"/> are weight-decayed: only weight matrices are.</summary>
    public static bool Decays(ParameterKind kind) => kind == ParameterKind.Matrix;

    /// <summary>Names of the state blocks, in the order <see cref="StateBlock"/> indexes them.</summary>
    public abstract IReadOnlyList<string> StateNames { get; }

    /// <summary>The state block <paramref name="index"/> (see <see cref="StateNames"/>), for inspection or tests.</summary>
    public abstract Span<float> StateBlock(int index);

    /// <summary>
    /// Takes one update: <paramref name="parameters"/> ← update(<paramref name="parameters"/>, <paramref name="gradients"/>)
    /// at learning rate <paramref name="learningRate"/>. Allocates nothing.
    /// </summary>
    /// <exception cref="ArgumentException">A block's length differs from the layout's parameter count.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The learning rate is negative or not finite.</exception>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate)
    {
        if (parameters.Length != ParameterCount)
            throw new ArgumentException($"The parameter block holds {parameters.Length:N0} floats; this optimiser was made for {ParameterCount:N0}.", nameof(parameters));
        if (gradients.Length != ParameterCount)
            throw new ArgumentException($"The gradient block holds {gradients.Length:N0} floats; this optimiser was made for {ParameterCount:N0}.", nameof(gradients));
        if (!(learningRate >= 0) || !float.IsFinite(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be zero or a positive finite number.");
        StepCount++;
        BeginStep(StepCount, learningRate);
        for (int s = 0; s < _segmentStart.Length; s++)
        {
            int start = _segmentStart[s], length = _segmentLength[s];
            Update(start, parameters.Slice(start, length), gradients.Slice(start, length), learningRate, _segmentDecays[s] ? WeightDecay : 0f);
        }
    }

    /// <summary>
    /// One update of <paramref name="model"/>'s parameters from its <see cref="IVitTrainable.Gradients"/>, through
    /// <see cref="IVitWeights.EditParameters"/> so the next forward pass sees the new weights.
    /// </summary>
    public void Step(IVitTrainable model, float learningRate)
    {
        ArgumentNullException.ThrowIfNull(model);
        using ParameterEdit edit = model.EditParameters();
        Step(edit.Values, model.Gradients, learningRate);
    }

    /// <summary>Called once per step before the segments, with the new step count (1 on the first update).</summary>
    protected virtual void BeginStep(long step, float learningRate) { }

    /// <summary>
    /// Updates one segment: <paramref name="parameters"/> and <paramref name="gradients"/> are the elements
    /// [<paramref name="offset"/>, offset + length) of their blocks, and the same range of every state block belongs to them.
    /// </summary>
    protected abstract void Update(int offset, Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate, float weightDecay);

    /// <summary>A copy of the optimiser's state, for a checkpoint.</summary>
    public OptimizerState ExportState()
    {
        var blocks = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (int i = 0; i < StateNames.Count; i++) blocks[StateNames[i]] = StateBlock(i).ToArray();
        return new OptimizerState(Name, StepCount, blocks);
    }

    /// <summary>Restores a state saved by <see cref="ExportState"/> (copied in), so the next update continues that run.</summary>
    /// <exception cref="ArgumentException">The state is another optimiser's, lacks a block, or a block has the wrong length.</exception>
    public void ImportState(OptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Optimizer != Name)
            throw new ArgumentException($"The saved optimiser state is '{state.Optimizer}'; this optimiser is '{Name}'. Resume with the optimiser the run was started with.", nameof(state));
        if (state.Step < 0) throw new ArgumentException($"The saved step count {state.Step} is negative.", nameof(state));
        for (int i = 0; i < StateNames.Count; i++)
        {
            string name = StateNames[i];
            if (!state.Blocks.TryGetValue(name, out float[]? block))
                throw new ArgumentException($"The saved '{Name}' state has no block '{name}' (it has: {string.Join(", ", state.Blocks.Keys)}).", nameof(state));
            if (block.Length != ParameterCount)
                throw new ArgumentException($"The saved block '{name}' holds {block.Length:N0} floats; the model has {ParameterCount:N0} parameters.", nameof(state));
        }
        for (int i = 0; i < StateNames.Count; i++) state.Blocks[StateNames[i]].CopyTo(StateBlock(i));
        StepCount = state.Step;
    }

    /// <summary>Zeroes the state and the step count, as a freshly made optimiser.</summary>
    public void Reset()
    {
        for (int i = 0; i < StateNames.Count; i++) StateBlock(i).Clear();
        StepCount = 0;
    }

    /// <summary>A pinned, zeroed state block as long as the parameter block.</summary>
    protected float[] NewStateBlock() => GC.AllocateArray<float>(ParameterCount, pinned: true);
}
