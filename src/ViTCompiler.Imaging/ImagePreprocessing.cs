using ViTCompiler.Data;

namespace ViTCompiler.Imaging;

/// <summary>Which colour channels an image is loaded with.</summary>
public enum ColorMode
{
    /// <summary>Three channels in the order R, G, B (alpha is dropped, as PIL's <c>convert("RGB")</c> does).</summary>
    Rgb,

    /// <summary>
    /// One channel of luma, with PIL's <c>convert("L")</c> weights (ITU-R 601: 0.299 R + 0.587 G + 0.114 B, in the
    /// same fixed-point arithmetic, so the bytes match PIL's exactly).
    /// </summary>
    Grey,
}

/// <summary>How an image is brought to <see cref="ImagePreprocessing.Size"/> × <see cref="ImagePreprocessing.Size"/>.</summary>
public enum ResizeStrategy
{
    /// <summary>
    /// Stretch straight to Size × Size, ignoring the aspect ratio: HuggingFace's <c>ViTImageProcessor</c> (Google
    /// checkpoints), <c>{"height": 224, "width": 224}</c>.
    /// </summary>
    Direct,

    /// <summary>
    /// Scale so the shorter side is <see cref="ImagePreprocessing.ShorterSide"/> (aspect ratio kept, the longer side
    /// rounded down), then cut the central Size × Size square: torchvision/timm <c>Resize(S)</c> +
    /// <c>CenterCrop(Size)</c>, HuggingFace <c>{"shortest_edge": S}</c> + <c>crop_size</c>. The crop's top-left is
    /// ((h − Size) / 2, (w − Size) / 2) rounded down, as HuggingFace's <c>center_crop</c> does.
    /// </summary>
    ShorterSideThenCenterCrop,
}

/// <summary>The interpolation used when resizing.</summary>
public enum Resampling
{
    /// <summary>Bilinear (triangle filter, widened when shrinking, like PIL's antialiased <c>BILINEAR</c>; HuggingFace <c>resample=2</c>).</summary>
    Bilinear,

    /// <summary>Bicubic (a = −0.5, like PIL's <c>BICUBIC</c>; HuggingFace <c>resample=3</c>, timm's default for ViTs).</summary>
    Bicubic,

    /// <summary>Nearest neighbour (HuggingFace <c>resample=0</c>).</summary>
    Nearest,

    /// <summary>Lanczos with 3 lobes (HuggingFace <c>resample=1</c>).</summary>
    Lanczos,

    /// <summary>Box filter / area average (HuggingFace <c>resample=4</c>).</summary>
    Box,
}

/// <summary>
/// Everything that turns an image file into a model input: colour mode, size, resize strategy and filter,
/// normalisation, and the limits that protect against hostile files.
/// </summary>
public sealed partial record ImagePreprocessing
{
    /// <summary>Default <see cref="MaxPixels"/>: 64 megapixels (e.g. 8000 × 8000), 192 MB once decoded to RGB.</summary>
    public const long DefaultMaxPixels = 64_000_000;

    /// <summary>Default <see cref="MaxFileBytes"/>: 256 MiB.</summary>
    public const long DefaultMaxFileBytes = 256L << 20;

    /// <summary>Output side S: images come out S × S.</summary>
    public int Size { get; init; } = 224;

    /// <summary>
    /// For <see cref="ResizeStrategy.ShorterSideThenCenterCrop"/>: the length the shorter side is scaled to before
    /// the crop (at least <see cref="Size"/>); 0 means <see cref="Size"/>. timm evaluates at
    /// <c>floor(Size / crop_pct)</c>, e.g. 256 for 224 at crop_pct 0.875.
    /// </summary>
    public int ShorterSide { get; init; }

    /// <summary>How the image reaches Size × Size.</summary>
    public ResizeStrategy Resize { get; init; } = ResizeStrategy.Direct;

    /// <summary>The resize filter.</summary>
    public Resampling Resampling { get; init; } = Resampling.Bilinear;

    /// <summary>RGB (3 channels) or grey (1 channel).</summary>
    public ColorMode Color { get; init; } = ColorMode.Rgb;

    /// <summary>Per-channel mean/std applied to the float output (not to the bytes of an image-folder data set).</summary>
    public ChannelNormalization Normalization { get; init; } = ChannelNormalization.Google;

    /// <summary>
    /// Largest width × height decoded. Dimensions are read from the header first (without decoding), and a file that
    /// declares more is refused, so a small hostile file cannot make the decoder allocate gigabytes.
    /// </summary>
    public long MaxPixels { get; init; } = DefaultMaxPixels;

    /// <summary>Largest file read into memory.</summary>
    public long MaxFileBytes { get; init; } = DefaultMaxFileBytes;

    /// <summary>
    /// Accept a file whose extension names another image format than its content (a PNG named <c>.jpg</c>). Off by
    /// default: such files usually mean a mislabelled or tampered data set. Files with no or a non-image extension are
    /// always judged by their content.
    /// </summary>
    public bool AllowExtensionMismatch { get; init; }

    /// <summary>
    /// Decode JPEG files whose data stops before the end-of-image marker, with the missing part filled in by the
    /// decoder. Off by default, like PIL (which raises "image file is truncated"): a truncated file is usually a
    /// failed download, and training on half-grey images does quiet harm.
    /// </summary>
    public bool AllowTruncatedJpeg { get; init; }

    /// <summary>Channels per output image: 3 for RGB, 1 for grey.</summary>
    public int Channels => Color == ColorMode.Grey ? 1 : 3;

    /// <summary>Values per output image: Channels × Size × Size.</summary>
    public int ValuesPerImage => Channels * Size * Size;

    /// <summary>The shorter-side length actually used by <see cref="ResizeStrategy.ShorterSideThenCenterCrop"/>.</summary>
    public int EffectiveShorterSide => ShorterSide == 0 ? Size : ShorterSide;

    /// <summary>
    /// Google's ViT checkpoints as HuggingFace's <c>ViTImageProcessor</c> prepares them: RGB, direct resize to
    /// Size × Size, bilinear, mean = std = 0.5.
    /// </summary>
    public static ImagePreprocessing Google(int size = 224) => new()
    {
        Size = size, Resize = ResizeStrategy.Direct, Resampling = Resampling.Bilinear, Normalization = ChannelNormalization.Google,
    };

    /// <summary>
    /// timm's evaluation transform: RGB, shorter side to floor(Size / <paramref name="cropFraction"/>), centre crop,
    /// bicubic, ImageNet mean/std. (For timm's <c>augreg</c> ViTs, whose configs say mean = std = 0.5, set
    /// <see cref="Normalization"/> to <see cref="ChannelNormalization.Google"/>.)
    /// </summary>
    public static ImagePreprocessing Timm(int size = 224, double cropFraction = 0.875)
    {
        if (!(cropFraction > 0 && cropFraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(cropFraction), cropFraction, "The crop fraction (timm's crop_pct) must be in (0, 1].");
        return new()
        {
            Size = size, ShorterSide = (int)Math.Floor(size / cropFraction), Resize = ResizeStrategy.ShorterSideThenCenterCrop,
            Resampling = Resampling.Bicubic, Normalization = ChannelNormalization.ImageNet,
        };
    }

    /// <summary>
    /// The <see cref="Resampling"/> for a HuggingFace preprocessor's <c>resample</c> value (PIL's numbering:
    /// 0 nearest, 1 Lanczos, 2 bilinear, 3 bicubic, 4 box, 5 Hamming).
    /// </summary>
    /// <exception cref="NotSupportedException">Hamming (5) or an unknown value.</exception>
    public static Resampling ResamplingFromPil(int resample) => resample switch
    {
        0 => Resampling.Nearest,
        1 => Resampling.Lanczos,
        2 => Resampling.Bilinear,
        3 => Resampling.Bicubic,
        4 => Resampling.Box,
        5 => throw new NotSupportedException("resample = 5 (Hamming) is not supported; use 2 (bilinear), whose result is closest."),
        _ => throw new NotSupportedException($"resample = {resample} is not a PIL resampling filter (0–5)."),
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first unusable setting; returns this otherwise.</summary>
    public ImagePreprocessing Validate()
    {
        if (Size <= 0 || Size > 16384) throw new ArgumentException($"Size must be between 1 and 16384; got {Size}.");
        if (ShorterSide != 0 && ShorterSide < Size)
            throw new ArgumentException($"ShorterSide ({ShorterSide}) must be at least Size ({Size}), or 0 for Size: the centre crop cannot be larger than the resized image.");
        if (ShorterSide > 65536) throw new ArgumentException($"ShorterSide must be at most 65536; got {ShorterSide}.");
        if (!Enum.IsDefined(Resize)) throw new ArgumentException($"Unknown resize strategy {Resize}.");
        if (!Enum.IsDefined(Resampling)) throw new ArgumentException($"Unknown resampling {Resampling}.");
        if (!Enum.IsDefined(Color)) throw new ArgumentException($"Unknown colour mode {Color}.");
        if (MaxPixels <= 0) throw new ArgumentException($"MaxPixels must be positive; got {MaxPixels}.");
        if (MaxFileBytes <= 0) throw new ArgumentException($"MaxFileBytes must be positive; got {MaxFileBytes}.");
        ArgumentNullException.ThrowIfNull(Normalization);
        Normalization.CheckChannels(Channels);
        return this;
    }
}
