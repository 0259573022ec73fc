namespace ViTCompiler.Onnx;

/// <summary>
/// Field numbers and enum values of the parts of <c>onnx.proto</c> (github.com/onnx/onnx, onnx/onnx.proto) this exporter
/// writes. Only the numbers matter on the wire; the names follow the schema so the two can be read side by side.
/// </summary>
internal static class OnnxProto
{
    /// <summary>ModelProto: the file's top-level message.</summary>
    public static class Model
    {
        public const int IrVersion = 1;          // int64
        public const int ProducerName = 2;       // string
        public const int ProducerVersion = 3;    // string
        public const int Domain = 4;             // string
        public const int ModelVersion = 5;       // int64
        public const int DocString = 6;          // string
        public const int Graph = 7;              // GraphProto
        public const int OpsetImport = 8;        // repeated OperatorSetIdProto
        public const int MetadataProps = 14;     // repeated StringStringEntryProto
    }

    public static class OperatorSetId
    {
        public const int Domain = 1;             // string; empty means the default "ai.onnx" operator set
        public const int Version = 2;            // int64
    }

    public static class StringStringEntry
    {
        public const int Key = 1;
        public const int Value = 2;
    }

    public static class Graph
    {
        public const int Node = 1;               // repeated NodeProto, topologically sorted
        public const int Name = 2;               // string
        public const int Initializer = 5;        // repeated TensorProto
        public const int DocString = 10;         // string
        public const int Input = 11;             // repeated ValueInfoProto
        public const int Output = 12;            // repeated ValueInfoProto
        public const int ValueInfo = 13;         // repeated ValueInfoProto
    }

    public static class Node
    {
        public const int Input = 1;              // repeated string
        public const int Output = 2;             // repeated string
        public const int Name = 3;               // string
        public const int OpType = 4;             // string
        public const int Attribute = 5;          // repeated AttributeProto
        public const int DocString = 6;          // string
        public const int Domain = 7;             // string
    }

    public static class Attribute
    {
        public const int Name = 1;               // string
        public const int F = 2;                  // float
        public const int I = 3;                  // int64
        public const int S = 4;                  // bytes
        public const int T = 5;                  // TensorProto
        public const int Floats = 7;             // repeated float
        public const int Ints = 8;               // repeated int64
        public const int Type = 20;              // AttributeType
    }

    /// <summary>AttributeProto.AttributeType: the discriminator every attribute must carry (IR version 2 and later).</summary>
    public enum AttributeType
    {
        Float = 1,
        Int = 2,
        String = 3,
        Tensor = 4,
        Floats = 6,
        Ints = 7,
    }

    public static class Tensor
    {
        public const int Dims = 1;               // repeated int64
        public const int DataType = 2;           // int32 (DataType)
        public const int Name = 8;               // string
        public const int RawData = 9;            // bytes, fixed-width little-endian elements
        public const int DocString = 12;         // string
    }

    /// <summary>TensorProto.DataType values used here.</summary>
    public enum DataType
    {
        Float = 1,
        Int64 = 7,
    }

    public static class ValueInfo
    {
        public const int Name = 1;               // string
        public const int Type = 2;               // TypeProto
        public const int DocString = 3;          // string
    }

    public static class Type
    {
        public const int TensorType = 1;         // TypeProto.Tensor
    }

    public static class TypeTensor
    {
        public const int ElemType = 1;           // int32 (DataType)
        public const int Shape = 2;              // TensorShapeProto
    }

    public static class TensorShape
    {
        public const int Dim = 1;                // repeated Dimension
    }

    public static class Dimension
    {
        public const int DimValue = 1;           // int64
        public const int DimParam = 2;           // string: a symbolic dimension
    }

    /// <summary>
    /// The IR version released together with an opset of the default domain (the table in onnx/docs/Versioning.md):
    /// a runtime that knows the opset knows this IR, and nothing newer is claimed than the file needs.
    /// </summary>
    public static int IrVersionFor(int opset) => opset switch
    {
        <= 14 => 7,
        <= 18 => 8,
        <= 20 => 9,
        _ => 10, // opsets 21 and 22
    };
}
