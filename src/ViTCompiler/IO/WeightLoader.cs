namespace ViTCompiler.IO;

/// <summary>How a file tensor's elements map onto its place in the parameter block.</summary>
internal enum SlotLayout
{
    /// <summary>Same element order.</summary>
    Same,
    /// <summary>The file holds (in × out) with in = <see cref="Slot.Rows"/> (flax Dense kernels); the model wants out × in.</summary>
    Transposed,
    /// <summary>The file holds a (P, P, C, D) convolution kernel (flax, HWIO); the model wants (D, C, P, P) (torch, OIHW).</summary>
    HwioToOihw,
    /// <summary>Position embeddings (1, N, D): copied, or interpolated when the grids differ and that is allowed.</summary>
    Positions,
}

/// <summary>One file tensor and where it goes: <see cref="Count"/> elements of <see cref="Target"/> from <see cref="Start"/>.</summary>
internal sealed record Slot(string File, long[] FileShape, ParameterTensor Target, int Start, int Count, SlotLayout Layout, int Rows = 0)
{
    public static Slot Whole(string file, IReadOnlyList<int> fileShape, ParameterTensor target, SlotLayout layout = SlotLayout.Same, int rows = 0) =>
        new(file, Shapes.Of(fileShape), target, 0, target.Count, layout, rows);

    public bool IsHead => Target.Name.StartsWith("head.", StringComparison.Ordinal);
}

/// <summary>A format's mapping for one model: the slots, and which extra file tensors are ignored or explained.</summary>
internal sealed class LoadPlan
{
    public List<Slot> Slots { get; } = [];

    /// <summary>File tensors that are deliberately not loaded (e.g. the head under KeepHead, HF's unused pooler).</summary>
    public Func<string, bool> Ignore { get; init; } = _ => false;

    /// <summary>Why an unexpected file tensor is unsupported, if the format knows it (null otherwise).</summary>
    public Func<string, string?> Explain { get; init; } = _ => null;
}

/// <summary>
/// Loads a file into a model in three passes so that a bad file never leaves the model half-overwritten: (1) every name,
/// shape and element type is checked, and all problems are reported together; (2) every tensor is read and checked
/// for NaN and infinity; (3) the tensors are written into the parameter block (transposed or interpolated as the slot
/// says) through <see cref="IVitWeights.EditParameters"/>.
/// </summary>
internal static class WeightLoader
{
    public static void Apply(ITensorSource source, string what, LoadPlan plan, IVitWeights model, LoadOptions options)
    {
        VitConfig config = model.Config;
        CheckCoverage(plan, config, options);
        int prefix = config.HasClassToken ? 1 : 0;
        var missing = new List<string>();
        var unexpected = new List<string>();
        var wrongShape = new List<string>();
        var unreadable = new List<string>();
        var hints = new List<string>();
        var resized = new Dictionary<string, int>(StringComparer.Ordinal);
        var actualShapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        bool headProblem = false;

        foreach (Slot slot in plan.Slots)
        {
            if (!source.TryGetShape(slot.File, out long[] shape))
            {
                missing.Add($"{slot.File} {Shapes.Text(slot.FileShape)}");
                headProblem |= slot.IsHead;
                continue;
            }
            actualShapes[slot.File] = shape;
            if (source.Unreadable(slot.File) is string why) unreadable.Add(why);
            if (Shapes.Equal(shape, slot.FileShape)) continue;
            if (slot.Layout == SlotLayout.Positions && shape.Length == 3 && shape[0] == 1 && shape[2] == slot.FileShape[2]
                && PositionEmbedding.GridSide(shape[1], prefix) is int side)
            {
                if (options.ResizePositions) { resized[slot.File] = side; continue; }
                hints.Add($"The file's position embeddings cover a {side}×{side} patch grid ({side * config.Patch}px images at patch {config.Patch}), "
                    + $"the model's a {config.GridSize}×{config.GridSize} grid ({config.ImageSize}px): pass LoadOptions {{ ResizePositions = true }} to interpolate them (paper §3.2).");
            }
            wrongShape.Add($"{slot.File} is {Shapes.Text(shape)}, the model needs {Shapes.Text(slot.FileShape)}");
            headProblem |= slot.IsHead;
        }
        var expected = new HashSet<string>(plan.Slots.Select(s => s.File), StringComparer.Ordinal);
        foreach (string name in source.Names)
        {
            if (expected.Contains(name) || plan.Ignore(name)) continue;
            source.TryGetShape(name, out long[] shape);
            string? note = plan.Explain(name);
            unexpected.Add($"{name} {Shapes.Text(shape)}" + (note is null ? "" : " — " + note));
        }
        if (headProblem)
            hints.Add("To fine-tune on a different label set, or to load a checkpoint without a classifier, pass LoadOptions { KeepHead = true }: the model keeps its own head.");
        if (missing.Count + unexpected.Count + wrongShape.Count + unreadable.Count > 0)
            throw new WeightsMismatchException(source.Path, $"does not fit the model ({config}) as {what}:", missing, unexpected, wrongShape, unreadable, hints);

        long largest = plan.Slots.Max(s => Shapes.Product(actualShapes[s.File], long.MaxValue));
        if (largest > Array.MaxLength) throw new WeightsFileException(source.Path, $"holds a tensor of {largest:N0} elements, more than one array can hold");
        float[] buffer = new float[largest];

        // Pass 2: nothing has been written yet, so a bad value leaves the model as it was.
        foreach (Slot slot in plan.Slots)
        {
            long[] shape = actualShapes[slot.File];
            Span<float> values = buffer.AsSpan(0, (int)Shapes.Product(shape, long.MaxValue));
            source.Read(slot.File, values);
            for (int i = 0; i < values.Length; i++)
                if (!float.IsFinite(values[i]))
                    throw new WeightsFileException(source.Path,
                        $"tensor '{slot.File}' {Shapes.Text(shape)} holds {values[i]} at {Shapes.Coordinates(shape, i)}; non-finite weights are refused (a diverged training run, a corrupt file, or a float64 value beyond float32's range)");
        }

        // Pass 3.
        using ParameterEdit edit = model.EditParameters();
        Span<float> parameters = edit.Values;
        foreach (Slot slot in plan.Slots)
        {
            Span<float> target = slot.Target.Of(parameters).Slice(slot.Start, slot.Count);
            long[] shape = actualShapes[slot.File];
            Span<float> values = buffer.AsSpan(0, (int)Shapes.Product(shape, long.MaxValue));
            switch (slot.Layout)
            {
                case SlotLayout.Same:
                    source.Read(slot.File, target);
                    break;
                case SlotLayout.Positions when resized.TryGetValue(slot.File, out int side):
                    source.Read(slot.File, values);
                    PositionEmbedding.Resize(values, side, side, target, config.GridSize, config.GridSize, config.Hidden, prefix, options.Interpolation);
                    break;
                case SlotLayout.Positions:
                    source.Read(slot.File, target);
                    break;
                case SlotLayout.Transposed:
                {
                    source.Read(slot.File, values);
                    int rows = slot.Rows, cols = values.Length / rows;
                    for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++)
                        target[c * rows + r] = values[r * cols + c];
                    break;
                }
                case SlotLayout.HwioToOihw:
                {
                    source.Read(slot.File, values);
                    int p = (int)shape[0], channels = (int)shape[2], d = (int)shape[3];
                    for (int y = 0; y < p; y++)
                    for (int x = 0; x < p; x++)
                    for (int c = 0; c < channels; c++)
                    for (int o = 0; o < d; o++)
                        target[((o * channels + c) * p + y) * p + x] = values[((y * p + x) * channels + c) * d + o];
                    break;
                }
            }
        }
    }

    /// <summary>Guards the format mappings themselves: every parameter (but a kept head) is written exactly once.</summary>
    private static void CheckCoverage(LoadPlan plan, VitConfig config, LoadOptions options)
    {
        long covered = plan.Slots.Sum(s => (long)s.Count);
        long expected = config.Layout.ParameterCount;
        if (options.KeepHead) expected -= config.Layout["head.weight"].Count + config.Layout["head.bias"].Count;
        if (covered != expected) throw new InvalidOperationException($"Internal error: a load plan covers {covered:N0} of {expected:N0} parameters.");
    }
}
