namespace ViTCompiler.Onnx;

/// <summary>How <see cref="OnnxExporter"/> writes a model. The defaults give opset 17, input <c>pixels</c> (batch, C, S, S)
/// with a symbolic batch dimension, and output <c>logits</c> (batch, classes).</summary>
public sealed record OnnxExportOptions
{
    /// <summary>The oldest opset the exporter can target: LayerNormalization joined the default domain in opset 17.</summary>
    public const int MinimumOpset = 17;

    /// <summary>The newest opset the exporter targets (IR version 10).</summary>
    public const int MaximumOpset = 21;

    /// <summary>The default options.</summary>
    public static OnnxExportOptions Default { get; } = new();

    /// <summary>
    /// Version of the default ("ai.onnx") operator set, <see cref="MinimumOpset"/> to <see cref="MaximumOpset"/>; the
    /// file's IR version follows from it. 17 loads in every runtime released since mid-2022.
    /// </summary>
    public int Opset { get; init; } = 17;

    /// <summary>Name of the graph input: float32 NCHW pixels, already normalised.</summary>
    public string InputName { get; init; } = "pixels";

    /// <summary>Name of the graph output: float32 (batch, classes) logits.</summary>
    public string OutputName { get; init; } = "logits";

    /// <summary>Name of the symbolic batch dimension, used when <see cref="BatchSize"/> is 0.</summary>
    public string BatchDimensionName { get; init; } = "batch";

    /// <summary>0 (the default) for a batch dimension chosen at run time; a positive number fixes it, which some
    /// accelerators' compilers prefer.</summary>
    public int BatchSize { get; init; }

    /// <summary>
    /// Write the MLP activation as the single Gelu operator (opset 20 and later) instead of the
    /// x · ½ · (1 + erf(x / √2)) subgraph. Both are exact GELU; ONNX Runtime fuses the subgraph into its own Gelu kernel
    /// anyway, so this matters mostly to other runtimes and to people reading the graph.
    /// </summary>
    public bool UseGeluOperator { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option that cannot be used, and why.</summary>
    public OnnxExportOptions Validate()
    {
        string? problem = Problem();
        if (problem is not null) throw new ArgumentException($"Invalid ONNX export options: {problem}.", "options");
        return this;
    }

    /// <summary>The first reason these options cannot be used, or null.</summary>
    public string? Problem()
    {
        if (Opset < MinimumOpset || Opset > MaximumOpset)
            return $"Opset {Opset} is not supported; choose {MinimumOpset} to {MaximumOpset} ({MinimumOpset} is the first with LayerNormalization)";
        if (UseGeluOperator && Opset < 20)
            return $"UseGeluOperator needs Opset 20 or later (the Gelu operator was added in opset 20), but Opset is {Opset}";
        if (IdentifierProblem(nameof(InputName), InputName) is { } input) return input;
        if (IdentifierProblem(nameof(OutputName), OutputName) is { } output) return output;
        if (InputName == OutputName) return $"InputName and OutputName are both '{InputName}'; the graph's input and output need different names";
        if (BatchSize < 0) return $"BatchSize must be 0 (chosen at run time) or positive (got {BatchSize})";
        if (BatchSize == 0 && IdentifierProblem(nameof(BatchDimensionName), BatchDimensionName) is { } batch) return batch;
        return null;
    }

    /// <summary>
    /// ONNX asks for C identifiers as names. Holding user-chosen names to that also keeps them apart from the exporter's
    /// own value names, which all contain a dot.
    /// </summary>
    private static string? IdentifierProblem(string option, string? value)
    {
        if (string.IsNullOrEmpty(value)) return $"{option} is empty; give a name such as 'pixels'";
        if (value.Length > 128) return $"{option} is {value.Length} characters long; use at most 128";
        bool valid = value[0] is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_';
        foreach (char ch in value) valid &= ch is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_';
        return valid ? null : $"{option} '{Printable(value)}' is not an identifier; use letters, digits and '_', not starting with a digit";
    }

    /// <summary>The value with control characters shown as \uXXXX, so an error message never carries them raw.</summary>
    private static string Printable(string value)
    {
        var text = new System.Text.StringBuilder(value.Length);
        foreach (char ch in value)
            text.Append(char.IsControl(ch) ? $"\\u{(int)ch:X4}" : ch.ToString());
        return text.ToString();
    }
}
