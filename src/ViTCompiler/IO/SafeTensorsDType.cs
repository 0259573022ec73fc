namespace ViTCompiler.IO;

/// <summary>
/// The element types a safetensors header may name. All are recognised (so a file's layout can be validated whatever
/// it holds); <see cref="F32"/>, <see cref="F16"/>, <see cref="BF16"/> and <see cref="F64"/> can be read as floats.
/// </summary>
public enum SafeTensorsDType
{
    /// <summary>Boolean, one byte.</summary>
    Bool,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8,
    /// <summary>Signed 8-bit integer.</summary>
    I8,
    /// <summary>8-bit float, 5 exponent bits.</summary>
    F8E5M2,
    /// <summary>8-bit float, 4 exponent bits.</summary>
    F8E4M3,
    /// <summary>Signed 16-bit integer.</summary>
    I16,
    /// <summary>Unsigned 16-bit integer.</summary>
    U16,
    /// <summary>IEEE half precision.</summary>
    F16,
    /// <summary>bfloat16: the upper half of an IEEE single.</summary>
    BF16,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Unsigned 32-bit integer.</summary>
    U32,
    /// <summary>IEEE single precision.</summary>
    F32,
    /// <summary>IEEE double precision (rounded to single when read as floats).</summary>
    F64,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Unsigned 64-bit integer.</summary>
    U64,
}

/// <summary>Names and sizes of <see cref="SafeTensorsDType"/> values as the format spells them.</summary>
public static class SafeTensorsDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this SafeTensorsDType type) => type switch
    {
        SafeTensorsDType.Bool or SafeTensorsDType.U8 or SafeTensorsDType.I8 or SafeTensorsDType.F8E5M2 or SafeTensorsDType.F8E4M3 => 1,
        SafeTensorsDType.I16 or SafeTensorsDType.U16 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 => 2,
        SafeTensorsDType.I32 or SafeTensorsDType.U32 or SafeTensorsDType.F32 => 4,
        _ => 8,
    };

    /// <summary>The header spelling, e.g. "BF16" or "F8_E4M3".</summary>
    public static string Name(this SafeTensorsDType type) => type switch
    {
        SafeTensorsDType.F8E5M2 => "F8_E5M2",
        SafeTensorsDType.F8E4M3 => "F8_E4M3",
        SafeTensorsDType.Bool => "BOOL",
        _ => type.ToString(),
    };

    /// <summary>Whether tensors of this type can be read as 32-bit floats.</summary>
    public static bool IsFloatReadable(this SafeTensorsDType type) =>
        type is SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.F64;

    /// <summary>Parses a header spelling; false for names the format does not define.</summary>
    public static bool TryParse(string name, out SafeTensorsDType type)
    {
        switch (name)
        {
            case "BOOL": type = SafeTensorsDType.Bool; return true;
            case "U8": type = SafeTensorsDType.U8; return true;
            case "I8": type = SafeTensorsDType.I8; return true;
            case "F8_E5M2": type = SafeTensorsDType.F8E5M2; return true;
            case "F8_E4M3": type = SafeTensorsDType.F8E4M3; return true;
            case "I16": type = SafeTensorsDType.I16; return true;
            case "U16": type = SafeTensorsDType.U16; return true;
            case "F16": type = SafeTensorsDType.F16; return true;
            case "BF16": type = SafeTensorsDType.BF16; return true;
            case "I32": type = SafeTensorsDType.I32; return true;
            case "U32": type = SafeTensorsDType.U32; return true;
            case "F32": type = SafeTensorsDType.F32; return true;
            case "F64": type = SafeTensorsDType.F64; return true;
            case "I64": type = SafeTensorsDType.I64; return true;
            case "U64": type = SafeTensorsDType.U64; return true;
            default: type = default; return false;
        }
    }
}
