using System.Collections.Immutable;
using Basic.Reference.Assemblies;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace ViTCompiler.Generators.Tests;

/// <summary>
/// Builds in-memory compilations of test sources and runs <see cref="VitGenerator"/> over them the way the compiler
/// does, so tests see exactly the sources, diagnostics and cache decisions a real build would.
/// </summary>
internal static class GeneratorHarness
{
    // Loading ~200 reference assemblies is the slow part of every test; share them.
    private static readonly ImmutableArray<MetadataReference> s_references =
    [
        .. Net100.References.All,
        MetadataReference.CreateFromFile(typeof(VitModelAttribute).Assembly.Location),
    ];

    // DocumentationMode.Diagnose so malformed XML docs in the generated code are reported, as in a project that
    // sets GenerateDocumentationFile.
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    public static SyntaxTree Parse(string source, string path) =>
        CSharpSyntaxTree.ParseText(source, ParseOptions, path);

    /// <summary>A library compilation of <paramref name="sources"/> (file name → text) set up like the repo's projects.</summary>
    public static CSharpCompilation Compilation(bool allowUnsafe, params (string Path, string Text)[] sources) =>
        CSharpCompilation.Create(
            "GeneratorTestInput",
            sources.Select(s => Parse(s.Text, s.Path)),
            s_references,
            new CSharpCompilationOptions(
                OutputKind.DynamicallyLinkedLibrary,
                allowUnsafe: allowUnsafe,
                nullableContextOptions: NullableContextOptions.Enable,
                warningLevel: 9999));

    public static CSharpCompilation Compilation(params (string Path, string Text)[] sources) => Compilation(allowUnsafe: true, sources);

    public static GeneratorDriver CreateDriver(bool trackSteps = false) =>
        CSharpGeneratorDriver.Create(
            [new VitGenerator().AsSourceGenerator()],
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    /// <summary>Runs the generator once; the result also carries the compilation with the generated files added.</summary>
    public static GeneratorOutcome Run(CSharpCompilation compilation)
    {
        GeneratorDriver driver = CreateDriver().RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out _);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        // A generator that throws does not fail the build; it becomes warning CS8785 and emits nothing. Make it loud.
        Assert.True(result.Exception is null, $"The generator threw: {result.Exception}");
        return new GeneratorOutcome(result, output);
    }

    public static GeneratorOutcome Run(params (string Path, string Text)[] sources) => Run(Compilation(sources));
}

internal sealed record GeneratorOutcome(GeneratorRunResult Result, Compilation Output)
{
    public ImmutableArray<Diagnostic> GeneratorDiagnostics => Result.Diagnostics;

    public IEnumerable<string> HintNames => Result.GeneratedSources.Select(s => s.HintName);

    public string SourceFor(string hintName) =>
        Result.GeneratedSources.SingleOrDefault(s => s.HintName == hintName).SourceText?.ToString()
        ?? throw new Xunit.Sdk.XunitException($"No generated file '{hintName}'; generated: [{string.Join(", ", HintNames)}].");

    /// <summary>Errors and warnings of the compilation including the generated files (hidden and info ones are style notes).</summary>
    public IEnumerable<Diagnostic> CompilerProblems =>
        Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning);
}
