using System.CommandLine;
using System.Diagnostics;
using System.Globalization;

namespace ViTCompiler.Cli.Commands;

/// <summary><c>vit bench</c>: times the forward pass of a compiled model on a batch of synthetic images.</summary>
internal static class BenchCommand
{
    public static Command Create(CliContext context)
    {
        Option<string> preset = CommonOptions.Preset(required: true);
        var batch = new Option<int>("--batch", "-b") { Description = "Images per forward pass.", DefaultValueFactory = _ => 1, HelpName = "N" };
        var runs = new Option<int>("--runs", "-r") { Description = "Timed forward passes.", DefaultValueFactory = _ => 10, HelpName = "R" };
        var warmup = new Option<int>("--warmup") { Description = "Untimed passes first (packing the weights, warming caches); under the JIT, more until the code is tiered up.", DefaultValueFactory = _ => 1, HelpName = "W" };
        Option<int?> threads = CommonOptions.Threads();
        Option<bool> json = CommonOptions.Json();
        var command = new Command("bench", "Time the forward pass of a compiled model: median and minimum per batch and per image, images/s and GFLOP/s.")
        {
            preset, batch, runs, warmup, threads, json,
        };
        command.SetAction(parse => context.Run(() => Run(context, parse.GetValue(preset)!, parse.GetValue(batch), parse.GetValue(runs),
            parse.GetValue(warmup), parse.GetValue(threads), parse.GetValue(json))));
        return command;
    }

    private static int Run(CliContext context, string presetName, int batch, int runs, int warmup, int? threads, bool json)
    {
        CompiledModel compiled = Presets.Get(presetName);
        CommonOptions.Positive(batch, "--batch");
        CommonOptions.Positive(runs, "--runs");
        if (warmup < 0) throw CliException.Usage($"--warmup must be zero or more (got {warmup}).");
        VitConfig config = compiled.Config;
        if ((long)batch * config.PixelsPerImage > Array.MaxLength)
            throw CliException.Usage($"--batch {batch} needs more than one array of pixels; use a smaller batch.");

        IVitTrainable model = compiled.Create(1);
        CommonOptions.ApplyThreads(model, threads);
        float[] pixels = new float[batch * config.PixelsPerImage];
        // Deterministic pixels in roughly the normalised range: the time does not depend on them, only reproducibility does.
        var random = new Random(1234);
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (float)(random.NextDouble() * 2 - 1);
        float[] logits = new float[batch * config.Classes];

        // Under the JIT, more warm-up until the forward pass runs Tier-1 code, as it would in a long job (TieredWarmup).
        warmup = TieredWarmup.Run(() => model.Forward(pixels, batch, logits), warmup);
        double[] milliseconds = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long start = Stopwatch.GetTimestamp();
            model.Forward(pixels, batch, logits);
            milliseconds[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(milliseconds);
        double median = runs % 2 == 1 ? milliseconds[runs / 2] : (milliseconds[runs / 2 - 1] + milliseconds[runs / 2]) / 2;
        double min = milliseconds[0];
        double imagesPerSecond = batch / (median / 1000);
        double gflops = config.FlopsPerImage * imagesPerSecond / 1e9;

        if (json)
        {
            context.WriteJsonLine(new BenchJson(compiled.Preset, model.Engine, batch, model.Threads, runs, warmup,
                Math.Round(median, 4), Math.Round(min, 4), Math.Round(median / batch, 4), Math.Round(min / batch, 4),
                Math.Round(imagesPerSecond, 3), config.FlopsPerImage, Math.Round(gflops, 3)), CliJsonContext.Default.BenchJson);
        }
        else
        {
            TextWriter o = context.Output;
            o.WriteLine($"{compiled.Preset}: {model.Engine}, batch {batch}, {model.Threads} thread(s), {runs} runs after {warmup} warm-up");
            o.WriteLine(string.Format(CultureInfo.InvariantCulture, "  per batch   median {0,10:0.000} ms   min {1,10:0.000} ms", median, min));
            o.WriteLine(string.Format(CultureInfo.InvariantCulture, "  per image   median {0,10:0.000} ms   min {1,10:0.000} ms", median / batch, min / batch));
            o.WriteLine(string.Format(CultureInfo.InvariantCulture, "  throughput  {0:0.00} images/s, {1:0.0} GFLOP/s ({2:0.00} GFLOP per image)", imagesPerSecond, gflops, config.FlopsPerImage / 1e9));
        }
        return ExitCodes.Ok;
    }
}
