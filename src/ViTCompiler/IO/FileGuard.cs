namespace ViTCompiler.IO;

/// <summary>
/// Opens the files the loaders read only when they are regular files (following symbolic links), so a wrong path fails
/// with a message instead of hanging or reading forever.
/// </summary>
/// <remarks>
/// A named pipe (FIFO), including the <c>/dev/fd/N</c> a shell's <c>&lt;(…)</c> passes, blocks the open until some
/// process writes to it and cannot be read twice or seeked; a character device such as <c>/dev/zero</c> never ends; a
/// folder is not data. The file's kind is asked of the operating system before it is opened (Linux; elsewhere the open
/// goes ahead as before). Missing files and permission problems are left to the open, so each loader reports them as it
/// always has.
/// </remarks>
public static class FileGuard
{
    /// <summary>The largest JSON configuration file read (they are a few kilobytes; this only stops a wrong path early).</summary>
    public const long MaxConfigBytes = 64 << 20;

    /// <summary>
    /// Why <paramref name="path"/> cannot be read as a file ("is a named pipe (FIFO), not a regular file; …"), or null
    /// when it is a regular file, does not exist, or its kind cannot be asked here.
    /// </summary>
    public static string? Problem(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return UnixFile.Status(path) is { } status ? Problem(status.Kind) : null;
    }

    /// <summary>
    /// Opens <paramref name="path"/> for reading after checking that it is a regular file; otherwise throws what
    /// <paramref name="fail"/> makes of the problem (a sentence without the path, e.g. "is a named pipe (FIFO), …").
    /// Errors of the open itself (missing file, no permission) are thrown as <see cref="FileStream"/> throws them.
    /// </summary>
    public static FileStream OpenRegularFile(string path, Func<string, Exception> fail, int bufferSize = 4096)
    {
        ArgumentNullException.ThrowIfNull(fail);
        if (Problem(path) is string problem) throw fail(problem);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize);
    }

    /// <summary>
    /// Reads all of <paramref name="path"/> after checking that it is a regular file of at most
    /// <paramref name="maxBytes"/> bytes (checked before anything is read); problems go through <paramref name="fail"/>.
    /// </summary>
    public static byte[] ReadAllBytes(string path, long maxBytes, Func<string, Exception> fail)
    {
        using FileStream stream = OpenRegularFile(path, fail, bufferSize: 1);
        long length = stream.Length;
        if (length > maxBytes) throw fail($"is {length:N0} bytes, above the {maxBytes:N0}-byte limit for this kind of file");
        byte[] bytes = new byte[length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>
    /// As <see cref="ReadAllBytes"/>, decoded as <see cref="File.ReadAllText(string)"/> decodes (UTF-8 unless a byte-order
    /// mark says otherwise; invalid bytes become U+FFFD).
    /// </summary>
    public static string ReadAllText(string path, long maxBytes, Func<string, Exception> fail)
    {
        using var reader = new StreamReader(new MemoryStream(ReadAllBytes(path, maxBytes, fail)), detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    internal static string? Problem(FileKind kind) => kind switch
    {
        FileKind.Regular => null,
        FileKind.Directory => "is a folder, not a file",
        FileKind.NamedPipe =>
            "is a named pipe (FIFO), not a regular file: reading it would wait for a writer, and it cannot be read twice. " +
            "Save the data to a file and pass that (a shell's <(…) also makes such a pipe)",
        _ => $"is {UnixFile.Describe(kind)}, not a regular file; pass the path of a file",
    };
}
