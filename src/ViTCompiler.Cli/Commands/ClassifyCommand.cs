using System.CommandLine;
using System.Globalization;
using ViTCompiler.Imaging;
using ViTCompiler.Serving;
using ImagePreprocessing = ViTCompiler.Imaging.ImagePreprocessing;

namespace ViTCompiler.Cli.Commands;

/// <summary><c>vit classify IMAGE… --weights FILE</c>: top-k classes of each image.</summary>
internal static class ClassifyCommand
{
    // Images per forward pass: enough to keep the GEMMs' row blocks full, small enough that ViT-L's activations stay modest.
    private const int ChunkSize = 8;

    public static Command Create(CliContext context)
    {
        var images = new Argument<string[]>("IMAGE") { Description = "Image files (PNG, JPEG, BMP, GIF, WebP, TIFF, TGA, PBM/PGM/PPM).", Arity = ArgumentArity.OneOrMore };
        Option<string> weights = CommonOptions.Weights(required: true);
        Option<string> config = CommonOptions.Config();
        Option<int?> heads = CommonOptions.Heads();
        Option<int?> imageSize = CommonOptions.ImageSize();
        Option<int?> threads = CommonOptions.Threads();
        Option<bool> json = CommonOptions.Json();
        var top = new Option<int>("--top", "-k") { Description = "How many classes to print per image.", DefaultValueFactory = _ => 5, HelpName = "K" };
        Option<string> normalize = CommonOptions.Normalize();

        var command = new Command("classify", "Classify images with a trained model and print the top classes with their probabilities.")
        {
            images, weights, config, heads, imageSize, top, normalize, threads, json,
        };
        command.SetAction(parse => context.Run(() => Run(context, parse.GetValue(images)!, parse.GetValue(weights)!, parse.GetValue(config),
            parse.GetValue(heads), parse.GetValue(imageSize), parse.GetValue(top), parse.GetValue(normalize), parse.GetValue(threads), parse.GetValue(json))));
        return command;
    }

    private static int Run(CliContext context, string[] paths, string weightsPath, string? configPath, int? heads, int? imageSize, int top,
        string? normalize, int? threads, bool json)
    {
        CommonOptions.Positive(top, "--top");
        var classifier = ImageClassifier.Open(context, weightsPath, configPath, heads, imageSize, normalize, threads);
        VitConfig config = classifier.Config;
        IVitClassifier model = classifier.Model;
        IReadOnlyList<string>? names = classifier.Names;
        int k = Math.Min(top, config.Classes);

        float[] pixels = new float[ChunkSize * config.PixelsPerImage];
        float[] logits = new float[ChunkSize * config.Classes];
        foreach (ImageBatch batch in classifier.Batches(paths, ChunkSize, pixels, "classify"))
        {
            model.Forward(pixels.AsSpan(0, batch.Count * config.PixelsPerImage), batch.Count, logits.AsSpan(0, batch.Count * config.Classes));
            for (int i = 0; i < batch.Count; i++)
            {
                (int Index, double Probability)[] best = Predictions.TopK(logits.AsSpan(i * config.Classes, config.Classes), k);
                if (json) WriteJson(context, batch.Paths[i], best, names);
                else WriteText(context, batch.Paths[i], best, names);
            }
        }
        return classifier.ExitCode;
    }

    private static void WriteText(CliContext context, string path, (int Index, double Probability)[] best, IReadOnlyList<string>? names)
    {
        context.Output.WriteLine(path);
        foreach ((int index, double probability) in best)
            context.Output.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,7:0.00}%  {1} [{2}]", probability * 100, ClassNames.Name(names, index), index));
    }

    private static void WriteJson(CliContext context, string path, (int Index, double Probability)[] best, IReadOnlyList<string>? names) =>
        context.WriteJsonLine(new ClassifyJson(path, Scores(best, names)), CliJsonContext.Default.ClassifyJson);

    /// <summary>The <c>top</c> array of the JSON output (docs/CLI.md): index, label and probability (6 decimals), most probable first.</summary>
    internal static ClassScoreJson[] Scores((int Index, double Probability)[] best, IReadOnlyList<string>? names) =>
        best.Select(b => new ClassScoreJson(b.Index, ClassNames.Name(names, b.Index), Math.Round(b.Probability, 6))).ToArray();
}
