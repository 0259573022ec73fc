using System.Runtime.CompilerServices;

namespace ViTCompiler;

/// <summary>
/// The hyper-parameters of one Vision Transformer and the numbers derived from them. Generated models expose theirs
/// through <see cref="IVitWeights.Config"/>; the reference engine and the loaders accept any valid one.
/// </summary>
public sealed record VitConfig
{
    /// <summary>Side of the square input image in pixels (a multiple of <see cref="Patch"/>).</summary>
    public int ImageSize { get; init; } = VitDefaults.ImageSize;
    /// <summary>Colour channels of the input.</summary>
    public int Channels { get; init; } = VitDefaults.Channels;
    /// <summary>Side of the square patches.</summary>
    public int Patch { get; init; } = VitDefaults.Patch;
    /// <summary>Number of encoder blocks.</summary>
    public int Layers { get; init; } = VitDefaults.Layers;
    /// <summary>Token width D (a multiple of <see cref="Heads"/>).</summary>
    public int Hidden { get; init; } = VitDefaults.Hidden;
    /// <summary>Number of attention heads.</summary>
    public int Heads { get; init; } = VitDefaults.Heads;
    /// <summary>MLP width as declared; 0 means 4 × Hidden (see <see cref="MlpWidth"/>; equality compares the effective width).</summary>
    public int MlpDim { get; init; } = VitDefaults.MlpDim;
    /// <summary>Number of output classes.</summary>
    public int Classes { get; init; } = VitDefaults.Classes;
    /// <summary>Class-token or mean pooling before the head.</summary>
    public VitPooling Pooling { get; init; } = VitPooling.ClassToken;
    /// <summary>Epsilon of every LayerNorm.</summary>
    public double LayerNormEpsilon { get; init; } = VitDefaults.LayerNormEpsilon;
    /// <summary>Whether the qkv projection has a bias.</summary>
    public bool QkvBias { get; init; } = VitDefaults.QkvBias;

    private int[] _stemChannels = [], _stemStrides = [];

    /// <summary>Output channels of each convolutional stem stage (the paper's hybrid); empty for the pure ViT.</summary>
    public IReadOnlyList<int> StemChannels { get => _stemChannels; init => _stemChannels = [.. value]; }
    /// <summary>Stride (1 or 2) of each stem stage.</summary>
    public IReadOnlyList<int> StemStrides { get => _stemStrides; init => _stemStrides = [.. value]; }
    /// <summary>GroupNorm groups of every stem stage.</summary>
    public int StemGroups { get; init; } = VitDefaults.StemGroups;

    /// <summary>Whether a convolutional stem runs before the patch projection.</summary>
    public bool HasStem => _stemChannels.Length > 0;
    // Strides without channels are a stem too, an invalid one, so that Problem() reports them rather than ignoring them.
    internal VitStem Stem => HasStem || _stemStrides.Length > 0 ? new VitStem(_stemChannels, _stemStrides, StemGroups) : VitStem.None;
    /// <summary>Side of the map the patch projection cuts: the image, or the stem's feature map.</summary>
    public int FeatureSize => HasStem && _stemStrides.Length == _stemChannels.Length ? Stem.FeatureSize(ImageSize) : ImageSize;
    /// <summary>Channels of the map the patch projection cuts.</summary>
    public int FeatureChannels => HasStem ? _stemChannels[^1] : Channels;

    /// <summary>The stem as text, e.g. "32/1, 64/2 (GroupNorm 8)" (channels/stride per stage), or "none".</summary>
    public string StemDescription => Stem.Describe();

    /// <summary>Patches per image side.</summary>
    public int GridSize => FeatureSize / Patch;
    /// <summary>Patches per image.</summary>
    public int PatchCount => GridSize * GridSize;
    /// <summary>Whether a learned [class] token is prepended (class-token pooling only).</summary>
    public bool HasClassToken => Pooling == VitPooling.ClassToken;
    /// <summary>Sequence length N: patches plus the [class] token if any.</summary>
    public int Tokens => VitGeometry.Tokens(FeatureSize, Patch, HasClassToken);
    /// <summary>Width of one attention head, Hidden / Heads.</summary>
    public int HeadDim => Hidden / Heads;
    /// <summary>Effective MLP width M.</summary>
    public int MlpWidth => VitGeometry.MlpWidth(Hidden, MlpDim);
    /// <summary>Length of one flattened patch, FeatureChannels × Patch × Patch.</summary>
    public int PatchDim => FeatureChannels * Patch * Patch;
    /// <summary>Floats in one input image, Channels × ImageSize × ImageSize.</summary>
    public int PixelsPerImage => Channels * ImageSize * ImageSize;
    /// <summary>Total number of parameters.</summary>
    public long ParameterCount => VitGeometry.ParameterCount(ImageSize, Channels, Patch, Layers, Hidden, MlpDim, Classes, HasClassToken, QkvBias, Stem);
    /// <summary>Multiply-accumulates of one image's forward pass.</summary>
    public long MacsPerImage => VitGeometry.MacsPerImage(ImageSize, Channels, Patch, Layers, Hidden, MlpDim, Classes, HasClassToken, Stem);
    /// <summary>Floats of one image's activations in a compiled model's inference workspace (per-thread scratch and packed weights come on top).</summary>
    public long InferenceFloatsPerImage => VitGeometry.InferenceFloatsPerImage(ImageSize, Channels, Patch, Hidden, MlpDim, HasClassToken, Stem);
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

    /// <summary>The first reason this configuration is unusable, or null (the generator checks the same rules at compile time).</summary>
    public string? Problem()
    {
        List<VitProblem> problems = VitRules.Check(ImageSize, Channels, Patch, Layers, Hidden, Heads, MlpDim, Classes, (int)Pooling, LayerNormEpsilon, QkvBias, Stem);
        return problems.Count == 0 ? null : problems[0].Message;
    }

    /// <summary>
    /// Whether both describe the same computation: every hyper-parameter equal, with the MLP compared by its effective
    /// width (an explicit 4 × Hidden equals the default 0).
    /// </summary>
    public bool Equals(VitConfig? other) =>
        other is not null && ImageSize == other.ImageSize && Channels == other.Channels && Patch == other.Patch && Layers == other.Layers
        && Hidden == other.Hidden && Heads == other.Heads && MlpWidth == other.MlpWidth && Classes == other.Classes
        && Pooling == other.Pooling && LayerNormEpsilon.Equals(other.LayerNormEpsilon) && QkvBias == other.QkvBias
        && _stemChannels.AsSpan().SequenceEqual(other._stemChannels) && _stemStrides.AsSpan().SequenceEqual(other._stemStrides)
        && (!HasStem || StemGroups == other.StemGroups);

    /// <inheritdoc/>
    public override int GetHashCode() =>
        HashCode.Combine(HashCode.Combine(ImageSize, Channels, Patch, Layers, Hidden, Heads, MlpWidth, Classes), Pooling, LayerNormEpsilon, QkvBias,
            _stemChannels.Length, _stemChannels.Length > 0 ? _stemChannels[^1] : 0);

    /// <summary>A short human-readable description, e.g. "ViT 224px/16, 12×768 (12 heads, MLP 3072), 1000 classes, class token".</summary>
    public override string ToString() =>
        $"ViT {ImageSize}px/{Patch} ×{Channels}ch{(HasStem ? $" on a conv stem {Stem.Describe()}" : "")}, {Layers} layers × {Hidden} ({Heads} heads, MLP {MlpWidth}), {Classes} classes, {(HasClassToken ? "class-token" : "mean")} pooling";
}
