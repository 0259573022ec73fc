namespace ViTCompiler.Imaging;

/// <summary>
/// An image file could not be used: missing, unreadable, not an image, damaged, or refused by a safety limit.
/// The message names the file and the problem; <see cref="Exception.InnerException"/> holds the decoder's own
/// exception when there was one.
/// </summary>
public sealed class ImageLoadException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/> with a one-sentence <paramref name="problem"/>.</summary>
    public ImageLoadException(string path, string problem, Exception? inner = null)
        : base($"Image '{path}': {problem}", inner)
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>The file (or, for in-memory data, the name given for it).</summary>
    public string Path { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
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
