namespace ViTCompiler.IO;

/// <summary>What the loaders need from a file of named tensors (safetensors or npz): names, shapes, float data.</summary>
internal interface ITensorSource
{
    /// <summary>The file, for messages.</summary>
    string Path { get; }

    IEnumerable<string> Names { get; }

    bool TryGetShape(string name, out long[] shape);

    /// <summary>Why tensor <paramref name="name"/> cannot be read as floats (e.g. "x is I64"), or null if it can.</summary>
    string? Unreadable(string name);

    /// <summary>Converts the tensor to floats; <paramref name="destination"/> holds exactly its element count.</summary>
    void Read(string name, Span<float> destination);
}
