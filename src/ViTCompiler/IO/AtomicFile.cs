namespace ViTCompiler.IO;

/// <summary>
/// Writes a file so that readers see either the old content or the complete new one: the bytes go to a temporary file
/// in the target's directory (same file system, so the final rename is atomic), which is flushed to disk and then moved
/// over the target. If writing fails, the temporary file is deleted and the target is untouched.
/// </summary>
/// <remarks>
/// <para>Only regular files are replaced. A symbolic link is written through: its final target gets the new content and
/// the link stays a link (as <c>cp</c> and editors do). A FIFO, device, socket or folder at the path is refused, where a
/// rename would have put a regular file in its place (as root, <c>--out /dev/null</c> replaced <c>/dev/null</c>).</para>
/// <para>A replaced file keeps its permission bits and, where this process may set it (as root), its owner and group;
/// a new file gets the defaults (0666 less the umask, owned by this process).</para>
/// </remarks>
internal static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        string full = CheckTarget(path);
        FileStatus? existing = UnixFile.Status(full);
        string temporary = TemporaryName(full);
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            KeepAttributes(temporary, full, existing);
            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temporary); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>
    /// Checks that <paramref name="path"/> can be written as <see cref="Write"/> writes it — its folder exists, and
    /// nothing or a regular file is there (through symbolic links) — and returns the file that would be replaced.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="IOException">A FIFO, device, socket or folder is at the path.</exception>
    public static string CheckTarget(string path)
    {
        string full = Target(path);
        string directory = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no directory.", nameof(path));
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"Cannot write '{path}': the directory '{directory}' does not exist.");
        if (UnixFile.Status(full) is { Kind: not FileKind.Regular } special)
            throw new IOException($"Cannot write '{path}'{(full == Path.GetFullPath(path) ? "" : $" (a link to '{full}')")}: it is {UnixFile.Describe(special.Kind)}, " +
                                  "not a regular file, and writing would replace it with one. Give the path of a file to create or replace.");
        return full;
    }

    public static void WriteText(string path, string text) =>
        Write(path, stream =>
        {
            byte[] bytes = new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text);
            stream.Write(bytes);
        });

    /// <summary>
    /// Deletes temporary files that writes of <paramref name="path"/> left behind when their process was killed
    /// part-way. Only safe while no other process may be writing the same path (e.g. under a <see cref="WriterLock"/>).
    /// </summary>
    /// <returns>How many were deleted.</returns>
    public static int DeleteLeftovers(string path)
    {
        string full = Target(path);
        string? directory = Path.GetDirectoryName(full);
        if (directory is null || !Directory.Exists(directory)) return 0;
        int deleted = 0;
        string prefix = "." + Path.GetFileName(full) + ".";
        foreach (string file in Directory.EnumerateFiles(directory, prefix + "*" + TemporarySuffix))
        {
            // Exactly the names TemporaryName makes: the prefix, a random 8.3 name, the suffix.
            if (Path.GetFileName(file).Length != prefix.Length + RandomNameLength + TemporarySuffix.Length) continue;
            try
            {
                File.Delete(file);
                deleted++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Someone else's file, or one we may not remove: leave it.
            }
        }
        return deleted;
    }

    private const string TemporarySuffix = ".tmp";
    private const int RandomNameLength = 12; // Path.GetRandomFileName(): "xxxxxxxx.xxx"

    private static string TemporaryName(string full) =>
        Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + "." + Path.GetRandomFileName() + TemporarySuffix);

    /// <summary>The file a write of <paramref name="path"/> replaces: the path itself, or the final target of the symbolic link it is.</summary>
    private static string Target(string path)
    {
        string full = Path.GetFullPath(path);
        return new FileInfo(full).LinkTarget is null ? full : File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full;
    }

    private static void KeepAttributes(string temporary, string target, FileStatus? existing)
    {
        if (OperatingSystem.IsWindows()) return;
        if (existing is FileStatus old)
        {
            // The owner first: changing it clears set-user-ID bits. Giving a file away needs root; otherwise it is ours, as with mv.
            if (UnixFile.Status(temporary) is FileStatus now && (now.Owner, now.Group) != (old.Owner, old.Group))
                UnixFile.TryChangeOwner(temporary, old.Owner, old.Group);
            File.SetUnixFileMode(temporary, old.Permissions);
        }
        else if (File.Exists(target))
        {
            File.SetUnixFileMode(temporary, File.GetUnixFileMode(target)); // no statx here (not Linux): the mode at least
        }
    }
}
