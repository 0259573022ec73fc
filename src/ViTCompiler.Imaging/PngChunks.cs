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

    /// <summary>
    /// What is wrong with the image data of <paramref name="png"/> (whose chunks <see cref="Problem"/> passed), or null:
    /// the IDAT chunks, joined and inflated, must hold at least the bytes the header's size, colour type, bit depth and
    /// interlacing need. Call it only after the pixel limit was checked: it inflates up to that many bytes (into a small
    /// buffer, so it costs time, not memory).
    /// </summary>
    /// <remarks>
    /// Short image data in complete chunks is what a damaged or hostile file has. ImageSharp 2.1 decodes a non-interlaced
    /// one with the missing rows black, and loops forever on an interlaced one (its Adam7 reader jumps back into its pass
    /// loop when the data ends); a 206-byte file hung <c>vit classify</c> until killed.
    /// </remarks>
    public static string? ImageDataProblem(byte[] png)
    {
        var idat = new List<(int Start, int Length)>();
        ReadOnlySpan<byte> header = default;
        for (int position = SignatureBytes; position + 12 <= png.Length;)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(position));
            ReadOnlySpan<byte> type = png.AsSpan(position + 4, 4);
            if (type.SequenceEqual("IHDR"u8) && length == 13) header = png.AsSpan(position + 8, 13);
            else if (type.SequenceEqual("IDAT"u8)) idat.Add((position + 8, length));
            else if (type.SequenceEqual("IEND"u8)) break;
            position += 12 + length;
        }
        if (header.IsEmpty || ExpectedImageBytes(header) is not long expected) return null; // the decoder reports a bad header itself
        long inflated = 0;
        try
        {
            using var zlib = new System.IO.Compression.ZLibStream(new SegmentStream(png, idat), System.IO.Compression.CompressionMode.Decompress);
            byte[] scratch = new byte[1 << 16];
            while (inflated < expected)
            {
                int got = zlib.Read(scratch, 0, (int)Math.Min(scratch.Length, expected - inflated));
                if (got == 0) break;
                inflated += got;
            }
        }
        catch (InvalidDataException e)
        {
            return $"the PNG image data is damaged after {inflated:N0} of its {expected:N0} bytes ({e.Message.TrimEnd('.')})";
        }
        return inflated < expected
            ? $"the PNG image data is truncated: it holds {inflated:N0} of the {expected:N0} bytes its header needs"
            : null;
    }

    /// <summary>Bytes of filtered scanlines a PNG header calls for (Adam7 passes included), or null for a header the decoder will refuse anyway.</summary>
    private static long? ExpectedImageBytes(ReadOnlySpan<byte> header)
    {
        long width = BinaryPrimitives.ReadUInt32BigEndian(header), height = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        int depth = header[8], colour = header[9], interlace = header[12];
        int samples = colour switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };
        if (samples == 0 || depth is not (1 or 2 or 4 or 8 or 16) || interlace > 1 || width == 0 || height == 0) return null;
        long bits = (long)samples * depth;
        long Rows(long rows, long columns) => columns == 0 || rows == 0 ? 0 : rows * (1 + (columns * bits + 7) / 8);
        if (interlace == 0) return Rows(height, width);
        // Adam7: each pass takes every n-th column from a first one, likewise rows.
        ReadOnlySpan<int> firstRow = [0, 0, 4, 0, 2, 0, 1], firstColumn = [0, 4, 0, 2, 0, 1, 0], rowStep = [8, 8, 8, 4, 4, 2, 2], columnStep = [8, 8, 4, 4, 2, 2, 1];
        long total = 0;
        for (int pass = 0; pass < 7; pass++)
            total += Rows(Math.Max(0, (height - firstRow[pass] + rowStep[pass] - 1) / rowStep[pass]), Math.Max(0, (width - firstColumn[pass] + columnStep[pass] - 1) / columnStep[pass]));
        return total;
    }

    /// <summary>The IDAT chunks' data, one after another, as the single zlib stream they form.</summary>
    private sealed class SegmentStream(byte[] bytes, List<(int Start, int Length)> segments) : Stream
    {
        private int _segment, _offset;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            while (_segment < segments.Count && _offset == segments[_segment].Length) { _segment++; _offset = 0; }
            if (_segment == segments.Count || buffer.IsEmpty) return 0;
            (int start, int length) = segments[_segment];
            int n = Math.Min(buffer.Length, length - _offset);
            bytes.AsSpan(start + _offset, n).CopyTo(buffer);
            _offset += n;
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
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
