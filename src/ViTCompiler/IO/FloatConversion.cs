using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace ViTCompiler.IO;

/// <summary>The floating-point element encodings the loaders convert to 32-bit floats.</summary>
internal enum FloatEncoding { F16, BF16, F32, F64 }

/// <summary>Byte buffers of stored floats → <see cref="float"/>; every conversion is exact except F64 → F32 rounding.</summary>
internal static class FloatConversion
{
    public static int Size(FloatEncoding encoding) => encoding switch
    {
        FloatEncoding.F16 or FloatEncoding.BF16 => 2,
        FloatEncoding.F32 => 4,
        _ => 8,
    };

    public static FloatEncoding? From(SafeTensorsDType type) => type switch
    {
        SafeTensorsDType.F16 => FloatEncoding.F16,
        SafeTensorsDType.BF16 => FloatEncoding.BF16,
        SafeTensorsDType.F32 => FloatEncoding.F32,
        SafeTensorsDType.F64 => FloatEncoding.F64,
        _ => null,
    };

    /// <summary>Converts <c>destination.Length</c> elements from <paramref name="source"/>.</summary>
    public static void Convert(ReadOnlySpan<byte> source, FloatEncoding encoding, bool bigEndian, Span<float> destination)
    {
        int n = destination.Length;
        if (source.Length != n * Size(encoding)) throw new ArgumentException("Byte count does not match the element count.", nameof(source));
        bool swap = bigEndian == BitConverter.IsLittleEndian;
        switch (encoding)
        {
            case FloatEncoding.F32 when !swap:
                // The mapped bytes may sit at any alignment; a byte-wise copy does not care.
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case FloatEncoding.F32:
                for (int i = 0; i < n; i++)
                    destination[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReverseEndianness(MemoryMarshal.Read<int>(source.Slice(4 * i))));
                break;
            case FloatEncoding.F16 when !swap:
                // Reads through the cast are unaligned loads, so the mapped bytes' alignment does not matter here either.
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                break;
            case FloatEncoding.F16:
                for (int i = 0; i < n; i++)
                {
                    ushort bits = MemoryMarshal.Read<ushort>(source.Slice(2 * i));
                    destination[i] = (float)BitConverter.UInt16BitsToHalf(swap ? BinaryPrimitives.ReverseEndianness(bits) : bits);
                }
                break;
            case FloatEncoding.BF16:
                for (int i = 0; i < n; i++)
                {
                    ushort bits = MemoryMarshal.Read<ushort>(source.Slice(2 * i));
                    if (swap) bits = BinaryPrimitives.ReverseEndianness(bits);
                    destination[i] = BitConverter.Int32BitsToSingle(bits << 16);
                }
                break;
            case FloatEncoding.F64 when !swap:
                TensorPrimitives.ConvertTruncating(MemoryMarshal.Cast<byte, double>(source), destination);
                break;
            default:
                for (int i = 0; i < n; i++)
                {
                    long bits = MemoryMarshal.Read<long>(source.Slice(8 * i));
                    destination[i] = (float)BitConverter.Int64BitsToDouble(swap ? BinaryPrimitives.ReverseEndianness(bits) : bits);
                }
                break;
        }
    }
}
