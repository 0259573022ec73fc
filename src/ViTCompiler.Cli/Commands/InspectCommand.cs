using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ViTCompiler.Analysis;
using ViTCompiler.Data;
using ViTCompiler.Plots;

namespace ViTCompiler.Cli.Commands;

/// <summary>
/// <c>vit inspect --weights FILE --out DIR [--images DIR]</c>: the paper's Fig. 7 panels for a trained model — the
/// principal components of the patch-embedding filters, the similarity of the position embeddings and, over a set of
/// images, the mean attention distance of every head against depth — as PNGs with the numbers behind them.
/// </summary>
internal static class InspectCommand
{
    // Images per forward pass while measuring attention distance (the capture is layers × heads × tokens² per image).
    private const int ChunkSize = 8;

    public static Command Create(CliContext context)
    {
        Option<string> weights = CommonOptions.Weights(required: true);
        Option<string> config = CommonOptions.Config();
        Option<int?> heads = CommonOptions.Heads();
        Option<int?> threads = CommonOptions.Threads();
        Option<bool> json = CommonOptions.Json();
        Option<string> normalize = CommonOptions.Normalize();
        Option<string> output = CommonOptions.Out();
        var images = new Option<string>("--images", "-i")
        {
            Description = "Images to measure attention distance on, as vit eval --data takes them: an IDX folder (its t10k split) or a folder of class subfolders.",
            HelpName = "DIR",
        };
        var maxImages = new Option<int>("--max-images") { Description = "Use at most this many of --images (the first ones).", DefaultValueFactory = _ => 1000, HelpName = "N" };
        var components = new Option<int>("--components") { Description = "Principal components of the embedding filters to draw.", DefaultValueFactory = _ => EmbeddingFilters.PaperComponents, HelpName = "K" };

        var command = new Command("inspect", "Draw what a trained model learned (paper Fig. 7): embedding filters, position-embedding similarity, attention distance.")
        {
            weights, config, heads, output, images, maxImages, components, normalize, threads, json,
        };
        command.SetAction(parse => context.Run(() => Run(context, parse.GetValue(weights)!, parse.GetValue(config), parse.GetValue(heads), parse.GetValue(output)!,
            parse.GetValue(images), parse.GetValue(maxImages), parse.GetValue(components), parse.GetValue(normalize), parse.GetValue(threads), parse.GetValue(json))));
        return command;
    }

    private static int Run(CliContext context, string weightsPath, string? configPath, int? heads, string outFolder, string? imagesFolder, int maxImages,
        int componentCount, string? normalize, int? threads, bool json)
    {
        CommonOptions.Positive(maxImages, "--max-images");
        CommonOptions.Positive(componentCount, "--components");
        ResolvedWeights resolved = ResolvedWeights.Open(weightsPath, configPath, heads, null, context);
        VitConfig config = resolved.Config;
        // Without images nothing runs: load the weights alone, without building (or packing for) an engine.
        IVitClassifier? engine = imagesFolder is null ? null : resolved.LoadModel(context);
        IVitWeights model = engine ?? resolved.LoadParameters();
        if (engine is not null) CommonOptions.ApplyThreads(engine, threads);
        var files = new FigureFiles(outFolder);

        FilterComponents filters = EmbeddingFilters.PrincipalComponents(model.Config, model.Parameters, componentCount);
        string filtersPng = files.Save(AnalysisFigures.EmbeddingFilters(filters), "embedding-filters.png");
        string filtersCsv = files.Write("embedding-filters.csv", FiltersCsv(filters));

        PositionSimilarity similarity = PositionSimilarity.Compute(model.Config, model.Parameters);
        PositionSimilaritySummary summary = similarity.Summarize();
        string similarityPng = files.Save(AnalysisFigures.PositionSimilarity(similarity), "position-similarity.png");
        string similarityCsv = files.Write("position-similarity.csv", SimilarityCsv(similarity));

        AttentionDistance? distance = null;
        string? distancePng = null, distanceCsv = null;
        if (engine is not null)
        {
            distance = MeasureDistance(context, engine, resolved, imagesFolder!, maxImages, normalize);
            distancePng = files.Save(AnalysisFigures.AttentionDistance(distance.Mean(), distance.Images, AttentionDistance.UniformDistance(config)), "attention-distance.png");
            distanceCsv = files.Write("attention-distance.csv", DistanceCsv(distance.Mean()));
        }

        AttentionDistanceJson? distanceJson = null;
        if (distance is not null)
        {
            double[,] mean = distance.Mean();
            double[][] pixels = new double[mean.GetLength(0)][];
            for (int l = 0; l < pixels.Length; l++)
            {
                pixels[l] = new double[mean.GetLength(1)];
                for (int h = 0; h < pixels[l].Length; h++) pixels[l][h] = Math.Round(mean[l, h], 4);
            }
            distanceJson = new AttentionDistanceJson(distance.Images, pixels, Math.Round(AttentionDistance.UniformDistance(config), 4), distancePng!, distanceCsv!);
        }
        string report = CliContext.Json(new InspectJson(
            resolved.Source.Path,
            config.ToString(),
            new EmbeddingFiltersJson(filters.Count, Enumerable.Range(0, filters.Count).Select(c => Math.Round(filters.ExplainedRatio(c), 6)).ToArray(), filtersPng, filtersCsv),
            new PositionSimilarityJson(Math.Round(summary.SameRowOrColumn, 6), Math.Round(summary.Elsewhere, 6), Math.Round(summary.NearestInRowOrColumn, 6),
                Math.Round(summary.ChanceNearestInRowOrColumn, 6), similarityPng, similarityCsv),
            distanceJson), CliJsonContext.Default.InspectJson);
        string reportPath = files.Write("inspect.json", report + "\n");

        if (json)
        {
            context.Output.WriteLine(report);
            return ExitCodes.Ok;
        }
        var text = CultureInfo.InvariantCulture;
        context.Output.WriteLine(config.ToString());
        context.Output.WriteLine(string.Format(text, "embedding filters: {0} principal components of {1} filters; the first three explain {2} of the variance",
            filters.Count, config.Hidden, string.Join(", ", Enumerable.Range(0, Math.Min(3, filters.Count)).Select(c => (100 * filters.ExplainedRatio(c)).ToString("0.#", text) + "%"))));
        context.Output.WriteLine($"  {filtersPng}, {filtersCsv}");
        context.Output.WriteLine(string.Format(text,
            "position embeddings: mean cosine similarity {0:0.000} within a row or column, {1:0.000} elsewhere; the most similar other position shares the row or column for {2:0.#}% of positions (chance {3:0.#}%)",
            summary.SameRowOrColumn, summary.Elsewhere, 100 * summary.NearestInRowOrColumn, 100 * summary.ChanceNearestInRowOrColumn));
        context.Output.WriteLine($"  {similarityPng}, {similarityCsv}");
        if (distance is not null)
        {
            double[,] mean = distance.Mean();
            context.Output.WriteLine(string.Format(text, "mean attention distance over {0:N0} images (pixels; lowest and highest head per layer; attention spread evenly would give {1:0.0}):",
                distance.Images, AttentionDistance.UniformDistance(config)));
            for (int l = 0; l < mean.GetLength(0); l++)
            {
                double low = double.MaxValue, high = double.MinValue, sum = 0;
                for (int h = 0; h < mean.GetLength(1); h++)
                {
                    low = Math.Min(low, mean[l, h]);
                    high = Math.Max(high, mean[l, h]);
                    sum += mean[l, h];
                }
                context.Output.WriteLine(string.Format(text, "  layer {0,2}: mean {1,6:0.0}, heads {2:0.0} to {3:0.0}", l + 1, sum / mean.GetLength(1), low, high));
            }
            context.Output.WriteLine($"  {distancePng}, {distanceCsv}");
        }
        else
        {
            context.Output.WriteLine("attention distance: not measured (pass --images DIR to measure it over a set of images)");
        }
        context.Output.WriteLine($"summary: {reportPath}");
        return ExitCodes.Ok;
    }

    private static AttentionDistance MeasureDistance(CliContext context, IVitClassifier model, ResolvedWeights resolved, string folder, int maxImages, string? normalize)
    {
        VitConfig config = model.Config;
        ChannelNormalization normalization = InputPreprocessing.For(resolved.Source, config, normalize, context).Normalization;
        (LabeledImages all, string description) = TrainingData.ForEvaluation(folder, config, context);
        if (all.Channels != config.Channels || all.Height != config.ImageSize || all.Width != config.ImageSize)
            throw CliException.Usage($"{description} holds {all.Channels}-channel {all.Height}×{all.Width} images; the model takes {config.Channels}-channel {config.ImageSize}×{config.ImageSize} ones.");
        LabeledImages images = all.Slice(0, Math.Min(maxImages, all.Count));
        int chunk = Math.Min(ChunkSize, images.Count);
        var batcher = new ImageBatcher(images, BatcherOptions.Evaluation(chunk, normalization));
        float[] pixels = new float[batcher.FloatsPerBatch];
        int[] labels = new int[chunk];
        float[] logits = new float[chunk * config.Classes];
        int perImage = AttentionMaps.FloatsPerImage(config);
        float[] attention = new float[checked(chunk * perImage)];
        var distance = new AttentionDistance(config);
        while (batcher.TryNextBatch(pixels, labels, out int count))
        {
            model.Forward(pixels.AsSpan(0, count * config.PixelsPerImage), count, logits.AsSpan(0, count * config.Classes), attention.AsSpan(0, count * perImage));
            distance.Add(attention.AsSpan(0, count * perImage), count);
        }
        return distance;
    }

    private static string FiltersCsv(FilterComponents filters)
    {
        var csv = new StringBuilder("component,variance,explained_ratio");
        for (int c = 0; c < filters.Channels; c++)
            for (int y = 0; y < filters.Patch; y++)
                for (int x = 0; x < filters.Patch; x++) csv.Append(CultureInfo.InvariantCulture, $",c{c}_y{y}_x{x}");
        csv.Append('\n');
        for (int k = 0; k < filters.Count; k++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{k + 1},{filters.Variance(k):R},{filters.ExplainedRatio(k):R}");
            foreach (double v in filters.Component(k)) csv.Append(CultureInfo.InvariantCulture, $",{v:R}");
            csv.Append('\n');
        }
        return csv.ToString();
    }

    private static string SimilarityCsv(PositionSimilarity similarity)
    {
        var csv = new StringBuilder("query_row,query_column,key_row,key_column,cosine\n");
        int g = similarity.GridSize;
        for (int q = 0; q < similarity.Positions; q++)
            for (int k = 0; k < similarity.Positions; k++)
                csv.Append(CultureInfo.InvariantCulture, $"{q / g + 1},{q % g + 1},{k / g + 1},{k % g + 1},{similarity[q, k]:0.######}\n");
        return csv.ToString();
    }

    private static string DistanceCsv(double[,] mean)
    {
        var csv = new StringBuilder("layer,head,mean_distance_pixels\n");
        for (int l = 0; l < mean.GetLength(0); l++)
            for (int h = 0; h < mean.GetLength(1); h++) csv.Append(CultureInfo.InvariantCulture, $"{l + 1},{h + 1},{mean[l, h]:0.####}\n");
        return csv.ToString();
    }
}
