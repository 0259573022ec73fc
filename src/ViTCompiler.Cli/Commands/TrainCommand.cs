using System.CommandLine;
using System.Globalization;
using ViTCompiler.Data;
using ViTCompiler.Distributed;
using ViTCompiler.IO;
using ViTCompiler.Training;

namespace ViTCompiler.Cli.Commands;

/// <summary><c>vit train</c>: trains a compiled preset on an IDX or image folder with the library's Trainer.</summary>
internal static class TrainCommand
{
    public static Command Create(CliContext context)
    {
        // The defaults are the library's Fashion-MNIST recipe, which the FashionMnist sample trains with too.
        TrainerOptions recipe = TrainerOptions.FashionMnist;
        var data = new Option<string>("--data", "-d") { Description = "Training data: a folder of IDX files (Fashion-MNIST layout) or of class subfolders of images.", HelpName = "DIR", Required = true };
        var test = new Option<string>("--test") { Description = "Evaluate on this folder after each epoch (default: the IDX t10k split, or 10% of an image folder held out).", HelpName = "DIR" };
        Option<string> preset = CommonOptions.Preset(required: false);
        preset.DefaultValueFactory = _ => "fashion-mnist";
        var epochs = new Option<int?>("--epochs", "-e") { Description = $"Passes over the training data (default {recipe.Epochs}).", HelpName = "N" };
        var steps = new Option<long?>("--steps") { Description = "Train exactly this many updates instead (overrides --epochs).", HelpName = "N" };
        var batch = new Option<int?>("--batch", "-b") { Description = $"Images per update (default {recipe.BatchSize}).", HelpName = "N" };
        var accumulate = new Option<int?>("--accumulate") { Description = "Split each update's batch into K micro-batches: the same update in less memory (default 1).", HelpName = "K" };
        var lr = new Option<float?>("--lr") { Description = string.Create(CultureInfo.InvariantCulture, $"Peak learning rate (default {recipe.LearningRate}; AdamW, cosine decay after a short warm-up)."), HelpName = "RATE" };
        var optimizer = new Option<string>("--optimizer") { Description = "adamw (default) or sgd (momentum 0.9, no weight decay: the paper's fine-tuning).", HelpName = "NAME" };
        optimizer.AcceptOnlyFromAmong("adamw", "sgd");
        var seed = new Option<ulong?>("--seed") { Description = "Seeds the initialisation, shuffling, augmentation and dropout (default 0).", HelpName = "N" };
        var output = new Option<string>("--out", "-o") { Description = "Checkpoint written after every epoch and at the end (default: vit-<preset>.safetensors; with --resume, that file).", HelpName = "FILE" };
        var resume = new Option<string>("--resume") { Description = "Continue the run saved in this checkpoint, with its settings unless flags given now change them.", HelpName = "FILE" };
        var logEvery = new Option<int?>("--log-every") { Description = $"Steps between progress lines and metrics records (default {recipe.LogEverySteps}).", HelpName = "N" };
        var metrics = new Option<string>("--metrics") { Description = "Append JSON-lines metrics (loss, accuracy, learning rate per interval and epoch) to this file.", HelpName = "FILE" };
        var normalize = new Option<string>("--normalize") { Description = "Input normalisation: fashion-mnist (default for grey models), google (default for RGB), imagenet or none.", HelpName = "NAME" };
        normalize.AcceptOnlyFromAmong(InputPreprocessing.NormalizationNames);
        Option<int?> threads = CommonOptions.Threads();
        Option<bool> json = CommonOptions.Json();
        var command = new Command("train", "Train a compiled preset on Fashion-MNIST-style IDX files or an image folder; checkpoints resume exactly.")
        {
            data, test, preset, epochs, steps, batch, accumulate, lr, optimizer, seed, output, resume, metrics, logEvery, normalize, threads, json,
        };
        command.SetAction(parse => context.Run(() =>
        {
            // Under mpirun/srun every rank runs this; rank 0 alone prints and writes (docs/DISTRIBUTED.md).
            ICommunicator ranks = MpiCommunicator.FromEnvironment();
            CliContext quiet = ranks.Rank == 0 ? context : new CliContext(TextWriter.Null, TextWriter.Null);
            CompiledModel compiled = Presets.Get(parse.GetValue(preset)!);
            VitConfig config = compiled.Config;
            string? resumePath = parse.GetValue(resume);
            OptimizerKind? optimizerKind = parse.GetValue(optimizer) switch { "sgd" => OptimizerKind.Sgd, "adamw" => OptimizerKind.AdamW, _ => null };

            // A new run: the recipe, adapted to the preset (no crops on very small images, Google's normalisation for RGB).
            TrainerOptions fresh = recipe with
            {
                CropPadding = config.ImageSize >= 16 ? recipe.CropPadding : 0,
                Normalization = config.Channels == 1 ? recipe.Normalization : ChannelNormalization.Google,
                WeightDecay = optimizerKind == OptimizerKind.Sgd ? 0 : recipe.WeightDecay,
                CheckpointPath = parse.GetValue(output) ?? resumePath ?? $"vit-{compiled.Preset}.safetensors",
                MetricsPath = parse.GetValue(metrics),
                LogEverySteps = parse.GetValue(logEvery) is int every ? CommonOptions.Positive(every, "--log-every") : recipe.LogEverySteps,
                Threads = parse.GetValue(threads) is int count ? CommonOptions.Positive(count, "--threads") : null,
            };
            var flags = new TrainerOverrides
            {
                Epochs = parse.GetValue(epochs) is int passes ? CommonOptions.Positive(passes, "--epochs") : null,
                MaxSteps = parse.GetValue(steps) is long updates ? (updates > 0 ? updates : throw CliException.Usage($"--steps must be a positive number (got {updates}).")) : null,
                BatchSize = parse.GetValue(batch) is int images ? CommonOptions.Positive(images, "--batch") : null,
                Accumulate = parse.GetValue(accumulate) is int parts ? CommonOptions.Positive(parts, "--accumulate") : null,
                LearningRate = parse.GetValue(lr) is float rate ? (rate > 0 && float.IsFinite(rate) ? rate : throw CliException.Usage($"--lr must be a positive number (got {rate}).")) : null,
                Optimizer = optimizerKind,
                Seed = parse.GetValue(seed),
                Normalization = parse.GetValue(normalize) is string name ? InputPreprocessing.Named(name) : null,
            };
            if (resumePath is not null && !File.Exists(resumePath)) throw CliException.File($"checkpoint '{resumePath}' does not exist.");
            // A resumed run continues with the settings its checkpoint recorded, so a plain --resume replays it exactly.
            TrainerOptions options = flags.ApplyTo(resumePath is null ? fresh : Trainer.ReadSettings(resumePath, fresh));

            (LabeledImages train, LabeledImages? testSet, string description) = TrainingData.ForTraining(parse.GetValue(data)!, parse.GetValue(test), config, options.Seed, quiet);
            quiet.Note($"data: {description}: {train.Count:N0} training and {testSet?.Count ?? 0:N0} test images.");

            IVitTrainable model = compiled.Create(options.Seed);
            using var trainer = new Trainer(model, train, testSet, options, new ConsoleProgress(context.Error), ranks);
            if (resumePath is not null)
            {
                IReadOnlyList<string> changed;
                try
                {
                    changed = trainer.Resume(resumePath, allowChangedSettings: true);
                }
                catch (InvalidOperationException e)
                {
                    // The run changed something its saved state depends on (batch size, augmentation, optimiser, data).
                    throw CliException.Usage(e.Message);
                }
                quiet.Note($"resumed '{resumePath}' at step {trainer.Step:N0} of {trainer.TotalSteps:N0}" +
                             (changed.Count == 0 ? "." : $" with changed settings: {string.Join("; ", changed)}."));
            }
            TrainingResult result;
            // Ctrl-C and SIGTERM both stop after the current step with a checkpoint, until the report is written.
            using ConsoleCancellation stop = ConsoleCancellation.Install(quiet.Error);
            try
            {
                result = trainer.Run(stop.Token);
            }
            catch (TrainingDivergedException e)
            {
                throw new CliException(ExitCodes.TrainingDiverged, e.Message, e);
            }

            if (result.Checkpoint is not null && ranks.Rank == 0) Annotate(result.Checkpoint, ClassNamesOf(train, config), options.Normalization);
            Report(quiet, result, parse.GetValue(json), ranks.Size);
            (ranks as IDisposable)?.Dispose(); // MPI_Finalize: every rank got here
            return !result.Cancelled ? ExitCodes.Ok : stop.Signal == System.Runtime.InteropServices.PosixSignal.SIGTERM ? ExitCodes.Terminated : ExitCodes.Interrupted;
        }));
        return command;
    }

    /// <summary>The data set's class names for the model's outputs (padded with "class N" when the head is wider).</summary>
    private static IReadOnlyList<string>? ClassNamesOf(LabeledImages images, VitConfig config)
    {
        if (images.ClassNames is not IReadOnlyList<string> names) return null;
        return Enumerable.Range(0, config.Classes).Select(i => i < names.Count ? names[i] : ClassNames.Name(null, i)).ToArray();
    }

    /// <summary>
    /// Adds the class names and the normalisation to the trainer's checkpoint, so that <c>vit classify</c> and
    /// <c>vit convert</c> can use it on its own; the trainer's state (optimiser, batcher, step) is kept, so it still resumes.
    /// </summary>
    private static void Annotate(string path, IReadOnlyList<string>? labels, ChannelNormalization normalization)
    {
        VitCheckpoint checkpoint = VitCheckpoint.Load(path);
        checkpoint.Metadata[CheckpointMetadata.ImageMean] = CheckpointMetadata.FloatsText(normalization.Mean);
        checkpoint.Metadata[CheckpointMetadata.ImageStd] = CheckpointMetadata.FloatsText(normalization.Std);
        if (labels is not null) checkpoint.Metadata[CheckpointMetadata.Labels] = CheckpointMetadata.LabelsJson(labels);
        checkpoint.Save(path);
    }

    private static void Report(CliContext context, TrainingResult r, bool json, int ranks)
    {
        if (json)
        {
            EvaluationResult? t = r.Test;
            context.WriteJsonLine(new TrainJson(r.Step, r.TotalSteps, r.Completed, r.Cancelled,
                double.IsFinite(r.TrainLoss) ? Math.Round(r.TrainLoss, 6) : null, Math.Round(r.TrainAccuracy, 6),
                t?.Images, t is null ? null : Math.Round(t.Value.Accuracy, 6), t is null ? null : Math.Round(t.Value.Loss, 6),
                Math.Round(r.ImagesPerSecond, 3), Math.Round(r.ElapsedSeconds, 3), r.Checkpoint, ranks), CliJsonContext.Default.TrainJson);
            return;
        }
        TextWriter o = context.Output;
        o.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0} after {1:N0} of {2:N0} steps: train loss {3:0.0000}, accuracy {4:0.0}%{5}; {6:N0} images/s",
            r.Completed ? "finished" : "stopped", r.Step, r.TotalSteps, r.TrainLoss, 100 * r.TrainAccuracy,
            r.Test is EvaluationResult t2 ? string.Format(CultureInfo.InvariantCulture, "; test accuracy {0:0.00}% ({1:N0} images), loss {2:0.0000}", 100 * t2.Accuracy, t2.Images, t2.Loss) : "",
            r.ImagesPerSecond));
        if (r.Checkpoint is not null) o.WriteLine($"checkpoint: {r.Checkpoint}" + (r.Completed ? "" : $" (continue with: vit train --resume {r.Checkpoint} …)"));
    }
}
