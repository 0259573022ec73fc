using System.Buffers.Binary;

namespace ViTCompiler.Imaging;

/// <summary>
/// Walks a PNG's chunk stream before it is decoded: every chunk complete, every checksum right, and the end chunk
/// present. ImageSharp checks the checksums of the critical chunks only and, when the file simply stops, decodes the
/// rows it has and leaves the rest black, so a cut-off download classified without complaint (as something else).
/// PIL refuses both ("image file is truncated", "broken PNG file"), and so does this.
/// </summary>
/// <remarks>
/// Layout: the 8-byte signature, then chunks of a 4-byte big-endian length (at most 2³¹ − 1), a 4-byte type, the data and
/// a CRC-32 of type and data; the last chunk is <c>IEND</c>. Bytes after <c>IEND</c> are ignored, as PIL ignores them.
/// </remarks>
internal static class PngChunks
{
    private const int SignatureBytes = 8;
    private static readonly uint[] s_crcTable = CrcTable();

    /// <summary>What is wrong with the chunk stream of <paramref name="png"/> (a file that starts with the PNG signature), or null.</summary>
    public static string? Problem(ReadOnlySpan<byte> png)
    {
        long position = SignatureBytes;
        string? previous = null;
        while (true)
        {
            if (position == png.Length)
                return $"the PNG data is truncated: the file ends after {(previous is null ? "the signature" : $"a '{previous}' chunk")} without the end chunk (IEND)";
            if (png.Length - position < 12)
                return $"the PNG data is truncated: the file ends inside a chunk header at byte {position:N0}";
            uint length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)position..]);
            ReadOnlySpan<byte> typeBytes = png.Slice((int)position + 4, 4);
            string type = TypeName(typeBytes);
            if (length > int.MaxValue)
                return $"the PNG data is damaged: chunk '{type}' at byte {position:N0} declares {length:N0} bytes, more than a PNG chunk may hold";
            if (png.Length - position - 12 < length)
                return $"the PNG data is truncated: chunk '{type}' at byte {position:N0} needs {length + 12L:N0} bytes but the file ends after {png.Length - position:N0}";
            ReadOnlySpan<byte> typeAndData = png.Slice((int)position + 4, 4 + (int)length);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(png[((int)position + 8 + (int)length)..]);
            if (Crc32(typeAndData) != stored)
                return $"the PNG data is damaged: chunk '{type}' at byte {position:N0} fails its checksum (CRC)";
            position += 12L + length;
            if (typeBytes.SequenceEqual("IEND"u8)) return null;
            previous = type;
        }
    }

    /// <summary>A chunk type as text when it is four ASCII letters (as the format requires), else its bytes in hex.</summary>
    private static string TypeName(ReadOnlySpan<byte> type)
    {
        foreach (byte b in type)
            if (!char.IsAsciiLetter((char)b)) return Convert.ToHexString(type);
        return System.Text.Encoding.ASCII.GetString(type);
    }

    /// <summary>The CRC-32 of PNG (and zip): polynomial 0xEDB88320, reflected, initial and final value all ones.</summary>
    internal static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data) crc = s_crcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    private static uint[] CrcTable()
    {
        uint[] table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
