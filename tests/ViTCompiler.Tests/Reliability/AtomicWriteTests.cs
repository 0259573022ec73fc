using ViTCompiler.IO;
using ViTCompiler.Tests.IO;
using Xunit;

namespace ViTCompiler.Tests.Reliability;

/// <summary>
/// Issue 10, case 5: the atomic writer renamed its temporary file over whatever was at the path, so a FIFO, a device
/// (as root, /dev/null) or a symbolic link became a regular file, and a replaced file lost its mode and owner.
/// </summary>
public class AtomicWriteTests
{
    private static readonly SafeTensorsEntry[] s_one = [new SafeTensorsEntry("x", [2], [1f, 2f])];

    private static void Write(string path) => SafeTensors.Write(path, s_one);

    private static FileKind KindOf(string path) => UnixFile.Status(path, followLinks: false)!.Value.Kind;

    [Fact]
    public void A_fifo_is_refused_and_left_a_fifo()
    {
        using var dir = new TempDirectory();
        string fifo = dir.File("out.safetensors");
        if (!SpecialFiles.TryMakeFifo(fifo)) return;
        var e = Assert.Throws<IOException>(() => Write(fifo));
        Assert.Contains($"Cannot write '{fifo}': it is a named pipe (FIFO), not a regular file", e.Message);
        Assert.Equal(FileKind.NamedPipe, KindOf(fifo));
        Assert.Single(Directory.GetFileSystemEntries(dir.Path)); // no temporary file left
    }

    [Fact]
    public void A_device_is_refused_and_left_a_device()
    {
        // A device node of our own (the same as /dev/null) in a temporary folder: replacing the real one is not a test to risk.
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess) return;
        using var dir = new TempDirectory();
        string device = dir.File("null");
        SpecialFiles.Run("mknod", device, "c", "1", "3");
        var e = Assert.Throws<IOException>(() => Write(device));
        Assert.Contains("it is a character device, not a regular file", e.Message);
        Assert.Equal(FileKind.CharacterDevice, KindOf(device));
    }

    [Fact]
    public void A_folder_is_refused()
    {
        using var dir = new TempDirectory();
        string folder = dir.File("out.safetensors");
        Directory.CreateDirectory(folder);
        if (!OperatingSystem.IsLinux()) return;
        Assert.Contains("it is a folder, not a regular file", Assert.Throws<IOException>(() => Write(folder)).Message);
    }

    [Fact]
    public void A_symbolic_link_is_written_through_and_stays_a_link()
    {
        using var dir = new TempDirectory();
        string target = dir.File("run-3.safetensors"), link = dir.File("latest.safetensors");
        File.WriteAllText(target, "old");
        File.CreateSymbolicLink(link, "run-3.safetensors"); // relative, as ln -s makes it
        Write(link);
        Assert.Equal(FileKind.SymbolicLink, KindOf(link));
        using SafeTensorsFile file = SafeTensorsFile.Open(target);
        Assert.Equal([1f, 2f], file.ReadFloats("x"));

        // A link to a file not yet there creates it.
        string dangling = dir.File("next.safetensors");
        File.CreateSymbolicLink(dangling, dir.File("run-4.safetensors"));
        Write(dangling);
        Assert.Equal(FileKind.SymbolicLink, KindOf(dangling));
        Assert.True(File.Exists(dir.File("run-4.safetensors")));
    }

    [Fact]
    public void A_replaced_file_keeps_its_mode_and_owner()
    {
        if (OperatingSystem.IsWindows()) return;
        using var dir = new TempDirectory();
        string path = dir.File("private.safetensors");
        Write(path);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite); // 600
        Write(path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));

        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess) return;
        SpecialFiles.Run("chown", "65534:65534", path); // nobody:nogroup, as another user's file
        Write(path);
        FileStatus status = UnixFile.Status(path)!.Value;
        Assert.Equal((65534u, 65534u), (status.Owner, status.Group));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, status.Permissions);
    }

    [Fact]
    public void Leftover_temporary_files_of_a_path_are_found_and_only_they()
    {
        using var dir = new TempDirectory();
        string path = dir.File("ckpt.safetensors");
        // What a save killed part-way leaves (AtomicFile's naming), and neighbours that must survive.
        string[] leftovers = [dir.File(".ckpt.safetensors.abcdefgh.xyz.tmp"), dir.File(".ckpt.safetensors.12345678.9ab.tmp")];
        string[] others = [dir.File(".other.safetensors.abcdefgh.xyz.tmp"), dir.File(".ckpt.safetensors.notes.tmp"), dir.File("ckpt.safetensors.tmp")];
        foreach (string f in leftovers.Concat(others)) File.WriteAllText(f, "x");
        Assert.Equal(2, AtomicFile.DeleteLeftovers(path));
        Assert.All(leftovers, f => Assert.False(File.Exists(f)));
        Assert.All(others, f => Assert.True(File.Exists(f)));
    }
}
