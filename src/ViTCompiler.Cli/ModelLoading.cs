using ViTCompiler.IO;

namespace ViTCompiler.Cli;

/// <summary>A weights file resolved into a configuration, and the options its loading needs.</summary>
/// <param name="Source">What the file says.</param>
/// <param name="Config">The configuration to build: the file's, at <c>--image-size</c> when given.</param>
/// <param name="Options">What the loader may adapt (position-embedding interpolation for another image size).</param>
internal sealed record ResolvedWeights(WeightsDescription Source, VitConfig Config, LoadOptions Options)
{
    /// <summary>Reads <paramref name="path"/>'s description and applies <c>--image-size</c>.</summary>
    public static ResolvedWeights Open(string path, string? configPath, int? heads, int? imageSize, CliContext context)
    {
        if (heads is int h) Commands.CommonOptions.Positive(h, "--heads");
        if (!File.Exists(path) && !Directory.Exists(path)) throw CliException.File($"weights '{path}' do not exist.");
        WeightsDescription source;
        try
        {
            source = Weights.Describe(path, new DescribeOptions { ConfigPath = configPath, Heads = heads });
        }
        catch (ArgumentException e) when (heads is null)
        {
            throw CliException.Usage(e.Message); // only the head count can be missing: --heads gives it
        }
        foreach (string note in source.Notes) context.Note(note);
        VitConfig config = source.Config;
        LoadOptions options = LoadOptions.Default;
        if (imageSize is int size && size != config.ImageSize)
        {
            Commands.CommonOptions.Positive(size, "--image-size");
            if (size % config.Patch != 0)
                throw CliException.Usage($"--image-size {size} is not a multiple of the model's patch size {config.Patch}.");
            config = config with { ImageSize = size };
            if (config.Problem() is string problem) throw CliException.Usage($"--image-size {size} gives an invalid configuration: {problem}.");
            options = new LoadOptions { ResizePositions = true };
        }
        return new ResolvedWeights(source, config, options);
    }

    /// <summary>Builds the fastest engine for <see cref="Config"/> and loads the weights into it.</summary>
    public IVitTrainable LoadModel(CliContext context)
    {
        IVitTrainable model = ModelFactory.Create(Config, 0, context, out _);
        Weights.Load(Source.Path, model, Options);
        return model;
    }

    /// <summary>Loads the weights into a bare parameter block (for conversions).</summary>
    public IVitWeights LoadParameters()
    {
        var model = new WeightsOnlyModel(Config);
        Weights.Load(Source.Path, model, Options);
        return model;
    }
}
