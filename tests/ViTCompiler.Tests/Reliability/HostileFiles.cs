using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using ViTCompiler.Tests.Imaging;

namespace ViTCompiler.Tests.Reliability;

/// <summary>Hand-made hostile files: built in a few lines each, so no binary fixture needs to be committed.</summary>
internal static class HostileFiles
{
    /// <summary>A zlib stream that inflates to <paramref name="bytes"/> zero bytes (about 1,000 : 1).</summary>
    public static byte[] ZlibZeros(long bytes)
    {
        var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.Optimal, leaveOpen: true)) WriteRepeated(zlib, 0, bytes);
        return output.ToArray();
    }

    /// <summary>Writes <paramref name="count"/> copies of <paramref name="value"/> a megabyte at a time (no array of the whole).</summary>
    public static void WriteRepeated(Stream stream, byte value, long count)
    {
        byte[] block = new byte[1 << 20];
        block.AsSpan().Fill(value);
        for (long left = count; left > 0; left -= block.Length) stream.Write(block, 0, (int)Math.Min(left, block.Length));
    }

    /// <summary>One PNG chunk: length, type, data, CRC.</summary>
    public static byte[] Chunk(string type, ReadOnlySpan<byte> data)
    {
        byte[] chunk = new byte[12 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(chunk, data.Length);
        Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
        data.CopyTo(chunk.AsSpan(8));
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), TestImages.Crc32(chunk.AsSpan(4, 4 + data.Length)));
        return chunk;
    }

    /// <summary><paramref name="png"/> with <paramref name="chunks"/> inserted after its IHDR (which ends at byte 33).</summary>
    public static byte[] WithChunks(byte[] png, params byte[][] chunks) => [.. png.AsSpan(0, 33), .. chunks.SelectMany(c => c), .. png.AsSpan(33)];

    /// <summary>A zTXt chunk (keyword, 0, method 0, zlib data) whose text inflates to <paramref name="bytes"/> bytes.</summary>
    public static byte[] CompressedText(long bytes) => Chunk("zTXt", [.. "Comment"u8, 0, 0, .. ZlibZeros(bytes)]);

    /// <summary>An iTXt chunk (keyword, 0, compressed 1, method 0, language, 0, translated keyword, 0, zlib data).</summary>
    public static byte[] InternationalText(long bytes) => Chunk("iTXt", [.. "Comment"u8, 0, 1, 0, 0, 0, .. ZlibZeros(bytes)]);

    /// <summary>An iCCP chunk (profile name, 0, method 0, zlib data) whose profile inflates to <paramref name="bytes"/> bytes.</summary>
    public static byte[] ColourProfile(long bytes) => Chunk("iCCP", [.. "icc"u8, 0, 0, .. ZlibZeros(bytes)]);

    /// <summary>A 1 × 1 PNG carrying text chunks that inflate to <paramref name="chunks"/> × <paramref name="bytesEach"/> bytes.</summary>
    public static byte[] TextBombPng(int chunks, long bytesEach)
    {
        using var pixel = TestImages.Make(1, 1, (_, _) => TestImages.Red);
        byte[] text = CompressedText(bytesEach);
        return WithChunks(TestImages.Encode(pixel, ".png"), Enumerable.Repeat(text, chunks).ToArray());
    }
}
