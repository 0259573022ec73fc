using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ViTCompiler.Tests.Reliability;

/// <summary>How a corpus run is sized: the seed and number of mutations, and the time one case may take before it counts as a hang.</summary>
internal sealed record HostileSettings(ulong Seed, int Mutations, double CaseSeconds)
{
    /// <summary>
    /// The CI run, or what the environment asks for: <c>VIT_HOSTILE_MUTATIONS</c> (default 390), <c>VIT_HOSTILE_SEED</c>
    /// (default 10), <c>VIT_HOSTILE_CASE_SECONDS</c> (default 30; the machine running CI is shared and slow).
    /// </summary>
    public static HostileSettings FromEnvironment() => new(
        ulong.Parse(Environment.GetEnvironmentVariable("VIT_HOSTILE_SEED") ?? "10", CultureInfo.InvariantCulture),
        int.Parse(Environment.GetEnvironmentVariable("VIT_HOSTILE_MUTATIONS") ?? "390", CultureInfo.InvariantCulture),
        double.Parse(Environment.GetEnvironmentVariable("VIT_HOSTILE_CASE_SECONDS") ?? "30", CultureInfo.InvariantCulture));
}

/// <summary>The outcome of every case of a corpus run, and the counts the issue asks for.</summary>
internal sealed class HostileReport(HostileSettings settings, IReadOnlyList<HostileResult> results, double seconds)
{
    public HostileSettings Settings { get; } = settings;
    public IReadOnlyList<HostileResult> Results { get; } = results;

    public double Seconds { get; } = seconds;

    public int Count(string outcome) => Results.Count(r => r.Outcome == outcome);

    /// <summary>The named worst case with the highest peak resident memory (each ran in a process of its own).</summary>
    public HostileResult? WorstMemory => Results.Where(r => r.OwnProcess && !double.IsNaN(r.PeakMegabytes)).MaxBy(r => r.PeakMegabytes);

    /// <summary>The input at which the process that ran all the others one after another reached its peak (the first to reach it).</summary>
    public HostileResult? SharedPeak => Results.Where(r => !r.OwnProcess && !double.IsNaN(r.PeakMegabytes))
        .OrderByDescending(r => r.PeakMegabytes).ThenBy(r => r.Index).FirstOrDefault();

    public HostileResult? Slowest => Results.MaxBy(r => r.Seconds);

    public IEnumerable<HostileResult> Failures => Results.Where(r => r.Outcome is HostileResult.Unhandled or HostileResult.Hang or HostileResult.Crash);

    public string Summary()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"hostile corpus, seed {Settings.Seed}, {Settings.Mutations} mutations: {Results.Count} inputs in {Seconds:F0} s");
        text.AppendLine(CultureInfo.InvariantCulture, $"  accepted {Count(HostileResult.Accepted)}, clean errors {Count(HostileResult.Error)}, unhandled {Count(HostileResult.Unhandled)}, crashes {Count(HostileResult.Crash)}, hangs {Count(HostileResult.Hang)} (over {Settings.CaseSeconds:F0} s)");
        foreach (string kind in Results.Select(r => r.Kind).Distinct())
        {
            var of = Results.Where(r => r.Kind == kind).ToList();
            text.AppendLine(CultureInfo.InvariantCulture, $"  {kind,-12} {of.Count,5} inputs: {of.Count(r => r.Outcome == HostileResult.Accepted)} accepted, {of.Count(r => r.Outcome == HostileResult.Error)} clean errors, slowest {of.Max(r => r.Seconds):F2} s");
        }
        foreach (HostileResult alone in Results.Where(r => r.OwnProcess))
            text.AppendLine(CultureInfo.InvariantCulture, $"  worst case {alone.Index}, in its own process: peak {alone.PeakMegabytes:N0} MB, {alone.Seconds:F2} s, {alone.Outcome}: {alone.Name}");
        if (SharedPeak is HostileResult shared)
            text.AppendLine(CultureInfo.InvariantCulture, $"  the process running the {Results.Count(r => !r.OwnProcess)} others one after another peaked at {shared.PeakMegabytes:N0} MB, reached at case {shared.Index} ({shared.Name})");
        if (Slowest is HostileResult slowest) text.AppendLine(CultureInfo.InvariantCulture, $"  slowest: {slowest.Seconds:F2} s, case {slowest.Index} ({slowest.Name})");
        foreach (HostileResult f in Failures)
            text.AppendLine(CultureInfo.InvariantCulture, $"  {f.Outcome.ToUpperInvariant()} case {f.Index} [{f.Kind}] {f.Name}: {f.Type}: {f.Message}");
        return text.ToString();
    }
}

/// <summary>
/// Runs the corpus in a child process and watches it: a case that gives no answer within the time bound is a hang
/// (the child is killed), a child that dies mid-case is a crash (SIGSEGV, SIGBUS, stack overflow, out of memory);
/// either way a new child carries on with the next case, so one run counts them all.
/// </summary>
internal static class HostileSupervisor
{
    /// <summary>Writing a case's files (generating a bomb takes seconds) is not the loader's time, but it is bounded too.</summary>
    private const double WriteSeconds = 180;

    public static HostileReport Run(HostileSettings settings, Action<string>? log = null)
    {
        var clock = Stopwatch.StartNew();
        IReadOnlyList<HostileCase> cases = HostileCorpus.Build(settings.Seed, settings.Mutations);
        var results = new List<HostileResult>();
        string work = Path.Combine(Path.GetTempPath(), "vit-hostile-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            // The worst cases one process each, so the peak memory read is theirs alone; then everything else in one
            // process, restarted after the case that hung or crashed it.
            foreach (HostileCase worst in cases.Where(c => c.Worst))
                Watch(settings, cases, ["--only", Text(worst.Index)], work, results, log);
            for (int next = 0; next < cases.Count;)
                next = Watch(settings, cases, ["--from", Text(next)], work, results, log);
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
        results.Sort((a, b) => a.Index.CompareTo(b.Index));
        return new HostileReport(settings, results, clock.Elapsed.TotalSeconds);
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Runs one child until it is done, hangs or dies; returns the case to continue from (the count when done).</summary>
    private static int Watch(HostileSettings settings, IReadOnlyList<HostileCase> cases, string[] which, string work, List<HostileResult> results, Action<string>? log)
    {
        using var child = new Child(settings, which, work);
        int? pending = null;
        bool writing = false;
        while (true)
        {
            double wait = pending is null || writing ? WriteSeconds : settings.CaseSeconds;
            string? line = child.NextLine(TimeSpan.FromSeconds(wait), out bool timedOut);
            if (timedOut || line is null)
            {
                if (pending is not int index) throw new InvalidOperationException($"The corpus child process {(timedOut ? "stopped answering" : "ended")} between cases: {child.ErrorTail()}");
                HostileCase c = cases[index];
                string outcome = timedOut ? HostileResult.Hang : HostileResult.Crash;
                if (timedOut) child.Kill();
                string why = timedOut ? $"no answer after {wait:F0} s{(writing ? " (while writing its files)" : "")}"
                    : $"the process ended with exit code {child.ExitCode()} in this case; stderr: {child.ErrorTail()}";
                results.Add(new HostileResult(index, c.Kind.ToString(), c.Name, outcome, null, why, timedOut ? wait : double.NaN, double.NaN, c.Worst));
                log?.Invoke($"{outcome}: case {index} {c.Name}: {why}");
                return index + 1;
            }
            using JsonDocument document = JsonDocument.Parse(line);
            JsonElement e = document.RootElement;
            switch (e.GetProperty("event").GetString())
            {
                case "writing":
                    pending = e.GetProperty("index").GetInt32();
                    writing = true;
                    break;
                case "start":
                    writing = false;
                    break;
                case "result":
                    HostileResult result = e.GetProperty("result").Deserialize<HostileResult>()!;
                    results.Add(result);
                    if (result.Outcome is not (HostileResult.Accepted or HostileResult.Error))
                        log?.Invoke($"{result.Outcome}: case {result.Index} {result.Name}: {result.Type}");
                    pending = null;
                    break;
                case "done":
                    return cases.Count;
            }
        }
    }

    /// <summary>One child process, its stdout as a queue of lines and the tail of its stderr.</summary>
    private sealed class Child : IDisposable
    {
        private readonly Process _process;
        private readonly BlockingCollection<string?> _lines = [];
        private readonly StringBuilder _errors = new();
        private bool _closed; // under lock (_lines): output arriving after Dispose is dropped, not added to a disposed queue

        public Child(HostileSettings settings, string[] which, string work)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in (string[])[typeof(HostileSupervisor).Assembly.Location, "hostile", "--seed", settings.Seed.ToString(CultureInfo.InvariantCulture),
                "--mutations", Text(settings.Mutations), .. which, "--work", work])
                start.ArgumentList.Add(a);
            // The bound memory is the loaders', not a debugger's or a profiler's.
            start.Environment.Remove("DOTNET_gcServer");
            _process = Process.Start(start)!;
            _process.OutputDataReceived += (_, e) =>
            {
                // The reader thread can deliver a last line (or the end-of-stream null) after Dispose; adding it to the
                // disposed queue threw on a thread-pool thread and took the whole test host down (seen once in CI).
                lock (_lines)
                    if (!_closed) _lines.Add(e.Data);
            };
            _process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (_errors)
                {
                    _errors.AppendLine(e.Data);
                    if (_errors.Length > 4000) _errors.Remove(0, _errors.Length - 4000);
                }
            };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        /// <summary>The next line, or null at the end of the output.</summary>
        public string? NextLine(TimeSpan wait, out bool timedOut)
        {
            timedOut = !_lines.TryTake(out string? line, wait);
            return line;
        }

        public string ExitCode()
        {
            _process.WaitForExit(10_000);
            return _process.HasExited ? _process.ExitCode.ToString(CultureInfo.InvariantCulture) : "(still running)";
        }

        public string ErrorTail()
        {
            lock (_errors) return _errors.ToString().Trim().Replace('\n', ' ');
        }

        public void Kill()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }

        public void Dispose()
        {
            Kill();
            _process.WaitForExit(10_000);
            lock (_lines) _closed = true;
            _process.Dispose();
            _lines.Dispose();
        }
    }
}
