using ViTCompiler.Testing;

namespace ViTCompiler.Generators.Tests;

/// <summary>
/// The emitted code for tiny configurations, checked in under Snapshots/ so a reviewer sees every change to what the
/// generator writes. See <see cref="Snapshot"/> for how to accept an intended change.
/// </summary>
public sealed class SnapshotTests
{
    [Theory]
    [MemberData(nameof(TestModels.Names), MemberType = typeof(TestModels))]
    public void Emitted_code_matches_snapshot(string name)
    {
        TestModels.Model model = TestModels.ByName(name);
        GeneratorOutcome outcome = GeneratorHarness.Run((model.Path, model.Source));

        Assert.Empty(outcome.GeneratorDiagnostics);
        Assert.Equal([model.HintName], outcome.HintNames);
        Snapshot.Match(outcome.SourceFor(model.HintName), model.Name, "Snapshots", ".cs");
    }
}
