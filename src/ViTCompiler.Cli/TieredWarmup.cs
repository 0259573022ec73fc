using System.Diagnostics;

namespace ViTCompiler.Cli;

/// <summary>
/// Warm-up that ends when the JIT has finished compiling what a benchmark runs, so that the timed runs measure the code
/// a long job (the trainer, a server) runs. Compiled into vit (<c>vit bench</c> under the JIT) and, as a linked file,
/// into the benchmark project: one rule for every benchmark (docs/PERFORMANCE.md, "Warm, tiered code").
/// </summary>
/// <remarks>
/// Under tiered compilation a method starts as quick, unoptimised Tier-0 code; it is recompiled optimised (Tier-1, with
/// the profile Tier-0 collected) in the background after 30 calls, counted only once no Tier-0 compilation has happened
/// for 100 ms. A loop in a method called once per run moves to optimised code through on-stack replacement after its
/// patchpoint counter runs out. A handful of warm-up runs therefore leaves every method that runs once or a few times per
/// run — a generated forward pass, a training step — in Tier-0 code, while a process that runs thousands of steps has
/// them all in Tier-1. NativeAOT code is compiled once, ahead of time: there the requested runs are enough.
/// </remarks>
internal static class TieredWarmup
{
    /// <summary>Runs that a method called once per run needs to reach Tier-1 (the JIT's threshold, 30, with margin).</summary>
    public const int TieringRuns = 40;

    /// <summary>How long the JIT must stay quiet (no method compiled) before the code counts as settled.</summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    /// <summary>Whether methods run here can still be recompiled: a JIT process with tiered compilation on.</summary>
    public static bool IsTiered =>
        System.Runtime.JitInfo.GetCompiledMethodCount() > 0
        && Environment.GetEnvironmentVariable("DOTNET_TieredCompilation") != "0"
        && AppContext.GetData("System.Runtime.TieredCompilation") is not (false or "false");

    /// <summary>
    /// Calls <paramref name="run"/> at least <paramref name="minRuns"/> times and, under tiered compilation, until it
    /// has run <see cref="TieringRuns"/> times and the JIT compiled nothing for a while — or until
    /// <paramref name="maxSeconds"/> have passed (a slow run, such as a large model's batch under the JIT, stops there).
    /// Returns the number of runs made, for the report.
    /// </summary>
    public static int Run(Action run, int minRuns, double maxSeconds = 20)
    {
        ArgumentNullException.ThrowIfNull(run);
        int runs = 0;
        for (; runs < minRuns; runs++) run();
        if (!IsTiered) return runs;

        var clock = Stopwatch.StartNew();
        long compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        TimeSpan lastCompile = TimeSpan.Zero;
        while (clock.Elapsed.TotalSeconds < maxSeconds)
        {
            if (runs >= TieringRuns && clock.Elapsed - lastCompile >= Quiet) break;
            run();
            runs++;
            long now = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (now != compiled) (compiled, lastCompile) = (now, clock.Elapsed);
            // Fast runs: give the JIT's background thread its 100 ms and the Tier-1 compilations a moment.
            if (runs >= TieringRuns && clock.Elapsed - lastCompile < Quiet) Thread.Sleep(20);
        }
        return runs;
    }
}
