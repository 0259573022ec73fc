using System.CommandLine;
using System.Globalization;
using ViTCompiler.Analysis;
using ViTCompiler.Imaging;
using ViTCompiler.Plots;
using ViTCompiler.Serving;
using ImagePreprocessing = ViTCompiler.Imaging.ImagePreprocessing;

namespace ViTCompiler.Cli.Commands;

/// <summary>
/// <c>vit explain IMAGE… --weights FILE --out DIR</c>: where the model looked — per image, the attention rollout over
/// the image and the [class] token's attention in each head of one layer, as pictures (paper Fig. 6, Appendix D.8).
/// </summary>
internal static class ExplainCommand
{
    // Images per forward pass: the attention capture is layers × heads × tokens² floats per image (22 MB for ViT-B/16).
    private const int ChunkSize = 4;

    public static Command Create(CliContext context)
    {
        var images = new Argument<string[]>("IMAGE") { Description = "Image files (PNG, JPEG, BMP, GIF, WebP, TIFF, TGA, PBM/PGM/PPM).", Arity = ArgumentArity.OneOrMore };
        Option<string> weights = CommonOptions.Weights(required: true);
        Option<string> config = CommonOptions.Config();
        Option<int?> heads = CommonOptions.Heads();
        Option<int?> imageSize = CommonOptions.ImageSize();
        Option<int?> threads = CommonOptions.Threads();
        Option<bool> json = CommonOptions.Json();
        Option<string> normalize = CommonOptions.Normalize();
        Option<string> output = CommonOptions.Out();
        var top = new Option<int>("--top", "-k") { Description = "How many classes to report per image.", DefaultValueFactory = _ => 5, HelpName = "K" };
        var layer = new Option<int?>("--layer") { Description = "Layer whose heads to draw, 1 to the model's depth (default: the last).", HelpName = "L" };

        var command = new Command("explain", "Draw where the model looks: attention rollout over each image and the [class] token's attention per head.")
        {
            images, weights, config, heads, imageSize, output, layer, top, normalize, threads, json,
        };
        command.SetAction(parse => context.Run(() => Run(context, parse.GetValue(images)!, parse.GetValue(weights)!, parse.GetValue(config),
            parse.GetValue(heads), parse.GetValue(imageSize), parse.GetValue(output)!, parse.GetValue(layer), parse.GetValue(top),
            parse.GetValue(normalize), parse.GetValue(threads), parse.GetValue(json))));
        return command;
    }

    private static int Run(CliContext context, string[] paths, string weightsPath, string? configPath, int? heads, int? imageSize, string outFolder,
        int? layerOption, int top, string? normalize, int? threads, bool json)
    {
        CommonOptions.Positive(top, "--top");
        var classifier = ImageClassifier.Open(context, weightsPath, configPath, heads, imageSize, normalize, threads);
        VitConfig config = classifier.Config;
        int layer = layerOption ?? config.Layers;
        if (layer < 1 || layer > config.Layers) throw CliException.Usage($"--layer must be between 1 and the model's {config.Layers} layers (got {layer}).");
        ImagePreprocessing preprocessing = classifier.Preprocessing;
        IVitClassifier model = classifier.Model;
        IReadOnlyList<string>? names = classifier.Names;
        int k = Math.Min(top, config.Classes);
        var files = new FigureFiles(outFolder);

        int perImage = AttentionMaps.FloatsPerImage(config);
        float[] pixels = new float[ChunkSize * config.PixelsPerImage];
        float[] logits = new float[ChunkSize * config.Classes];
        float[] attention = new float[checked(ChunkSize * perImage)];
        foreach (ImageBatch batch in classifier.Batches(paths, ChunkSize, pixels, "explain"))
        {
            model.Forward(pixels.AsSpan(0, batch.Count * config.PixelsPerImage), batch.Count, logits.AsSpan(0, batch.Count * config.Classes),
                attention.AsSpan(0, batch.Count * perImage));
            for (int i = 0; i < batch.Count; i++)
            {
                string path = batch.Paths[i];
                ReadOnlySpan<float> captured = attention.AsSpan(i * perImage, perImage);
                (int Index, double Probability)[] best = Predictions.TopK(logits.AsSpan(i * config.Classes, config.Classes), k);
                string predicted = $"{ClassNames.Name(names, best[0].Index)} ({best[0].Probability * 100:0.#}%)";

                PatchMap rollout = AttentionMaps.Rollout(config, captured);
                var input = InputImage.FromModelInput(pixels.AsSpan(i * config.PixelsPerImage, config.PixelsPerImage), config, preprocessing.Normalization);
                string stem = files.StemFor(path);
                string name = Path.GetFileName(path);
                string rolloutFile = files.Save(AnalysisFigures.Rollout(rollout, input, $"{name}: {predicted}"), stem + ".rollout.png");
                string what = config.HasClassToken ? "[class] token's attention" : "mean attention of all tokens";
                string headsFile = files.Save(AnalysisFigures.HeadMaps(AttentionMaps.Heads(config, captured, layer - 1), $"{name}: {what}, layer {layer}"),
                    stem + ".heads.png");

                if (json) WriteJson(context, path, best, names, layer, rollout, rolloutFile, headsFile);
                else
                {
                    context.Output.WriteLine(path);
                    context.Output.WriteLine($"  predicted {predicted}");
                    context.Output.WriteLine($"  rollout: {rolloutFile}");
                    context.Output.WriteLine($"  heads (layer {layer}): {headsFile}");
                }
            }
        }
        return classifier.ExitCode;
    }

    private static void WriteJson(CliContext context, string path, (int Index, double Probability)[] best, IReadOnlyList<string>? names, int layer,
        PatchMap rollout, string rolloutFile, string headsFile)
    {
        double[][] rows = new double[rollout.Rows][];
        for (int r = 0; r < rollout.Rows; r++)
        {
            rows[r] = new double[rollout.Columns];
            for (int c = 0; c < rollout.Columns; c++) rows[r][c] = Math.Round(rollout[r, c], 6);
        }
        context.WriteJsonLine(new ExplainJson(path, ClassifyCommand.Scores(best, names), rows, layer, rolloutFile, headsFile), CliJsonContext.Default.ExplainJson);
    }
}
