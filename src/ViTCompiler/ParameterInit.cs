namespace ViTCompiler;

/// <summary>
/// Initialises a parameter block the way the paper's JAX code does (timm's "jax" scheme): Xavier-uniform dense
/// kernels (q, k and v counted separately; a hybrid's stem convolutions with their 3 × 3 receptive field in both fans), LeCun-normal patch projection, N(0, 0.02) position embeddings, a zero
/// [class] token, a zero head, MLP biases N(0, 1e-6), other biases zero, LayerNorm scale one and shift zero.
/// </summary>
public static class ParameterInit
{
    /// <summary>Fills <paramref name="parameters"/> deterministically from <paramref name="seed"/>.</summary>
    public static void Initialize(VitConfig config, Span<float> parameters, ulong seed)
    {
        ParameterLayout layout = config.Layout;
        if (parameters.Length != layout.ParameterCount)
            throw new ArgumentException($"The parameter block holds {parameters.Length:N0} floats; {config} needs {layout.ParameterCount:N0}.", nameof(parameters));
        var rng = new VitRandom(seed);
        foreach (ParameterTensor t in layout)
        {
            Span<float> v = t.Of(parameters);
            string n = t.Name;
            if (n == "patch_embed.proj.weight")
            {
                // LeCun normal: truncated normal with variance 1/fan_in; 0.8796… is the std of N(0,1) truncated at ±2.
                double std = Math.Sqrt(1.0 / config.PatchDim) / 0.87962566103423978;
                for (int i = 0; i < v.Length; i++) v[i] = (float)(std * rng.NextTruncatedGaussian());
            }
            else if (n == "pos_embed") FillGaussian(v, ref rng, 0.02);
            else if (n == "cls_token" || n.StartsWith("head.", StringComparison.Ordinal)) v.Clear();
            else if (t.Kind == ParameterKind.Norm) v.Fill(n.EndsWith(".weight", StringComparison.Ordinal) ? 1f : 0f);
            else if (t.Kind == ParameterKind.Matrix)
            {
                // A stem convolution (C_out, C_in, 3, 3) counts its receptive field in both fans, as torch's xavier_uniform_ does.
                int receptive = 1;
                for (int d = 2; d < t.Shape.Count; d++) receptive *= t.Shape[d];
                int fanOut = t.Shape[0] * receptive, fanIn = t.Shape[1] * receptive;
                if (n.EndsWith("attn.qkv.weight", StringComparison.Ordinal)) fanOut /= 3;
                double limit = Math.Sqrt(6.0 / (fanIn + fanOut));
                for (int i = 0; i < v.Length; i++) v[i] = (float)((rng.NextDouble() * 2 - 1) * limit);
            }
            else if (n.Contains(".mlp.", StringComparison.Ordinal)) FillGaussian(v, ref rng, 1e-6);
            else v.Clear();
        }
    }

    private static void FillGaussian(Span<float> v, ref VitRandom rng, double std)
    {
        for (int i = 0; i < v.Length; i++) v[i] = (float)(std * rng.NextGaussian());
    }

    /// <summary>
    /// Fills every tensor with random values at the scale a trained model has (uniform weights of variance 1/fan_in,
    /// LayerNorm scales near 1, non-zero biases, embeddings and head), deterministically from <paramref name="seed"/>.
    /// Not a training initialisation: it is for numeric checks, where the paper's zero head would hide every error
    /// upstream of it.
    /// </summary>
    public static void Randomize(VitConfig config, Span<float> parameters, ulong seed)
    {
        if (parameters.Length != config.ParameterCount)
            throw new ArgumentException($"The parameter block holds {parameters.Length:N0} floats; {config} needs {config.ParameterCount:N0}.", nameof(parameters));
        var rng = new VitRandom(seed);
        foreach (ParameterTensor t in config.Layout)
        {
            Span<float> v = t.Of(parameters);
            long fanIn = 1;
            for (int d = 1; d < t.Shape.Count; d++) fanIn *= t.Shape[d];
            for (int i = 0; i < v.Length; i++)
            {
                double u = rng.NextDouble() * 2 - 1;
                v[i] = (float)(t.Kind switch
                {
                    ParameterKind.Matrix => u * Math.Sqrt(3.0 / fanIn),
                    ParameterKind.Norm when t.Name.EndsWith(".weight", StringComparison.Ordinal) => 1 + 0.3 * u,
                    ParameterKind.Embedding => 0.5 * u,
                    _ => 0.2 * u,
                });
            }
        }
    }
}
