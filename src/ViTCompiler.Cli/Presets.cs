using FashionMnistSample;
using ViTCompiler;

namespace ViTCompiler.Cli;

// The models compiled into vit. Each [VitModel] class below gets its own shape-specialised SIMD forward and backward
// pass from the generator; a configuration not listed here still runs, on the (slow) reference engine.
//
// The paper's ImageNet models are compiled twice: once with LayerNorm ε = 1e-6 (the paper's JAX code, timm) and once
// with ε = 1e-12 (HuggingFace transformers' ViTConfig default, which google/vit-* and facebook/deit-* checkpoints
// record), because ε is a compile-time constant of the generated code.

/// <summary>ViT-Ti/16 (DeiT-tiny widths), 224 px, 1000 classes.</summary>
[VitModel(Hidden = 192, Heads = 3)]
internal sealed partial class VitTiny16 { }

/// <summary>ViT-S/16, 224 px, 1000 classes.</summary>
[VitModel(Hidden = 384, Heads = 6)]
internal sealed partial class VitSmall16 { }

/// <summary>ViT-B/16, 224 px, 1000 classes.</summary>
[VitModel]
internal sealed partial class VitBase16 { }

/// <summary>ViT-B/32, 224 px, 1000 classes.</summary>
[VitModel(Patch = 32)]
internal sealed partial class VitBase32 { }

/// <summary>ViT-L/16, 224 px, 1000 classes.</summary>
[VitModel(Layers = 24, Hidden = 1024, Heads = 16)]
internal sealed partial class VitLarge16 { }

/// <summary>ViT-Ti/16 with HuggingFace's LayerNorm ε.</summary>
[VitModel(Hidden = 192, Heads = 3, LayerNormEpsilon = 1e-12)]
internal sealed partial class VitTiny16Hf { }

/// <summary>ViT-S/16 with HuggingFace's LayerNorm ε.</summary>
[VitModel(Hidden = 384, Heads = 6, LayerNormEpsilon = 1e-12)]
internal sealed partial class VitSmall16Hf { }

/// <summary>ViT-B/16 with HuggingFace's LayerNorm ε (google/vit-base-patch16-224).</summary>
[VitModel(LayerNormEpsilon = 1e-12)]
internal sealed partial class VitBase16Hf { }

/// <summary>ViT-B/32 with HuggingFace's LayerNorm ε.</summary>
[VitModel(Patch = 32, LayerNormEpsilon = 1e-12)]
internal sealed partial class VitBase32Hf { }

/// <summary>ViT-L/16 with HuggingFace's LayerNorm ε.</summary>
[VitModel(Layers = 24, Hidden = 1024, Heads = 16, LayerNormEpsilon = 1e-12)]
internal sealed partial class VitLarge16Hf { }

// The fashion-mnist presets, FashionMnistSample.FashionVit and FashionHybridVit (the paper's hybrid), are declared once, in samples/FashionMnist/FashionVit.cs, which
// this project compiles (see ViTCompiler.Cli.csproj).

/// <summary>One model compiled into this program.</summary>
/// <param name="Preset">The name <c>--preset</c> takes, or null for a variant that is only picked by matching a file's configuration.</param>
/// <param name="ClassName">The generated class, for <c>vit info</c>.</param>
/// <param name="Config">The configuration it was compiled for.</param>
/// <param name="Create">Creates it with parameters initialised from a seed.</param>
internal sealed record CompiledModel(string? Preset, string ClassName, VitConfig Config, Func<ulong, IVitTrainable> Create);

/// <summary>The models compiled into vit, by preset name and by configuration.</summary>
internal static class Presets
{
    public static IReadOnlyList<CompiledModel> All { get; } =
    [
        new("vit-ti16", nameof(VitTiny16), VitTiny16.ModelConfig, seed => new VitTiny16(seed)),
        new("vit-s16", nameof(VitSmall16), VitSmall16.ModelConfig, seed => new VitSmall16(seed)),
        new("vit-b16", nameof(VitBase16), VitBase16.ModelConfig, seed => new VitBase16(seed)),
        new("vit-b32", nameof(VitBase32), VitBase32.ModelConfig, seed => new VitBase32(seed)),
        new("vit-l16", nameof(VitLarge16), VitLarge16.ModelConfig, seed => new VitLarge16(seed)),
        new("fashion-mnist", nameof(FashionVit), FashionVit.ModelConfig, seed => new FashionVit(seed)),
        new("fashion-mnist-hybrid", nameof(FashionHybridVit), FashionHybridVit.ModelConfig, seed => new FashionHybridVit(seed)),
        new(null, nameof(VitTiny16Hf), VitTiny16Hf.ModelConfig, seed => new VitTiny16Hf(seed)),
        new(null, nameof(VitSmall16Hf), VitSmall16Hf.ModelConfig, seed => new VitSmall16Hf(seed)),
        new(null, nameof(VitBase16Hf), VitBase16Hf.ModelConfig, seed => new VitBase16Hf(seed)),
        new(null, nameof(VitBase32Hf), VitBase32Hf.ModelConfig, seed => new VitBase32Hf(seed)),
        new(null, nameof(VitLarge16Hf), VitLarge16Hf.ModelConfig, seed => new VitLarge16Hf(seed)),
    ];

    /// <summary>The preset names, in the order the help lists them.</summary>
    public static string[] Names { get; } = All.Where(m => m.Preset is not null).Select(m => m.Preset!).ToArray();

    /// <summary>The preset called <paramref name="name"/> (case-insensitive), or a usage error listing the names.</summary>
    public static CompiledModel Get(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Preset, name, StringComparison.OrdinalIgnoreCase))
        ?? throw CliException.Usage($"Unknown preset '{name}'. Presets: {string.Join(", ", Names)}.");

    /// <summary>
    /// The compiled model for <paramref name="config"/>, or null. <see cref="VitConfig"/> equality is about the computation:
    /// an explicit MLP width equal to 4 × Hidden matches the default (0).
    /// </summary>
    public static CompiledModel? Find(VitConfig config) => All.FirstOrDefault(m => m.Config == config);
}
