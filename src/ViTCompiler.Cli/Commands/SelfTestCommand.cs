using System.CommandLine;
using System.Globalization;
using ViTCompiler.Reference;

namespace ViTCompiler.Cli.Commands;

/// <summary>
/// <c>vit selftest</c>: runs compiled presets on this machine's SIMD path and compares them with the double-precision
/// reference engine — the forward logits, and for small models the gradients of a training step — so a build
/// published for a new CPU (say with -p:IlcInstructionSet=x86-64-v4) can be checked where it will run.
/// </summary>
internal static class SelfTestCommand
{
    /// <summary>Largest error of the logits relative to their scale (the test suite's tolerance).</summary>
    public const double ForwardTolerance = 2e-5;

    /// <summary>Largest error of any tensor's gradient relative to that tensor's largest reference gradient.</summary>
    public const double GradientTolerance = 1e-4;

    public static Command Create(CliContext context)
    {
        var presets = new Option<string[]>("--preset", "-p")
        {
            Description = "Presets to check (repeatable); default fashion-mnist, fashion-mnist-hybrid and vit-ti16.",
            HelpName = "NAME",
            AllowMultipleArgumentsPerToken = true,
        };
        Option<int?> threads = CommonOptions.Threads();
        Option<bool> json = CommonOptions.Json();
        var command = new Command("selftest", "Compare compiled presets on this machine's SIMD path with the reference engine (forward, and gradients for small models); exit 5 when one is off.")
        {
            presets, threads, json,
        };
        command.SetAction(parse => context.Run(() => Run(context, parse.GetValue(presets), parse.GetValue(threads), parse.GetValue(json))));
        return command;
    }

    private static int Run(CliContext context, string[]? names, int? threads, bool json)
    {
        names = names is { Length: > 0 } ? names : ["fashion-mnist", "fashion-mnist-hybrid", "vit-ti16"];
        bool allPassed = true;
        foreach (string name in names)
        {
            CompiledModel compiled = Presets.Get(name);
            IVitTrainable model = compiled.Create(1);
            CommonOptions.ApplyThreads(model, threads);
            VitConfig c = model.Config;
            using (ParameterEdit edit = model.EditParameters()) ParameterInit.Randomize(c, edit.Values, seed: 7);
            double[] weights = new double[c.ParameterCount];
            for (int i = 0; i < weights.Length; i++) weights[i] = model.Parameters[i];

            // Small models get a batch of 3 and a gradient check; ImageNet-sized ones one image, forward only (the
            // reference engine needs seconds per image there).
            bool small = c.MacsPerImage < 100_000_000;
            int batch = small ? 3 : 1;
            float[] pixels = new float[batch * c.PixelsPerImage];
            var rng = new VitRandom(11);
            for (int i = 0; i < pixels.Length; i++) pixels[i] = rng.NextSingle() * 2 - 1;

            float[] logits = new float[batch * c.Classes];
            model.Forward(pixels, batch, logits);
            double[] expected = new double[logits.Length];
            ReferenceVit.Forward(c, weights, pixels, batch, expected);
            double forwardError = ReferenceVit.RelativeError(logits, expected);

            double gradientError = double.NaN;
            string worstTensor = "";
            if (small)
            {
                int[] labels = Enumerable.Range(0, batch).Select(i => (3 * i + 1) % c.Classes).ToArray();
                var options = new TrainStepOptions(LabelSmoothing: 0.1f, Dropout: 0.1f, DropPath: 0.1f, Seed: 5);
                model.Gradients.Clear();
                model.TrainStep(pixels, labels, batch, options, default);
                double[] reference = new double[weights.Length];
                ReferenceVit.ForwardBackward(c, weights, pixels, labels, batch, options, reference);
                gradientError = 0;
                foreach (ParameterTensor t in c.Layout)
                {
                    double e = ReferenceVit.RelativeError(t.Of((ReadOnlySpan<float>)model.Gradients), reference.AsSpan(t.Offset, t.Count));
                    if (!(e <= gradientError)) { gradientError = e; worstTensor = t.Name; }
                }
            }

            bool passed = forwardError < ForwardTolerance && (double.IsNaN(gradientError) || gradientError < GradientTolerance);
            allPassed &= passed;
            if (json)
            {
                bool checkedGradients = !double.IsNaN(gradientError);
                context.WriteJsonLine(new SelfTestJson(name, model.Engine, batch, forwardError, checkedGradients ? gradientError : null,
                    checkedGradients ? worstTensor : null, passed), CliJsonContext.Default.SelfTestJson);
            }
            else
            {
                string gradients = double.IsNaN(gradientError) ? "" : string.Format(CultureInfo.InvariantCulture, ", gradients {0:E2} (worst: {1})", gradientError, worstTensor);
                context.Output.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0}: {1}: forward {2:E2}{3}  {4}",
                    name, model.Engine, forwardError, gradients, passed ? "ok" : "FAILED"));
            }
        }
        return allPassed ? ExitCodes.Ok : ExitCodes.SelfTestFailed;
    }
}
