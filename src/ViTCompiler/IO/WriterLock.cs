using System.Globalization;
using System.Text;

namespace ViTCompiler.IO;

/// <summary>
/// Claims a file that this process is going to write again and again (a training checkpoint) for as long as it is
/// held, so that a second writer is refused at once instead of the two overwriting each other's file unnoticed. The
/// claim is an exclusive lock on <c>&lt;file&gt;.lock</c> beside it, which records the holder's process id.
/// </summary>
/// <remarks>
/// <para>The lock is the operating system's advisory lock (<c>flock</c> on Unix, a share mode on Windows) that .NET
/// takes for <see cref="FileShare.None"/>: the system releases it when the process ends in any way, <c>kill -9</c>
/// included, so a lock file left behind by a killed process is simply taken over. Disposing deletes the lock file.</para>
/// <para>Advisory means it binds only writers that ask: other programs can still write the file. Setting
/// <c>DOTNET_SYSTEM_IO_DISABLEFILELOCKING=1</c> switches .NET's locks, and with them this one, off. Network file systems
/// may not honour the lock.</para>
/// </remarks>
internal sealed class WriterLock : IDisposable
{
    private FileStream? _stream;

    private WriterLock(string lockPath, FileStream stream)
    {
        LockPath = lockPath;
        _stream = stream;
    }

    /// <summary>The lock file.</summary>
    public string LockPath { get; }

    /// <summary>
    /// Takes the lock for <paramref name="path"/>; <paramref name="purpose"/> (e.g. "training checkpoint") is written
    /// into the lock file for whoever finds it.
    /// </summary>
    /// <exception cref="IOException">Another process (or another writer in this one) holds it — the message names the
    /// holder's process id when it can be read — or the lock file cannot be created beside <paramref name="path"/>.</exception>
    public static WriterLock Acquire(string path, string purpose)
    {
        string lockPath = Path.GetFullPath(path) + ".lock";
        // A try fails only when a holder released (and deleted) the file between our open and our lock; a third such
        // coincidence in a row means something keeps replacing the lock file.
        for (int attempt = 0; attempt < 3; attempt++)
        {
            FileStream stream;
            try
            {
                stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1);
            }
            catch (IOException e) when (IsHeld(e))
            {
                throw new IOException($"'{path}' is being written by {Holder(lockPath)}, which holds '{lockPath}'. " +
                                      "Wait for it to finish or stop it, or write to another file; two writers would overwrite each other's file.", e);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new IOException($"Cannot write '{path}': its lock file '{lockPath}' cannot be created ({e.Message}). " +
                                      "Is the folder writable? Choose another location if not.", e);
            }
            if (IsStillNamed(stream, lockPath))
            {
                WriteNote(stream, purpose);
                return new WriterLock(lockPath, stream);
            }
            stream.Dispose();
        }
        throw new IOException($"'{path}' cannot be claimed for writing: its lock file '{lockPath}' was replaced three times while being locked; is another program deleting it?");
    }

    /// <summary>Deletes the lock file and releases the lock.</summary>
    public void Dispose()
    {
        if (_stream is null) return;
        // Delete while still holding it: a waiter that opened the old file then finds it no longer named, and retries.
        try { File.Delete(LockPath); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        _stream.Dispose();
        _stream = null;
    }

    /// <summary>Whether an open failed because another handle holds the lock: EWOULDBLOCK on Linux (11) and macOS (35), a sharing violation on Windows.</summary>
    private static bool IsHeld(IOException e) =>
        e.GetType() == typeof(IOException) && e.HResult is 11 or 35 or unchecked((int)0x80070020) or unchecked((int)0x80070021);

    /// <summary>Whether the locked file is still the one named <paramref name="lockPath"/> (a releasing holder deletes it).</summary>
    private static bool IsStillNamed(FileStream stream, string lockPath)
    {
        if (UnixFile.Status(stream.SafeFileHandle) is not FileStatus locked) return true; // cannot tell here; the race is rare
        return UnixFile.Status(lockPath, followLinks: false) is FileStatus named && (named.Device, named.Inode) == (locked.Device, locked.Inode);
    }

    private static void WriteNote(FileStream stream, string purpose)
    {
        // The process id on the first line, for scripts and for the message a second writer prints; the rest for people.
        string note = string.Create(CultureInfo.InvariantCulture,
            $"{Environment.ProcessId}\nhost {Environment.MachineName}\nsince {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC\n{purpose}\n");
        stream.SetLength(0);
        stream.Write(Encoding.UTF8.GetBytes(note));
        stream.Flush();
    }

    /// <summary>"process 1234 on host (since …)" from the lock file, or "another process" when it cannot be read.</summary>
    private static string Holder(string lockPath)
    {
        // .NET's own open would be refused by the holder's lock; this reads past it.
        Span<byte> buffer = stackalloc byte[512];
        int read = UnixFile.ReadUnlocked(lockPath, buffer);
        if (read <= 0) return "another process";
        string[] lines = Encoding.UTF8.GetString(buffer[..read]).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length == 0 || !int.TryParse(lines[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) return "another process";
        string host = lines.FirstOrDefault(l => l.StartsWith("host ", StringComparison.Ordinal))?[5..] ?? "";
        string since = lines.FirstOrDefault(l => l.StartsWith("since ", StringComparison.Ordinal)) ?? "";
        string who = pid == Environment.ProcessId && host == Environment.MachineName ? $"this process ({pid})" : $"process {pid}";
        string where = host.Length > 0 && host != Environment.MachineName ? $" on {Echo.Clip(host, 64)}" : "";
        return since.Length > 0 ? $"{who}{where} ({Echo.Clip(since, 64)})" : who + where;
    }
}
