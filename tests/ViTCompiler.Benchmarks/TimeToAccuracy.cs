using System.Globalization;
using System.Text;
using System.Text.Json;
using ScottPlot;

namespace ViTCompiler.Benchmarks;

/// <summary>
/// <c>time-to-accuracy OUT.md OUT.png NAME=FILE …</c>: test accuracy against wall time for training runs, from their JSON
/// lines (the FashionMnist sample's metrics log, <c>--metrics FILE</c>, and tests/peers/pytorch_fashion_train.py's output:
/// both write <c>{"kind":"epoch", "test_accuracy", "elapsed_seconds"}</c> once per epoch). Writes a table of minutes to
/// 85, 88, 90 and 93 % test accuracy and the accuracy per epoch (docs/TRAINING.md), and the curves as a PNG.
/// </summary>
internal static class TimeToAccuracy
{
    private static readonly double[] s_targets = [0.85, 0.88, 0.90, 0.93];

    public static int Run(string[] args)
    {
        if (args.Length < 4)
        {
            Console.Error.WriteLine("usage: time-to-accuracy OUT.md OUT.png NAME=METRICS.jsonl [NAME=METRICS.jsonl …]");
            return 2;
        }
        var runs = new List<(string Name, List<(int Epoch, double Seconds, double Accuracy)> Epochs)>();
        foreach (string spec in args[3..])
        {
            int equals = spec.IndexOf('=');
            if (equals <= 0) throw new ArgumentException($"'{spec}' is not NAME=FILE.");
            runs.Add((spec[..equals], Read(spec[(equals + 1)..])));
        }

        var table = new StringBuilder();
        table.AppendLine("| run | " + string.Join(" | ", s_targets.Select(t => $"min to {t:P0}")) + " | best (epoch, min) |");
        table.AppendLine("|---|" + string.Concat(s_targets.Select(_ => "---:|")) + "---|");
        foreach ((string name, var epochs) in runs)
        {
            var cells = s_targets.Select(t => epochs.FirstOrDefault(e => e.Accuracy >= t) is { Epoch: > 0 } hit ? Minutes(hit.Seconds) : "—");
            var best = epochs.MaxBy(e => e.Accuracy);
            table.AppendLine($"| {name} | {string.Join(" | ", cells)} | {best.Accuracy:P2} ({best.Epoch}, {Minutes(best.Seconds)}) |");
        }
        table.AppendLine();
        int most = runs.Max(r => r.Epochs.Count);
        table.AppendLine("| epoch | " + string.Join(" | ", runs.Select(r => r.Name + " (accuracy, min)")) + " |");
        table.AppendLine("|---:|" + string.Concat(runs.Select(_ => "---|")));
        for (int e = 1; e <= most; e++)
            table.AppendLine($"| {e} | " + string.Join(" | ", runs.Select(r => r.Epochs.FirstOrDefault(x => x.Epoch == e) is { Epoch: > 0 } x
                ? $"{x.Accuracy:P2}, {Minutes(x.Seconds)}" : "")) + " |");
        File.WriteAllText(args[1], table.ToString());
        Console.Write(table);

        var plot = new Plot();
        foreach ((string name, var epochs) in runs)
        {
            var line = plot.Add.Scatter(epochs.Select(e => e.Seconds / 60).ToArray(), epochs.Select(e => 100 * e.Accuracy).ToArray());
            line.LegendText = name;
        }
        foreach (double target in s_targets)
        {
            var level = plot.Add.HorizontalLine(100 * target);
            level.LineColor = Colors.Gray.WithAlpha(0.5);
            level.LinePattern = LinePattern.Dashed;
        }
        plot.Title("Fashion-MNIST test accuracy against wall time");
        plot.XLabel("minutes since start");
        plot.YLabel("test accuracy (%)");
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(args[2], 900, 560);
        Console.WriteLine($"Wrote {args[1]} and {args[2]}.");
        return 0;
    }

    private static string Minutes(double seconds) => (seconds / 60).ToString("0.0", CultureInfo.InvariantCulture);

    private static List<(int, double, double)> Read(string path)
    {
        var epochs = new List<(int, double, double)>();
        foreach (string line in File.ReadLines(path))
        {
            if (!line.StartsWith('{')) continue;
            using JsonDocument document = JsonDocument.Parse(line);
            JsonElement root = document.RootElement;
            if (!root.TryGetProperty("kind", out JsonElement kind) || kind.GetString() != "epoch" || !root.TryGetProperty("test_accuracy", out JsonElement accuracy)) continue;
            epochs.Add((root.GetProperty("epoch").GetInt32(), root.GetProperty("elapsed_seconds").GetDouble(), accuracy.GetDouble()));
        }
        if (epochs.Count == 0) throw new InvalidDataException($"{path} has no epoch lines with a test accuracy.");
        return epochs;
    }
}
