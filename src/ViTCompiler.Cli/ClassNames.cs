using System.Globalization;
using ViTCompiler.Data;

namespace ViTCompiler.Cli;

/// <summary>Class names for a model's outputs.</summary>
internal static class ClassNames
{
    private static string[]? s_imageNet;

    /// <summary>
    /// The ImageNet-1k class names in the standard class order (index = output of a 1000-class ImageNet head): the
    /// short names of the Keras/PyTorch class index, with underscores as spaces.
    /// </summary>
    public static IReadOnlyList<string> ImageNet => s_imageNet ??= LoadImageNet();

    /// <summary>
    /// Names for <paramref name="config"/>'s outputs: the file's own when it records them, the ImageNet-1k names for a
    /// 1000-class head, the Fashion-MNIST names for a 10-class grey model, otherwise null (classes are shown by number).
    /// </summary>
    public static IReadOnlyList<string>? For(VitConfig config, IReadOnlyList<string>? fromFile)
    {
        if (fromFile is not null && fromFile.Count == config.Classes) return fromFile;
        if (config.Classes == 1000) return ImageNet;
        if (config.Classes == 10 && config.Channels == 1) return FashionMnist.ClassNames;
        return null;
    }

    /// <summary>The name of class <paramref name="index"/>, or "class N".</summary>
    public static string Name(IReadOnlyList<string>? names, int index) =>
        names is not null && index < names.Count ? names[index] : "class " + index.ToString(CultureInfo.InvariantCulture);

    private static string[] LoadImageNet()
    {
        using Stream stream = typeof(ClassNames).Assembly.GetManifestResourceStream("ViTCompiler.Cli.imagenet-1k.txt")
            ?? throw new InvalidOperationException("The ImageNet class names are missing from vit's resources.");
        using var reader = new StreamReader(stream);
        string[] names = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length != 1000) throw new InvalidOperationException($"vit's ImageNet class list has {names.Length} names, not 1000.");
        return names;
    }
}
