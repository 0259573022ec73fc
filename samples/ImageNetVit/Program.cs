using System.Diagnostics;
using ViTCompiler;

// ViT-B/16 at 224×224 with 1000 classes: every property the attribute does not set takes the paper's value.
var model = new ImageNetVit(seed: 1);
Console.WriteLine($"{nameof(ImageNetVit)}: {model.Config}");
Console.WriteLine($"  parameters        {ImageNetVit.ParameterCount:N0}");
Console.WriteLine($"  forward per image {ImageNetVit.MacsPerImage / 1e9:F2} GMAC ({2 * ImageNetVit.MacsPerImage / 1e9:F1} GFLOP)");
Console.WriteLine($"  engine            {model.Engine}, {model.Threads} threads");

// A synthetic image: a smooth colour gradient with a bright square, already normalised to roughly [-1, 1].
const int Size = ImageNetVit.ImageSize;
float[] pixels = new float[ImageNetVit.Channels * Size * Size];
for (int c = 0; c < ImageNetVit.Channels; c++)
    for (int y = 0; y < Size; y++)
        for (int x = 0; x < Size; x++)
        {
            bool square = x is > 80 and < 150 && y is > 60 and < 130;
            pixels[(c * Size + y) * Size + x] = square ? 0.9f : (x + y * (c + 1)) / (float)(Size * (c + 2)) - 0.5f;
        }

float[] logits = new float[model.Config.Classes];
int runs = args.Length > 0 && int.TryParse(args[0], out int r) ? r : 10;
var times = new List<double>();
for (int i = 0; i <= runs; i++)
{
    long start = Stopwatch.GetTimestamp();
    model.Forward(pixels, 1, logits);
    double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    if (i == 0) Console.WriteLine($"  first forward     {ms:F1} ms (includes packing the weights and JIT)");
    else times.Add(ms);
}
times.Sort();
int best = Array.IndexOf(logits, logits.Max());
Console.WriteLine($"  forward, batch 1  median {times[times.Count / 2]:F1} ms, min {times[0]:F1} ms over {runs} runs");
Console.WriteLine($"  top class         {best} (logit {logits[best]:F4}; weights are untrained, so this only shows the pipeline runs)");

[VitModel(Patch = 16, Layers = 12)]
public partial class ImageNetVit { }
