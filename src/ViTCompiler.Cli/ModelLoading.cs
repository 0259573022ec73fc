using ViTCompiler.Imaging;
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

    /// <summary>
    /// Builds the fastest engine for <see cref="Config"/> and loads the weights into it. An
    /// <paramref name="inferenceOnly"/> compiled model keeps its weight matrices only in packed form once it has run
    /// (<see cref="CompiledVit.InferenceOnly"/>): one copy of the weights in memory, but no <c>Parameters</c> to read.
    /// </summary>
    public IVitTrainable LoadModel(CliContext context, bool inferenceOnly = false)
    {
        IVitTrainable model = ModelFactory.Create(Config, 0, context, out _);
        if (model is CompiledVit compiled) compiled.InferenceOnly = inferenceOnly;
        Weights.Load(Source.Path, model, Options);
        return model;
    }

    /// <summary>Loads the weights as stored, at the file's own configuration (<c>--image-size</c> not applied), into a bare parameter block.</summary>
    public IVitWeights LoadStoredParameters()
    {
        var model = new WeightsOnlyModel(Source.Config);
        Weights.Load(Source.Path, model);
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

/// <summary>
/// A model ready to take image files, as <c>classify</c> and <c>explain</c> need it: the weights resolved and loaded into
/// the fastest engine, the preprocessing they call for, the class names, and the files read in chunks.
/// </summary>
internal sealed class ImageClassifier
{
    private readonly CliContext _context;
    private readonly ImageLoader _loader;

    private ImageClassifier(CliContext context, ResolvedWeights weights, Imaging.ImagePreprocessing preprocessing, IVitTrainable model)
    {
        _context = context;
        Weights = weights;
        Preprocessing = preprocessing;
        Model = model;
        Names = ClassNames.For(weights.Config, weights.Source.Labels);
        _loader = new ImageLoader(preprocessing);
    }

    public ResolvedWeights Weights { get; }
    public VitConfig Config => Weights.Config;
    public Imaging.ImagePreprocessing Preprocessing { get; }
    public IVitTrainable Model { get; }
    /// <summary>Class names (the file's, or ImageNet's for 1000 classes), or null.</summary>
    public IReadOnlyList<string>? Names { get; }
    /// <summary>Files <see cref="Batches"/> could not read (each reported on stderr as it happened).</summary>
    public int Failed { get; private set; }

    public static ImageClassifier Open(CliContext context, string weightsPath, string? configPath, int? heads, int? imageSize, string? normalize, int? threads)
    {
        ResolvedWeights resolved = ResolvedWeights.Open(weightsPath, configPath, heads, imageSize, context);
        Imaging.ImagePreprocessing preprocessing = InputPreprocessing.For(resolved.Source, resolved.Config, normalize, context);
        IVitTrainable model = resolved.LoadModel(context, inferenceOnly: true); // classify and explain only run it
        Commands.CommonOptions.ApplyThreads(model, threads);
        return new ImageClassifier(context, resolved, preprocessing, model);
    }

    /// <summary>
    /// Reads <paramref name="paths"/> <paramref name="chunkSize"/> at a time into <paramref name="pixels"/>, yielding each
    /// chunk that holds at least one image; a file that cannot be read is reported ("cannot <paramref name="verb"/> …")
    /// and counted in <see cref="Failed"/>, and the rest go on.
    /// </summary>
    public IEnumerable<ImageBatch> Batches(string[] paths, int chunkSize, float[] pixels, string verb)
    {
        for (int start = 0; start < paths.Length; start += chunkSize)
        {
            ImageBatch batch = _loader.LoadBatch(paths[start..Math.Min(paths.Length, start + chunkSize)], pixels);
            foreach (ImageLoadFailure failure in batch.Failures)
            {
                _context.Error.WriteLine($"vit: cannot {verb} '{failure.Path}': {failure.Error}");
                Failed++;
            }
            if (batch.Count > 0) yield return batch;
        }
    }

    /// <summary>The exit code once every chunk was handled: a file problem when any file could not be read.</summary>
    public int ExitCode => Failed == 0 ? ExitCodes.Ok : ExitCodes.FileProblem;
}
