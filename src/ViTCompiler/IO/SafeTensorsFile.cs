using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.Win32.SafeHandles;

namespace ViTCompiler.IO;

/// <summary>
/// A safetensors file opened for reading: the header is parsed and checked in full when the file is opened, and tensor
/// data is read from the open file when asked for (only the tensors asked for are read, converted to floats as they are
/// copied out through a small buffer; the file is never held in managed memory whole).
/// </summary>
/// <remarks>
/// <para>
/// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (possibly padded with spaces), then the data
/// section. Checks: N within the file and at most <see cref="MaxHeaderBytes"/>; valid UTF-8 JSON whose root is an
/// object; every tensor entry has exactly <c>dtype</c> (a known type), <c>shape</c> (non-negative integers) and
/// <c>data_offsets</c> ([start, end] with end = start + elements × element size); no name twice; ranges inside the data
/// section, not overlapping, and together covering it without gaps (as the reference implementation requires);
/// <c>__metadata__</c>, if present, maps strings to strings. Any failure throws <see cref="WeightsFileException"/>.
/// </para>
/// <para>
/// The data is read with positioned reads rather than through a memory map: a mapped file that another program
/// truncates kills the process with SIGBUS on the next access, while a read simply comes back short. Every read checks
/// that the file still has the length and modification time it had when opened, so a file shortened, extended or
/// rewritten in place meanwhile gives a <see cref="WeightsFileException"/> instead of a crash or a mix of two files. (A
/// file replaced by renaming another over it, as atomic writers do, is no problem: the open file is the old one.)
/// </para>
/// </remarks>
public sealed class SafeTensorsFile : IDisposable, ITensorSource
{
    /// <summary>The largest header accepted (the reference implementation's limit too).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private SafeFileHandle? _handle;
    private readonly long _fileLength;
    private readonly DateTime _modified;
    private readonly long _dataStart, _dataLength;
    private readonly SafeTensorInfo[] _tensors;
    private readonly Dictionary<string, SafeTensorInfo> _byName;
    private readonly Dictionary<string, string> _metadata;

    private SafeTensorsFile(string path, SafeFileHandle handle)
    {
        Path = path;
        _handle = handle;
        _fileLength = RandomAccess.GetLength(handle);
        _modified = File.GetLastWriteTimeUtc(handle);
        if (_fileLength < 8)
            throw Fail($"the file is {_fileLength} bytes long; a safetensors file starts with an 8-byte header length (truncated or not safetensors)");
        Span<byte> prefix = stackalloc byte[8];
        ReadAt(prefix, 0, "the header length");
        ulong headerLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > (ulong)(_fileLength - 8))
            throw Fail($"the header length field says {headerLength:N0} bytes, but only {_fileLength - 8:N0} bytes follow it (truncated file, or not safetensors)");
        if (headerLength > MaxHeaderBytes)
            throw Fail($"the header length {headerLength:N0} bytes is above the {MaxHeaderBytes:N0}-byte limit");
        byte[] header = new byte[headerLength];
        ReadAt(header, 8, "the header");
        _dataStart = 8 + (long)headerLength;
        _dataLength = _fileLength - _dataStart;
        (_tensors, _metadata) = ParseHeader(header);
        _byName = new Dictionary<string, SafeTensorInfo>(_tensors.Length, StringComparer.Ordinal);
        foreach (SafeTensorInfo t in _tensors) _byName[t.Name] = t;
    }

    /// <summary>Opens and validates <paramref name="path"/>; throws <see cref="WeightsFileException"/> naming the problem.</summary>
    public static SafeTensorsFile Open(string path)
    {
        SafeFileHandle handle;
        try
        {
            if (FileGuard.Problem(path) is string problem) throw new WeightsFileException(path, problem);
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException and not WeightsFileException or UnauthorizedAccessException)
        {
            throw new WeightsFileException(path, "cannot be opened: " + e.Message, e);
        }
        try
        {
            return new SafeTensorsFile(path, handle);
        }
        catch (Exception e)
        {
            handle.Dispose();
            if (e is WeightsFileException) throw;
            if (e is IOException or UnauthorizedAccessException) throw new WeightsFileException(path, "cannot be read: " + e.Message, e);
            throw;
        }
    }

    /// <summary>The file this was opened from.</summary>
    public string Path { get; }

    /// <summary>Every tensor, in header order.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors => _tensors;

    /// <summary>The <c>__metadata__</c> strings (empty when the header has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata => _metadata;

    /// <summary>
    /// Returns <paramref name="config"/> after checking that this file's tensors could hold its parameters (at least 2
    /// bytes each, the smallest float type); <paramref name="source"/> names where the configuration was read. A recorded
    /// configuration is taken on trust otherwise, and a 6 kB file claiming a 2-billion-parameter model made vit allocate
    /// 8 GB before the tensor shapes could show it was wrong.
    /// </summary>
    /// <param name="config">The configuration the file records (or that lies beside it).</param>
    /// <param name="source">Where it was read, for the message: "metadata 'vit.config'", a config.json path.</param>
    /// <param name="headInFile">False for files that carry no classifier (HuggingFace ViTModel): only the rest is counted.</param>
    internal VitConfig CheckCanHold(VitConfig config, string source, bool headInFile = true)
    {
        long needed = config.ParameterCount - (headInFile ? 0 : (long)config.Classes * (config.Hidden + 1));
        if (needed > _dataLength / 2)
            throw Fail($"{source} describes {config}: {needed:N0} parameters, at least {2 * needed:N0} bytes even as 16-bit floats, " +
                       $"but the file holds {_dataLength:N0} bytes of tensors. The configuration does not describe these weights (edited, or copied from another model?)");
        return config;
    }

    /// <summary>Whether a tensor called <paramref name="name"/> exists.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The entry for <paramref name="name"/>, or false.</summary>
    public bool TryGetTensor(string name, out SafeTensorInfo tensor) => _byName.TryGetValue(name, out tensor!);

    /// <summary>The entry for <paramref name="name"/>; throws <see cref="WeightsFileException"/> if absent.</summary>
    public SafeTensorInfo this[string name] =>
        _byName.TryGetValue(name, out SafeTensorInfo? t) ? t : throw Fail($"has no tensor named '{Echo.Clip(name)}'");

    /// <summary>
    /// Converts tensor <paramref name="name"/> to floats into <paramref name="destination"/>, which must hold exactly its
    /// element count. F16 and BF16 widen exactly; F64 rounds to nearest. Other types throw.
    /// </summary>
    public void Read(string name, Span<float> destination)
    {
        SafeTensorInfo t = this[name];
        FloatEncoding encoding = FloatConversion.From(t.DType)
            ?? throw Fail($"tensor '{Echo.Clip(name)}' is {t.DType.Name()}; only F32, F16, BF16 and F64 can be read as floats");
        if (destination.Length != t.ElementCount)
            throw new ArgumentException($"Tensor '{Echo.Clip(name)}' in '{Path}' has {t.ElementCount:N0} elements {t.ShapeText}; the destination holds {destination.Length:N0}.", nameof(destination));
        ObjectDisposedException.ThrowIf(_handle is null, this);
        int size = FloatConversion.Size(encoding);
        const int Chunk = 1 << 18; // elements per read: a 1 MiB buffer at 4 bytes each
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Min(destination.Length, Chunk) * size);
        try
        {
            for (int done = 0; done < destination.Length; done += Chunk)
            {
                int count = Math.Min(Chunk, destination.Length - done);
                Span<byte> bytes = buffer.AsSpan(0, count * size);
                ReadAt(bytes, _dataStart + t.Start + (long)done * size, $"tensor '{Echo.Clip(name)}'");
                FloatConversion.Convert(bytes, encoding, bigEndian: false, destination.Slice(done, count));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Tensor <paramref name="name"/> converted to a new float array.</summary>
    public float[] ReadFloats(string name)
    {
        SafeTensorInfo t = this[name];
        if (t.ElementCount > Array.MaxLength) throw Fail($"tensor '{Echo.Clip(name)}' has {t.ElementCount:N0} elements, more than one array can hold");
        float[] values = new float[t.ElementCount];
        Read(name, values);
        return values;
    }

    /// <summary>Closes the file.</summary>
    public void Dispose()
    {
        _handle?.Dispose();
        _handle = null;
    }

    IEnumerable<string> ITensorSource.Names => _tensors.Select(t => t.Name);

    bool ITensorSource.TryGetShape(string name, out long[] shape)
    {
        if (_byName.TryGetValue(name, out SafeTensorInfo? t)) { shape = (long[])t.Shape; return true; }
        shape = [];
        return false;
    }

    string? ITensorSource.Unreadable(string name) =>
        _byName.TryGetValue(name, out SafeTensorInfo? t) && !t.DType.IsFloatReadable() ? $"{name} is {t.DType.Name()}" : null;

    private WeightsFileException Fail(string problem) => new(Path, problem);

    /// <summary>
    /// Fills <paramref name="destination"/> from <paramref name="offset"/>, first checking that the file is still the one
    /// that was opened (a changed length or modification time means another program is writing it).
    /// </summary>
    private void ReadAt(Span<byte> destination, long offset, string what)
    {
        SafeFileHandle handle = _handle!;
        long length = RandomAccess.GetLength(handle);
        if (length != _fileLength || File.GetLastWriteTimeUtc(handle) != _modified)
            throw Fail($"the file changed while it was being read (it was {_fileLength:N0} bytes, now {length:N0}): another program is writing it. " +
                       "Wait until it has finished, or copy the file first, and try again");
        int filled = 0;
        while (filled < destination.Length)
        {
            int got = RandomAccess.Read(handle, destination[filled..], offset + filled);
            if (got == 0)
                throw Fail($"the file ended while {what} was being read, at byte {offset + filled:N0} of {_fileLength:N0}: another program truncated it. " +
                           "Wait until it has finished, or copy the file first, and try again");
            filled += got;
        }
    }

    private (SafeTensorInfo[], Dictionary<string, string>) ParseHeader(byte[] header)
    {
        if (!Utf8.IsValid(header)) throw Fail("the header is not valid UTF-8");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw Fail($"the header is not valid JSON ({e.Message})");
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Fail($"the header is a JSON {root.ValueKind}, not an object");
            var tensors = new List<SafeTensorInfo>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in root.EnumerateObject())
            {
                if (!seen.Add(property.Name)) throw Fail($"the header names '{Echo.Clip(property.Name)}' twice");
                if (property.Name == "__metadata__") ReadMetadata(property.Value, metadata);
                else tensors.Add(ReadEntry(property.Name, property.Value));
            }
            CheckRanges(tensors);
            return (tensors.ToArray(), metadata);
        }
    }

    private void ReadMetadata(JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind == JsonValueKind.Null) return;
        if (value.ValueKind != JsonValueKind.Object) throw Fail($"__metadata__ is a JSON {value.ValueKind}; it must be an object of strings");
        foreach (JsonProperty entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw Fail($"__metadata__ entry '{Echo.Clip(entry.Name)}' is a JSON {entry.Value.ValueKind}; metadata values must be strings");
            if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!)) throw Fail($"__metadata__ names '{Echo.Clip(entry.Name)}' twice");
        }
    }

    private SafeTensorInfo ReadEntry(string name, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object) throw Fail($"the entry for tensor '{Echo.Clip(name)}' is a JSON {value.ValueKind}, not an object");
        string? dtypeName = null;
        long[]? shape = null, offsets = null;
        foreach (JsonProperty field in value.EnumerateObject())
        {
            switch (field.Name)
            {
                case "dtype" when dtypeName is null:
                    if (field.Value.ValueKind != JsonValueKind.String) throw Fail($"tensor '{Echo.Clip(name)}': dtype is a JSON {field.Value.ValueKind}, not a string");
                    dtypeName = field.Value.GetString()!;
                    break;
                case "shape" when shape is null:
                    shape = ReadIntegers(name, "shape", field.Value);
                    break;
                case "data_offsets" when offsets is null:
                    offsets = ReadIntegers(name, "data_offsets", field.Value);
                    break;
                case "dtype" or "shape" or "data_offsets":
                    throw Fail($"tensor '{Echo.Clip(name)}' gives {field.Name} twice");
                default:
                    throw Fail($"tensor '{Echo.Clip(name)}' has an unknown field '{Echo.Clip(field.Name)}' (expected dtype, shape, data_offsets)");
            }
        }
        if (dtypeName is null) throw Fail($"tensor '{Echo.Clip(name)}' has no dtype");
        if (shape is null) throw Fail($"tensor '{Echo.Clip(name)}' has no shape");
        if (offsets is null) throw Fail($"tensor '{Echo.Clip(name)}' has no data_offsets");
        if (!SafeTensorsDTypes.TryParse(dtypeName, out SafeTensorsDType type)) throw Fail($"tensor '{Echo.Clip(name)}' has unknown dtype '{Echo.Clip(dtypeName)}'");
        if (offsets.Length != 2) throw Fail($"tensor '{Echo.Clip(name)}': data_offsets has {offsets.Length} numbers; it must be [start, end]");
        long start = offsets[0], end = offsets[1];
        if (start > end) throw Fail($"tensor '{Echo.Clip(name)}': data_offsets [{start}, {end}] ends before it starts");
        if (end > _dataLength)
            throw Fail($"tensor '{Echo.Clip(name)}': data_offsets [{start}, {end}] run past the end of the data section ({_dataLength:N0} bytes; truncated file?)");
        long count = Shapes.Product(shape, long.MaxValue / type.Size());
        if (count < 0) throw Fail($"tensor '{Echo.Clip(name)}': shape {Echo.Clip(Shapes.Text(shape))} has more elements than any file can hold");
        long bytes = count * type.Size();
        if (end - start != bytes)
            throw Fail($"tensor '{Echo.Clip(name)}': shape {Echo.Clip(Shapes.Text(shape))} of {type.Name()} needs {bytes:N0} bytes, but data_offsets [{start}, {end}] span {end - start:N0}");
        return new SafeTensorInfo(name, type, shape, count, start, end);
    }

    private long[] ReadIntegers(string name, string field, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Array) throw Fail($"tensor '{Echo.Clip(name)}': {field} is a JSON {value.ValueKind}, not an array");
        long[] result = new long[value.GetArrayLength()];
        int i = 0;
        foreach (JsonElement item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v) || v < 0)
                throw Fail($"tensor '{Echo.Clip(name)}': {field} holds {Echo.Clip(item.GetRawText())}; it must hold non-negative integers");
            result[i++] = v;
        }
        return result;
    }

    private void CheckRanges(List<SafeTensorInfo> tensors)
    {
        var ordered = tensors.OrderBy(t => t.Start).ThenBy(t => t.End).ToList();
        long covered = 0;
        SafeTensorInfo? previous = null;
        foreach (SafeTensorInfo t in ordered)
        {
            if (t.Start < covered && t.End > t.Start)
                throw Fail($"tensors '{previous!.Name}' [{previous.Start}, {previous.End}) and '{t.Name}' [{t.Start}, {t.End}) overlap");
            if (t.Start > covered)
                throw Fail($"bytes [{covered}, {t.Start}) of the data section belong to no tensor (the format requires tensors to cover it without gaps)");
            if (t.End > covered) { covered = t.End; previous = t; }
            previous ??= t;
        }
        if (covered != _dataLength)
            throw Fail($"the data section is {_dataLength:N0} bytes but the tensors cover only {covered:N0} (trailing bytes, or a header that does not describe this file)");
    }
}
