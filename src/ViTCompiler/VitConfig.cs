using System.Runtime.CompilerServices;

namespace ViTCompiler;

/// <summary>
/// The hyper-parameters of one Vision Transformer and the numbers derived from them. Generated models expose theirs
/// through <see cref="IVitModel.Config"/>; the reference engine and the loaders accept any valid one.
/// </summary>
public sealed record VitConfig
{
    public int ImageSize { get; init; } = 224;
    public int Channels { get; init; } = 3;
    public int Patch { get; init; } = 16;
    public int Layers { get; init; } = 12;
    public int Hidden { get; init; } = 768;
    public int Heads { get; init; } = 12;
    /// <summary>MLP width as declared; 0 means 4 × Hidden (see <see cref="MlpWidth"/>).</summary>
    public int MlpDim { get; init; }
    public int Classes { get; init; } = 1000;
    public VitPooling Pooling { get; init; } = VitPooling.ClassToken;
    public double LayerNormEpsilon { get; init; } = 1e-6;
    public bool QkvBias { get; init; } = true;

    /// <summary>Patches per image side.</summary>
    public int GridSize => ImageSize / Patch;
    /// <summary>Patches per image.</summary>
    public int PatchCount => GridSize * GridSize;
    /// <summary>Whether a learned [class] token is prepended (class-token pooling only).</summary>
    public bool HasClassToken => Pooling == VitPooling.ClassToken;
    /// <summary>Sequence length N: patches plus the [class] token if any.</summary>
    public int Tokens => VitGeometry.Tokens(ImageSize, Patch, HasClassToken);
    /// <summary>Width of one attention head, Hidden / Heads.</summary>
    public int HeadDim => Hidden / Heads;
    /// <summary>Effective MLP width M.</summary>
    public int MlpWidth => VitGeometry.MlpWidth(Hidden, MlpDim);
    /// <summary>Length of one flattened patch, Channels × Patch × Patch.</summary>
    public int PatchDim => Channels * Patch * Patch;
    /// <summary>Floats in one input image, Channels × ImageSize × ImageSize.</summary>
    public int PixelsPerImage => Channels * ImageSize * ImageSize;
    /// <summary>Total number of parameters.</summary>
    public long ParameterCount => VitGeometry.ParameterCount(ImageSize, Channels, Patch, Layers, Hidden, MlpDim, Classes, HasClassToken, QkvBias);
    /// <summary>Multiply-accumulates of one image's forward pass.</summary>
    public long MacsPerImage => VitGeometry.MacsPerImage(ImageSize, Channels, Patch, Layers, Hidden, MlpDim, Classes, HasClassToken);
    /// <summary>Floats of one image's activations in a compiled model's inference workspace (per-thread scratch and packed weights come on top).</summary>
    public long InferenceFloatsPerImage => VitGeometry.InferenceFloatsPerImage(ImageSize, Channels, Patch, Hidden, MlpDim, HasClassToken);
    /// <summary>Floating-point operations (2 per multiply-accumulate) of one image's forward pass.</summary>
    public long FlopsPerImage => 2 * MacsPerImage;

    // A cache outside the record, so that value equality stays about the hyper-parameters only.
    private static readonly ConditionalWeakTable<VitConfig, ParameterLayout> s_layouts = new();

    /// <summary>Names, shapes and offsets of every parameter tensor.</summary>
    public ParameterLayout Layout => s_layouts.GetValue(this, static c => new ParameterLayout(c));

    /// <summary>The paper's ViT-Ti/16 at 224×224 with 1000 classes.</summary>
    public static VitConfig Tiny16 => new() { Hidden = 192, Heads = 3 };
    /// <summary>ViT-S/16.</summary>
    public static VitConfig Small16 => new() { Hidden = 384, Heads = 6 };
    /// <summary>ViT-B/16.</summary>
    public static VitConfig Base16 => new();
    /// <summary>ViT-B/32.</summary>
    public static VitConfig Base32 => new() { Patch = 32 };
    /// <summary>ViT-L/16.</summary>
    public static VitConfig Large16 => new() { Layers = 24, Hidden = 1024, Heads = 16 };
    /// <summary>ViT-H/14.</summary>
    public static VitConfig Huge14 => new() { Patch = 14, Layers = 32, Hidden = 1280, Heads = 16 };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first field that makes this configuration unusable.</summary>
    public VitConfig Validate()
    {
        string? problem = Problem();
        if (problem is not null) throw new ArgumentException($"Invalid ViT configuration: {problem}.");
        return this;
    }

    /// <summary>The first reason this configuration is unusable, or null.</summary>
    public string? Problem()
    {
        if (ImageSize <= 0) return $"ImageSize must be positive (got {ImageSize})";
        if (Channels <= 0) return $"Channels must be positive (got {Channels})";
        if (Patch <= 0) return $"Patch must be positive (got {Patch})";
        if (Layers <= 0) return $"Layers must be positive (got {Layers})";
        if (Hidden <= 0) return $"Hidden must be positive (got {Hidden})";
        if (Heads <= 0) return $"Heads must be positive (got {Heads})";
        if (MlpDim < 0) return $"MlpDim must be 0 (meaning 4 × Hidden) or positive (got {MlpDim})";
        if (Classes <= 0) return $"Classes must be positive (got {Classes})";
        if (!(LayerNormEpsilon > 0) || double.IsInfinity(LayerNormEpsilon)) return $"LayerNormEpsilon must be a positive number (got {LayerNormEpsilon})";
        if (Pooling is not (VitPooling.ClassToken or VitPooling.Mean)) return $"Pooling {(int)Pooling} is not a VitPooling value";
        if (ImageSize % Patch != 0) return $"ImageSize {ImageSize} is not a multiple of Patch {Patch}";
        if (Hidden % Heads != 0) return $"Hidden {Hidden} is not a multiple of Heads {Heads}";
        return VitGeometry.LimitProblem(ImageSize, Channels, Patch, Layers, Hidden, MlpDim, Classes, HasClassToken, QkvBias);
    }

    /// <summary>A short human-readable description, e.g. "ViT 224px/16, 12×768 (12 heads, MLP 3072), 1000 classes, class token".</summary>
    public override string ToString() =>
        $"ViT {ImageSize}px/{Patch} ×{Channels}ch, {Layers} layers × {Hidden} ({Heads} heads, MLP {MlpWidth}), {Classes} classes, {(HasClassToken ? "class-token" : "mean")} pooling";
}
