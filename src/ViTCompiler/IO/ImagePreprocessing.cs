namespace ViTCompiler.IO;

/// <summary>
/// How a checkpoint's images were prepared, as HuggingFace's <c>preprocessor_config.json</c> records it: resize, scale
/// to [0, 1], then normalise each channel as (x − mean) / std. The defaults are <c>ViTImageProcessor</c>'s.
/// </summary>
public sealed record ImagePreprocessing
{
    /// <summary>Per-channel mean subtracted after rescaling (<c>image_mean</c>).</summary>
    public IReadOnlyList<float> Mean { get; init; } = [0.5f, 0.5f, 0.5f];

    /// <summary>Per-channel standard deviation divided by (<c>image_std</c>).</summary>
    public IReadOnlyList<float> Std { get; init; } = [0.5f, 0.5f, 0.5f];

    /// <summary>Target height in pixels (<c>size.height</c>, or <c>size</c> when it is a number); null when only a shortest edge is given.</summary>
    public int? Height { get; init; } = 224;

    /// <summary>Target width in pixels (<c>size.width</c>, or <c>size</c> when it is a number).</summary>
    public int? Width { get; init; } = 224;

    /// <summary>Resize so the shorter side has this many pixels (<c>size.shortest_edge</c>), when the processor says so.</summary>
    public int? ShortestEdge { get; init; }

    /// <summary>PIL resampling filter code (<c>resample</c>): 0 nearest, 1 Lanczos, 2 bilinear, 3 bicubic, 4 box, 5 Hamming.</summary>
    public int Resample { get; init; } = 2;

    /// <summary>Whether images are resized (<c>do_resize</c>).</summary>
    public bool DoResize { get; init; } = true;

    /// <summary>Whether pixel values are multiplied by <see cref="RescaleFactor"/> (<c>do_rescale</c>).</summary>
    public bool DoRescale { get; init; } = true;

    /// <summary>The rescale factor (<c>rescale_factor</c>), 1/255 by default.</summary>
    public double RescaleFactor { get; init; } = 1.0 / 255;

    /// <summary>Whether (x − mean) / std is applied (<c>do_normalize</c>).</summary>
    public bool DoNormalize { get; init; } = true;

    /// <summary>The name of <see cref="Resample"/>'s filter, e.g. "bilinear".</summary>
    public string ResampleName => Resample switch
    {
        0 => "nearest", 1 => "lanczos", 2 => "bilinear", 3 => "bicubic", 4 => "box", 5 => "hamming", _ => $"unknown ({Resample})",
    };
}

/// <summary>What a HuggingFace checkpoint directory says about its model besides the weights.</summary>
/// <param name="Config">The architecture, from <c>config.json</c> (classes cross-checked against the classifier's shape).</param>
/// <param name="Labels">Class names in class order, from <c>id2label</c> (<c>LABEL_i</c> when the file has none).</param>
/// <param name="Preprocessing">From <c>preprocessor_config.json</c> beside the weights, or null when there is none.</param>
/// <param name="ConfigPath">The <c>config.json</c> that was read.</param>
public sealed record HuggingFaceConfig(VitConfig Config, IReadOnlyList<string> Labels, ImagePreprocessing? Preprocessing, string ConfigPath);
