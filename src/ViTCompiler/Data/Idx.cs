using System.Buffers.Binary;
using System.IO.Compression;
using ViTCompiler.IO;

namespace ViTCompiler.Data;

/// <summary>The pixels of an IDX image file: <see cref="Count"/> grey images of <see cref="Rows"/> × <see cref="Columns"/> bytes, back to back.</summary>
/// <param name="Pixels">Count × Rows × Columns bytes, row-major, 0 = background for (Fashion-)MNIST.</param>
/// <param name="Count">Number of images.</param>
/// <param name="Rows">Height of every image.</param>
/// <param name="Columns">Width of every image.</param>
public sealed record IdxImages(byte[] Pixels, int Count, int Rows, int Columns);

/// <summary>
/// Reads and writes the IDX format of MNIST and Fashion-MNIST, plain or gzip-compressed (detected from the
/// content, by the gzip magic bytes 1F 8B, not from the name).
/// </summary>
/// <remarks>
/// <para>
/// An IDX file is a big-endian header followed by raw values: a 4-byte magic <c>00 00 TT DD</c> (TT the value type,
/// 08 = unsigned byte; DD the number of dimensions), one 4-byte size per dimension, then the values in row-major order.
/// Image files are <c>0x00000803</c> (count, rows, columns); label files are <c>0x00000801</c> (count).
/// </para>
/// <para>
/// Reading is strict, because a silently short or misaligned file trains a model on garbage: every problem raises an
/// <see cref="InvalidDataException"/> whose message names the file and says what to check. A header that promises
/// more data than the file holds is reported as truncated, extra bytes after the data are an error, and a compressed
/// file is decompressed into a buffer that grows with the data actually present, so a tiny hostile file cannot make
/// the reader allocate the gigabytes its header claims.
/// </para>
/// </remarks>
public static class Idx
{
    /// <summary>Magic number of an IDX image file: unsigned bytes, 3 dimensions.</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of an IDX label file: unsigned bytes, 1 dimension.</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Largest image side accepted; larger headers are treated as corrupt.</summary>
    public const int MaxSide = 1 << 16;

    // A compressed file's buffer starts at most this large and doubles as data arrives.
    private const int InitialCompressedBuffer = 1 << 22;

    /// <summary>Reads an IDX image file (magic 0x00000803).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a well-formed IDX image file; the message says why.</exception>
    public static IdxImages ReadImages(string path)
    {
        using Stream stream = Open(path, out bool compressed);
        ReadOnlySpan<int> dims = ReadHeader(stream, path, ImagesMagic, "image");
        int count = dims[0], rows = dims[1], columns = dims[2];
        if (rows > MaxSide || columns > MaxSide)
            throw Corrupt(path, $"the header claims {rows} × {columns} images, larger than the {MaxSide} pixels per side this reader accepts; the header is probably damaged");
        long bytes = (long)count * rows * columns;
        if (bytes > Array.MaxLength)
            throw Corrupt(path, $"the header claims {count:N0} images of {rows} × {columns} = {bytes:N0} bytes, more than one in-memory image set can hold ({Array.MaxLength:N0} bytes); the header is damaged, or split the data");
        byte[] pixels = ReadPayload(stream, path, compressed, 16, (int)bytes, $"{count:N0} images of {rows} × {columns}");
        return new IdxImages(pixels, count, rows, columns);
    }

    /// <summary>Reads an IDX label file (magic 0x00000801): one byte per label.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a well-formed IDX label file; the message says why.</exception>
    public static byte[] ReadLabels(string path)
    {
        using Stream stream = Open(path, out bool compressed);
        ReadOnlySpan<int> dims = ReadHeader(stream, path, LabelsMagic, "label");
        return ReadPayload(stream, path, compressed, 8, dims[0], $"{dims[0]:N0} labels");
    }

    /// <summary>
    /// Reads a matching pair of image and label files into a <see cref="LabeledImages"/> (1 channel).
    /// </summary>
    /// <param name="imagesPath">The IDX image file (e.g. <c>t10k-images-idx3-ubyte.gz</c>).</param>
    /// <param name="labelsPath">The IDX label file of the same split (e.g. <c>t10k-labels-idx1-ubyte.gz</c>).</param>
    /// <param name="classes">Number of classes; 0 takes it from <paramref name="classNames"/>, or else from the largest label + 1.</param>
    /// <param name="classNames">Optional class names, index = label.</param>
    /// <exception cref="InvalidDataException">Either file is malformed, their counts differ, or a label is out of range.</exception>
    public static LabeledImages Load(string imagesPath, string labelsPath, int classes = 0, IReadOnlyList<string>? classNames = null)
    {
        IdxImages images = ReadImages(imagesPath);
        byte[] labelBytes = ReadLabels(labelsPath);
        if (images.Count != labelBytes.Length)
            throw new InvalidDataException(
                $"'{imagesPath}' holds {images.Count:N0} images but '{labelsPath}' holds {labelBytes.Length:N0} labels. " +
                "Images and labels must come from the same split (train-… with train-…, t10k-… with t10k-…).");
        if (classes <= 0) classes = classNames?.Count ?? 0;
        int[] labels = new int[labelBytes.Length];
        int largest = -1;
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = labelBytes[i];
            largest = Math.Max(largest, labels[i]);
        }
        if (classes <= 0) classes = Math.Max(largest + 1, 1);
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= classes)
                throw new InvalidDataException($"IDX label file '{labelsPath}': label {labels[i]} of image {i} is outside [0, {classes}) for a data set of {classes} classes.");
        }
        return new LabeledImages(images.Pixels, labels, 1, images.Rows, images.Columns, classes, classNames);
    }

    /// <summary>
    /// Writes <paramref name="count"/> grey images of <paramref name="rows"/> × <paramref name="columns"/> as an IDX
    /// image file, gzip-compressed when <paramref name="path"/> ends in <c>.gz</c>.
    /// </summary>
    public static void WriteImages(string path, ReadOnlySpan<byte> pixels, int count, int rows, int columns)
    {
        if (count < 0 || rows <= 0 || columns <= 0 || rows > MaxSide || columns > MaxSide)
            throw new ArgumentException($"Cannot write {count} images of {rows} × {columns}: sizes must be positive and at most {MaxSide} per side.");
        if ((long)count * rows * columns != pixels.Length)
            throw new ArgumentException($"{count} images of {rows} × {columns} need {(long)count * rows * columns} bytes; {pixels.Length} were given.", nameof(pixels));
        Span<byte> header = stackalloc byte[16];
        BinaryPrimitives.WriteInt32BigEndian(header, ImagesMagic);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], count);
        BinaryPrimitives.WriteInt32BigEndian(header[8..], rows);
        BinaryPrimitives.WriteInt32BigEndian(header[12..], columns);
        Write(path, header, pixels);
    }

    /// <summary>Writes labels (0–255) as an IDX label file, gzip-compressed when <paramref name="path"/> ends in <c>.gz</c>.</summary>
    public static void WriteLabels(string path, ReadOnlySpan<byte> labels)
    {
        Span<byte> header = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, LabelsMagic);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], labels.Length);
        Write(path, header, labels);
    }

    private static void Write(string path, ReadOnlySpan<byte> header, ReadOnlySpan<byte> data)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
        {
            using var gzip = new GZipStream(file, CompressionLevel.Optimal);
            gzip.Write(header);
            gzip.Write(data);
        }
        else
        {
            file.Write(header);
            file.Write(data);
        }
    }

    private static Stream Open(string path, out bool compressed)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"IDX file '{path}' does not exist.", path);
        FileStream file = FileGuard.OpenRegularFile(path, problem => Corrupt(path, problem), bufferSize: 1 << 16);
        try
        {
            if (file.Length == 0) throw Corrupt(path, "the file is empty (0 bytes); re-download it");
            Span<byte> magic = stackalloc byte[2];
            int got = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
            file.Position = 0;
            compressed = got == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
            return compressed ? new GZipStream(file, CompressionMode.Decompress) : file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Reads and checks the magic and sizes; returns the sizes (each positive).</summary>
    private static int[] ReadHeader(Stream stream, string path, int expectedMagic, string kind)
    {
        int expectedDims = expectedMagic & 0xFF;
        int headerBytes = 4 + 4 * expectedDims;
        Span<byte> header = stackalloc byte[headerBytes];
        int got = ReadFully(stream, path, header);
        if (got < 4)
            throw Corrupt(path, $"the file ends after {got} byte(s), inside the 4-byte magic number; it is not an IDX {kind} file, or is truncated");

        int magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic != expectedMagic)
        {
            int otherMagic = expectedMagic == ImagesMagic ? LabelsMagic : ImagesMagic;
            string otherKind = expectedMagic == ImagesMagic ? "label" : "image";
            string why = magic == otherMagic
                ? $"it is an IDX {otherKind} file (magic 0x{magic:X8}), not {(kind == "image" ? "an" : "a")} {kind} file; are the image and label paths swapped?"
                : (magic >> 16) == 0 && (magic >> 8 & 0xFF) is 0x09 or 0x0B or 0x0C or 0x0D or 0x0E
                    ? $"its magic 0x{magic:X8} declares {TypeName(magic >> 8 & 0xFF)} values with {magic & 0xFF} dimension(s); only unsigned-byte {kind} files (magic 0x{expectedMagic:X8}) are supported"
                    : $"it does not start with the IDX {kind} magic number 0x{expectedMagic:X8} (found 0x{magic:X8}); it is not an IDX {kind} file, or it is compressed with something other than gzip";
            throw Corrupt(path, why);
        }
        if (got < headerBytes)
            throw Corrupt(path, $"the file ends after {got} bytes, inside the {headerBytes}-byte header; it is truncated");

        int[] dims = new int[expectedDims];
        string[] names = expectedDims == 3 ? ["image count", "rows", "columns"] : ["label count"];
        for (int d = 0; d < expectedDims; d++)
        {
            uint size = BinaryPrimitives.ReadUInt32BigEndian(header[(4 + 4 * d)..]);
            if (size == 0 || size > int.MaxValue)
                throw Corrupt(path, $"the header gives {names[d]} = {size}; it must be between 1 and {int.MaxValue}, so the header is damaged");
            dims[d] = (int)size;
        }
        return dims;
    }

    private static byte[] ReadPayload(Stream stream, string path, bool compressed, int headerBytes, int expected, string what)
    {
        if (!compressed)
        {
            // The file length tells up front whether the header is honest, before anything large is allocated.
            long available = stream.Length - headerBytes;
            if (available < expected)
                throw Corrupt(path, $"the header promises {what} ({expected:N0} bytes after the {headerBytes}-byte header) but only {available:N0} bytes follow; the file is truncated (an interrupted download?)");
            if (available > expected)
                throw Corrupt(path, $"{available - expected:N0} unexpected byte(s) follow the {what} the header declares; the header or the file is damaged");
            byte[] exact = new byte[expected];
            ReadFully(stream, path, exact);
            return exact;
        }

        byte[] buffer = new byte[Math.Min(expected, InitialCompressedBuffer)];
        int filled = 0;
        while (true)
        {
            int got = ReadFully(stream, path, buffer.AsSpan(filled));
            filled += got;
            if (filled < buffer.Length)
                throw Corrupt(path, $"the header promises {what} ({expected:N0} bytes) but the decompressed data ends after {filled:N0} bytes; the file is truncated (an interrupted download?)");
            if (filled == expected) break;
            Array.Resize(ref buffer, (int)Math.Min(expected, 2L * buffer.Length));
        }
        Span<byte> probe = stackalloc byte[1];
        if (ReadFully(stream, path, probe) != 0)
            throw Corrupt(path, $"more data follows the {what} the header declares; the header or the file is damaged");
        return buffer;
    }

    /// <summary>Reads until <paramref name="destination"/> is full or the data ends; returns the bytes read.</summary>
    private static int ReadFully(Stream stream, string path, Span<byte> destination)
    {
        try
        {
            return stream.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException e)
        {
            // GZipStream reports damaged compressed data this way, without saying which file.
            throw Corrupt(path, $"the gzip data is damaged ({e.Message}); re-download the file");
        }
    }

    private static string TypeName(int code) => code switch
    {
        0x09 => "signed byte",
        0x0B => "16-bit integer",
        0x0C => "32-bit integer",
        0x0D => "32-bit float",
        0x0E => "64-bit float",
        _ => $"type 0x{code:X2}",
    };

    private static InvalidDataException Corrupt(string path, string problem) => new($"IDX file '{path}': {problem}.");
}
