using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace ViTCompiler.IO;

/// <summary>The kind of file-system object a path names, as <c>stat</c> reports it.</summary>
internal enum FileKind
{
    Regular,
    Directory,
    SymbolicLink,
    NamedPipe,
    CharacterDevice,
    BlockDevice,
    Socket,
    Unknown,
}

/// <summary>What <c>statx</c> says about a path: its kind, permission bits, owner and identity.</summary>
internal readonly record struct FileStatus(FileKind Kind, UnixFileMode Permissions, uint Owner, uint Group, ulong Device, ulong Inode, long Size);

/// <summary>
/// The few POSIX calls .NET does not expose: the type of a file (FIFO, device, …), which .NET's
/// <see cref="FileSystemInfo"/> reports as a plain file, and changing a file's owner.
/// </summary>
/// <remarks>
/// Linux only: <c>statx</c> (glibc 2.28, 2018; musl 1.2.5) has one layout on every architecture, unlike
/// <c>struct stat</c>. Elsewhere, or where the call is missing, <c>Status</c> answers null and the callers skip
/// their checks: Windows has no FIFOs in its file system, and macOS is not checked.
/// </remarks>
internal static partial class UnixFile
{
    private const int AtCurrentDirectory = -100, AtSymlinkNoFollow = 0x100, AtEmptyPath = 0x1000;
    private const uint WantTypeModeOwnerInodeSize = 0x1 | 0x2 | 0x8 | 0x10 | 0x100 | 0x200; // STATX_TYPE|MODE|UID|GID|INO|SIZE
    private const int StatxBytes = 256;
    private const int NotImplemented = 38; // ENOSYS

    private static volatile bool s_unavailable = !OperatingSystem.IsLinux();

    /// <summary>The status of <paramref name="path"/> (following symbolic links unless <paramref name="followLinks"/> is false); null when it does not exist or cannot be asked.</summary>
    public static FileStatus? Status(string path, bool followLinks = true)
    {
        if (s_unavailable || string.IsNullOrEmpty(path)) return null;
        Span<byte> buffer = stackalloc byte[StatxBytes];
        int result;
        try
        {
            result = Statx(AtCurrentDirectory, path, followLinks ? 0 : AtSymlinkNoFollow, WantTypeModeOwnerInodeSize, ref MemoryMarshal.GetReference(buffer));
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            s_unavailable = true;
            return null;
        }
        if (result != 0)
        {
            if (Marshal.GetLastPInvokeError() == NotImplemented) s_unavailable = true; // a kernel older than statx (4.11)
            return null;
        }
        return Parse(buffer);
    }

    /// <summary>The status of an open file (the object itself, whatever its name now points to); null when it cannot be asked.</summary>
    public static FileStatus? Status(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        if (s_unavailable) return null;
        Span<byte> buffer = stackalloc byte[StatxBytes];
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            if (Statx(fd, "", AtEmptyPath, WantTypeModeOwnerInodeSize, ref MemoryMarshal.GetReference(buffer)) != 0) return null;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            s_unavailable = true;
            return null;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
        return Parse(buffer);
    }

    /// <summary>Gives <paramref name="path"/> to <paramref name="owner"/>:<paramref name="group"/>; false when not permitted or not possible here.</summary>
    public static bool TryChangeOwner(string path, uint owner, uint group)
    {
        if (s_unavailable) return false;
        try
        {
            return Chown(path, owner, group) == 0;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// Reads up to <paramref name="destination"/>.Length bytes of <paramref name="path"/> without the advisory lock
    /// .NET takes on every open (which an exclusive holder refuses); for reading a lock file's note. -1 on failure.
    /// </summary>
    public static int ReadUnlocked(string path, Span<byte> destination)
    {
        if (s_unavailable) return -1;
        try
        {
            int fd = Open(path, 0x80000); // O_RDONLY | O_CLOEXEC
            if (fd < 0) return -1;
            try
            {
                nint got = Read(fd, ref MemoryMarshal.GetReference(destination), destination.Length);
                return (int)got;
            }
            finally
            {
                Close(fd);
            }
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return -1;
        }
    }

    /// <summary>Describes a kind for messages: "a named pipe (FIFO)".</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a folder",
        FileKind.SymbolicLink => "a symbolic link",
        FileKind.NamedPipe => "a named pipe (FIFO)",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Socket => "a socket",
        _ => "not a regular file",
    };

    private static FileStatus Parse(ReadOnlySpan<byte> statx)
    {
        // struct statx: u32 mask, u32 blksize, u64 attributes, u32 nlink, u32 uid, u32 gid, u16 mode, u16 pad, u64 ino, u64 size, …,
        // u64 blocks, u64 attributes_mask, four 16-byte timestamps, u32 rdev major, minor (0x80), u32 dev major, minor (0x88).
        uint uid = BinaryPrimitives.ReadUInt32LittleEndian(statx[20..]);
        uint gid = BinaryPrimitives.ReadUInt32LittleEndian(statx[24..]);
        ushort mode = BinaryPrimitives.ReadUInt16LittleEndian(statx[28..]);
        ulong inode = BinaryPrimitives.ReadUInt64LittleEndian(statx[32..]);
        long size = (long)BinaryPrimitives.ReadUInt64LittleEndian(statx[40..]);
        ulong device = (ulong)BinaryPrimitives.ReadUInt32LittleEndian(statx[0x88..]) << 32 | BinaryPrimitives.ReadUInt32LittleEndian(statx[0x8C..]);
        FileKind kind = (mode & 0xF000) switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0xA000 => FileKind.SymbolicLink,
            0x1000 => FileKind.NamedPipe,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            0xC000 => FileKind.Socket,
            _ => FileKind.Unknown,
        };
        return new FileStatus(kind, (UnixFileMode)(mode & 0xFFF), uid, gid, device, inode, size);
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directory, string path, int flags, uint mask, ref byte statx);

    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Chown(string path, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, ref byte buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
