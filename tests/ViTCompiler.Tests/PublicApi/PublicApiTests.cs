using System.Reflection;
using PublicApiGenerator;
using ViTCompiler.Imaging;
using ViTCompiler.Testing;
using Xunit;

namespace ViTCompiler.Tests.PublicApi;

/// <summary>
/// The public API of each package, written out as C# declarations, against a reviewed baseline in this folder
/// (<c>&lt;assembly&gt;.verified.txt</c>): the API changes only on purpose, and each change shows up in review as a
/// diff of that file. After an intended change, accept the new API with
/// <c>VIT_ACCEPT_SNAPSHOTS=1 dotnet test tests/ViTCompiler.Tests -c Release --filter FullyQualifiedName~PublicApi</c>
/// and commit the baseline with the change (docs/ARCHITECTURE.md, "Changing the public API").
/// </summary>
public sealed class PublicApiTests
{
    // Which test assemblies may see internals is not part of the API a package user sees.
    private static readonly ApiGeneratorOptions s_options = new()
    {
        ExcludeAttributes = ["System.Runtime.CompilerServices.InternalsVisibleToAttribute"],
    };

    [Fact]
    public void ViTCompiler_public_api_matches_baseline() => AssertBaseline(typeof(VitConfig).Assembly);

    [Fact]
    public void ViTCompiler_Imaging_public_api_matches_baseline() => AssertBaseline(typeof(ImageLoader).Assembly);

    private static void AssertBaseline(Assembly assembly) =>
        Snapshot.Match(assembly.GeneratePublicApi(s_options), assembly.GetName().Name!, "PublicApi", ".txt");
}
