using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ViTCompiler.Data;
using ViTCompiler.Imaging;
using ViTCompiler.IO;
using ViTCompiler.Reference;

namespace ViTCompiler.Tests.Reliability;

/// <summary>
/// How one input ended: <c>accepted</c> (loaded), <c>error</c> (the loader's own exception, naming the file),
/// <c>unhandled</c> (any other exception, or one whose message does not name the file), and, as the supervisor sees
/// them, <c>hang</c> (no answer within the time bound; the process was killed) and <c>crash</c> (the process died).
/// </summary>
/// <remarks><see cref="PeakMegabytes"/> is the case's own only when <see cref="OwnProcess"/>: in the shared process it includes what earlier cases left.</remarks>
internal sealed record HostileResult(int Index, string Kind, string Name, string Outcome, string? Type, string? Message, double Seconds, double PeakMegabytes, bool OwnProcess = false)
{
    public const string Accepted = "accepted", Error = "error", Unhandled = "unhandled", Hang = "hang", Crash = "crash";
}

/// <summary>
/// The child-process side of the corpus run (<c>dotnet ViTCompiler.Tests.dll hostile …</c>): runs cases in order and
/// prints one JSON line per event, so the supervisor can tell a hang or a crash from an answer and name the case.
/// </summary>
internal static class HostileRunner
{
    /// <summary>Images are loaded at this size (any size exercises the same decoding).</summary>
    private static readonly ViTCompiler.Imaging.ImagePreprocessing s_images = new() { Size = 8 };

    /// <summary>A file's configuration beyond this many parameters is not built: vit would allocate it (4 bytes each, twice with gradients).</summary>
    public const long MaxModelParameters = 1L << 24;

    /// <summary>
    /// Runs case <paramref name="only"/>, or cases <paramref name="from"/>… except the worst ones, writing events to
    /// <paramref name="output"/>.
    /// </summary>
    public static void Run(ulong seed, int mutations, int from, int? only, string work, TextWriter output)
    {
        IReadOnlyList<HostileCase> cases = HostileCorpus.Build(seed, mutations);
        void Emit(object line)
        {
            output.WriteLine(JsonSerializer.Serialize(line));
            output.Flush();
        }
        Emit(new { @event = "ready", cases = cases.Count });
        for (int i = only ?? from; i < (only + 1 ?? cases.Count); i++)
        {
            HostileCase c = cases[i];
            if (only is null && c.Worst) continue;
            string folder = Path.Combine(work, $"case-{i:D5}");
            Directory.CreateDirectory(folder);
            Emit(new { @event = "writing", index = i });
            c.Write(folder);
            // Writing the files (generating a bomb) is not the loader's memory: drop it and restart the kernel's peak counter.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            Memory.TryResetPeak();
            Emit(new { @event = "start", index = i });
            HostileResult result = RunCase(c, folder) with { OwnProcess = only is not null };
            Emit(new { @event = "result", result });
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
        Emit(new { @event = "done" });
    }

    /// <summary>Loads one case's files as <c>vit</c> would and classifies what happened.</summary>
    public static HostileResult RunCase(HostileCase c, string folder)
    {
        string path = Path.GetFullPath(Path.Combine(folder, c.Entry));
        var clock = Stopwatch.StartNew();
        string outcome;
        Exception? failure = null;
        try
        {
            Load(c.Kind, path);
            outcome = HostileResult.Accepted;
        }
        catch (Exception e)
        {
            failure = e;
            outcome = IsClean(c.Kind, e) && e.Message.Contains(Path.GetFileName(folder), StringComparison.Ordinal) ? HostileResult.Error : HostileResult.Unhandled;
        }
        double seconds = clock.Elapsed.TotalSeconds;
        return new HostileResult(c.Index, c.Kind.ToString(), c.Name, outcome, failure?.GetType().FullName,
            failure is null ? null : outcome == HostileResult.Unhandled ? failure.ToString() : failure.Message, seconds, Memory.PeakMegabytes());
    }

    /// <summary>The exceptions each loader documents: anything else escaping is a bug.</summary>
    private static bool IsClean(HostileKind kind, Exception e) => kind switch
    {
        HostileKind.Image => e is ImageLoadException,
        HostileKind.Idx => e is InvalidDataException,
        _ => e is WeightsFileException,
    };

    private static void Load(HostileKind kind, string path)
    {
        switch (kind)
        {
            case HostileKind.Image:
            {
                var loader = new ImageLoader(s_images);
                loader.Load(path, new float[loader.ValuesPerImage]);
                break;
            }
            case HostileKind.Idx:
                Idx.Load(path, Path.Combine(Path.GetDirectoryName(path)!, Path.GetFileName(path).Replace("images", "labels", StringComparison.Ordinal)));
                break;
            default:
            {
                // What vit classify/eval/convert do: detect, read the recorded configuration, build it, load into it.
                Weights.Detect(path);
                VitConfig config = Weights.ReadConfig(path, HostileCorpus.SeedHeads);
                if (config.ParameterCount > MaxModelParameters)
                    throw new HostileFindingException(
                        $"'{path}' ({FileBytes(path):N0} bytes) declares {config}: vit would allocate {config.ParameterCount:N0} parameters for it before finding that the file does not hold them");
                Weights.Load(path, new ReferenceVitModel(config));
                // And into the model a user already holds, whose configuration the file may not match.
                if (config != HostileCorpus.SeedConfig) Weights.Load(path, new ReferenceVitModel(HostileCorpus.SeedConfig));
                break;
            }
        }
    }

    private static long FileBytes(string path) =>
        Directory.Exists(path) ? Directory.GetFiles(path).Sum(f => new FileInfo(f).Length) : new FileInfo(path).Length;

    /// <summary>What the harness itself refuses to do because the library would have done something unbounded.</summary>
    private sealed class HostileFindingException(string message) : Exception(message);

    /// <summary>Resident memory as Linux reports it for this process.</summary>
    internal static class Memory
    {
        /// <summary>Resets the kernel's peak-resident counter (VmHWM), so the next reading is the peak since now; false where that is not possible.</summary>
        public static bool TryResetPeak()
        {
            try
            {
                File.WriteAllText("/proc/self/clear_refs", "5");
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        }

        /// <summary>Peak resident memory (VmHWM) in MB, or NaN where there is no /proc.</summary>
        public static double PeakMegabytes()
        {
            try
            {
                foreach (string line in File.ReadLines("/proc/self/status"))
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                        return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            return double.NaN;
        }
    }
}
