using System.CommandLine;
using System.Globalization;
using ViTCompiler.Data;
using ViTCompiler.Training;

namespace ViTCompiler.Cli.Commands;

/// <summary><c>vit eval</c>: accuracy and loss of a trained model on labelled images.</summary>
internal static class EvalCommand
{
    public static Command Create(CliContext context)
    {
        Option<string> weights = CommonOptions.Weights(required: true);
        var data = new Option<string>("--data", "-d") { Description = "Labelled images: an IDX folder (its t10k split) or a folder of class subfolders.", HelpName = "DIR", Required = true };
        var batch = new Option<int>("--batch", "-b") { Description = "Images per forward pass.", DefaultValueFactory = _ => 256, HelpName = "N" };
        var flip = new Option<bool>("--flip") { Description = "Average each image's logits with its mirror image's (test-time flip; twice the forward passes)." };
        Option<string> normalize = CommonOptions.Normalize();
        Option<string> config = CommonOptions.Config();
        Option<int?> heads = CommonOptions.Heads();
        Option<int?> threads = CommonOptions.Threads();
        Option<bool> json = CommonOptions.Json();
        var command = new Command("eval", "Measure a model's accuracy and cross-entropy loss on labelled images.")
        {
            weights, data, batch, flip, normalize, config, heads, threads, json,
        };
        command.SetAction(parse => context.Run(() =>
        {
            int batchSize = CommonOptions.Positive(parse.GetValue(batch), "--batch");
            ResolvedWeights resolved = ResolvedWeights.Open(parse.GetValue(weights)!, parse.GetValue(config), parse.GetValue(heads), null, context);
            ChannelNormalization normalization = InputPreprocessing.For(resolved.Source, resolved.Config, parse.GetValue(normalize), context).Normalization;
            (LabeledImages images, string description) = TrainingData.ForEvaluation(parse.GetValue(data)!, resolved.Config, context);
            IReadOnlyList<string>? names = ClassNames.For(resolved.Config, resolved.Source.Labels);
            images = TrainingData.InModelOrder(images, names, parse.GetValue(data)!);
            IVitTrainable model = resolved.LoadModel(context, inferenceOnly: true);
            CommonOptions.ApplyThreads(model, parse.GetValue(threads));
            bool testTimeFlip = parse.GetValue(flip);
            EvaluationResult result = new Evaluator(images, normalization, Math.Min(batchSize, images.Count), testTimeFlip).Evaluate(model);
            if (parse.GetValue(json))
            {
                context.WriteJsonLine(new EvalJson(resolved.Source.Path, result.Images, result.Correct, Math.Round(result.Accuracy, 6),
                    Math.Round(result.Loss, 6), testTimeFlip), CliJsonContext.Default.EvalJson);
            }
            else
            {
                context.Output.WriteLine($"{description}: {images.Count:N0} images");
                if (names is not null && names.Count <= 20) context.Output.WriteLine($"classes: {string.Join(", ", names)}");
                context.Output.WriteLine(string.Format(CultureInfo.InvariantCulture, "accuracy {0:0.00}% ({1:N0}/{2:N0}), loss {3:0.0000}{4}", 100 * result.Accuracy, result.Correct, result.Images, result.Loss,
                    testTimeFlip ? " (each image averaged with its mirror image)" : ""));
            }
            return ExitCodes.Ok;
        }));
        return command;
    }
}
