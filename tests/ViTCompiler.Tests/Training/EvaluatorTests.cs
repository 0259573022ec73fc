using ViTCompiler.Data;
using ViTCompiler.Training;
using Xunit;

namespace ViTCompiler.Tests.Training;

/// <summary><see cref="Evaluator"/> against the plainest computation: one image at a time, mirrored by hand.</summary>
public class EvaluatorTests
{
    /// <summary>The logits of image <paramref name="index"/>, normalised (and mirrored) here, forwarded alone.</summary>
    private static float[] Logits(IVitClassifier model, LabeledImages set, int index, ChannelNormalization normalization, bool mirror)
    {
        int c = set.Channels, h = set.Height, w = set.Width;
        ReadOnlySpan<byte> image = set.Image(index);
        float[] pixels = new float[c * h * w];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    pixels[(ch * h + y) * w + x] = normalization.Apply(ch, image[(ch * h + y) * w + (mirror ? w - 1 - x : x)]);
        float[] logits = new float[model.Config.Classes];
        model.Forward(pixels, 1, logits);
        return logits;
    }

    private static (int Correct, double Loss) Expected(IVitClassifier model, LabeledImages set, ChannelNormalization normalization, bool flip)
    {
        int correct = 0;
        double loss = 0;
        for (int i = 0; i < set.Count; i++)
        {
            float[] logits = Logits(model, set, i, normalization, mirror: false);
            if (flip)
            {
                float[] mirrored = Logits(model, set, i, normalization, mirror: true);
                for (int k = 0; k < logits.Length; k++) logits[k] = (logits[k] + mirrored[k]) / 2;
            }
            if (Evaluator.ArgMax(logits) == set.Label(i)) correct++;
            loss += Evaluator.CrossEntropy(logits, set.Label(i));
        }
        return (correct, loss / set.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Accuracy_and_loss_are_those_of_each_image_alone_and_with_a_flip_of_the_averaged_views(bool flip)
    {
        var model = new FashionSmall(seed: 3) { Threads = 2 };
        TestData.Randomize(model, 5); // the initial head is zero: every image would score the same
        LabeledImages set = TrainerTests.Tiny().Test.Slice(0, 37); // batches of 16, 16 and 5
        var evaluator = new Evaluator(set, ChannelNormalization.FashionMnist, batchSize: 16, testTimeFlip: flip);
        Assert.Equal(flip, evaluator.TestTimeFlip);
        (int correct, double loss) = Expected(model, set, ChannelNormalization.FashionMnist, flip);

        for (int pass = 0; pass < 2; pass++) // a second evaluation starts from the first image again, both views in step
        {
            EvaluationResult result = evaluator.Evaluate(model);
            Assert.Equal(37, result.Images);
            Assert.Equal(correct, result.Correct);
            Assert.Equal(loss, result.Loss, 1e-5);
        }
    }

    [Fact]
    public void A_flip_changes_the_result_of_a_random_model()
    {
        // Guards the test above against a flip that silently does nothing: the averaged views must differ from one view.
        var model = new FashionSmall(seed: 3);
        TestData.Randomize(model, 5);
        LabeledImages set = TrainerTests.Tiny().Test;
        double plain = new Evaluator(set, ChannelNormalization.FashionMnist).Evaluate(model).Loss;
        double flipped = new Evaluator(set, ChannelNormalization.FashionMnist, testTimeFlip: true).Evaluate(model).Loss;
        Assert.NotEqual(plain, flipped);
    }

    [Fact]
    public void The_trainer_flips_at_the_runs_last_evaluation_only_when_its_options_ask()
    {
        var model = new FashionSmall(seed: 3);
        TestData.Randomize(model, 5);
        (LabeledImages train, LabeledImages test) = TrainerTests.Tiny(); // 96 images in batches of 16: 6 steps per epoch
        var plain = new Evaluator(test, ChannelNormalization.FashionMnist);
        var flipped = new Evaluator(test, ChannelNormalization.FashionMnist, testTimeFlip: true);
        var options = new TrainerOptions { MaxSteps = 8, BatchSize = 16, Normalization = ChannelNormalization.FashionMnist, TestTimeFlip = true };
        // Each epoch's reported result against both evaluations of the weights it was taken with (the report comes
        // right after the evaluation, on the training thread).
        var seen = new List<(EvaluationResult Reported, EvaluationResult Plain, EvaluationResult Flipped)>();
        var progress = new Progress(p =>
        {
            if (p.Kind == TrainingProgressKind.EpochEnded) seen.Add((p.Test!.Value, plain.Evaluate(model), flipped.Evaluate(model)));
        });
        using var trainer = new Trainer(model, train, test, options, progress);
        TrainingResult result = trainer.Run(CancellationToken.None);

        Assert.Equal(2, seen.Count); // after step 6 (an epoch) and step 8 (the run's end)
        Assert.Equal(seen[0].Plain, seen[0].Reported);
        Assert.NotEqual(seen[0].Flipped, seen[0].Reported);
        Assert.Equal(seen[1].Flipped, seen[1].Reported);
        Assert.Equal(seen[1].Flipped, result.Test);
        Assert.Equal(flipped.Evaluate(model), trainer.Evaluate()); // an explicit evaluation follows the option
    }

    private sealed class Progress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
