using System.Diagnostics;

namespace ViTCompiler.Tests.Reliability;

/// <summary>File-system objects other than regular files, made by the tools a user would use.</summary>
internal static class SpecialFiles
{
    /// <summary>Makes a named pipe at <paramref name="path"/> with <c>mkfifo</c>; false where there is none (not Linux).</summary>
    public static bool TryMakeFifo(string path)
    {
        if (!OperatingSystem.IsLinux()) return false;
        Run("mkfifo", path);
        return true;
    }

    /// <summary>Runs a command and fails the test if it fails.</summary>
    public static void Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments) start.ArgumentList.Add(a);
        using Process process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error}");
    }

    /// <summary>
    /// Runs <paramref name="action"/> on another thread and returns what it threw; fails the test when it has not
    /// finished within <paramref name="seconds"/> (a read of a FIFO blocks forever; the thread is left behind).
    /// </summary>
    public static Exception? Within(double seconds, Action action)
    {
        var task = Task.Factory.StartNew(action, TaskCreationOptions.LongRunning);
        if (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(seconds)))
            throw new TimeoutException($"still running after {seconds} s: the call hangs");
        return task.Exception?.InnerException;
    }
}
