using Microsoft.CodeAnalysis;

namespace ViTCompiler.Generators.Tests;

/// <summary>The generated code must build cleanly against the runtime: no errors and no warnings, at every warning wave.</summary>
public sealed class CompilationTests
{
    [Theory]
    [MemberData(nameof(TestModels.Names), MemberType = typeof(TestModels))]
    public void Generated_code_compiles_without_errors_or_warnings(string name)
    {
        TestModels.Model model = TestModels.ByName(name);
        GeneratorOutcome outcome = GeneratorHarness.Run((model.Path, model.Source));

        Assert.Single(outcome.Result.GeneratedSources);
        Assert.Empty(outcome.GeneratorDiagnostics);
        AssertNoProblems(outcome);
    }

    [Fact]
    public void Generated_model_derives_from_CompiledVit_and_exposes_its_configuration()
    {
        TestModels.Model model = TestModels.Tiny;
        GeneratorOutcome outcome = GeneratorHarness.Run((model.Path, model.Source));

        INamedTypeSymbol type = outcome.Output.GetTypeByMetadataName("Demo.TinyVit")!;
        Assert.Equal("ViTCompiler.CompiledVit", type.BaseType?.ToDisplayString());
        Assert.Contains(type.GetMembers("ModelConfig"), m => m is IPropertySymbol { IsStatic: true });
        IFieldSymbol tokens = type.GetMembers("Tokens").OfType<IFieldSymbol>().Single();
        Assert.Equal(5, tokens.ConstantValue); // 2 × 2 patches + [class] token
        IFieldSymbol parameters = type.GetMembers("ParameterCount").OfType<IFieldSymbol>().Single();
        Assert.Equal(new VitConfig { ImageSize = 8, Channels = 1, Patch = 4, Layers = 1, Hidden = 16, Heads = 2, MlpDim = 32, Classes = 3 }.ParameterCount,
                     parameters.ConstantValue);
    }

    private static void AssertNoProblems(GeneratorOutcome outcome)
    {
        List<Diagnostic> problems = outcome.CompilerProblems.ToList();
        Assert.True(problems.Count == 0,
            "The compilation with the generated code has problems:\n" + string.Join("\n", problems.Take(20).Select(FormatWithLine)));
    }

    private static string FormatWithLine(Diagnostic diagnostic)
    {
        string line = diagnostic.Location.SourceTree is { } tree
            ? tree.GetText().Lines[diagnostic.Location.GetLineSpan().StartLinePosition.Line].ToString().Trim()
            : "";
        return $"{diagnostic}\n    {line}";
    }
}
