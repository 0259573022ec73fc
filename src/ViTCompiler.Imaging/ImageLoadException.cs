namespace ViTCompiler.Imaging;

/// <summary>
/// An image file could not be used: missing, unreadable, not an image, damaged, or refused by a safety limit.
/// The message names the file and the problem; <see cref="Exception.InnerException"/> holds the decoder's own
/// exception when there was one.
/// </summary>
public sealed class ImageLoadException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/> with a one-sentence <paramref name="problem"/> of kind <see cref="ImageLoadProblem.Unreadable"/>.</summary>
    public ImageLoadException(string path, string problem, Exception? inner = null)
        : this(path, problem, ImageLoadProblem.Unreadable, inner)
    {
    }

    /// <summary>Creates the exception for <paramref name="path"/> with a one-sentence <paramref name="problem"/> of the given <paramref name="kind"/>.</summary>
    public ImageLoadException(string path, string problem, ImageLoadProblem kind, Exception? inner = null)
        : base($"Image '{path}': {problem}", inner)
    {
        Path = path;
        Problem = problem;
        Kind = kind;
    }

    /// <summary>What kind of problem it is, for callers that answer differently (an HTTP service: 415 or 422).</summary>
    public ImageLoadProblem Kind { get; }

    /// <summary>The file (or, for in-memory data, the name given for it).</summary>
    public string Path { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
}

/// <summary>The kinds of <see cref="ImageLoadException"/>.</summary>
public enum ImageLoadProblem
{
    /// <summary>The file is missing, a folder or a device, or could not be read.</summary>
    Unreadable,

    /// <summary>The content is not an image in a supported format (or is not the format its name says).</summary>
    NotAnImage,

    /// <summary>A supported format in a variant the decoder does not support.</summary>
    Unsupported,

    /// <summary>An image in a supported format, but empty, truncated or corrupt.</summary>
    Damaged,

    /// <summary>Refused by a safety limit (bytes, pixels declared in the header, aspect ratio) or too large to decode.</summary>
    TooLarge,
}

/// <summary>One image a batch or folder load skipped, and why.</summary>
/// <param name="Path">The file.</param>
/// <param name="Error">The problem, as <see cref="ImageLoadException.Problem"/> says it.</param>
/// <param name="Exception">The full exception, for logging.</param>
public sealed record ImageLoadFailure(string Path, string Error, ImageLoadException Exception)
{
    /// <summary>"path: problem".</summary>
    public override string ToString() => $"{Path}: {Error}";
}
