using System.IO.Compression;
using System.Text;

namespace ViTCompiler.IO;

/// <summary>One array of an npz archive: its name (entry name without <c>.npy</c>), NumPy type string and shape.</summary>
public sealed class NpyArrayInfo
{
    internal NpyArrayInfo(string name, string entry, string descr, long[] shape, long count, int headerBytes, FloatEncoding? encoding, bool bigEndian)
    {
        Name = name;
        EntryName = entry;
        Descr = descr;
        Shape = shape;
        ElementCount = count;
        HeaderBytes = headerBytes;
        Encoding = encoding;
        BigEndian = bigEndian;
    }

    /// <summary>The array's name, e.g. <c>Transformer/encoder_norm/scale</c>.</summary>
    public string Name { get; }

    /// <summary>The zip entry it is stored in, e.g. <c>Transformer/encoder_norm/scale.npy</c>.</summary>
    public string EntryName { get; }

    /// <summary>NumPy's type string, e.g. <c>&lt;f4</c>.</summary>
    public string Descr { get; }

    /// <summary>The shape (C order).</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>Number of elements.</summary>
    public long ElementCount { get; }

    /// <summary>Shape as text, e.g. "(768, 12, 64)".</summary>
    public string ShapeText => Shapes.Text(Shape);

    internal int HeaderBytes { get; }
    internal FloatEncoding? Encoding { get; }
    internal bool BigEndian { get; }
}

/// <summary>
/// An npz archive (a zip of <c>.npy</c> files, as <c>numpy.savez</c> writes it) opened for reading. Opening reads only
/// the zip directory and each array's header; data is decompressed when read. Checks: a readable zip; every entry an
/// <c>.npy</c> file with magic <c>\x93NUMPY</c>, version 1, 2 or 3, a header dict with exactly <c>descr</c>,
/// <c>fortran_order</c> (must be False) and <c>shape</c>; float types <c>f2</c>/<c>f4</c>/<c>f8</c> in either byte
/// order are readable, others are reported when read; the data length matches the shape exactly.
/// </summary>
public sealed class NpzFile : IDisposable, ITensorSource
{
    private const int MaxHeaderBytes = 1 << 20;
    private readonly ZipArchive _zip;
    private readonly Dictionary<string, NpyArrayInfo> _byName = new(StringComparer.Ordinal);
    private readonly List<NpyArrayInfo> _arrays = [];

    private NpzFile(string path, ZipArchive zip)
    {
        Path = path;
        _zip = zip;
    }

    /// <summary>Opens and validates <paramref name="path"/>; throws <see cref="WeightsFileException"/> naming the problem.</summary>
    public static NpzFile Open(string path)
    {
        FileStream stream;
        try
        {
            stream = FileGuard.OpenRegularFile(path, problem => new WeightsFileException(path, problem));
        }
        catch (Exception e) when (e is IOException and not WeightsFileException or UnauthorizedAccessException)
        {
            throw new WeightsFileException(path, "cannot be opened: " + e.Message, e);
        }
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException or ArgumentException)
        {
            stream.Dispose();
            throw new WeightsFileException(path, "is not a readable zip archive (npz): " + e.Message, e);
        }
        var file = new NpzFile(path, zip);
        try
        {
            file.ReadDirectory();
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The file this was opened from.</summary>
    public string Path { get; }

    /// <summary>Every array, in archive order.</summary>
    public IReadOnlyList<NpyArrayInfo> Arrays => _arrays;

    /// <summary>The array called <paramref name="name"/>, or false.</summary>
    public bool TryGetArray(string name, out NpyArrayInfo array) => _byName.TryGetValue(name, out array!);

    /// <summary>Converts array <paramref name="name"/> to floats; <paramref name="destination"/> holds exactly its element count.</summary>
    public void Read(string name, Span<float> destination)
    {
        if (!_byName.TryGetValue(name, out NpyArrayInfo? array)) throw new WeightsFileException(Path, $"has no array named '{Echo.Clip(name)}'");
        if (array.Encoding is not FloatEncoding encoding)
            throw new WeightsFileException(Path, $"array '{Echo.Clip(name)}' has type '{Echo.Clip(array.Descr)}'; only float16, float32 and float64 can be read");
        if (destination.Length != array.ElementCount)
            throw new ArgumentException($"Array '{name}' in '{Path}' has {array.ElementCount:N0} elements; the destination holds {destination.Length:N0}.", nameof(destination));
        int size = FloatConversion.Size(encoding);
        try
        {
            using Stream stream = _zip.GetEntry(array.EntryName)!.Open();
            Skip(stream, array.HeaderBytes, array.EntryName);
            const int Chunk = 1 << 16;
            byte[] buffer = new byte[Chunk * size];
            for (int done = 0; done < destination.Length; done += Chunk)
            {
                int count = Math.Min(Chunk, destination.Length - done);
                int got = stream.ReadAtLeast(buffer.AsSpan(0, count * size), count * size, throwOnEndOfStream: false);
                if (got < count * size)
                    throw new WeightsFileException(Path, $"array '{Echo.Clip(name)}' {Echo.Clip(array.ShapeText)} is truncated: its data ends after {(long)done * size + got:N0} of {array.ElementCount * size:N0} bytes");
                FloatConversion.Convert(buffer.AsSpan(0, count * size), encoding, array.BigEndian, destination.Slice(done, count));
            }
            if (stream.ReadByte() >= 0)
                throw new WeightsFileException(Path, $"array '{Echo.Clip(name)}' {Echo.Clip(array.ShapeText)} has bytes after its {array.ElementCount * size:N0} bytes of data");
        }
        catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException)
        {
            throw new WeightsFileException(Path, $"entry '{Echo.Clip(array.EntryName)}' cannot be decompressed: {e.Message}", e);
        }
    }

    /// <summary>Closes the archive.</summary>
    public void Dispose() => _zip.Dispose();

    IEnumerable<string> ITensorSource.Names => _arrays.Select(a => a.Name);

    bool ITensorSource.TryGetShape(string name, out long[] shape)
    {
        if (_byName.TryGetValue(name, out NpyArrayInfo? a)) { shape = (long[])a.Shape; return true; }
        shape = [];
        return false;
    }

    string? ITensorSource.Unreadable(string name) =>
        _byName.TryGetValue(name, out NpyArrayInfo? a) && a.Encoding is null ? $"{name} has NumPy type '{a.Descr}'" : null;

    private void ReadDirectory()
    {
        IReadOnlyCollection<ZipArchiveEntry> entries;
        try
        {
            entries = _zip.Entries;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new WeightsFileException(Path, "is not a readable zip archive (npz): " + e.Message, e);
        }
        foreach (ZipArchiveEntry entry in entries)
        {
            string entryName = entry.FullName;
            if (entryName.EndsWith('/') && entry.Length == 0) continue; // a directory record
            if (!entryName.EndsWith(".npy", StringComparison.Ordinal))
                throw new WeightsFileException(Path, $"entry '{Echo.Clip(entryName)}' is not an .npy array (an npz archive holds only .npy files)");
            string name = entryName[..^4];
            NpyArrayInfo info;
            try
            {
                using Stream stream = entry.Open();
                info = ReadHeader(stream, name, entryName);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException)
            {
                throw new WeightsFileException(Path, $"entry '{Echo.Clip(entryName)}' cannot be decompressed: {e.Message}", e);
            }
            if (!_byName.TryAdd(name, info)) throw new WeightsFileException(Path, $"holds two arrays named '{Echo.Clip(name)}'");
            _arrays.Add(info);
            if (info.Encoding is FloatEncoding encoding)
            {
                long expected = info.HeaderBytes + info.ElementCount * FloatConversion.Size(encoding);
                if (entry.Length != expected)
                    throw new WeightsFileException(Path, $"array '{Echo.Clip(name)}' {Echo.Clip(info.ShapeText)} '{Echo.Clip(info.Descr)}' needs {expected:N0} bytes with its header, but its zip entry is {entry.Length:N0} bytes (truncated or corrupt)");
            }
        }
    }

    private NpyArrayInfo ReadHeader(Stream stream, string name, string entryName)
    {
        WeightsFileException Fail(string problem) => new(Path, $"array '{Echo.Clip(entryName)}': {problem}");
        Span<byte> prefix = stackalloc byte[12];
        if (stream.ReadAtLeast(prefix[..8], 8, throwOnEndOfStream: false) < 8) throw Fail("is shorter than an .npy header (truncated)");
        if (prefix[0] != 0x93 || !prefix.Slice(1, 5).SequenceEqual("NUMPY"u8))
            throw Fail("does not start with the .npy magic \\x93NUMPY");
        int major = prefix[6];
        if (major is not (1 or 2 or 3)) throw Fail($"has .npy format version {major}.{prefix[7]}; versions 1, 2 and 3 are supported");
        int lengthBytes = major == 1 ? 2 : 4;
        if (stream.ReadAtLeast(prefix.Slice(8, lengthBytes), lengthBytes, throwOnEndOfStream: false) < lengthBytes) throw Fail("is truncated inside its header");
        long headerLength = major == 1
            ? System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(prefix.Slice(8, 2))
            : System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(prefix.Slice(8, 4));
        if (headerLength > MaxHeaderBytes) throw Fail($"declares a {headerLength:N0}-byte header, above the {MaxHeaderBytes:N0}-byte limit");
        byte[] header = new byte[headerLength];
        if (stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length) throw Fail("is truncated inside its header");
        string text;
        try
        {
            text = (major == 3 ? new UTF8Encoding(false, true) : (Encoding)Encoding.GetEncoding("us-ascii", EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback)).GetString(header);
        }
        catch (DecoderFallbackException)
        {
            throw Fail(major == 3 ? "has a header that is not UTF-8" : "has a header that is not ASCII");
        }
        var dict = new PythonLiteral(text, problem => Fail($"has a malformed header ({problem}): {Echo.Clip(text, 120)}")).ReadHeaderDict();
        string descr = dict.Descr;
        if (dict.FortranOrder) throw Fail("is stored in Fortran (column-major) order, which is not supported; save it with fortran_order False (np.ascontiguousarray)");
        long count = Shapes.Product(dict.Shape, long.MaxValue / 8);
        if (count < 0) throw Fail($"has shape {Echo.Clip(Shapes.Text(dict.Shape))}, too many elements");
        (FloatEncoding? encoding, bool bigEndian) = ParseDescr(descr);
        return new NpyArrayInfo(name, entryName, descr, dict.Shape, count, 8 + lengthBytes + (int)headerLength, encoding, bigEndian);
    }

    private static (FloatEncoding?, bool) ParseDescr(string descr)
    {
        if (descr.Length != 3 || descr[1] != 'f') return (null, false);
        bool big = descr[0] == '>';
        if (descr[0] is not ('<' or '>' or '=')) return (null, false);
        if (descr[0] == '=') big = !BitConverter.IsLittleEndian;
        FloatEncoding? encoding = descr[2] switch { '2' => FloatEncoding.F16, '4' => FloatEncoding.F32, '8' => FloatEncoding.F64, _ => null };
        return (encoding, big);
    }

    private static void Skip(Stream stream, int count, string entry)
    {
        Span<byte> scratch = stackalloc byte[256];
        while (count > 0)
        {
            int n = stream.Read(scratch[..Math.Min(count, scratch.Length)]);
            if (n == 0) throw new InvalidDataException($"entry '{entry}' ended inside its header");
            count -= n;
        }
    }

    /// <summary>
    /// The tiny subset of Python literal syntax an .npy header uses: a dict of string keys whose values are strings,
    /// True/False, or tuples of integers. Anything else is an error (never an unbounded loop: every step consumes input).
    /// </summary>
    private ref struct PythonLiteral(string text, Func<string, Exception> fail)
    {
        private int _at;

        public (string Descr, bool FortranOrder, long[] Shape) ReadHeaderDict()
        {
            string? descr = null;
            bool? fortran = null;
            long[]? shape = null;
            SkipSpace();
            Expect('{');
            while (true)
            {
                SkipSpace();
                if (Peek() == '}') { _at++; break; }
                string key = ReadString();
                SkipSpace();
                Expect(':');
                SkipSpace();
                switch (key)
                {
                    case "descr" when descr is null: descr = ReadString(); break;
                    case "fortran_order" when fortran is null: fortran = ReadBool(); break;
                    case "shape" when shape is null: shape = ReadTuple(); break;
                    case "descr" or "fortran_order" or "shape": throw fail($"'{Echo.Clip(key)}' given twice");
                    default: throw fail($"unexpected key '{Echo.Clip(key)}'");
                }
                SkipSpace();
                if (Peek() == ',') { _at++; continue; }
                if (Peek() == '}') { _at++; break; }
                throw fail($"expected ',' or '}}' at character {_at}");
            }
            SkipSpace();
            if (_at != text.Length) throw fail($"text after the dict at character {_at}");
            if (descr is null) throw fail("no 'descr'");
            if (fortran is null) throw fail("no 'fortran_order'");
            if (shape is null) throw fail("no 'shape'");
            return (descr, fortran.Value, shape);
        }

        private readonly char Peek() => _at < text.Length ? text[_at] : '\0';

        private void SkipSpace()
        {
            while (_at < text.Length && text[_at] is ' ' or '\t' or '\n' or '\r') _at++;
        }

        private void Expect(char c)
        {
            if (Peek() != c) throw fail($"expected '{c}' at character {_at}");
            _at++;
        }

        private string ReadString()
        {
            char quote = Peek();
            if (quote is not ('\'' or '"')) throw fail($"expected a quoted string at character {_at}");
            int start = ++_at;
            while (_at < text.Length && text[_at] != quote)
            {
                if (text[_at] == '\\') throw fail("escapes in strings are not supported");
                _at++;
            }
            if (_at >= text.Length) throw fail("unterminated string");
            return text[start..(_at++)];
        }

        private bool ReadBool()
        {
            if (string.CompareOrdinal(text, _at, "True", 0, 4) == 0) { _at += 4; return true; }
            if (string.CompareOrdinal(text, _at, "False", 0, 5) == 0) { _at += 5; return false; }
            throw fail($"expected True or False at character {_at}");
        }

        private long[] ReadTuple()
        {
            Expect('(');
            var values = new List<long>();
            while (true)
            {
                SkipSpace();
                if (Peek() == ')') { _at++; break; }
                int start = _at;
                while (_at < text.Length && char.IsAsciiDigit(text[_at])) _at++;
                if (_at == start || _at - start > 18) throw fail($"expected a dimension at character {start}");
                values.Add(long.Parse(text.AsSpan(start, _at - start), System.Globalization.CultureInfo.InvariantCulture));
                if (Peek() == 'L') _at++; // Python 2 long suffix
                SkipSpace();
                if (Peek() == ',') { _at++; continue; }
                if (Peek() == ')') { _at++; break; }
                throw fail($"expected ',' or ')' at character {_at}");
            }
            if (values.Count > 32) throw fail($"{values.Count} dimensions");
            return values.ToArray();
        }
    }
}
