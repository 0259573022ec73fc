using ViTCompiler.Data;
using ViTCompiler.Imaging;
using ImagePreprocessing = ViTCompiler.Imaging.ImagePreprocessing;

namespace ViTCompiler.Cli;

/// <summary>
/// Labelled images for <c>vit train</c> and <c>vit eval</c> from a folder: IDX files in the Fashion-MNIST/MNIST layout
/// (<c>train-images-idx3-ubyte[.gz]</c>, <c>t10k-…</c>), or an image folder with one subfolder per class.
/// </summary>
internal static class TrainingData
{
    /// <summary>Share of an image folder held out for evaluation when no <c>--test</c> folder is given.</summary>
    private const int HoldOutPercent = 10;


    /// <summary>The training set and, when there is one, the set evaluated after each epoch.</summary>
    public static (LabeledImages Train, LabeledImages? Test, string Description) ForTraining(string folder, string? testFolder, VitConfig config, ulong seed, CliContext context)
    {
        RequireFolder(folder);
        if (IsIdx(folder))
        {
            if (FashionMnist.HasFullDataset(folder))
            {
                LabeledImages test = testFolder is null ? FashionMnist.LoadTest(folder) : ForEvaluation(testFolder, config, context).Images;
                return (FashionMnist.LoadTrain(folder), test, $"IDX files in '{folder}' (train and t10k splits)");
            }
            WarnUnpaired(folder, FashionMnist.TrainImagesFile, FashionMnist.TrainLabelsFile, context);
            // Only the t10k split (as data/fashion-mnist ships): its order is random, so its last 2,000 (or fifth) are a fair test set.
            (LabeledImages first, LabeledImages last) = FashionMnist.LoadDividedTestSplit(folder);
            if (last.Count == 0)
            {
                context.Note($"'{folder}' holds only a t10k split of {first.Count} images, too few to hold some out; training on all of them{(testFolder is null ? " without a test set" : "")}.");
                return (first, testFolder is null ? null : ForEvaluation(testFolder, config, context).Images, $"IDX t10k split in '{folder}'");
            }
            context.Note($"'{folder}' holds only the t10k split; training on its first {first.Count:N0} images and testing on the last {last.Count:N0}.");
            return (first, testFolder is null ? last : ForEvaluation(testFolder, config, context).Images, $"IDX t10k split in '{folder}'");
        }

        LabeledImages all = LoadImageFolder(folder, config, context);
        RequireClasses(all, folder);
        if (testFolder is not null)
        {
            LabeledImages tests = ForEvaluation(testFolder, config, context).Images;
            RequireSameClasses(all, folder, tests, testFolder);
            return (all, tests, $"image folder '{folder}', test folder '{testFolder}'");
        }
        int held = all.Count * HoldOutPercent / 100;
        if (held == 0)
        {
            context.Note($"'{folder}' has {all.Count} images, too few to hold some out; training without a test set.");
            return (all, null, $"image folder '{folder}'");
        }
        // The folder is sorted by class: shuffle (deterministically) before splitting, or the test set would be one class.
        int[] order = Enumerable.Range(0, all.Count).ToArray();
        new Random(unchecked((int)seed ^ 0x5EED)).Shuffle(order);
        return (all.Select(order.AsSpan(held)), all.Select(order.AsSpan(0, held)),
            $"image folder '{folder}' ({all.Count - held:N0} for training, {held:N0} held out for testing)");
    }

    /// <summary>
    /// The images <c>vit probe</c> draws its shots from, and the held-out set when there is a separate one: a --test folder,
    /// or an IDX folder's t10k split when it has a training split too; otherwise null (the images not drawn are held out).
    /// </summary>
    public static (LabeledImages Pool, LabeledImages? Test, string Description) ForProbe(string folder, string? testFolder, VitConfig config, CliContext context)
    {
        RequireFolder(folder);
        LabeledImages pool;
        LabeledImages? test = null;
        string description;
        if (IsIdx(folder))
        {
            bool full = FashionMnist.HasFullDataset(folder);
            pool = full ? FashionMnist.LoadTrain(folder) : FashionMnist.LoadTest(folder);
            if (full && testFolder is null) test = FashionMnist.LoadTest(folder);
            description = full ? $"IDX files in '{folder}' (shots from the training split, tested on t10k)" : $"IDX t10k split in '{folder}'";
        }
        else
        {
            pool = LoadImageFolder(folder, config, context);
            RequireClasses(pool, folder);
            description = $"image folder '{folder}'";
        }
        if (testFolder is not null)
        {
            test = ForEvaluation(testFolder, config, context).Images;
            RequireSameClasses(pool, folder, test, testFolder);
            description += $", test folder '{testFolder}'";
        }
        return (pool, test, description);
    }

    /// <summary>The images to evaluate: an IDX folder's t10k split (or its training split when that is all it has), or a whole image folder.</summary>
    public static (LabeledImages Images, string Description) ForEvaluation(string folder, VitConfig config, CliContext context)
    {
        RequireFolder(folder);
        if (IsIdx(folder))
        {
            try
            {
                return (FashionMnist.LoadTest(folder), $"IDX t10k split in '{folder}'");
            }
            catch (FileNotFoundException)
            {
                return (FashionMnist.LoadTrain(folder), $"IDX training split in '{folder}'");
            }
        }
        return (LoadImageFolder(folder, config, context), $"image folder '{folder}'");
    }

    /// <summary>
    /// A training folder needs two classes or more, each with images: the head gets one output per class folder, so an
    /// empty one would be a class the model can never learn, and one class is nothing to tell apart.
    /// </summary>
    private static void RequireClasses(LabeledImages images, string folder)
    {
        IReadOnlyList<string> names = images.ClassNames ?? [];
        int[] counts = images.CountPerClass();
        string[] empty = names.Where((_, i) => counts[i] == 0).ToArray();
        if (empty.Length > 0)
            throw CliException.File($"image folder '{folder}' has class folder{(empty.Length == 1 ? "" : "s")} with no usable images: " +
                                    $"{string.Join(", ", empty.Take(10).Select(n => $"'{n}'"))}{(empty.Length > 10 ? $" and {empty.Length - 10} more" : "")}. " +
                                    "Each class folder becomes an output of the model; add images to it or remove it.");
        if (names.Count < 2)
        {
            string only = names.Count == 1 ? names[0] : "";
            string[] inner = only.Length == 0 ? [] : Directory.GetDirectories(Path.Combine(folder, only)).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();
            throw CliException.File($"image folder '{folder}' has one class folder ('{only}'); a classifier needs at least two, one subfolder per class: {folder}/<class name>/<images>." +
                                    (inner.Length >= 2 ? $" '{only}' itself holds folders ({string.Join(", ", inner.Take(5).Select(n => n + "/"))}): did you mean --data {Path.Combine(folder, only)}?" : ""));
        }
    }

    /// <summary>Training and test folders must name the same classes in the same order, or their labels would mean different things.</summary>
    private static void RequireSameClasses(LabeledImages train, string trainFolder, LabeledImages test, string testFolder)
    {
        IReadOnlyList<string> a = train.ClassNames ?? [], b = test.ClassNames ?? [];
        if (!a.SequenceEqual(b))
            throw CliException.Usage($"the test folder '{testFolder}' has classes ({string.Join(", ", b.Take(10))}) that differ from the training folder '{trainFolder}''s " +
                                     $"({string.Join(", ", a.Take(10))}); both need the same class folders.");
    }

    /// <summary>
    /// An image folder's labels follow its sorted class folders; a model's outputs follow the class names it was trained
    /// with. When both have names and they differ (a folder with fewer classes, or in another order), labels are mapped
    /// by name, and a class the model does not know is an error naming it.
    /// </summary>
    public static LabeledImages InModelOrder(LabeledImages images, IReadOnlyList<string>? modelNames, string folder)
    {
        if (modelNames is null || images.ClassNames is not IReadOnlyList<string> folderNames || folderNames.SequenceEqual(modelNames)) return images;
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < modelNames.Count; i++) index.TryAdd(modelNames[i], i);
        string[] unknown = folderNames.Where(n => !index.ContainsKey(n)).ToArray();
        if (unknown.Length > 0)
            throw CliException.Usage($"'{folder}' has class folder{(unknown.Length == 1 ? "" : "s")} {string.Join(", ", unknown.Take(10).Select(n => $"'{n}'"))} that the model does not know; " +
                                     $"its classes are {string.Join(", ", modelNames.Take(20))}{(modelNames.Count > 20 ? ", …" : "")}.");
        int[] labels = new int[images.Count];
        for (int i = 0; i < labels.Length; i++) labels[i] = index[folderNames[images.Label(i)]];
        return new LabeledImages(images.Pixels.ToArray(), labels, images.Channels, images.Height, images.Width, modelNames.Count, modelNames);
    }

    private static void RequireFolder(string folder)
    {
        if (!Directory.Exists(folder)) throw CliException.File($"data folder '{folder}' does not exist.");
    }

    private static bool IsIdx(string folder) => Has(folder, FashionMnist.TrainImagesFile) || Has(folder, FashionMnist.TestImagesFile);

    private static bool Has(string folder, string stem) => File.Exists(Path.Combine(folder, stem)) || File.Exists(Path.Combine(folder, stem + ".gz"));

    /// <summary>Says so when one file of a split is there without the other: images without labels cannot be trained on.</summary>
    private static void WarnUnpaired(string folder, string images, string labels, CliContext context)
    {
        if (Has(folder, images) && !Has(folder, labels))
            context.Warn($"'{folder}' has {images} but no {labels} (or .gz): those images have no labels and are not used.");
        else if (!Has(folder, images) && Has(folder, labels))
            context.Warn($"'{folder}' has {labels} but no {images} (or .gz): those labels have no images and are not used.");
    }

    private static LabeledImages LoadImageFolder(string folder, VitConfig config, CliContext context)
    {
        // Images are stored as bytes at the model's size; normalisation happens per batch.
        var preprocessing = ImagePreprocessing.Google(config.ImageSize) with { Color = config.Channels == 1 ? ColorMode.Grey : ColorMode.Rgb };
        ImageFolderDataset data = ImageFolder.Load(folder, preprocessing);
        foreach (ImageLoadFailure failure in data.Failures.Take(10)) context.Warn($"skipping '{failure.Path}': {failure.Error}");
        if (data.Failures.Count > 10) context.Warn($"… and {data.Failures.Count - 10} more images that could not be used.");
        // Images beside the class folders have no class, so no label: say so rather than train without them unnoticed.
        string[] unlabelled = Directory.EnumerateFiles(folder).Where(f => ImageFolder.ImageExtensions.Contains(Path.GetExtension(f))).ToArray();
        if (unlabelled.Length > 0)
            context.Warn($"{unlabelled.Length:N0} image{(unlabelled.Length == 1 ? "" : "s")} directly in '{folder}' (e.g. '{Path.GetFileName(unlabelled[0])}') " +
                         "are in no class folder, so have no label, and are not used; move them into <folder>/<class name>/.");
        if (data.Ignored.Count > 0)
            context.Note($"ignored {data.Ignored.Count:N0} file{(data.Ignored.Count == 1 ? "" : "s")} in the class folders that are not images by their extension (e.g. '{data.Ignored[0]}').");
        if (data.Images.Count == 0) throw CliException.File($"image folder '{folder}' has no usable images.");
        return data.Images;
    }
}
