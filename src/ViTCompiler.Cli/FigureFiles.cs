using ViTCompiler.Plots;

namespace ViTCompiler.Cli;

/// <summary>Where <c>vit explain</c> and <c>vit inspect</c> put their pictures and tables.</summary>
internal sealed class FigureFiles
{
    private readonly HashSet<string> _stems = new(StringComparer.Ordinal);

    /// <summary>Creates <paramref name="folder"/> if needed.</summary>
    public FigureFiles(string folder)
    {
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CliException.File($"cannot create the output folder '{folder}': {e.Message}", e);
        }
        Folder = folder;
    }

    public string Folder { get; }

    /// <summary>The path of <paramref name="name"/> inside the output folder.</summary>
    public string PathOf(string name) => Path.Combine(Folder, name);

    /// <summary>A file-name stem for <paramref name="imagePath"/> that no earlier image took (a.png and x/a.png → a, a-2).</summary>
    public string StemFor(string imagePath)
    {
        string stem = Path.GetFileNameWithoutExtension(imagePath);
        if (stem.Length == 0) stem = "image";
        string unique = stem;
        for (int i = 2; !_stems.Add(unique); i++) unique = $"{stem}-{i}";
        return unique;
    }

    /// <summary>Draws <paramref name="figure"/> into <paramref name="name"/> and returns the path.</summary>
    public string Save(Figure figure, string name)
    {
        string path = PathOf(name);
        figure.SavePng(path);
        return path;
    }

    /// <summary>Writes a text file (CSV, JSON) into <paramref name="name"/> and returns the path.</summary>
    public string Write(string name, string text)
    {
        string path = PathOf(name);
        File.WriteAllText(path, text);
        return path;
    }
}
