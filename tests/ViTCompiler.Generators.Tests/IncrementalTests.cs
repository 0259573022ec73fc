using System.Collections;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using static ViTCompiler.Generators.VitGenerator;

namespace ViTCompiler.Generators.Tests;

/// <summary>
/// The generator runs on every keystroke in an IDE, so an edit that does not touch a [VitModel] class must be served
/// from the incremental cache: the tracked steps report Cached/Unchanged and the source output is not re-emitted.
/// The converse tests make sure these assertions can fail: a real change must show up as Modified.
/// </summary>
public sealed class IncrementalTests
{
    private const string SourceOutput = "SourceOutput"; // WellKnownGeneratorOutputs.SourceOutput

    private const string Unrelated =
        """
        namespace Demo;

        internal static class Helpers
        {
            public static int Twice(int x) => 2 * x;
        }
        """;

    [Fact]
    public void Adding_an_unrelated_file_reuses_every_step()
    {
        (GeneratorDriver driver, CSharpCompilation compilation) = FirstRun();

        GeneratorRunResult second = RunDriver(driver, compilation.AddSyntaxTrees(GeneratorHarness.Parse("namespace Demo; internal sealed class Extra { }", "Extra.cs")));

        AssertReused(second);
    }

    [Fact]
    public void Editing_an_unrelated_file_reuses_every_step()
    {
        (GeneratorDriver driver, CSharpCompilation compilation) = FirstRun();
        SyntaxTree old = compilation.SyntaxTrees.Single(t => t.FilePath == "Helpers.cs");

        GeneratorRunResult second = RunDriver(driver, compilation.ReplaceSyntaxTree(old,
            GeneratorHarness.Parse(Unrelated.Replace("2 * x", "x + x + 0"), "Helpers.cs")));

        AssertReused(second);
    }

    [Fact]
    public void Editing_the_model_file_outside_the_attribute_does_not_re_emit()
    {
        // The transform runs again (its file changed) but must produce an equal model: no positions, no symbols in it.
        (GeneratorDriver driver, CSharpCompilation compilation) = FirstRun();
        SyntaxTree old = compilation.SyntaxTrees.Single(t => t.FilePath == TestModels.Tiny.Path);

        GeneratorRunResult second = RunDriver(driver, compilation.ReplaceSyntaxTree(old,
            GeneratorHarness.Parse("// a comment that moves every position\n\n" + TestModels.Tiny.Source, TestModels.Tiny.Path)));

        AssertReasons(second, TrackingNames.Models, [IncrementalStepRunReason.Unchanged]);
        AssertReasons(second, TrackingNames.Specs, s_reused);
        AssertSourceOutputCached(second);
    }

    [Fact]
    public void Changing_the_attribute_is_seen_as_a_modification()
    {
        (GeneratorDriver driver, CSharpCompilation compilation) = FirstRun();
        SyntaxTree old = compilation.SyntaxTrees.Single(t => t.FilePath == TestModels.Tiny.Path);

        GeneratorRunResult second = RunDriver(driver, compilation.ReplaceSyntaxTree(old,
            GeneratorHarness.Parse(TestModels.Tiny.Source.Replace("Layers = 1", "Layers = 2"), TestModels.Tiny.Path)));

        Assert.Contains(IncrementalStepRunReason.Modified, Outputs(second, TrackingNames.Models));
        Assert.Contains(IncrementalStepRunReason.Modified, Outputs(second, TrackingNames.Specs));
        Assert.Contains(IncrementalStepRunReason.Modified, Outputs(second, SourceOutput, output: true));
        Assert.Contains("public const int Layers = 2,", second.GeneratedSources.Single().SourceText.ToString());
    }

    [Fact]
    public void Turning_off_unsafe_code_is_seen_as_a_modification()
    {
        (GeneratorDriver driver, CSharpCompilation compilation) = FirstRun();

        GeneratorRunResult second = RunDriver(driver, compilation.WithOptions(compilation.Options.WithAllowUnsafe(false)));

        Assert.Contains(IncrementalStepRunReason.Modified, Outputs(second, TrackingNames.AllowsUnsafe));
        Assert.Contains(IncrementalStepRunReason.Modified, Outputs(second, TrackingNames.Specs));
        Assert.Empty(second.GeneratedSources);
        Assert.Equal("VIT0011", Assert.Single(second.Diagnostics).Id);
    }

    [Fact]
    public void Cached_pipeline_values_hold_no_symbols_syntax_or_compilation()
    {
        // Anything Roslyn-shaped in the cache keeps a whole compilation alive and defeats equality.
        GeneratorRunResult first = RunDriver(CreateDriver(), BadAndGoodCompilation());

        var values = new List<object>();
        foreach (string step in new[] { TrackingNames.Models, TrackingNames.Diagnostics, TrackingNames.Specs })
            values.AddRange(first.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Value));

        Assert.NotEmpty(values);
        foreach (object value in values) AssertPlainData(value, value.GetType().Name, depth: 0);
    }

    private static readonly IncrementalStepRunReason[] s_reused = [IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged];

    private static GeneratorDriver CreateDriver() => GeneratorHarness.CreateDriver(trackSteps: true);

    private static (GeneratorDriver Driver, CSharpCompilation Compilation) FirstRun()
    {
        CSharpCompilation compilation = GeneratorHarness.Compilation((TestModels.Tiny.Path, TestModels.Tiny.Source), ("Helpers.cs", Unrelated));
        GeneratorDriver driver = CreateDriver().RunGenerators(compilation);
        GeneratorRunResult first = driver.GetRunResult().Results.Single();
        Assert.Null(first.Exception);
        Assert.Equal([TestModels.Tiny.HintName], first.GeneratedSources.Select(s => s.HintName));
        return (driver, compilation);
    }

    private static GeneratorRunResult RunDriver(GeneratorDriver driver, CSharpCompilation compilation)
    {
        GeneratorRunResult result = driver.RunGenerators(compilation).GetRunResult().Results.Single();
        Assert.Null(result.Exception);
        return result;
    }

    private static CSharpCompilation BadAndGoodCompilation() => GeneratorHarness.Compilation(
        (TestModels.Tiny.Path, TestModels.Tiny.Source),
        ("Bad.cs", "using ViTCompiler; namespace Demo; [VitModel(Hidden = 10, Heads = 3)] public partial class BadVit { }"));

    private static void AssertReused(GeneratorRunResult result)
    {
        foreach (string step in new[] { TrackingNames.Models, TrackingNames.Specs })
            AssertReasons(result, step, s_reused);
        AssertSourceOutputCached(result);
        Assert.Equal([TestModels.Tiny.HintName], result.GeneratedSources.Select(s => s.HintName));
    }

    private static void AssertSourceOutputCached(GeneratorRunResult result) =>
        AssertReasons(result, SourceOutput, [IncrementalStepRunReason.Cached], output: true);

    /// <summary>The step ran (has outputs) and every output's reason is one of <paramref name="allowed"/>.</summary>
    private static void AssertReasons(GeneratorRunResult result, string step, IncrementalStepRunReason[] allowed, bool output = false)
    {
        List<IncrementalStepRunReason> reasons = Outputs(result, step, output);
        Assert.True(reasons.Count > 0 && reasons.All(allowed.Contains),
            $"Step '{step}': expected every output to be {string.Join(" or ", allowed)}, got [{string.Join(", ", reasons)}].");
    }

    private static List<IncrementalStepRunReason> Outputs(GeneratorRunResult result, string step, bool output = false)
    {
        var steps = output ? result.TrackedOutputSteps : result.TrackedSteps;
        Assert.True(steps.ContainsKey(step), $"No tracked step '{step}'; tracked: [{string.Join(", ", steps.Keys)}].");
        return steps[step].SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
    }

    /// <summary>Walks a cached value's properties and fails on anything that would tie it to a compilation.</summary>
    private static void AssertPlainData(object? value, string path, int depth)
    {
        if (value is null || depth > 8) return;
        Assert.False(value is ISymbol or SyntaxNode or SyntaxTree or Compilation or SemanticModel or AttributeData,
            $"{path} holds a {value.GetType().Name}, which pins a compilation in the generator cache.");
        Assert.False(value is Location { SourceTree: not null }, $"{path} holds a Location with a syntax tree.");

        Type type = value.GetType();
        if (type.IsPrimitive || value is string or Enum or DiagnosticDescriptor) return;
        if (value is IEnumerable items)
        {
            int i = 0;
            foreach (object? item in items) AssertPlainData(item, $"{path}[{i++}]", depth + 1);
            return;
        }
        if (value is System.Runtime.CompilerServices.ITuple tuple)
        {
            for (int i = 0; i < tuple.Length; i++) AssertPlainData(tuple[i], $"{path}.Item{i + 1}", depth + 1);
            return;
        }
        if (type.Assembly != typeof(VitGenerator).Assembly) return; // e.g. TextSpan, LinePositionSpan: plain structs
        foreach (PropertyInfo property in type.GetProperties(BindingFlags.Instance | BindingFlags.Public))
        {
            if (property.GetIndexParameters().Length > 0) continue;
            AssertPlainData(property.GetValue(value), $"{path}.{property.Name}", depth + 1);
        }
    }
}
