using System.Diagnostics;
using System.Numerics.Tensors;
using ViTCompiler.Data;
using ViTCompiler.Distributed;

namespace ViTCompiler.Training;

/// <summary>One completed update, as <see cref="Trainer.StepCompleted"/> reports it.</summary>
/// <param name="Step">Updates completed, this one included.</param>
/// <param name="Epoch">The epoch the update belonged to (from 0).</param>
/// <param name="LearningRate">The rate it was taken at.</param>
/// <param name="Loss">The batch's mean training loss.</param>
/// <param name="GradientNorm">The global gradient norm before clipping.</param>
/// <param name="Correct">Images of the batch whose highest training logit was their label.</param>
/// <param name="Images">Images in the batch.</param>
public readonly record struct TrainingStepInfo(long Step, int Epoch, float LearningRate, float Loss, double GradientNorm, int Correct, int Images);

/// <summary>How a call to <see cref="Trainer.Run(CancellationToken)"/> ended.</summary>
/// <param name="Step">Updates completed in the whole run (earlier sessions included).</param>
/// <param name="TotalSteps">Updates the run is planned for.</param>
/// <param name="Completed">The run reached <paramref name="TotalSteps"/>.</param>
/// <param name="Cancelled">It stopped early because the token was cancelled.</param>
/// <param name="TrainLoss">Mean training loss over the last epoch (or part of one) trained.</param>
/// <param name="TrainAccuracy">Training accuracy over the same span.</param>
/// <param name="Test">The last evaluation on the test set, if there is a test set and one was run.</param>
/// <param name="ElapsedSeconds">Wall-clock seconds of the run, earlier sessions included.</param>
/// <param name="ImagesPerSecond">Training throughput of this session, evaluation and checkpoints excluded.</param>
/// <param name="Checkpoint">The last checkpoint written or resumed from, or null.</param>
public sealed record TrainingResult(long Step, long TotalSteps, bool Completed, bool Cancelled, double TrainLoss, double TrainAccuracy,
    EvaluationResult? Test, double ElapsedSeconds, double ImagesPerSecond, string? Checkpoint);

/// <summary>
/// Trains an <see cref="IVitWeights"/> on a labelled image set: shuffled, augmented batches from an
/// <see cref="ImageBatcher"/>, <see cref="IVitTrainable.TrainStep"/>, global-norm clipping, an <see cref="Training.Optimizer"/>
/// step on a <see cref="LearningRateSchedule"/>; evaluation every epoch, progress reports, a JSON-lines metrics log, and
/// checkpoints from which a run resumes bit for bit.
/// </summary>
/// <remarks>
/// <para><b>Determinism.</b> Every random number comes from <see cref="TrainerOptions.Seed"/>: the batcher's generator
/// (order and augmentation) and the trainer's own (one dropout seed per step). With the same model initialisation, data,
/// options and thread count, two runs produce the same parameters bit for bit.</para>
/// <para><b>Exact resume.</b> A checkpoint (see <see cref="SaveCheckpoint"/>) is taken between two updates and holds
/// everything the next update depends on: parameters, optimiser moments and step count, the batcher's position and
/// generators, the trainer's generator, the step, and the run-shaping settings (checked on resume). A run resumed with
/// <see cref="Resume"/> therefore continues exactly as the uninterrupted run would have.</para>
/// <para><b>Divergence.</b> The loss and the gradient norm are checked every step, before the optimiser touches the
/// parameters; the parameters, optimiser state and test loss are checked before every checkpoint. A NaN or infinity
/// stops training with a <see cref="TrainingDivergedException"/>, and nothing is written, so the last good checkpoint
/// survives. The trainer cannot continue after that: resume a new one from the checkpoint.</para>
/// <para><b>Stopping.</b> Cancelling the token passed to <see cref="Run(CancellationToken)"/> (e.g. with
/// <see cref="ConsoleCancellation"/> on Ctrl-C or SIGTERM) stops at the next step boundary, after saving a checkpoint when
/// <see cref="TrainerOptions.CheckpointPath"/> is set.</para>
/// <para><b>The checkpoint file.</b> While <see cref="Run(CancellationToken)"/> runs, the checkpoint path is claimed through a
/// lock file beside it (<c>&lt;checkpoint&gt;.lock</c>, holding the process id), so a second run writing the same file fails
/// at its start instead of both overwriting it in turn; the claim also checks, before any training, that the folder is
/// writable. Every save is atomic: the file is always the previous checkpoint or the new one, never a mix.</para>
/// <para><b>Several processes.</b> Given an <see cref="ICommunicator"/> of N ranks (MPI), every rank trains on its share of
/// each global batch of <see cref="TrainerOptions.BatchSize"/>, the gradients are summed across ranks, and every rank takes
/// the same step; rank 0 alone writes checkpoints and metrics and reports progress. The same global batch gives the same
/// training on 1 rank and on N, up to float summation order (docs/DISTRIBUTED.md).</para>
/// <para><b>Progress.</b> The trainer writes nothing to the console: it reports <see cref="TrainingProgress"/> to the
/// <see cref="IProgress{T}"/> given to its constructor, if any; <see cref="ConsoleProgress"/> draws those reports as a
/// progress bar or as lines.</para>
/// </remarks>
public sealed partial class Trainer : IDisposable
{
    private readonly IVitTrainable _model;
    private readonly ImageBatcher _batcher;
    private readonly Evaluator? _evaluator;   // over this rank's share of the test set
    private readonly bool _hasTest;
    private readonly string _testImages;
    private readonly IProgress<TrainingProgress>? _progress;
    private readonly float[] _pixels;
    private readonly int[] _labels;
    private readonly float[] _logits;
    private readonly int _pixelsPerImage;
    private MetricsLog? _metrics;
    private VitRandom _random;
    private long _step;

    // Running sums for the current epoch and the current logging interval (saved in checkpoints so that the metrics of
    // a resumed run match the uninterrupted one's).
    private Span _epochSpan, _intervalSpan, _lastEpochSummary;
    private float _lastLearningRate;
    private double _lastGradientNorm;
    private EvaluationResult? _lastTest;
    private double _previousSessionsSeconds;
    private readonly Stopwatch _session = new();
    private long _sessionImages;
    private double _sessionTrainSeconds;
    private double _lastEvaluationSeconds;

    private volatile bool _checkpointRequested;
    private string? _broken;
    private string? _lastCheckpoint;
    private long _lastCheckpointStep = -1;

    /// <summary>Sums over a span of steps.</summary>
    private struct Span
    {
        public double Loss;          // sum of batch-mean losses × images
        public long Correct, Images;
        public double TrainSeconds;  // time inside training steps only

        public readonly double MeanLoss => Images == 0 ? double.NaN : Loss / Images;
        public readonly double Accuracy => Images == 0 ? 0 : (double)Correct / Images;
        public readonly double ImagesPerSecond => TrainSeconds <= 0 ? 0 : Images / TrainSeconds;
    }

    /// <summary>Prepares to train <paramref name="model"/> on <paramref name="train"/>, evaluating on <paramref name="test"/> each epoch.</summary>
    /// <param name="model">The model, initialised (or loaded) as training should start.</param>
    /// <param name="train">Training images; their size and channels must be the model's.</param>
    /// <param name="test">Evaluation images, or null to skip evaluation.</param>
    /// <param name="options">The run's settings; validated here.</param>
    /// <param name="progress">Receives the run's progress reports (e.g. a <see cref="ConsoleProgress"/>); null for none. Under MPI only rank 0's receives any.</param>
    /// <param name="communicator">
    /// The processes to train on together (<see cref="MpiCommunicator.FromEnvironment"/>); null or
    /// <see cref="LocalCommunicator.Instance"/> for this process alone. Every rank builds its trainer with the same model
    /// class, data and options; <see cref="Run(long, CancellationToken)"/> checks that before the first step.
    /// </param>
    /// <exception cref="ArgumentException">An option is invalid or the images do not fit the model; the message says which.</exception>
    public Trainer(IVitTrainable model, LabeledImages train, LabeledImages? test, TrainerOptions options, IProgress<TrainingProgress>? progress = null,
        ICommunicator? communicator = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Validate();
        Evaluator.CheckFits(train, model.Config, "training");
        if (test is not null) Evaluator.CheckFits(test, model.Config, "test");
        if (options.DropLastBatch && train.Count < options.BatchSize)
            throw new ArgumentException($"The training set has {train.Count} images, fewer than one batch of {options.BatchSize}; lower BatchSize or set DropLastBatch = false.", nameof(train));

        _model = model;
        if (options.Threads is int threads) model.Threads = threads;
        _batcher = new ImageBatcher(train, new BatcherOptions
        {
            BatchSize = options.BatchSize, Seed = options.Seed, Shuffle = true, DropLast = options.DropLastBatch,
            CropPadding = options.CropPadding, HorizontalFlip = options.HorizontalFlip, Normalization = options.Normalization,
        });
        _communicator = communicator ?? LocalCommunicator.Instance;
        if (options.Accumulate * _communicator.Size > options.BatchSize)
            throw new ArgumentException($"A batch of {options.BatchSize} cannot be split into {options.Accumulate} micro-batches on each of {_communicator.Size} ranks; raise BatchSize or lower Accumulate.", nameof(options));
        _hasTest = test is not null;
        _testImages = TestDescription(test);
        if (TestShare(test, _communicator) is LabeledImages share) _evaluator = new Evaluator(share, options.Normalization, options.EvaluationBatchSize, options.TestTimeFlip);
        // The dropout seeds come from a stream of their own, so changing augmentation does not change the masks.
        _random = new VitRandom(options.Seed ^ 0xD80F_5EED_0000_0001UL);
        _pixelsPerImage = train.PixelsPerImage;
        _pixels = new float[_batcher.FloatsPerBatch];
        _labels = new int[options.BatchSize];
        _logits = new float[options.BatchSize * model.Config.Classes];

        StepsPerEpoch = _batcher.BatchesPerEpoch;
        TotalSteps = options.MaxSteps > 0 ? options.MaxSteps : (long)options.Epochs * StepsPerEpoch;
        Optimizer = options.Optimizer == OptimizerKind.Sgd
            ? new Sgd(model.Config.Layout, options.Momentum, options.WeightDecay)
            : new AdamW(model.Config.Layout, options.WeightDecay);
        Schedule = new LearningRateSchedule(options.LearningRate, TotalSteps, options.WarmupSteps, options.Decay, options.MinLearningRate);
        _progress = IsWriter ? progress : null;
    }

    /// <summary>The model being trained.</summary>
    public IVitTrainable Model => _model;

    /// <summary>The settings of this run.</summary>
    public TrainerOptions Options { get; }

    /// <summary>The optimiser (its state is saved in checkpoints).</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The learning-rate schedule over <see cref="TotalSteps"/>.</summary>
    public LearningRateSchedule Schedule { get; }

    /// <summary>Updates completed so far (the next update's index).</summary>
    public long Step => _step;

    /// <summary>Updates in the whole run.</summary>
    public long TotalSteps { get; }

    /// <summary>Updates per pass over the training set.</summary>
    public int StepsPerEpoch { get; }

    /// <summary>The epoch the next update belongs to, from 0.</summary>
    public int Epoch => (int)(_step / StepsPerEpoch);

    /// <summary>Epochs the run spans (the last may be partial when <see cref="TrainerOptions.MaxSteps"/> is set).</summary>
    public int TotalEpochs => (int)((TotalSteps + StepsPerEpoch - 1) / StepsPerEpoch);

    /// <summary>The last checkpoint written or resumed from, or null.</summary>
    public string? LastCheckpoint => _lastCheckpoint;

    /// <summary>
    /// Raised after every update, on the training thread, before any checkpoint of that step boundary; a handler may
    /// cancel the run's token or call <see cref="RequestCheckpoint"/>.
    /// </summary>
    public event Action<TrainingStepInfo>? StepCompleted;

    /// <summary>Asks for a checkpoint at the next step boundary (thread-safe; needs <see cref="TrainerOptions.CheckpointPath"/>).</summary>
    public void RequestCheckpoint() => _checkpointRequested = true;

    /// <summary>Trains until <see cref="TotalSteps"/> or until <paramref name="cancellationToken"/> is cancelled.</summary>
    public TrainingResult Run(CancellationToken cancellationToken = default) => Run(long.MaxValue, cancellationToken);

    /// <summary>
    /// Trains until <paramref name="stopAtStep"/> updates are completed (or <see cref="TotalSteps"/>, whichever is first),
    /// or until <paramref name="cancellationToken"/> is cancelled; a later call continues from there.
    /// </summary>
    /// <exception cref="TrainingDivergedException">A NaN or infinity appeared; nothing was saved after it.</exception>
    /// <exception cref="InvalidOperationException">An earlier call failed part-way (see the message).</exception>
    /// <exception cref="IOException">The checkpoint path cannot be written, or another run is writing it (checked before the first step).</exception>
    public TrainingResult Run(long stopAtStep, CancellationToken cancellationToken = default)
    {
        if (_broken is not null) throw new InvalidOperationException(_broken);
        long target = Math.Min(stopAtStep, TotalSteps);
        Exception? claim = null;
        try { if (IsWriter) ClaimCheckpoint(); }
        catch (Exception e) when (_communicator.Size > 1) { claim = e; }
        Agree(claim, "claiming the checkpoint file");
        try { CheckRanks(); }
        catch { ReleaseCheckpoint(); throw; }
        _stopAgreed = false;
        _session.Start();
        bool cancelled = false;
        string? stopped = null;
        try
        {
            OpenMetrics();
            Report(TrainingProgressKind.Started, default, _step >= target ? null :
                $"Training {_model.Config} ({_model.Engine}, {_model.Threads} thread{(_model.Threads == 1 ? "" : "s")}{(_communicator.Size > 1 ? $" on each of {_communicator.Size} ranks" : "")}): " +
                $"{Options.Optimizer} at {Options.LearningRate:G3}, batch {Options.BatchSize}{(Options.Accumulate > 1 ? $" in {Options.Accumulate} micro-batches" : "")}, step {_step + 1:N0} to {target:N0} of {TotalSteps:N0} " +
                $"({StepsPerEpoch:N0} per epoch){(Options.TestTimeFlip && _hasTest ? "; the last evaluation averages each test image with its mirror image (test-time flip)" : "")}.");
            while (_step < target)
            {
                // Under MPI every rank stops at the same step: the one after all ranks' flags were summed.
                if (_communicator.Size == 1 ? cancellationToken.IsCancellationRequested : _stopAgreed)
                {
                    cancelled = true;
                    if (Options.CheckpointPath is not null)
                    {
                        SaveCheckpointIfNew(Options.CheckpointPath);
                        stopped = $"Stopped at step {_step:N0}; checkpoint saved to {Options.CheckpointPath}. Resume from it to continue.";
                    }
                    else
                    {
                        stopped = $"Stopped at step {_step:N0}; no CheckpointPath is set, so nothing was saved.";
                    }
                    break;
                }
                if (_checkpointRequested && Options.CheckpointPath is not null)
                {
                    _checkpointRequested = false;
                    SaveCheckpointIfNew(Options.CheckpointPath);
                }

                TrainOneStep(cancellationToken.IsCancellationRequested);

                if (_step % Options.LogEverySteps == 0) EndInterval();
                bool epochEnd = _step % StepsPerEpoch == 0;
                bool runEnd = _step == TotalSteps;
                if (epochEnd || runEnd) EndEpoch(runEnd, saveCheckpoint: Options.CheckpointPath is not null && (runEnd || Options.CheckpointEveryEpoch));
                else if (Options.CheckpointEverySteps > 0 && _step % Options.CheckpointEverySteps == 0 && Options.CheckpointPath is not null)
                    SaveCheckpointIfNew(Options.CheckpointPath);
            }
        }
        catch (TrainingDivergedException e)
        {
            _broken = "This trainer stopped because training diverged; resume a new Trainer from the last good checkpoint. " + e.Message;
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A failure inside a step (I/O, a bug) leaves the batcher or generators mid-step: a further Run could not replay.
            _broken = $"An earlier Run failed at step {_step} ({e.GetType().Name}: {e.Message}); resume a new Trainer from the last checkpoint.";
            throw;
        }
        finally
        {
            _session.Stop();
            ReleaseCheckpoint();
            _metrics?.Dispose();
            _metrics = null;
            Report(TrainingProgressKind.Finished, default, stopped);
        }
        Span trained = _epochSpan.Images > 0 ? _epochSpan : _lastEpochSummary;
        return new TrainingResult(_step, TotalSteps, _step == TotalSteps, cancelled, trained.MeanLoss, trained.Accuracy,
            _lastTest, ElapsedSeconds, _sessionTrainSeconds <= 0 ? 0 : _sessionImages / _sessionTrainSeconds, _lastCheckpoint);
    }

    /// <summary>Evaluates the model on the test set (null without one), with the test-time flip when <see cref="TrainerOptions.TestTimeFlip"/> is set.</summary>
    /// <remarks>Under MPI each rank evaluates its share and the results are summed: every rank must call it.</remarks>
    public EvaluationResult? Evaluate() => EvaluateShares(Options.TestTimeFlip);

    private double ElapsedSeconds => _previousSessionsSeconds + _session.Elapsed.TotalSeconds;

    /// <summary>One update: batch, forward + backward of each micro-batch, checks, clipping, optimiser step, bookkeeping.</summary>
    private void TrainOneStep(bool stopRequested)
    {
        long start = Stopwatch.GetTimestamp();
        // The batcher reports an epoch's end by returning false once and moving on; the next call starts the next epoch.
        if (!_batcher.TryNextBatch(_pixels, _labels, out int count) && !_batcher.TryNextBatch(_pixels, _labels, out count))
            throw new InvalidOperationException("Internal error: the batcher produced no batch at the start of an epoch.");

        float learningRate = Schedule.At(_step);
        ulong stepSeed = _random.NextUInt64();
        Span<float> gradients = _model.Gradients;
        gradients.Clear();
        (double lossSum, int correct) = AccumulateGradients(count, stepSeed, gradients);
        ReduceStep(gradients, ref lossSum, ref correct, stopRequested);
        float loss = (float)(lossSum / count);
        if (!float.IsFinite(loss)) throw Diverged(_step + 1, "loss", loss, learningRate);

        double norm = Options.GradientClipNorm > 0
            ? GradientClipping.ClipByGlobalNorm(gradients, Options.GradientClipNorm)
            : GradientClipping.GlobalNorm(gradients);
        if (!double.IsFinite(norm)) throw Diverged(_step + 1, "gradient norm", norm, learningRate);

        Optimizer.Step(_model, learningRate);
        _step++;

        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Add(ref _epochSpan, loss, correct, count, seconds);
        Add(ref _intervalSpan, loss, correct, count, seconds);
        _sessionImages += count;
        _sessionTrainSeconds += seconds;
        _lastLearningRate = learningRate;
        _lastGradientNorm = norm;

        StepCompleted?.Invoke(new TrainingStepInfo(_step, (int)((_step - 1) / StepsPerEpoch), learningRate, loss, norm, correct, count));
        Report(TrainingProgressKind.Step, _epochSpan);
    }

    /// <summary>
    /// Leaves in <paramref name="gradients"/> the gradient of the mean loss over the <paramref name="count"/> images of the
    /// batch, computed as <see cref="TrainerOptions.Accumulate"/> micro-batches, and returns the sum of the images' losses
    /// and how many the model got right. Under MPI the batch has Accumulate × ranks parts, this rank computes its own
    /// Accumulate of them, and the result is this rank's share of the sum, which <see cref="ReduceStep"/> completes.
    /// </summary>
    /// <remarks>
    /// The batch is split into parts of ⌊count / parts⌋ or one more images, in order. <see cref="IVitTrainable.TrainStep"/>
    /// adds the gradient g_i of part i's <i>mean</i> loss, so the mean over the batch is Σ m_i·g_i / count for parts of
    /// m_i images. The block is kept as Σ (m_i / m_last)·g_i: rescaled only where the part size changes (never when the
    /// parts are equal), and once at the end by m_last / count (skipped for a single whole-batch part, which keeps the
    /// one-part update bit-identical to a plain TrainStep). Part p's dropout masks come from its own seed, so a part's
    /// masks do not depend on how many parts there are before it.
    /// </remarks>
    private (double LossSum, int Correct) AccumulateGradients(int count, ulong stepSeed, Span<float> gradients)
    {
        int classes = _model.Config.Classes;
        int parts = Options.Accumulate * _communicator.Size, mine = _communicator.Rank * Options.Accumulate;
        double lossSum = 0;
        int correct = 0, previous = 0;
        for (int part = mine; part < mine + Options.Accumulate; part++)
        {
            int first = Infrastructure.WorkerPool.PartStart(count, parts, part), images = Infrastructure.WorkerPool.PartStart(count, parts, part + 1) - first;
            if (images == 0) continue;
            if (previous != 0 && previous != images) TensorPrimitives.Multiply(gradients, (float)previous / images, gradients);
            var options = new TrainStepOptions(Options.LabelSmoothing, Options.Dropout, Options.DropPath, Infrastructure.Dropout.MicroBatchSeed(stepSeed, part));
            Span<float> logits = _logits.AsSpan(first * classes, images * classes);
            float loss = _model.TrainStep(_pixels.AsSpan(first * _pixelsPerImage, images * _pixelsPerImage), _labels.AsSpan(first, images), images, options, logits);
            lossSum += (double)loss * images;
            for (int i = 0; i < images; i++)
                if (Evaluator.ArgMax(logits.Slice(i * classes, classes)) == _labels[first + i]) correct++;
            previous = images;
        }
        if (previous != 0 && previous != count) TensorPrimitives.Multiply(gradients, (float)previous / count, gradients);
        return (lossSum, correct);
    }

    private static void Add(ref Span span, float loss, int correct, int images, double seconds)
    {
        span.Loss += (double)loss * images;
        span.Correct += correct;
        span.Images += images;
        span.TrainSeconds += seconds;
    }

    /// <summary>Reports <paramref name="kind"/> with the numbers of <paramref name="span"/> (no allocation without a message).</summary>
    private void Report(TrainingProgressKind kind, in Span span, string? message = null, EvaluationResult? test = null)
    {
        if (_progress is null) return;
        // The current epoch's pace once it has a few steps (it follows a machine whose load changes), else the session's.
        double rate = _epochSpan.Images >= 8L * Options.BatchSize ? _epochSpan.ImagesPerSecond
            : _sessionTrainSeconds > 0 ? _sessionImages / _sessionTrainSeconds : 0;
        double eta = double.NaN;
        if (rate > 0)
        {
            long remainingEpochEnds = TotalEpochs - _step / StepsPerEpoch;
            eta = (TotalSteps - _step) * (double)Options.BatchSize / rate + remainingEpochEnds * _lastEvaluationSeconds;
        }
        _progress.Report(new TrainingProgress
        {
            Kind = kind,
            Step = _step,
            TotalSteps = TotalSteps,
            Epoch = (int)Math.Min(_step == 0 ? 0 : (_step - 1) / StepsPerEpoch, TotalEpochs - 1),
            TotalEpochs = TotalEpochs,
            LearningRate = _lastLearningRate,
            Loss = span.MeanLoss,
            Accuracy = span.Accuracy,
            ImagesPerSecond = span.Images > 0 && span.TrainSeconds > 0 ? span.ImagesPerSecond : rate,
            EtaSeconds = eta,
            ElapsedSeconds = ElapsedSeconds,
            Test = test,
            Message = message,
        });
    }

    private void EndInterval()
    {
        Report(TrainingProgressKind.Interval, _intervalSpan);
        _metrics?.Write(new MetricsRecord("step", _step, (double)_step / StepsPerEpoch, _lastLearningRate, _intervalSpan.MeanLoss,
            _intervalSpan.Accuracy, _lastGradientNorm, null, null, _intervalSpan.ImagesPerSecond, ElapsedSeconds));
        _intervalSpan = default;
    }

    private void EndEpoch(bool runEnd, bool saveCheckpoint)
    {
        long evaluationStart = Stopwatch.GetTimestamp();
        // The test-time flip doubles an evaluation's cost, so only the run's last one pays it.
        EvaluationResult? test = EvaluateShares(Options.TestTimeFlip && runEnd);
        if (test is not null)
        {
            _lastEvaluationSeconds = Stopwatch.GetElapsedTime(evaluationStart).TotalSeconds;
            _lastTest = test;
        }
        Span span = _epochSpan;
        Report(TrainingProgressKind.EpochEnded, span, test: test);
        _metrics?.Write(new MetricsRecord("epoch", _step, (double)_step / StepsPerEpoch, _lastLearningRate, span.MeanLoss, span.Accuracy,
            null, test?.Loss, test?.Accuracy, span.ImagesPerSecond, ElapsedSeconds));
        _lastEpochSummary = span;
        _epochSpan = default;
        if (test is EvaluationResult r && !double.IsFinite(r.Loss)) throw Diverged(_step, "test loss", r.Loss, _lastLearningRate);
        if (saveCheckpoint) SaveCheckpointIfNew(Options.CheckpointPath!);
    }

    /// <summary>The exception for a non-finite <paramref name="quantity"/> produced by update <paramref name="step"/> (counted from 1).</summary>
    private TrainingDivergedException Diverged(long step, string quantity, double value, float learningRate) =>
        new(step, (int)((step - 1) / StepsPerEpoch), quantity, value, learningRate, _lastCheckpoint, _lastCheckpointStep);

    private void OpenMetrics()
    {
        if (Options.MetricsPath is null || _metrics is not null || !IsWriter) return;
        _metrics = new MetricsLog(Options.MetricsPath, _step);
    }

    /// <summary>Stops any metrics file this trainer holds open.</summary>
    public void Dispose()
    {
        _metrics?.Dispose();
        _metrics = null;
    }
}
