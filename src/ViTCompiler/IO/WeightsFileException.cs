namespace ViTCompiler.IO;

/// <summary>
/// A weights or checkpoint file could not be read, or does not fit the model it was loaded into. The message names the
/// file and the problem (tensor, field, expected versus actual); <see cref="FilePath"/> holds the file on its own.
/// </summary>
public class WeightsFileException : IOException
{
    /// <summary>Creates the exception; the message is prefixed with the file's path.</summary>
    public WeightsFileException(string filePath, string problem, Exception? inner = null)
        : base($"'{filePath}': {problem}", inner)
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>The file that could not be read.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
}

/// <summary>
/// The tensors of a file do not match the model: some are missing, unexpected, of the wrong shape, or of a type that
/// cannot be read as floats. Every problem is listed, not only the first.
/// </summary>
public sealed class WeightsMismatchException : WeightsFileException
{
    internal WeightsMismatchException(string filePath, string what, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<string> wrongShape, IReadOnlyList<string> unreadable, IReadOnlyList<string> hints)
        : base(filePath, Describe(what, missing, unexpected, wrongShape, unreadable, hints))
    {
        Missing = missing;
        Unexpected = unexpected;
        WrongShape = wrongShape;
        Unreadable = unreadable;
    }

    /// <summary>Tensors the model needs that the file lacks, each with the expected shape.</summary>
    public IReadOnlyList<string> Missing { get; }

    /// <summary>Tensors in the file the model has no place for.</summary>
    public IReadOnlyList<string> Unexpected { get; }

    /// <summary>Tensors present in both whose shapes differ: file shape versus the shape the model needs.</summary>
    public IReadOnlyList<string> WrongShape { get; }

    /// <summary>Tensors whose element type cannot be converted to 32-bit floats.</summary>
    public IReadOnlyList<string> Unreadable { get; }

    /// <summary>Items of each kind listed in the message (all are in the properties).</summary>
    private const int MaxListed = 12;

    private static string Describe(string what, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<string> wrongShape, IReadOnlyList<string> unreadable, IReadOnlyList<string> hints)
    {
        var text = new System.Text.StringBuilder();
        text.Append(what);
        void Section(string title, IReadOnlyList<string> items)
        {
            if (items.Count == 0) return;
            text.Append('\n').Append(title).Append(" (").Append(items.Count).Append("):");
            // A file of another model can differ in hundreds of tensors; the first few say what is wrong, the properties hold all.
            foreach (string item in Echo.Few(items, MaxListed)) text.Append("\n  ").Append(Echo.Clip(item, 2 * Echo.MaxChars));
        }
        Section("missing", missing);
        Section("unexpected", unexpected);
        Section("wrong shape", wrongShape);
        Section("unreadable element type", unreadable);
        foreach (string hint in hints) text.Append('\n').Append(hint);
        return text.ToString();
    }
}
