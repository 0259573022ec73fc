namespace ViTCompiler.Data;

/// <summary>
/// Fashion-MNIST (Zalando Research, MIT licence): 28 × 28 grey images of clothing in 10 classes, 60,000 for training
/// and 10,000 for testing, in the IDX format of MNIST. Both splits ship with this repository in <c>data/fashion-mnist/</c>
/// (30 MB gzip'ed); elsewhere the full set comes from the Debian package <c>dataset-fashion-mnist</c> or a folder named by
/// the <c>VIT_FASHION_MNIST</c> environment variable.
/// </summary>
public static class FashionMnist
{
    /// <summary>Environment variable naming a folder that holds all four Fashion-MNIST files.</summary>
    public const string EnvironmentVariable = "VIT_FASHION_MNIST";

    /// <summary>Where the Debian/Ubuntu package <c>dataset-fashion-mnist</c> installs the files.</summary>
    public const string DebianPackageFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>The shipped data set's folder, relative to the repository root.</summary>
    public const string ShippedFolder = "data/fashion-mnist";

    /// <summary>Image side in pixels.</summary>
    public const int ImageSize = 28;

    /// <summary>Standard file names without the optional <c>.gz</c>.</summary>
    public const string TrainImagesFile = "train-images-idx3-ubyte", TrainLabelsFile = "train-labels-idx1-ubyte",
        TestImagesFile = "t10k-images-idx3-ubyte", TestLabelsFile = "t10k-labels-idx1-ubyte";

    /// <summary>The ten class names, index = label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Loads both splits from <paramref name="folder"/> (the four standard files, each plain or <c>.gz</c>).</summary>
    /// <exception cref="FileNotFoundException">A file is missing; the message lists the names looked for.</exception>
    /// <exception cref="InvalidDataException">A file is malformed.</exception>
    public static (LabeledImages Train, LabeledImages Test) Load(string folder) => (LoadTrain(folder), LoadTest(folder));

    /// <summary>Loads the 60,000 training images from <paramref name="folder"/>.</summary>
    public static LabeledImages LoadTrain(string folder) =>
        Idx.Load(Locate(folder, TrainImagesFile), Locate(folder, TrainLabelsFile), ClassNames.Count, ClassNames);

    /// <summary>Loads the 10,000 test images from <paramref name="folder"/>; the training files need not be there.</summary>
    public static LabeledImages LoadTest(string folder) =>
        Idx.Load(Locate(folder, TestImagesFile), Locate(folder, TestLabelsFile), ClassNames.Count, ClassNames);

    /// <summary>Images of the t10k split that <see cref="LoadDividedTestSplit"/> keeps for testing; the other 8,000 are for training.</summary>
    public const int DividedTestImages = 2000;

    /// <summary>
    /// The t10k split alone, divided into a training set (its first 8,000 images) and a test set (its last
    /// <see cref="DividedTestImages"/>): what to train on when only the test split is at hand, as in the repository's
    /// <see cref="ShippedFolder"/>. t10k is in random order, so its last 2,000 images are a fair test set for a model
    /// trained on the others. A smaller split (a subset someone made) keeps its last fifth for testing; under five
    /// images, the test set is empty.
    /// </summary>
    /// <exception cref="FileNotFoundException">The t10k files are missing; the message lists the names looked for.</exception>
    public static (LabeledImages Train, LabeledImages Test) LoadDividedTestSplit(string folder)
    {
        LabeledImages split = LoadTest(folder);
        return split.SplitLast(Math.Min(DividedTestImages, split.Count / 5));
    }

    /// <summary>
    /// The folder of the full data set (train and test), or null when there is none: the folder named by
    /// <see cref="EnvironmentVariable"/> if it is set; otherwise the repository's <see cref="ShippedFolder"/>, looked for
    /// from the application's base directory upwards, when it holds all four files; otherwise
    /// <see cref="DebianPackageFolder"/> if it does.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The environment variable is set but its folder lacks the files (a typo should not silently fall back).</exception>
    public static string? FindFullDataset()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            if (!HasFullDataset(fromEnvironment))
                throw new DirectoryNotFoundException(
                    $"{EnvironmentVariable} is set to '{fromEnvironment}', but that folder does not hold the four Fashion-MNIST files " +
                    $"({TrainImagesFile}, {TrainLabelsFile}, {TestImagesFile}, {TestLabelsFile}, each optionally .gz). Fix the path or unset the variable.");
            return Path.GetFullPath(fromEnvironment);
        }
        string? shipped = FindShipped(null, HasFullDataset);
        if (shipped is not null) return shipped;
        return HasFullDataset(DebianPackageFolder) ? DebianPackageFolder : null;
    }

    /// <summary>
    /// The folder of the test split shipped with the repository: looks for <see cref="ShippedFolder"/> in
    /// <paramref name="startDirectory"/> (default: the application's base directory) and each folder above it, so
    /// tests and samples find it from their build output. Null when not found.
    /// </summary>
    public static string? FindShippedTestSplit(string? startDirectory = null) =>
        FindShipped(startDirectory, candidate => Find(candidate, TestImagesFile) is not null && Find(candidate, TestLabelsFile) is not null);

    private static string? FindShipped(string? startDirectory, Func<string, bool> complete)
    {
        for (DirectoryInfo? dir = new(startDirectory ?? AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, ShippedFolder);
            if (complete(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>Whether <paramref name="folder"/> holds all four files (each plain or <c>.gz</c>).</summary>
    public static bool HasFullDataset(string folder) =>
        Find(folder, TrainImagesFile) is not null && Find(folder, TrainLabelsFile) is not null &&
        Find(folder, TestImagesFile) is not null && Find(folder, TestLabelsFile) is not null;

    private static string? Find(string folder, string stem)
    {
        // Prefer the uncompressed file when both exist: same content, faster to read.
        string plain = Path.Combine(folder, stem);
        if (File.Exists(plain)) return plain;
        string gzip = plain + ".gz";
        return File.Exists(gzip) ? gzip : null;
    }

    private static string Locate(string folder, string stem)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"Fashion-MNIST folder '{folder}' does not exist.");
        return Find(folder, stem) ?? throw new FileNotFoundException(
            $"Fashion-MNIST file '{stem}' (or '{stem}.gz') is not in '{folder}'. The test split ships in {ShippedFolder}/; " +
            $"for the training split install the Debian package dataset-fashion-mnist or download the files from " +
            "https://github.com/zalandoresearch/fashion-mnist and keep their standard names.",
            Path.Combine(folder, stem));
    }
}
