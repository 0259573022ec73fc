using ViTCompiler.Imaging;

namespace ViTCompiler.Serving;

/// <summary>A loaded model and what the service needs to know about it.</summary>
/// <param name="Name">What the service calls it (e.g. the weights file's name); shown in every answer.</param>
/// <param name="Model">The engine. Only the service's batching loop calls <see cref="IVitClassifier.Forward(ReadOnlySpan{float}, int, Span{float})"/>, one call at a time.</param>
/// <param name="Preprocessing">How an uploaded image becomes the model's input.</param>
/// <param name="Labels">One name per class, index = output.</param>
public sealed record ServedModel(string Name, IVitClassifier Model, ImagePreprocessing Preprocessing, IReadOnlyList<string> Labels)
{
    /// <summary>The model's configuration.</summary>
    public VitConfig Config => Model.Config;

    /// <summary>Throws when the pieces do not fit together.</summary>
    public ServedModel Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Name);
        ArgumentNullException.ThrowIfNull(Model);
        ArgumentNullException.ThrowIfNull(Preprocessing);
        ArgumentNullException.ThrowIfNull(Labels);
        if (Labels.Count != Config.Classes)
            throw new ArgumentException($"There are {Labels.Count} labels for a model with {Config.Classes} classes.", nameof(Labels));
        if (Preprocessing.ValuesPerImage != Config.PixelsPerImage)
            throw new ArgumentException($"The preprocessing makes {Preprocessing.Channels} × {Preprocessing.Size} × {Preprocessing.Size} values; the model takes " +
                                        $"{Config.Channels} × {Config.ImageSize} × {Config.ImageSize}.", nameof(Preprocessing));
        return this;
    }
}
