using Xunit;
using Xunit.Abstractions;

namespace ViTCompiler.Tests.Reliability;

/// <summary>
/// Every loader fed a few hundred seeded mutations of valid files plus the named worst cases, in a watched child
/// process: nothing may escape but the loader's own exception naming the file, nothing may crash the process or take
/// longer than the time bound, and the worst cases' peak resident memory stays under <see cref="MaxPeakMegabytes"/>.
/// Sized for CI (about a minute on two cores); the soak runs the same at any size (docs/RELIABILITY.md).
/// </summary>
public class HostileCorpusTests(ITestOutputHelper output)
{
    /// <summary>
    /// The memory one input may take: the largest image the default limits allow (64 megapixels, 192 MB as RGB, plus the
    /// decoder's rows and the resize), the 100 MB safetensors header, and the runtime's own ~100 MB.
    /// </summary>
    private const double MaxPeakMegabytes = 800;

    [Fact]
    public void No_input_crashes_hangs_escapes_or_takes_unbounded_memory()
    {
        HostileSettings settings = HostileSettings.FromEnvironment();
        HostileReport report = HostileSupervisor.Run(settings, output.WriteLine);
        output.WriteLine(report.Summary());

        Assert.Equal(HostileCorpus.Build(settings.Seed, settings.Mutations).Count, report.Results.Count);
        Assert.True(!report.Failures.Any(), report.Summary());
        // Every loader was reached, and mutations got past the first checks often enough to exercise the rest.
        Assert.All(Enum.GetNames<HostileKind>(), kind => Assert.Contains(report.Results, r => r.Kind == kind && r.Outcome == HostileResult.Error));
        Assert.All(Enum.GetNames<HostileKind>(), kind => Assert.Contains(report.Results, r => r.Kind == kind && r.Outcome == HostileResult.Accepted));
        // Peak resident memory as /proc reports it (NaN where there is none: nothing to bound there).
        foreach (HostileResult? peak in new[] { report.WorstMemory, report.SharedPeak })
            if (peak is not null && !double.IsNaN(peak.PeakMegabytes))
                Assert.True(peak.PeakMegabytes <= MaxPeakMegabytes, $"case {peak.Index} ({peak.Name}) peaked at {peak.PeakMegabytes:N0} MB\n{report.Summary()}");
    }
}
