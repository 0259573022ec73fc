namespace ViTCompiler.Generators.Tests;

/// <summary>
/// The small [VitModel] declarations the snapshot, compilation and caching tests share. Each exercises a different
/// branch of the emitter: class token with qkv bias, mean pooling without it, the global namespace, and a hybrid's stem.
/// </summary>
internal static class TestModels
{
    public sealed record Model(string Name, string HintName, string Path, string Source);

    /// <summary>The smallest useful model: one block, two heads, a single grey channel, 4 + 1 tokens.</summary>
    public static readonly Model Tiny = new(
        "Tiny", "Demo.TinyVit.Vit.g.cs", "TinyVit.cs",
        """
        using ViTCompiler;

        namespace Demo;

        /// <summary>A one-block model small enough to read in full.</summary>
        [VitModel(ImageSize = 8, Channels = 1, Patch = 4, Layers = 1, Hidden = 16, Heads = 2, MlpDim = 32, Classes = 3)]
        public partial class TinyVit { }
        """);

    /// <summary>Mean pooling (no [class] token), no qkv bias, MLP width defaulted to 4 × Hidden, a non-default ε.</summary>
    public static readonly Model MeanPooled = new(
        "MeanPooled", "Demo.Models.MeanPooledVit.Vit.g.cs", "MeanPooledVit.cs",
        """
        using ViTCompiler;

        namespace Demo.Models
        {
            /// <summary>Mean pooling, no qkv bias.</summary>
            [VitModel(ImageSize = 12, Channels = 3, Patch = 4, Layers = 2, Hidden = 24, Heads = 3, Classes = 5,
                      Pooling = VitPooling.Mean, QkvBias = false, LayerNormEpsilon = 1e-12)]
            internal sealed partial class MeanPooledVit { }
        }
        """);

    /// <summary>No namespace, attribute spelled with its full name.</summary>
    public static readonly Model GlobalNamespace = new(
        "GlobalNamespace", "GlobalVit.Vit.g.cs", "GlobalVit.cs",
        """
        /// <summary>A model in the global namespace.</summary>
        [ViTCompiler.VitModel(ImageSize = 16, Channels = 3, Patch = 8, Layers = 1, Hidden = 32, Heads = 4, MlpDim = 48, Classes = 10)]
        public partial class GlobalVit { }
        """);

    /// <summary>The paper's hybrid: a two-stage convolutional stem (the second strided), 1 × 1 patches of its feature map.</summary>
    public static readonly Model Hybrid = new(
        "Hybrid", "Demo.HybridVit.Vit.g.cs", "HybridVit.cs",
        """
        using ViTCompiler;

        namespace Demo;

        /// <summary>8² × 1 → 8² × 4 → 4² × 8, then one token per feature-map position.</summary>
        [VitModel(ImageSize = 8, Channels = 1, StemChannels = new[] { 4, 8 }, StemStrides = new[] { 1, 2 }, StemGroups = 2, Patch = 1,
                  Layers = 1, Hidden = 16, Heads = 2, MlpDim = 32, Classes = 3)]
        public partial class HybridVit { }
        """);

    public static readonly Model[] All = [Tiny, MeanPooled, GlobalNamespace, Hybrid];

    public static Model ByName(string name) => All.Single(m => m.Name == name);

    /// <summary>Model names as xunit theory data.</summary>
    public static TheoryData<string> Names => [.. All.Select(m => m.Name)];
}
