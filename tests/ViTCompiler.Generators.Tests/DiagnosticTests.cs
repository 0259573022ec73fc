using Microsoft.CodeAnalysis;

namespace ViTCompiler.Generators.Tests;

/// <summary>
/// One test per diagnostic id: the id, a message that names the class and the offending values, the place it points
/// at, and that nothing is generated for the rejected class while a valid neighbour in the same project still is.
/// </summary>
public sealed class DiagnosticTests
{
    private const string ValidShape = "ImageSize = 8, Channels = 1, Patch = 4, Layers = 1, Hidden = 16, Heads = 2, MlpDim = 32, Classes = 3";

    // A valid model beside every bad one: a diagnostic must stop generation for its own class only.
    private const string Neighbour =
        $$"""
        using ViTCompiler;

        namespace Demo;

        [VitModel({{ValidShape}})]
        public partial class GoodVit { }
        """;

    private const string NeighbourHint = "Demo.GoodVit.Vit.g.cs";

    [Fact]
    public void Valid_model_produces_no_diagnostics()
    {
        GeneratorOutcome outcome = GeneratorHarness.Run(("Good.cs", Neighbour));

        Assert.Empty(outcome.GeneratorDiagnostics);
        Assert.Equal([NeighbourHint], outcome.HintNames);
    }

    [Fact]
    public void VIT0001_class_not_partial()
    {
        Diagnostic d = SingleDiagnostic(
            "[VitModel(" + ValidShape + ")] public class PlainVit { }", "PlainVit");

        AssertDiagnostic(d, "VIT0001", "PlainVit");
        Assert.Contains("not partial", d.GetMessage());
    }

    [Fact]
    public void VIT0002_image_size_not_a_multiple_of_patch()
    {
        Diagnostic d = SingleDiagnostic(
            "[VitModel(ImageSize = 10, Channels = 1, Patch = 4, Layers = 1, Hidden = 16, Heads = 2, Classes = 3)] public partial class OddImageVit { }",
            "OddImageVit", attributeLocation: true);

        AssertDiagnostic(d, "VIT0002", "OddImageVit", "ImageSize 10", "Patch 4");
    }

    [Fact]
    public void VIT0003_hidden_not_a_multiple_of_heads()
    {
        Diagnostic d = SingleDiagnostic(
            "[VitModel(ImageSize = 8, Channels = 1, Patch = 4, Layers = 1, Hidden = 16, Heads = 3, Classes = 3)] public partial class OddHeadsVit { }",
            "OddHeadsVit", attributeLocation: true);

        AssertDiagnostic(d, "VIT0003", "OddHeadsVit", "Hidden 16", "Heads 3");
    }

    [Theory]
    [InlineData("Layers = 0", "Layers is 0")]
    [InlineData("Heads = -2", "Heads is -2")]
    [InlineData("MlpDim = -1", "MlpDim is -1")]
    // Patch 0 must be reported, not reach ImageSize % Patch.
    [InlineData("Patch = 0", "Patch is 0")]
    public void VIT0004_size_not_positive(string setting, string expected)
    {
        Diagnostic d = SingleDiagnostic(
            $"[VitModel(ImageSize = 8, Channels = 1, Patch = 4, Layers = 1, Hidden = 16, Heads = 2, Classes = 3, {setting})] public partial class NonPositiveVit {{ }}",
            "NonPositiveVit", attributeLocation: true);

        AssertDiagnostic(d, "VIT0004", "NonPositiveVit", expected, "must be positive");
    }

    [Theory]
    [InlineData("Layers = 300", "Layers 300 is above the supported 256")]
    [InlineData("Hidden = 16384, Heads = 16, Layers = 256", "parameters, more than one float array can hold")]
    public void VIT0005_model_too_large(string setting, string expected)
    {
        Diagnostic d = SingleDiagnostic(
            $"[VitModel(ImageSize = 8, Channels = 1, Patch = 4, Classes = 3, {setting})] public partial class HugeVit {{ }}",
            "HugeVit", attributeLocation: true);

        AssertDiagnostic(d, "VIT0005", "HugeVit", expected);
    }

    [Fact]
    public void VIT0006_nested_class()
    {
        Diagnostic d = SingleDiagnostic(
            "public partial class Outer { [VitModel(" + ValidShape + ")] public partial class InnerVit { } }", "InnerVit");

        AssertDiagnostic(d, "VIT0006", "InnerVit", "Demo.Outer");
    }

    [Fact]
    public void VIT0007_generic_class()
    {
        Diagnostic d = SingleDiagnostic(
            "[VitModel(" + ValidShape + ")] public partial class GenericVit<T> { }", "GenericVit");

        AssertDiagnostic(d, "VIT0007", "GenericVit", "generic");
    }

    [Fact]
    public void VIT0008_class_with_a_base_class()
    {
        Diagnostic d = SingleDiagnostic(
            "public class Backbone { } [VitModel(" + ValidShape + ")] public partial class DerivedVit : Backbone { }", "DerivedVit");

        AssertDiagnostic(d, "VIT0008", "DerivedVit", "Demo.Backbone");
    }

    [Theory]
    [InlineData("Pooling = (VitPooling)7", "Pooling 7")]
    [InlineData("LayerNormEpsilon = 0", "LayerNormEpsilon 0")]
    [InlineData("LayerNormEpsilon = double.PositiveInfinity", "LayerNormEpsilon")]
    public void VIT0009_invalid_setting(string setting, string expected)
    {
        Diagnostic d = SingleDiagnostic(
            $"[VitModel({ValidShape}, {setting})] public partial class BadSettingVit {{ }}", "BadSettingVit", attributeLocation: true);

        AssertDiagnostic(d, "VIT0009", "BadSettingVit", expected);
    }

    [Theory]
    [InlineData("static", "StaticVit")]
    [InlineData("abstract", "AbstractVit")]
    public void VIT0010_static_or_abstract_class(string modifier, string name)
    {
        Diagnostic d = SingleDiagnostic(
            $"[VitModel({ValidShape})] public {modifier} partial class {name} {{ }}", name);

        AssertDiagnostic(d, "VIT0010", name, modifier);
    }

    [Theory]
    [InlineData("StemChannels = new[] { 8 }, StemStrides = new[] { 3 }, StemGroups = 2", "stride 3", "1 or 2")]
    [InlineData("StemChannels = new[] { 8, 8 }, StemStrides = new[] { 2 }, StemGroups = 2", "StemStrides has 1", "StemChannels has 2")]
    [InlineData("StemChannels = new[] { 6 }, StemStrides = new[] { 1 }, StemGroups = 4", "6 channels", "StemGroups 4")]
    [InlineData("StemChannels = new[] { 0 }, StemStrides = new[] { 1 }", "0 channels", "1 to 4096")]
    [InlineData("StemChannels = new[] { 8, 8, 8, 8 }, StemStrides = new[] { 2, 2, 2, 2 }, StemGroups = 2", "stage 3", "1 × 1 map")]
    public void VIT0012_invalid_stem(string stem, string fragment1, string fragment2)
    {
        Diagnostic d = SingleDiagnostic(
            "[VitModel(ImageSize = 8, Channels = 1, Patch = 1, Layers = 1, Hidden = 16, Heads = 2, Classes = 3, " + stem + ")] public partial class StemVit { }",
            "StemVit", attributeLocation: true);

        AssertDiagnostic(d, "VIT0012", "StemVit", fragment1, fragment2);
    }

    [Fact]
    public void VIT0013_feature_map_not_a_multiple_of_patch()
    {
        // 12 / 2 = 6 is not a multiple of 4, although the image (12) is.
        Diagnostic d = SingleDiagnostic(
            "[VitModel(ImageSize = 12, Channels = 1, Patch = 4, Layers = 1, Hidden = 16, Heads = 2, Classes = 3, StemChannels = new[] { 8 }, StemStrides = new[] { 2 }, StemGroups = 2)] public partial class StemPatchVit { }",
            "StemPatchVit", attributeLocation: true);

        AssertDiagnostic(d, "VIT0013", "StemPatchVit", "6 × 6", "Patch 4");
    }

    [Fact]
    public void VIT0011_unsafe_code_not_allowed()
    {
        GeneratorOutcome outcome = GeneratorHarness.Run(GeneratorHarness.Compilation(allowUnsafe: false, ("Good.cs", Neighbour)));

        Diagnostic d = Assert.Single(outcome.GeneratorDiagnostics);
        AssertDiagnostic(d, "VIT0011", "GoodVit", "AllowUnsafeBlocks");
        Assert.Empty(outcome.HintNames);
    }

    /// <summary>
    /// Compiles <paramref name="declaration"/> (inside <c>namespace Demo</c>) beside <see cref="Neighbour"/> and returns
    /// the one diagnostic the generator reports, after checking that only the neighbour was generated and that the
    /// diagnostic points at the class name (or, for shape problems, at the attribute).
    /// </summary>
    private static Diagnostic SingleDiagnostic(string declaration, string className, bool attributeLocation = false)
    {
        string source = "using ViTCompiler;\n\nnamespace Demo;\n\n" + declaration + "\n";
        GeneratorOutcome outcome = GeneratorHarness.Run(("Bad.cs", source), ("Good.cs", Neighbour));

        Assert.Equal([NeighbourHint], outcome.HintNames);
        Diagnostic diagnostic = Assert.Single(outcome.GeneratorDiagnostics);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);

        Assert.Equal("Bad.cs", diagnostic.Location.GetLineSpan().Path);
        string marked = source.Substring(diagnostic.Location.SourceSpan.Start, diagnostic.Location.SourceSpan.Length);
        if (attributeLocation) Assert.StartsWith("VitModel(", marked);
        else Assert.Equal(className, marked);
        return diagnostic;
    }

    private static void AssertDiagnostic(Diagnostic diagnostic, string id, string className, params string[] fragments)
    {
        Assert.Equal(id, diagnostic.Id);
        string message = diagnostic.GetMessage();
        Assert.Contains($"'{className}'", message);
        foreach (string fragment in fragments) Assert.Contains(fragment, message);
    }
}
