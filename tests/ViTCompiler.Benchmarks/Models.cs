using FashionMnistSample;
using ViTCompiler;

namespace ViTCompiler.Benchmarks;

/// <summary>ViT-Ti/16 at 224×224, 1000 classes.</summary>
[VitModel(Hidden = 192, Heads = 3)]
public partial class VitTiny16 { }

/// <summary>ViT-S/16.</summary>
[VitModel(Hidden = 384, Heads = 6)]
public partial class VitSmall16 { }

/// <summary>ViT-B/16.</summary>
[VitModel]
public partial class VitBase16 { }

// FashionVit is the FashionMnist sample's model, compiled from the sample's declaration (see the .csproj).

public static class BenchmarkModels
{
    public static CompiledVit Create(string name) => name switch
    {
        "ti16" => new VitTiny16(seed: 1),
        "s16" => new VitSmall16(seed: 1),
        "b16" => new VitBase16(seed: 1),
        "fashion" => new FashionVit(seed: 1),
        "hybrid" => new FashionHybridVit(seed: 1),
        "deep" => new FashionDeepHybridVit(seed: 1),
        _ => throw new ArgumentException($"Unknown model '{name}' (ti16, s16, b16, fashion, hybrid, deep)."),
    };

    /// <summary>Deterministic pseudo-random inputs in [−1, 1].</summary>
    public static float[] Pixels(VitConfig config, int batch)
    {
        var rng = new VitRandom(99);
        float[] pixels = new float[batch * config.PixelsPerImage];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = rng.NextSingle() * 2 - 1;
        return pixels;
    }
}
