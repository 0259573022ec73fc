using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ViTCompiler.Data;
using ViTCompiler.Training;

namespace ViTCompiler.Cli.Commands;

/// <summary>
/// <c>vit probe</c>: few-shot linear evaluation (paper §4.1) of pre-trained weights: frozen pre-logits features of K
/// images per class, a closed-form regularised least-squares fit to {−1, 1} targets, accuracy on held-out images.
/// </summary>
internal static class ProbeCommand
{
    public static Command Create(CliContext context)
    {
        Option<string> weights = CommonOptions.Weights(required: true);
        var data = new Option<string>("--data", "-d") { Description = "Labelled images: a folder of class subfolders, or IDX files (shots from the training split, tested on t10k).", HelpName = "DIR", Required = true };
        var test = new Option<string>("--test") { Description = "Evaluate on this folder (default: the images of --data not picked as shots).", HelpName = "DIR" };
        var shots = new Option<int>("--shots", "-k") { Description = "Labelled images per class to fit on (the paper reports 1, 5, 10 and 25).", DefaultValueFactory = _ => 10, HelpName = "K" };
        var l2 = new Option<double>("--l2") { Description = string.Create(CultureInfo.InvariantCulture, $"Regularisation λ of the least-squares fit (default {LinearProbe.DefaultRegularization})."), DefaultValueFactory = _ => LinearProbe.DefaultRegularization, HelpName = "LAMBDA" };
        var seed = new Option<ulong>("--seed") { Description = "Which images are the shots (default 0).", HelpName = "N" };
        Option<string> normalize = CommonOptions.Normalize();
        Option<string> config = CommonOptions.Config();
        Option<int?> heads = CommonOptions.Heads();
        Option<int?> imageSize = CommonOptions.ImageSize();
        Option<int?> threads = CommonOptions.Threads();
        Option<bool> json = CommonOptions.Json();
        var command = new Command("probe", "Few-shot linear evaluation: fit a closed-form linear classifier to frozen features of K images per class, report held-out accuracy.")
        {
            weights, data, test, shots, l2, seed, normalize, config, heads, imageSize, threads, json,
        };
        command.SetAction(parse => context.Run(() =>
        {
            int k = CommonOptions.Positive(parse.GetValue(shots), "--shots");
            double lambda = parse.GetValue(l2);
            if (!(lambda >= 0) || !double.IsFinite(lambda)) throw CliException.Usage($"--l2 must be zero or a positive number (got {lambda}).");
            var clock = Stopwatch.StartNew();
            ResolvedWeights resolved = ResolvedWeights.Open(parse.GetValue(weights)!, parse.GetValue(config), parse.GetValue(heads), parse.GetValue(imageSize), context);
            ChannelNormalization normalization = InputPreprocessing.For(resolved.Source, resolved.Config, parse.GetValue(normalize), context).Normalization;

            // The data: shots from the training images; held out, the --test folder, the IDX t10k split, or the other images.
            string folder = parse.GetValue(data)!;
            string? testFolder = parse.GetValue(test);
            (LabeledImages pool, LabeledImages? given, string description) = TrainingData.ForProbe(folder, testFolder, resolved.Config, context);
            (int[] fit, int[] held) = SelectShots(pool, k, parse.GetValue(seed), folder);
            LabeledImages shotImages = pool.Select(fit);
            LabeledImages heldOut = given ?? pool.Select(held);
            if (heldOut.Count == 0) throw CliException.Usage($"'{folder}' has no images left to evaluate after {k} shots per class; give --test or fewer --shots.");

            // Features through the same encoder with an identity head of width Hidden (the head's width is a run-time choice).
            VitConfig extractorConfig = resolved.Config with { Classes = resolved.Config.Hidden };
            IVitTrainable extractor = ModelFactory.Create(extractorConfig, 0, context, out _);
            LinearProbe.MakeFeatureExtractor(resolved.LoadParameters(), extractor);
            CommonOptions.ApplyThreads(extractor, parse.GetValue(threads));
            int d = extractorConfig.Hidden;
            float[] trainFeatures = LinearProbe.Features(extractor, shotImages, normalization);
            float[] testFeatures = LinearProbe.Features(extractor, heldOut, normalization);
            LinearProbeModel probe;
            try
            {
                probe = LinearProbe.Fit(trainFeatures, d, shotImages.Labels, pool.Classes, lambda);
            }
            catch (ArgumentException e)
            {
                throw CliException.Usage(e.Message);
            }
            int correct = probe.Correct(testFeatures, heldOut.Labels);
            double accuracy = (double)correct / heldOut.Count;
            double seconds = clock.Elapsed.TotalSeconds;

            if (parse.GetValue(json))
            {
                context.WriteJsonLine(new ProbeJson(resolved.Source.Path, k, pool.Classes, d, lambda, shotImages.Count, heldOut.Count, correct,
                    Math.Round(accuracy, 6), Math.Round(seconds, 3), pool.ClassNames), CliJsonContext.Default.ProbeJson);
            }
            else
            {
                context.Output.WriteLine($"{description}: {pool.Classes} classes{(pool.ClassNames is { Count: <= 20 } names ? $" ({string.Join(", ", names)})" : "")}");
                context.Output.WriteLine(string.Format(CultureInfo.InvariantCulture,
                    "{0}-shot linear probe on {1}-dimensional features (λ = {2}): accuracy {3:0.00}% ({4:N0}/{5:N0} held-out images); {6:0.0} s",
                    k, d, lambda, 100 * accuracy, correct, heldOut.Count, seconds));
            }
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static (int[] Fit, int[] Held) SelectShots(LabeledImages pool, int shots, ulong seed, string folder)
    {
        try
        {
            return LinearProbe.SelectShots(pool, shots, seed);
        }
        catch (ArgumentException e)
        {
            throw CliException.Usage($"'{folder}': {e.Message.Split(" (Parameter")[0]}");
        }
    }
}
