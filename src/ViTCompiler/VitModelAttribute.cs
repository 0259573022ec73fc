namespace ViTCompiler;

/// <summary>How the encoder's output tokens become the one vector the classification head sees.</summary>
public enum VitPooling
{
    /// <summary>A learned [class] token is prepended; the head reads its final state (the paper's default).</summary>
    ClassToken = 0,

    /// <summary>No [class] token; the head reads the mean of all patch tokens after the final LayerNorm (the paper's "GAP").</summary>
    Mean = 1,
}

/// <summary>
/// Declares a Vision Transformer whose forward and backward passes the ViTCompiler source generator emits as
/// shape-fixed SIMD code. Put it on a <c>partial</c>, non-generic, top-level or namespace-level class; every property
/// left unset takes the ViT-B/16 value at 224×224 with 1000 classes.
/// </summary>
/// <example>
/// <code>
/// [VitModel(ImageSize = 28, Channels = 1, Patch = 4, Layers = 6, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
/// public partial class FashionVit { }
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class VitModelAttribute : Attribute
{
    /// <summary>Side of the square input image in pixels. Must be a multiple of <see cref="Patch"/>.</summary>
    public int ImageSize { get; set; } = VitDefaults.ImageSize;

    /// <summary>Colour channels of the input (3 for RGB, 1 for grey).</summary>
    public int Channels { get; set; } = VitDefaults.Channels;

    /// <summary>Side of the square patches the image is cut into.</summary>
    public int Patch { get; set; } = VitDefaults.Patch;

    /// <summary>Number of encoder blocks.</summary>
    public int Layers { get; set; } = VitDefaults.Layers;

    /// <summary>Token width D. Must be a multiple of <see cref="Heads"/>.</summary>
    public int Hidden { get; set; } = VitDefaults.Hidden;

    /// <summary>Number of attention heads.</summary>
    public int Heads { get; set; } = VitDefaults.Heads;

    /// <summary>Hidden width of the MLP; 0 means 4 × <see cref="Hidden"/>.</summary>
    public int MlpDim { get; set; } = VitDefaults.MlpDim;

    /// <summary>Number of output classes of the linear head.</summary>
    public int Classes { get; set; } = VitDefaults.Classes;

    /// <summary>Class-token or mean pooling before the head.</summary>
    public VitPooling Pooling { get; set; } = VitPooling.ClassToken;

    /// <summary>Epsilon of every LayerNorm (1e-6 in the paper's code and timm; HuggingFace checkpoints use 1e-12).</summary>
    public double LayerNormEpsilon { get; set; } = VitDefaults.LayerNormEpsilon;

    /// <summary>Whether the query/key/value projection has a bias (true for all the paper's models).</summary>
    public bool QkvBias { get; set; } = VitDefaults.QkvBias;

    /// <summary>
    /// The paper's hybrid architecture (§3.1): output channels of each stage of a convolutional stem that runs before the
    /// patch projection, which then cuts the stem's feature map, not the image, into patches (Patch 1 allowed). A stage
    /// is a 3 × 3 convolution (padding 1, no bias), GroupNorm and ReLU. Empty (the default) is the pure ViT.
    /// </summary>
    /// <example><c>StemChannels = new[] { 32, 64 }, StemStrides = new[] { 1, 2 }, Patch = 2</c>: 28 × 28 → 14 × 14 × 64 → 7 × 7 tokens.</example>
    public int[] StemChannels { get; set; } = [];

    /// <summary>Stride (1 or 2) of each stem stage, one per <see cref="StemChannels"/> entry.</summary>
    public int[] StemStrides { get; set; } = [];

    /// <summary>GroupNorm groups of every stem stage; must divide each stage's channels.</summary>
    public int StemGroups { get; set; } = VitDefaults.StemGroups;
}
