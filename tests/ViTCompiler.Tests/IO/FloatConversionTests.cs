using System.Buffers.Binary;
using ViTCompiler.IO;
using Xunit;

namespace ViTCompiler.Tests.IO;

/// <summary>
/// The vectorised conversions (TensorPrimitives) against the scalar casts that define them, on every half and on doubles
/// that float cannot hold, read from an odd byte offset as a memory-mapped file may place them; the byte-swapped
/// path is the other implementation to agree with.
/// </summary>
public class FloatConversionTests
{
    [Fact]
    public void Every_half_converts_as_the_cast_does()
    {
        const int count = 0x10000;
        byte[] little = new byte[1 + 2 * count], big = new byte[2 * count];
        for (int bits = 0; bits < count; bits++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(little.AsSpan(1 + 2 * bits), (ushort)bits);
            BinaryPrimitives.WriteUInt16BigEndian(big.AsSpan(2 * bits), (ushort)bits);
        }
        float[] vectorised = new float[count], swapped = new float[count];
        FloatConversion.Convert(little.AsSpan(1), FloatEncoding.F16, bigEndian: false, vectorised);
        FloatConversion.Convert(big, FloatEncoding.F16, bigEndian: true, swapped);
        for (int bits = 0; bits < count; bits++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)bits);
            AssertSame(expected, vectorised[bits], $"half 0x{bits:X4}");
            AssertSame(expected, swapped[bits], $"half 0x{bits:X4} (big-endian)");
        }
    }

    [Fact]
    public void Doubles_round_to_the_nearest_float_as_the_cast_does()
    {
        var rng = new VitRandom(7);
        var values = new List<double> { 0, -0.0, 1e-40, -1e-46, 1e39, -1e300, double.PositiveInfinity, double.NegativeInfinity, double.NaN,
            1 + Math.Pow(2, -24), 1 + 3 * Math.Pow(2, -24) }; // the last two are ties: to even, down and up
        for (int i = 0; i < 10_000; i++) values.Add((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.NextInt(61) - 30));
        byte[] little = new byte[1 + 8 * values.Count], big = new byte[8 * values.Count];
        for (int i = 0; i < values.Count; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(little.AsSpan(1 + 8 * i), values[i]);
            BinaryPrimitives.WriteDoubleBigEndian(big.AsSpan(8 * i), values[i]);
        }
        float[] vectorised = new float[values.Count], swapped = new float[values.Count];
        FloatConversion.Convert(little.AsSpan(1), FloatEncoding.F64, bigEndian: false, vectorised);
        FloatConversion.Convert(big, FloatEncoding.F64, bigEndian: true, swapped);
        for (int i = 0; i < values.Count; i++)
        {
            AssertSame((float)values[i], vectorised[i], $"double {values[i]:R}");
            AssertSame((float)values[i], swapped[i], $"double {values[i]:R} (big-endian)");
        }
    }

    // Bit for bit, except that any NaN stands for any other (payloads are not part of the contract).
    private static void AssertSame(float expected, float actual, string what)
    {
        if (float.IsNaN(expected)) Assert.True(float.IsNaN(actual), $"{what}: expected NaN, got {actual:R}");
        else Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual), $"{what}: expected {expected:R}, got {actual:R}");
    }
}
