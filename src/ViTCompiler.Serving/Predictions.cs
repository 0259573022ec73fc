namespace ViTCompiler.Serving;

/// <summary>Logits into class probabilities; used by <c>vit serve</c>, <c>vit classify</c> and <c>vit explain</c>.</summary>
public static class Predictions
{
    /// <summary>Softmax (in double, shifted by the maximum) and the <paramref name="k"/> most probable classes, ties by lower index.</summary>
    public static (int Index, double Probability)[] TopK(ReadOnlySpan<float> logits, int k)
    {
        if (k < 1 || k > logits.Length) throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be between 1 and the {logits.Length} classes.");
        float max = float.NegativeInfinity;
        foreach (float v in logits) max = Math.Max(max, v);
        double sum = 0;
        foreach (float v in logits) sum += Math.Exp(v - max);
        var all = new (int Index, double Probability)[logits.Length];
        for (int i = 0; i < logits.Length; i++) all[i] = (i, Math.Exp(logits[i] - max) / sum);
        Array.Sort(all, static (a, b) => b.Probability != a.Probability ? b.Probability.CompareTo(a.Probability) : a.Index.CompareTo(b.Index));
        return all[..k];
    }
}
