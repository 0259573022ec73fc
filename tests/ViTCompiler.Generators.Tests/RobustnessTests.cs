using Microsoft.CodeAnalysis;

namespace ViTCompiler.Generators.Tests;

/// <summary>
/// Inputs at the edges of what the parser accepts: the generator must either report a diagnostic or emit code that
/// compiles, and must never throw (a throwing generator only shows up as warning CS8785 with no output).
/// </summary>
public sealed class RobustnessTests
{
    [Fact]
    public void Attribute_argument_that_does_not_bind_does_not_crash_the_generator()
    {
        // While the user is typing, an argument is often an unknown name; the compiler reports that, the generator
        // must not throw (GeneratorHarness.Run asserts Exception is null).
        const string source =
            """
            using ViTCompiler;
            namespace Demo;
            [VitModel(ImageSize = 8, Channels = 1, Patch = 4, Layers = NotDeclaredYet, Hidden = 16, Heads = 2, Classes = 3)]
            public partial class TypingVit { }
            """;

        GeneratorOutcome outcome = GeneratorHarness.Run(("TypingVit.cs", source));

        Assert.Contains(outcome.Output.GetDiagnostics(), d => d.Id == "CS0103"); // the user's own error is still reported
    }

    // Ordinary values (1e-6, 1e-12) are covered by the compilation tests of the snapshot models.
    [Fact]
    public void LayerNormEpsilon_beyond_float_range_is_rejected_or_compiles()
    {
        const string source =
            """
            using ViTCompiler;
            namespace Demo;
            /// <summary>An ε that is a double but not a float.</summary>
            [VitModel(ImageSize = 8, Channels = 1, Patch = 4, Layers = 1, Hidden = 16, Heads = 2, MlpDim = 32, Classes = 3, LayerNormEpsilon = 1e39)]
            public partial class EpsilonVit { }
            """;

        GeneratorOutcome outcome = GeneratorHarness.Run(("EpsilonVit.cs", source));

        // Either rejected with VIT0009 and nothing generated, or generated code that compiles cleanly.
        if (outcome.GeneratorDiagnostics.Length > 0)
        {
            Assert.Equal("VIT0009", Assert.Single(outcome.GeneratorDiagnostics).Id);
            Assert.Empty(outcome.HintNames);
            return;
        }
        List<Diagnostic> problems = outcome.CompilerProblems.ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
