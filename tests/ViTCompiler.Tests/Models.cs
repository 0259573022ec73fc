using ViTCompiler;

namespace ViTCompiler.Tests;

// Small models covering the shapes that break kernels: widths that are not a multiple of the vector width, three heads,
// head widths of 5 and 12, 37/50/65/197 tokens, MLP 100, 1, 2 and 3 channels, 2 to 1000 classes, mean pooling, no qkv
// bias, a K long enough to be blocked, and more rows per image than one GEMM row block.

/// <summary>The Fashion-MNIST shape, two layers.</summary>
[VitModel(ImageSize = 28, Channels = 1, Patch = 4, Layers = 2, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionSmall { }

/// <summary>Width 36 (not a multiple of 8 or 16), 3 heads of 12, 50 tokens, MLP 100, RGB, 7 classes.</summary>
[VitModel(ImageSize = 21, Channels = 3, Patch = 3, Layers = 2, Hidden = 36, Heads = 3, MlpDim = 100, Classes = 7)]
public partial class OddWidth { }

/// <summary>Mean pooling (no class token, 16 tokens), default MLP (4 × 40), head width 8.</summary>
[VitModel(ImageSize = 16, Channels = 3, Patch = 4, Layers = 2, Hidden = 40, Heads = 5, Classes = 5, Pooling = VitPooling.Mean)]
public partial class MeanPooled { }

/// <summary>No qkv bias, HuggingFace's ε, 17 tokens, three layers.</summary>
[VitModel(ImageSize = 32, Channels = 1, Patch = 8, Layers = 3, Hidden = 48, Heads = 2, MlpDim = 72, Classes = 3, QkvBias = false, LayerNormEpsilon = 1e-12)]
public partial class NoQkvBias { }

/// <summary>ViT-Ti widths (192, 3 heads of 64, MLP 768: K blocked in 3) on 65 tokens.</summary>
[VitModel(ImageSize = 64, Channels = 3, Patch = 8, Layers = 1, Hidden = 192, Heads = 3, Classes = 13)]
public partial class TinyWide { }

/// <summary>1-pixel patches (37 tokens), 2 channels, head width 5, 2 classes.</summary>
[VitModel(ImageSize = 6, Channels = 2, Patch = 1, Layers = 1, Hidden = 20, Heads = 4, MlpDim = 30, Classes = 2)]
public partial class PixelPatches { }

/// <summary>197 tokens (two GEMM row blocks per image), 1000 classes.</summary>
[VitModel(ImageSize = 112, Channels = 3, Patch = 8, Layers = 1, Hidden = 32, Heads = 2, MlpDim = 64, Classes = 1000)]
public partial class ManyTokens { }

/// <summary>
/// The paper's hybrid (§3.1) on the Fashion-MNIST shape: stem 28² × 1 → 28² × 8 → 14² × 16 (4 groups), 2 × 2 patches of
/// the feature map (49 + 1 tokens, patch length 64), width 36, 3 heads of 12.
/// </summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 8, 16 }, StemStrides = new[] { 1, 2 }, StemGroups = 4, Patch = 2,
    Layers = 1, Hidden = 36, Heads = 3, MlpDim = 50, Classes = 10)]
public partial class HybridSmall { }

/// <summary>
/// A hybrid with odd sides and three stages: 10² × 3 → 5² × 6 (stride 2 onto an odd side) → 5² × 10 → 5² × 6, GroupNorm of
/// 2 groups, 1 × 1 patches (the paper's hybrid patch), mean pooling over 25 tokens, width 20, head width 5.
/// </summary>
[VitModel(ImageSize = 10, Channels = 3, StemChannels = new[] { 6, 10, 6 }, StemStrides = new[] { 2, 1, 1 }, StemGroups = 2, Patch = 1,
    Layers = 1, Hidden = 20, Heads = 4, MlpDim = 30, Classes = 4, Pooling = VitPooling.Mean)]
public partial class HybridOdd { }

/// <summary>Every test model, by name, so theories and the ISA subprocess can walk them.</summary>
public static class TestModels
{
    public static readonly IReadOnlyDictionary<string, Func<CompiledVit>> All = new Dictionary<string, Func<CompiledVit>>
    {
        [nameof(FashionSmall)] = () => new FashionSmall(),
        [nameof(OddWidth)] = () => new OddWidth(),
        [nameof(MeanPooled)] = () => new MeanPooled(),
        [nameof(NoQkvBias)] = () => new NoQkvBias(),
        [nameof(TinyWide)] = () => new TinyWide(),
        [nameof(PixelPatches)] = () => new PixelPatches(),
        [nameof(ManyTokens)] = () => new ManyTokens(),
        [nameof(HybridSmall)] = () => new HybridSmall(),
        [nameof(HybridOdd)] = () => new HybridOdd(),
    };

    public static IEnumerable<object[]> Names => All.Keys.Select(k => new object[] { k });
}
