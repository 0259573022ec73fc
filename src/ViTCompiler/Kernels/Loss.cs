using System.ComponentModel;

namespace ViTCompiler.Infrastructure;

/// <summary>Softmax cross-entropy with label smoothing, and its gradient.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class Loss
{
    /// <summary>
    /// Mean over the batch of −Σ_c q_c log softmax(z)_c with q = (1 − ε)·onehot(label) + ε/C; writes
    /// d(mean loss)/dz = (softmax(z) − q) / B into <paramref name="dlogits"/>.
    /// </summary>
    public static float CrossEntropy(float* logits, int* labels, int batch, int classes, float smoothing, float* dlogits)
    {
        double total = 0;
        for (int b = 0; b < batch; b++)
        {
            float* z = logits + (long)b * classes;
            float* dz = dlogits + (long)b * classes;
            float max = float.NegativeInfinity;
            for (int c = 0; c < classes; c++) max = MathF.Max(max, z[c]);
            double sum = 0;
            for (int c = 0; c < classes; c++) sum += Math.Exp(z[c] - max);
            double logSum = max + Math.Log(sum);
            for (int c = 0; c < classes; c++)
            {
                double q = (c == labels[b] ? 1 - smoothing : 0) + (double)smoothing / classes;
                double logP = z[c] - logSum;
                total -= q * logP;
                dz[c] = (float)((Math.Exp(logP) - q) / batch);
            }
        }
        return (float)(total / batch);
    }
}
