using System.ComponentModel;
using System.Numerics.Tensors;

namespace ViTCompiler.Infrastructure;

/// <summary>Softmax cross-entropy with label smoothing, and its gradient.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class Loss
{
    /// <summary>
    /// Mean over the batch of −Σ_c q_c log softmax(z)_c with q = (1 − ε)·onehot(label) + ε/C; writes
    /// d(mean loss)/dz = (softmax(z) − q) / B into <paramref name="dlogits"/>.
    /// </summary>
    /// <remarks>
    /// The exponentials and their sum are float (TensorPrimitives, max-subtracted), as PyTorch's float32 log-softmax is;
    /// the batch total is summed in double.
    /// </remarks>
    public static float CrossEntropy(float* logits, int* labels, int batch, int classes, float smoothing, float* dlogits)
    {
        double total = 0;
        float uniform = smoothing / classes;
        for (int b = 0; b < batch; b++)
        {
            var z = new ReadOnlySpan<float>(logits + (long)b * classes, classes);
            var dz = new Span<float>(dlogits + (long)b * classes, classes);
            int label = labels[b];
            float max = TensorPrimitives.Max(z);
            TensorPrimitives.Subtract(z, max, dz);
            TensorPrimitives.Exp(dz, dz);
            float sum = TensorPrimitives.Sum<float>(dz);
            double logSum = max + Math.Log(sum);
            // −Σ_c q_c (z_c − logSum) = logSum − (ε/C)·Σ_c z_c − (1 − ε)·z_label, since Σ_c q_c = 1.
            total += logSum - (double)uniform * TensorPrimitives.Sum(z) - (1 - (double)smoothing) * z[label];
            // (p_c − q_c) / B with p_c = e_c / sum
            TensorPrimitives.Multiply(dz, 1f / sum, dz);
            TensorPrimitives.Subtract(dz, uniform, dz);
            dz[label] -= 1 - smoothing;
            TensorPrimitives.Multiply(dz, 1f / batch, dz);
        }
        return (float)(total / batch);
    }
}
