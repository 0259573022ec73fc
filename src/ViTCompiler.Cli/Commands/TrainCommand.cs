using System.CommandLine;
using System.Globalization;
using ViTCompiler.Data;
using ViTCompiler.IO;
using ViTCompiler.Training;

namespace ViTCompiler.Cli.Commands;

/// <summary><c>vit train</c>: trains a compiled preset on an IDX or image folder with the library's Trainer.</summary>
internal static class TrainCommand
{
    public static Command Create(CliContext context)
    {
        var data = new Option<string>("--data", "-d") { Description = "Training data: a folder of IDX files (Fashion-MNIST layout) or of class subfolders of images.", HelpName = "DIR", Required = true };
        var test = new Option<string>("--test") { Description = "Evaluate on this folder after each epoch (default: the IDX t10k split, or 10% of an image folder held out).", HelpName = "DIR" };
        Option<string> preset = CommonOptions.Preset(required: false);
        preset.DefaultValueFactory = _ => "fashion-mnist";
        var epochs = new Option<int>("--epochs", "-e") { Description = "Passes over the training data.", DefaultValueFactory = _ => 3, HelpName = "N" };
        var steps = new Option<long?>("--steps") { Description = "Train exactly this many updates instead (overrides --epochs).", HelpName = "N" };
        var batch = new Option<int>("--batch", "-b") { Description = "Images per update.", DefaultValueFactory = _ => 128, HelpName = "N" };
        var lr = new Option<float>("--lr") { Description = "Peak learning rate (AdamW, cosine decay after a short warm-up).", DefaultValueFactory = _ => 2e-3f, HelpName = "RATE" };
        var optimizer = new Option<string>("--optimizer") { Description = "adamw (default) or sgd (momentum 0.9, the paper's fine-tuning).", DefaultValueFactory = _ => "adamw", HelpName = "NAME" };
        optimizer.AcceptOnlyFromAmong("adamw", "sgd");
        var seed = new Option<ulong>("--seed") { Description = "Seeds the initialisation, shuffling, augmentation and dropout.", DefaultValueFactory = _ => 0UL, HelpName = "N" };
        var output = new Option<string>("--out", "-o") { Description = "Checkpoint written after every epoch and at the end (default: vit-<preset>.safetensors; with --resume, that file).", HelpName = "FILE" };
        var resume = new Option<string>("--resume") { Description = "Continue the run saved in this checkpoint, with its settings unless flags given now change them.", HelpName = "FILE" };
        var metrics = new Option<string>("--metrics") { Description = "Append JSON-lines metrics (loss, accuracy, learning rate per interval and epoch) to this file.", HelpName = "FILE" };
        var normalize = new Option<string>("--normalize") { Description = "Input normalisation: fashion-mnist (default for grey models), google (default for RGB), imagenet or none.", HelpName = "NAME" };
        normalize.AcceptOnlyFromAmong(InputPreprocessing.NormalizationNames);
        Option<int?> threads = CommonOptions.Threads();
        Option<bool> json = CommonOptions.Json();
        var command = new Command("train", "Train a compiled preset on Fashion-MNIST-style IDX files or an image folder; checkpoints resume exactly.")
        {
            data, test, preset, epochs, steps, batch, lr, optimizer, seed, output, resume, metrics, normalize, threads, json,
        };
        command.SetAction(parse => context.Run(() =>
        {
            CompiledModel compiled = Presets.Get(parse.GetValue(preset)!);
            VitConfig config = compiled.Config;
            string? resumePath = parse.GetValue(resume);
            string checkpoint = parse.GetValue(output) ?? resumePath ?? $"vit-{compiled.Preset}.safetensors";
            bool Given(Option option) => parse.GetResult(option) is { Implicit: false };

            var options = new TrainerOptions
            {
                Epochs = CommonOptions.Positive(parse.GetValue(epochs), "--epochs"),
                BatchSize = CommonOptions.Positive(parse.GetValue(batch), "--batch"),
                LearningRate = parse.GetValue(lr),
                Optimizer = parse.GetValue(optimizer) == "sgd" ? OptimizerKind.Sgd : OptimizerKind.AdamW,
                WarmupSteps = 20,
                MinLearningRate = 1e-5f,
                Decay = LearningRateDecay.Cosine,
                WeightDecay = parse.GetValue(optimizer) == "sgd" ? 0f : 0.05f,
                GradientClipNorm = 1f,
                LabelSmoothing = 0.05f,
                CropPadding = config.ImageSize >= 16 ? 2 : 0,
                HorizontalFlip = true,
                Seed = parse.GetValue(seed),
                Normalization = parse.GetValue(normalize) is string n ? InputPreprocessing.Named(n)
                    : config.Channels == 1 ? ChannelNormalization.FashionMnist : ChannelNormalization.Google,
                LogEverySteps = 20,
                Progress = ReferenceEquals(context.Error, Console.Error) && !Console.IsErrorRedirected ? ProgressDisplay.Bar : ProgressDisplay.Lines,
            };
            if (parse.GetValue(steps) is long s) options = options with { MaxSteps = s > 0 ? s : throw CliException.Usage($"--steps must be a positive number (got {s}).") };
            if (!(options.LearningRate > 0) || !float.IsFinite(options.LearningRate)) throw CliException.Usage($"--lr must be a positive number (got {options.LearningRate}).");
            if (resumePath is not null)
            {
                if (!File.Exists(resumePath)) throw CliException.File($"checkpoint '{resumePath}' does not exist.");
                // The run's own settings, so that a plain --resume continues it exactly; flags given now win.
                TrainerOptions saved = Trainer.ReadSettings(resumePath, options);
                options = saved with
                {
                    Epochs = Given(epochs) ? options.Epochs : saved.Epochs,
                    MaxSteps = Given(steps) ? options.MaxSteps : Given(epochs) ? 0 : saved.MaxSteps,
                    BatchSize = Given(batch) ? options.BatchSize : saved.BatchSize,
                    LearningRate = Given(lr) ? options.LearningRate : saved.LearningRate,
                    Optimizer = Given(optimizer) ? options.Optimizer : saved.Optimizer,
                    Seed = Given(seed) ? options.Seed : saved.Seed,
                    Normalization = Given(normalize) ? options.Normalization : saved.Normalization,
                };
            }
            options = options with { CheckpointPath = checkpoint, MetricsPath = parse.GetValue(metrics), Threads = parse.GetValue(threads) is int t ? CommonOptions.Positive(t, "--threads") : null };

            (LabeledImages train, LabeledImages? testSet, string description) = TrainingData.ForTraining(parse.GetValue(data)!, parse.GetValue(test), config, options.Seed, context);
            context.Note($"data: {description}: {train.Count:N0} training and {testSet?.Count ?? 0:N0} test images.");

            IVitTrainable model = compiled.Create(options.Seed);
            using var trainer = new Trainer(model, train, testSet, options, context.Error);
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
                context.Note($"resumed '{resumePath}' at step {trainer.Step:N0} of {trainer.TotalSteps:N0}" +
                             (changed.Count == 0 ? "." : $" with changed settings: {string.Join("; ", changed)}."));
            }
            TrainingResult result;
            try
            {
                using ConsoleCancellation ctrlC = ConsoleCancellation.Install(context.Error);
                result = trainer.Run(ctrlC.Token);
            }
            catch (TrainingDivergedException e)
            {
                throw new CliException(ExitCodes.TrainingDiverged, e.Message, e);
            }

            if (result.Checkpoint is not null) Annotate(result.Checkpoint, ClassNamesOf(train, config), options.Normalization);
            Report(context, result, parse.GetValue(json));
            return result.Cancelled ? ExitCodes.Interrupted : ExitCodes.Ok;
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

    private static void Report(CliContext context, TrainingResult r, bool json)
    {
        if (json)
        {
            context.WriteJsonLine(w =>
            {
                w.WriteNumber("steps", r.Step);
                w.WriteNumber("total_steps", r.TotalSteps);
                w.WriteBoolean("completed", r.Completed);
                w.WriteBoolean("cancelled", r.Cancelled);
                if (double.IsFinite(r.TrainLoss)) w.WriteNumber("train_loss", Math.Round(r.TrainLoss, 6));
                w.WriteNumber("train_accuracy", Math.Round(r.TrainAccuracy, 6));
                if (r.Test is EvaluationResult t)
                {
                    w.WriteNumber("test_images", t.Images);
                    w.WriteNumber("test_accuracy", Math.Round(t.Accuracy, 6));
                    w.WriteNumber("test_loss", Math.Round(t.Loss, 6));
                }
                w.WriteNumber("images_per_second", Math.Round(r.ImagesPerSecond, 3));
                w.WriteNumber("elapsed_seconds", Math.Round(r.ElapsedSeconds, 3));
                if (r.Checkpoint is not null) w.WriteString("checkpoint", r.Checkpoint);
            });
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
