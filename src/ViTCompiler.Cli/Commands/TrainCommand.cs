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
        // The defaults are the library's Fashion-MNIST recipe, which the FashionMnist sample trains with too; with --from,
        // the paper's fine-tuning recipe (§3.2, TrainerOptions.FineTuning).
        TrainerOptions recipe = TrainerOptions.FashionMnist;
        var data = new Option<string>("--data", "-d") { Description = "Training data: a folder of IDX files (Fashion-MNIST layout) or of class subfolders of images; the model gets the data's classes.", HelpName = "DIR", Required = true };
        var test = new Option<string>("--test") { Description = "Evaluate on this folder after each epoch (default: the IDX t10k split, or 10% of an image folder held out).", HelpName = "DIR" };
        Option<string> preset = CommonOptions.Preset(required: false);
        preset.Description += " Default fashion-mnist; not with --from.";
        var from = new Option<string>("--from") { Description = "Fine-tune these pre-trained weights (any format --weights reads): the encoder is carried over, the head replaced by a zero one for the data's classes; SGD recipe by default.", HelpName = "WEIGHTS" };
        Option<string> fromConfig = CommonOptions.Config();
        Option<int?> heads = CommonOptions.Heads();
        var imageSize = new Option<int?>("--image-size") { Description = "With --from: fine-tune at this image size, the position embeddings interpolated from the pre-trained grid (paper §3.2).", HelpName = "PIXELS" };
        var epochs = new Option<int?>("--epochs", "-e") { Description = $"Passes over the training data (default {recipe.Epochs}; with --from {FineTuneEpochs}).", HelpName = "N" };
        var steps = new Option<long?>("--steps") { Description = "Train exactly this many updates instead (overrides --epochs).", HelpName = "N" };
        var batch = new Option<int?>("--batch", "-b") { Description = $"Images per update (default {recipe.BatchSize}; with --from {FineTuneBatch}, or the training set's size when smaller).", HelpName = "N" };
        var lr = new Option<float?>("--lr") { Description = string.Create(CultureInfo.InvariantCulture, $"Peak learning rate (default {recipe.LearningRate} with AdamW; with --from {FineTuneLearningRate} with SGD; cosine decay after a short warm-up)."), HelpName = "RATE" };
        var optimizer = new Option<string>("--optimizer") { Description = "adamw (default) or sgd (momentum 0.9, no weight decay: the paper's fine-tuning, the default with --from).", HelpName = "NAME" };
        var accumulate = new Option<int?>("--accumulate") { Description = $"Split each update's batch into K micro-batches: the same update in less memory (default 1; with --from, micro-batches of at most {FineTuneMicroBatch}).", HelpName = "K" };
        optimizer.AcceptOnlyFromAmong("adamw", "sgd");
        var seed = new Option<ulong?>("--seed") { Description = "Seeds the initialisation, shuffling, augmentation and dropout (default 0).", HelpName = "N" };
        var output = new Option<string>("--out", "-o") { Description = "Checkpoint written after every epoch and at the end (default: vit-<preset>.safetensors, vit-finetuned.safetensors with --from; with --resume, that file).", HelpName = "FILE" };
        var resume = new Option<string>("--resume") { Description = "Continue the run saved in this checkpoint, with its settings unless flags given now change them.", HelpName = "FILE" };
        var logEvery = new Option<int?>("--log-every") { Description = $"Steps between progress lines and metrics records (default {recipe.LogEverySteps}).", HelpName = "N" };
        var metrics = new Option<string>("--metrics") { Description = "Append JSON-lines metrics (loss, accuracy, learning rate per interval and epoch) to this file.", HelpName = "FILE" };
        var normalize = new Option<string>("--normalize") { Description = "Input normalisation: fashion-mnist (default for grey models), google (default for RGB), imagenet or none; with --from, what the weights record.", HelpName = "NAME" };
        normalize.AcceptOnlyFromAmong(InputPreprocessing.NormalizationNames);
        Option<int?> threads = CommonOptions.Threads();
        Option<bool> json = CommonOptions.Json();
        var command = new Command("train", "Train a compiled preset, or fine-tune pre-trained weights, on Fashion-MNIST-style IDX files or an image folder; checkpoints resume exactly.")
        {
            data, test, preset, from, fromConfig, heads, imageSize, epochs, steps, batch, accumulate, lr, optimizer, seed, output, resume, metrics, logEvery, normalize, threads, json,
        };
        command.SetAction(parse => context.Run(() =>
        {
            // Under mpirun/srun every rank runs this; rank 0 alone prints and writes (docs/DISTRIBUTED.md).
            ICommunicator ranks = MpiCommunicator.FromEnvironment();
            CliContext quiet = ranks.Rank == 0 ? context : new CliContext(TextWriter.Null, TextWriter.Null);
            string? resumePath = parse.GetValue(resume), fromPath = parse.GetValue(from), presetName = parse.GetValue(preset);
            if (fromPath is not null && presetName is not null)
                throw CliException.Usage("--preset and --from both name the model: give --from to fine-tune those weights, or --preset to train from scratch.");
            if (fromPath is not null && resumePath is not null)
                throw CliException.Usage("--from starts a new fine-tuning run and --resume continues one; the checkpoint of a fine-tuning run resumes with --resume alone.");
            if (parse.GetValue(imageSize) is int && fromPath is null)
                throw CliException.Usage("--image-size changes the resolution of pre-trained weights: give it with --from (a preset's image size is compiled in).");
            if (resumePath is not null && !File.Exists(resumePath)) throw CliException.File($"checkpoint '{resumePath}' does not exist.");
            OptimizerKind? optimizerKind = parse.GetValue(optimizer) switch { "sgd" => OptimizerKind.Sgd, "adamw" => OptimizerKind.AdamW, _ => null };

            // The encoder: a preset's, the pre-trained weights' (at --image-size), or the resumed checkpoint's.
            Pretrained? pretrained = fromPath is null ? null : Pretrained.Open(fromPath, parse.GetValue(fromConfig), parse.GetValue(heads), parse.GetValue(imageSize), parse.GetValue(normalize), quiet);
            CompiledModel? compiled = pretrained is null ? Presets.Get(presetName ?? "fashion-mnist") : null;
            VitConfig config = resumePath is not null ? VitCheckpoint.ReadConfig(resumePath) : pretrained?.Target ?? compiled!.Config;

            TrainerOptions fresh = pretrained is null
                ? recipe with // a new run: the recipe, adapted to the preset (no crops on very small images, Google's normalisation for RGB)
                {
                    CropPadding = config.ImageSize >= 16 ? recipe.CropPadding : 0,
                    Normalization = config.Channels == 1 ? recipe.Normalization : ChannelNormalization.Google,
                    WeightDecay = optimizerKind == OptimizerKind.Sgd ? 0 : recipe.WeightDecay,
                }
                : FineTuneRecipe(config, pretrained.Normalization);
            fresh = fresh with
            {
                CheckpointPath = parse.GetValue(output) ?? resumePath ?? (pretrained is null ? $"vit-{compiled!.Preset}.safetensors" : "vit-finetuned.safetensors"),
                MetricsPath = parse.GetValue(metrics),
                LogEverySteps = parse.GetValue(logEvery) is int every ? CommonOptions.Positive(every, "--log-every") : fresh.LogEverySteps,
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
            // A resumed run continues with the settings its checkpoint recorded, so a plain --resume replays it exactly.
            TrainerOptions options = flags.ApplyTo(resumePath is null ? fresh : Trainer.ReadSettings(resumePath, fresh));

            (LabeledImages train, LabeledImages? testSet, string description) = TrainingData.ForTraining(parse.GetValue(data)!, parse.GetValue(test), config, options.Seed, quiet);
            quiet.Note($"data: {description}: {train.Count:N0} training and {testSet?.Count ?? 0:N0} test images, {train.Classes} classes.");
            if (resumePath is null)
            {
                // The head's width follows the data (compiled models take it at run time).
                config = config with { Classes = train.Classes };
                if (pretrained is not null) options = FitFineTuning(options, flags, train.Count, quiet);
            }
            else if (train.Classes != config.Classes)
            {
                throw CliException.Usage($"the checkpoint '{resumePath}' has a {config.Classes}-class head but '{parse.GetValue(data)}' has {train.Classes} classes; resume on the data it was trained on.");
            }

            IVitTrainable model = compiled is not null && compiled.Runs(config)
                ? compiled.Create(options.Seed, config.Classes)
                : ModelFactory.Create(config, options.Seed, quiet, out _);
            if (pretrained is not null)
            {
                FineTuning.TransferWeights(pretrained.Weights, model);
                quiet.Note($"fine-tuning '{pretrained.Path}' ({pretrained.Weights.Config.ImageSize} px) at {config.ImageSize} px: encoder carried over" +
                             (pretrained.Weights.Config.GridSize != config.GridSize ? $", position embeddings interpolated from {pretrained.Weights.Config.GridSize}² to {config.GridSize}²" : "") +
                             $", new zero head for {config.Classes} classes.");
            }
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

    /// <summary>The paper's fine-tuning batch (§3.2, appendix B.1.1).</summary>
    private const int FineTuneBatch = 512;
    /// <summary>
    /// Images per forward-backward pass when fine-tuning: the 512-image batch is accumulated from micro-batches of at most
    /// this size, so its activations need the memory of 32 images, and the update is the same. (ViT-B/16 at 384 px keeps
    /// about 0.53 GB per image for the backward pass: 17 GB for 32 images, 270 GB for 512; ViT-Ti/16 at 384, 0.13 GB.)
    /// </summary>
    private const int FineTuneMicroBatch = 32;
    private const float FineTuneLearningRate = 0.01f;

    private const int FineTuneEpochs = 5, FineTuneCropPadding = 2, FineTuneLogEvery = 20;

    /// <summary>
    /// The paper's fine-tuning recipe (SGD, momentum 0.9, no weight decay, clipping at 1, warm-up then cosine) at its batch
    /// of 512 for 5 epochs, with the pre-trained weights' normalisation, 2-pixel random crops (none under 16 px) and flips:
    /// a few thousand images of a new task over-fit where the from-scratch recipe's two epochs of 60,000 under-fit.
    /// </summary>
    private static TrainerOptions FineTuneRecipe(VitConfig config, ChannelNormalization normalization) =>
        TrainerOptions.FineTuning(FineTuneLearningRate, steps: 0, FineTuneBatch) with
        {
            Epochs = FineTuneEpochs,
            MinLearningRate = 0,
            CropPadding = config.ImageSize >= 16 ? FineTuneCropPadding : 0,
            HorizontalFlip = true,
            Normalization = normalization,
            LogEverySteps = FineTuneLogEvery,
        };

    /// <summary>
    /// Sizes the fine-tuning run to the data: a batch no larger than the training set (unless --batch says), and a
    /// warm-up of a tenth of the run (the paper warms up, then decays with a cosine).
    /// </summary>
    private static TrainerOptions FitFineTuning(TrainerOptions options, TrainerOverrides flags, int images, CliContext context)
    {
        if (flags.BatchSize is null && options.BatchSize > images)
        {
            context.Note($"the training set has {images:N0} images, fewer than the fine-tuning batch of {options.BatchSize}; using batches of {images:N0}.");
            options = options with { BatchSize = images };
        }
        if (flags.Accumulate is null)
            options = options with { Accumulate = (options.BatchSize + FineTuneMicroBatch - 1) / FineTuneMicroBatch };
        long stepsPerEpoch = Math.Max(1, images / options.BatchSize);
        long total = options.MaxSteps > 0 ? options.MaxSteps : options.Epochs * stepsPerEpoch;
        return options with { WarmupSteps = total / 10 };
    }

    /// <summary>Pre-trained weights for <c>--from</c>, loaded at their own size, and the configuration to fine-tune.</summary>
    private sealed record Pretrained(string Path, IVitWeights Weights, VitConfig Target, ChannelNormalization Normalization)
    {
        public static Pretrained Open(string path, string? configPath, int? heads, int? imageSize, string? normalize, CliContext context)
        {
            ResolvedWeights resolved = ResolvedWeights.Open(path, configPath, heads, imageSize, context);
            ChannelNormalization normalization = InputPreprocessing.For(resolved.Source, resolved.Config, normalize, context).Normalization;
            // Loaded at the file's own size: FineTuning.TransferWeights interpolates the position embeddings.
            return new Pretrained(path, resolved.LoadStoredParameters(), resolved.Config, normalization);
        }
    }

    /// <summary>The data set's class names for the model's outputs (the head has the data's classes).</summary>
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
