using System.Collections;

namespace ViTCompiler;

/// <summary>One named tensor inside a model's contiguous parameter block.</summary>
/// <param name="Name">timm-style name, e.g. <c>blocks.3.mlp.fc1.weight</c>.</param>
/// <param name="Shape">Shape in PyTorch convention (linear weights are out × in).</param>
/// <param name="Offset">Index of the first element in the parameter block.</param>
/// <param name="Count">Number of elements.</param>
/// <param name="Kind">What the tensor is, for weight decay and initialisation.</param>
public readonly record struct ParameterTensor(string Name, IReadOnlyList<int> Shape, int Offset, int Count, ParameterKind Kind)
{
    /// <summary>The tensor's elements inside a parameter (or gradient) block.</summary>
    public Span<float> Of(Span<float> block) => block.Slice(Offset, Count);

    /// <summary>The tensor's elements inside a read-only parameter block.</summary>
    public ReadOnlySpan<float> Of(ReadOnlySpan<float> block) => block.Slice(Offset, Count);

    /// <summary>Shape as text, e.g. "(2304, 768)".</summary>
    public string ShapeText => "(" + string.Join(", ", Shape) + ")";
}

/// <summary>
/// Names, shapes and offsets of every parameter of a model, in storage order. The same layout indexes the parameter
/// block, the gradient block and each optimiser moment block.
/// </summary>
public sealed class ParameterLayout : IReadOnlyList<ParameterTensor>
{
    private readonly ParameterTensor[] _tensors;
    private readonly Dictionary<string, int> _byName;

    internal ParameterLayout(VitConfig config)
    {
        List<TensorSlot> slots = VitGeometry.Parameters(config.ImageSize, config.Channels, config.Patch, config.Layers,
            config.Hidden, config.MlpDim, config.Classes, config.HasClassToken, config.QkvBias, config.Stem);
        _tensors = new ParameterTensor[slots.Count];
        _byName = new Dictionary<string, int>(slots.Count, StringComparer.Ordinal);
        long total = 0;
        for (int i = 0; i < slots.Count; i++)
        {
            TensorSlot s = slots[i];
            // A configuration too large for one block is rejected by VitConfig.Validate; clamp here so that
            // Validate can still compute the total and report it.
            _tensors[i] = new ParameterTensor(s.Name, s.Shape, (int)Math.Min(s.Offset, int.MaxValue), (int)Math.Min(s.Count, int.MaxValue), s.Kind);
            _byName[s.Name] = i;
            total = s.Offset + s.Count;
        }
        ParameterCount = total;
    }

    /// <summary>Total number of parameters (floats in the block), the sum of every tensor's element count.</summary>
    public long ParameterCount { get; }

    /// <summary>Number of tensors.</summary>
    public int Count => _tensors.Length;

    public ParameterTensor this[int index] => _tensors[index];

    /// <summary>The tensor called <paramref name="name"/>; throws <see cref="KeyNotFoundException"/> naming it if absent.</summary>
    public ParameterTensor this[string name] =>
        TryGet(name, out ParameterTensor t) ? t : throw new KeyNotFoundException($"The model has no parameter named '{name}'.");

    public bool TryGet(string name, out ParameterTensor tensor)
    {
        if (_byName.TryGetValue(name, out int i)) { tensor = _tensors[i]; return true; }
        tensor = default;
        return false;
    }

    public IEnumerator<ParameterTensor> GetEnumerator() => ((IEnumerable<ParameterTensor>)_tensors).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => _tensors.GetEnumerator();
}
