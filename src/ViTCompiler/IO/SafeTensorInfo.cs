namespace ViTCompiler.IO;

/// <summary>One tensor's entry in a safetensors header.</summary>
public sealed class SafeTensorInfo
{
    internal SafeTensorInfo(string name, SafeTensorsDType type, long[] shape, long elementCount, long start, long end)
    {
        Name = name;
        DType = type;
        Shape = shape;
        ElementCount = elementCount;
        Start = start;
        End = end;
    }

    /// <summary>The tensor's name, e.g. <c>blocks.0.attn.qkv.weight</c>.</summary>
    public string Name { get; }

    /// <summary>The stored element type.</summary>
    public SafeTensorsDType DType { get; }

    /// <summary>The shape, outermost dimension first (row-major).</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>Number of elements: the product of <see cref="Shape"/> (1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary>First byte of the tensor's data, relative to the start of the data section.</summary>
    public long Start { get; }

    /// <summary>One past the last byte of the tensor's data, relative to the start of the data section.</summary>
    public long End { get; }

    /// <summary>Shape as text, e.g. "(2304, 768)".</summary>
    public string ShapeText => Shapes.Text(Shape);

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {DType.Name()} {ShapeText} @ [{Start}, {End})";
}

/// <summary>Shape helpers shared by the readers and loaders.</summary>
internal static class Shapes
{
    public static string Text(IReadOnlyList<long> shape) => "(" + string.Join(", ", shape) + ")";
    public static string Text(IReadOnlyList<int> shape) => "(" + string.Join(", ", shape) + ")";

    public static bool Equal(IReadOnlyList<long> a, IReadOnlyList<long> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++) if (a[i] != b[i]) return false;
        return true;
    }

    public static long[] Of(IReadOnlyList<int> shape)
    {
        long[] result = new long[shape.Count];
        for (int i = 0; i < result.Length; i++) result[i] = shape[i];
        return result;
    }

    /// <summary>Product of the dimensions, or -1 when it exceeds <paramref name="limit"/>.</summary>
    public static long Product(IReadOnlyList<long> shape, long limit)
    {
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0) return -1;
            if (d == 0) { count = 0; continue; }
            if (count > limit / d) return -1;
            count *= d;
        }
        return count > limit ? -1 : count;
    }

    /// <summary>Row-major coordinates of element <paramref name="index"/>, e.g. "[3, 17]".</summary>
    public static string Coordinates(IReadOnlyList<long> shape, long index)
    {
        if (shape.Count == 0) return "[]";
        long[] coordinates = new long[shape.Count];
        for (int i = shape.Count - 1; i >= 0; i--)
        {
            long d = Math.Max(1, shape[i]);
            coordinates[i] = index % d;
            index /= d;
        }
        return "[" + string.Join(", ", coordinates) + "]";
    }
}
