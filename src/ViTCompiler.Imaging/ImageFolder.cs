using ViTCompiler.Data;

namespace ViTCompiler.Imaging;

/// <summary>What <see cref="ImageFolder.Load"/> read.</summary>
/// <param name="Images">The images that loaded, resized to S × S, as bytes; class names from the folder names.</param>
/// <param name="Paths">The file of each image, index = image index.</param>
/// <param name="Failures">Image files that could not be used, and why.</param>
/// <param name="Ignored">Files skipped because their extension is not an image extension (e.g. <c>README.txt</c>, <c>.DS_Store</c>).</param>
public sealed record ImageFolderDataset(LabeledImages Images, IReadOnlyList<string> Paths, IReadOnlyList<ImageLoadFailure> Failures, IReadOnlyList<string> Ignored);

/// <summary>
/// The image-folder layout of torchvision's <c>ImageFolder</c>: <c>root/&lt;class name&gt;/…/*.png|jpg|…</c>, one
/// subfolder per class, loaded into a <see cref="LabeledImages"/>.
/// </summary>
/// <remarks>
/// Classes are the subfolders of the root, sorted ordinally (byte order of the names, so the labels do not depend on
/// the machine's culture); label = position in that order. A class folder's images are found in all its subfolders and
/// taken in ordinal order of their paths. Files directly in the root are ignored.
/// </remarks>
public static class ImageFolder
{
    /// <summary>Extensions (lower case, with the dot) taken as images; other files are ignored.</summary>
    public static IReadOnlySet<string> ImageExtensions { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        ".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".dib", ".gif", ".webp", ".tif", ".tiff", ".tga", ".pbm", ".pgm", ".ppm",
    };

    /// <summary>
    /// Loads every image under <paramref name="root"/>, resized and cropped as <paramref name="options"/> says
    /// (its <see cref="ImagePreprocessing.Normalization"/> is not applied: images are stored as bytes and
    /// normalised per batch). Files that cannot be used are reported in <see cref="ImageFolderDataset.Failures"/>.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The root does not exist.</exception>
    /// <exception cref="InvalidDataException">The root has no class subfolders.</exception>
    public static ImageFolderDataset Load(string root, ImagePreprocessing options)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(options);
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException($"Image folder '{root}' does not exist.");

        string[] classFolders = Directory.GetDirectories(root);
        Array.Sort(classFolders, StringComparer.Ordinal);
        if (classFolders.Length == 0)
            throw new InvalidDataException($"Image folder '{root}' has no subfolders. Expected one subfolder per class: {root}/<class name>/<image files>.");
        string[] classNames = classFolders.Select(f => Path.GetFileName(f)).ToArray();

        var files = new List<(string Path, int Label)>();
        var ignored = new List<string>();
        for (int label = 0; label < classFolders.Length; label++)
        {
            string[] inClass = Directory.GetFiles(classFolders[label], "*", SearchOption.AllDirectories);
            Array.Sort(inClass, StringComparer.Ordinal);
            foreach (string file in inClass)
            {
                if (ImageExtensions.Contains(Path.GetExtension(file))) files.Add((file, label));
                else ignored.Add(file);
            }
        }

        var loader = new ImageLoader(options with { Normalization = ChannelNormalization.None });
        int perImage = loader.ValuesPerImage;
        if ((long)files.Count * perImage > Array.MaxLength)
            throw new InvalidDataException(
                $"Image folder '{root}' holds {files.Count:N0} images; at {options.Channels} × {options.Size} × {options.Size} bytes each they do not fit in one in-memory set. Use a smaller Size or split the folder.");
        byte[] pixels = new byte[files.Count * perImage];
        var labels = new List<int>(files.Count);
        var paths = new List<string>(files.Count);
        var failures = new List<ImageLoadFailure>();
        foreach ((string path, int label) in files)
        {
            try
            {
                loader.LoadBytes(path, pixels.AsSpan(labels.Count * perImage, perImage));
                labels.Add(label);
                paths.Add(path);
            }
            catch (ImageLoadException e)
            {
                failures.Add(new ImageLoadFailure(e.Path, e.Problem, e));
            }
        }
        if (labels.Count < files.Count) Array.Resize(ref pixels, labels.Count * perImage);
        var images = new LabeledImages(pixels, labels.ToArray(), options.Channels, options.Size, options.Size, classNames.Length, classNames);
        return new ImageFolderDataset(images, paths, failures, ignored);
    }
}
