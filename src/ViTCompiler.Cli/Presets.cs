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

// Fine-tuning resolution (paper §3.2, Table 2's "ViT-B/16" and DeiT's tiny model at 384 px): 24 × 24 = 576 patches.

/// <summary>ViT-Ti/16 at 384 px, for fine-tuning at the paper's higher resolution.</summary>
[VitModel(ImageSize = 384, Hidden = 192, Heads = 3)]
internal sealed partial class VitTiny16At384 { }

/// <summary>ViT-B/16 at 384 px, for fine-tuning at the paper's higher resolution.</summary>
[VitModel(ImageSize = 384)]
internal sealed partial class VitBase16At384 { }

/// <summary>ViT-B/16 at 384 px with HuggingFace's LayerNorm ε (google/vit-base-patch16-384).</summary>
[VitModel(ImageSize = 384, LayerNormEpsilon = 1e-12)]
internal sealed partial class VitBase16At384Hf { }

/// <summary>The Fashion-MNIST model at 56 px (14 × 14 patches of 4): fine-tuning the 28-px model at twice the resolution.</summary>
[VitModel(ImageSize = 56, Channels = 1, Patch = 4, Layers = 6, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
internal sealed partial class FashionVit56 { }

// The fashion-mnist presets, FashionMnistSample.FashionVit, FashionHybridVit and FashionDeepHybridVit (the paper's hybrid), are declared once, in samples/FashionMnist/FashionVit.cs, which
// this project compiles (see ViTCompiler.Cli.csproj).

/// <summary>One model compiled into this program.</summary>
/// <param name="Preset">The name <c>--preset</c> takes, or null for a variant that is only picked by matching a file's configuration.</param>
/// <param name="ClassName">The generated class, for <c>vit info</c>.</param>
/// <param name="Config">The configuration it was compiled for, with its default class count.</param>
/// <param name="Factory">Creates it with parameters initialised from a seed, with a head of the given number of classes
/// (the head's width is chosen at run time; everything else is compiled in).</param>
/// <param name="Schedule">How its threads share a pass, as its generator's planner chose and explained it.</param>
internal sealed record CompiledModel(string? Preset, string ClassName, VitConfig Config, Func<ulong, int, IVitTrainable> Factory, string Schedule)
{
    /// <summary>Creates it with its default class count.</summary>
    public IVitTrainable Create(ulong seed) => Factory(seed, Config.Classes);

    /// <summary>Creates it with a head of <paramref name="classes"/> outputs.</summary>
    public IVitTrainable Create(ulong seed, int classes) => Factory(seed, classes);

    /// <summary>Whether this compiled encoder runs <paramref name="config"/>: every setting but the class count equal.</summary>
    public bool Runs(VitConfig config) => Config == config with { Classes = Config.Classes };
}

/// <summary>The models compiled into vit, by preset name and by configuration.</summary>
internal static class Presets
{
    public static IReadOnlyList<CompiledModel> All { get; } =
    [
        new("vit-ti16", nameof(VitTiny16), VitTiny16.ModelConfig, (seed, classes) => new VitTiny16(seed, classes), VitTiny16.ScheduleReason),
        new("vit-s16", nameof(VitSmall16), VitSmall16.ModelConfig, (seed, classes) => new VitSmall16(seed, classes), VitSmall16.ScheduleReason),
        new("vit-b16", nameof(VitBase16), VitBase16.ModelConfig, (seed, classes) => new VitBase16(seed, classes), VitBase16.ScheduleReason),
        new("vit-b32", nameof(VitBase32), VitBase32.ModelConfig, (seed, classes) => new VitBase32(seed, classes), VitBase32.ScheduleReason),
        new("vit-l16", nameof(VitLarge16), VitLarge16.ModelConfig, (seed, classes) => new VitLarge16(seed, classes), VitLarge16.ScheduleReason),
        new("vit-ti16-384", nameof(VitTiny16At384), VitTiny16At384.ModelConfig, (seed, classes) => new VitTiny16At384(seed, classes), VitTiny16At384.ScheduleReason),
        new("vit-b16-384", nameof(VitBase16At384), VitBase16At384.ModelConfig, (seed, classes) => new VitBase16At384(seed, classes), VitBase16At384.ScheduleReason),
        new("fashion-mnist", nameof(FashionVit), FashionVit.ModelConfig, (seed, classes) => new FashionVit(seed, classes), FashionVit.ScheduleReason),
        new("fashion-mnist-hybrid", nameof(FashionHybridVit), FashionHybridVit.ModelConfig, (seed, classes) => new FashionHybridVit(seed, classes), FashionHybridVit.ScheduleReason),
        new("fashion-mnist-deep-hybrid", nameof(FashionDeepHybridVit), FashionDeepHybridVit.ModelConfig, (seed, classes) => new FashionDeepHybridVit(seed, classes), FashionDeepHybridVit.ScheduleReason),
        new("fashion-mnist-56", nameof(FashionVit56), FashionVit56.ModelConfig, (seed, classes) => new FashionVit56(seed, classes), FashionVit56.ScheduleReason),
        new(null, nameof(VitTiny16Hf), VitTiny16Hf.ModelConfig, (seed, classes) => new VitTiny16Hf(seed, classes), VitTiny16Hf.ScheduleReason),
        new(null, nameof(VitSmall16Hf), VitSmall16Hf.ModelConfig, (seed, classes) => new VitSmall16Hf(seed, classes), VitSmall16Hf.ScheduleReason),
        new(null, nameof(VitBase16Hf), VitBase16Hf.ModelConfig, (seed, classes) => new VitBase16Hf(seed, classes), VitBase16Hf.ScheduleReason),
        new(null, nameof(VitBase32Hf), VitBase32Hf.ModelConfig, (seed, classes) => new VitBase32Hf(seed, classes), VitBase32Hf.ScheduleReason),
        new(null, nameof(VitLarge16Hf), VitLarge16Hf.ModelConfig, (seed, classes) => new VitLarge16Hf(seed, classes), VitLarge16Hf.ScheduleReason),
        new(null, nameof(VitBase16At384Hf), VitBase16At384Hf.ModelConfig, (seed, classes) => new VitBase16At384Hf(seed, classes), VitBase16At384Hf.ScheduleReason),
    ];

    /// <summary>The preset names, in the order the help lists them.</summary>
    public static string[] Names { get; } = All.Where(m => m.Preset is not null).Select(m => m.Preset!).ToArray();

    /// <summary>The preset called <paramref name="name"/> (case-insensitive), or a usage error listing the names.</summary>
    public static CompiledModel Get(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Preset, name, StringComparison.OrdinalIgnoreCase))
        ?? throw CliException.Usage($"Unknown preset '{name}'. Presets: {string.Join(", ", Names)}.");

    /// <summary>
    /// The compiled model whose encoder runs <paramref name="config"/> (any class count), or null. <see cref="VitConfig"/>
    /// equality is about the computation: an explicit MLP width equal to 4 × Hidden matches the default (0).
    /// </summary>
    public static CompiledModel? Find(VitConfig config) => All.FirstOrDefault(m => m.Runs(config));

    /// <summary>The image sizes vit has compiled code for with every other setting of <paramref name="config"/> (class count aside).</summary>
    public static int[] CompiledImageSizes(VitConfig config) =>
        All.Where(m => m.Config with { ImageSize = config.ImageSize, Classes = config.Classes } == config)
           .Select(m => m.Config.ImageSize).Distinct().Order().ToArray();
}
