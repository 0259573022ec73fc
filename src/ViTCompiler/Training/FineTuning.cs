using System.Numerics.Tensors;
using ViTCompiler.IO;

namespace ViTCompiler.Training;

/// <summary>
/// Fine-tuning (paper §3.2): a pre-trained model's weights are carried over to a model for a new label set, optionally
/// at a higher resolution. The prediction head is replaced by a zero-initialised one; at another image size the patch
/// size stays, so the sequence grows and the position embeddings are interpolated over the patch grid.
/// </summary>
public static class FineTuning
{
    /// <summary>
    /// Copies every parameter of <paramref name="source"/> into <paramref name="target"/>, except the head, which is set
    /// to zero; if the image sizes differ, the position embeddings are resized with <see cref="PositionEmbedding.Resize(ReadOnlySpan{float}, int, int, Span{float}, int, int, int, int, PositionInterpolation)"/>
    /// ([class] token embedding kept). Writes the target through <see cref="IVitWeights.EditParameters"/>.
    /// </summary>
    /// <param name="source">The trained model.</param>
    /// <param name="target">A model whose configuration differs from the source's only in <see cref="VitConfig.Classes"/>
    /// and <see cref="VitConfig.ImageSize"/> (with the same patch size).</param>
    /// <param name="interpolation">How to resize the position embeddings; bicubic, as timm, by default.</param>
    /// <exception cref="ArgumentException">The configurations differ in another field (each difference is named), or a source parameter is not finite.</exception>
    public static void TransferWeights(IVitWeights source, IVitWeights target, PositionInterpolation interpolation = PositionInterpolation.Bicubic)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        if (ReferenceEquals(source, target)) throw new ArgumentException("The source and the target are the same model; fine-tune into a new one.", nameof(target));
        VitConfig from = source.Config, to = target.Config;
        List<string> differences = Differences(from, to);
        if (differences.Count > 0)
            throw new ArgumentException(
                $"Cannot fine-tune a {from} into a {to}: only Classes and ImageSize may change (at the same Patch), but {string.Join("; ", differences)}. " +
                "Declare the fine-tuning model with the pre-trained model's other settings.", nameof(target));

        ReadOnlySpan<float> parameters = source.Parameters;
        foreach (ParameterTensor t in from.Layout)
        {
            ReadOnlySpan<float> values = t.Of(parameters);
            int bad = IndexOfNonFinite(values);
            if (bad >= 0)
                throw new ArgumentException($"The source parameter {t.Name}[{bad}] is {values[bad]}; a model with NaN or infinite weights cannot be fine-tuned.", nameof(source));
        }

        using ParameterEdit edit = target.EditParameters();
        Span<float> destination = edit.Values;
        int prefix = to.HasClassToken ? 1 : 0;
        foreach (ParameterTensor t in to.Layout)
        {
            Span<float> into = t.Of(destination);
            if (t.Name.StartsWith("head.", StringComparison.Ordinal))
            {
                into.Clear();
            }
            else if (t.Name == "pos_embed" && from.GridSize != to.GridSize)
            {
                PositionEmbedding.Resize(from.Layout[t.Name].Of(parameters), from.GridSize, from.GridSize, into, to.GridSize, to.GridSize,
                    to.Hidden, prefix, interpolation);
            }
            else
            {
                from.Layout[t.Name].Of(parameters).CopyTo(into);
            }
        }
    }

    /// <summary>Fields other than Classes and ImageSize that differ, as "Field: source X, target Y".</summary>
    private static List<string> Differences(VitConfig source, VitConfig target)
    {
        var list = new List<string>();
        void Check<T>(string field, T a, T b)
        {
            if (!EqualityComparer<T>.Default.Equals(a, b)) list.Add($"{field}: source {a}, target {b}");
        }
        Check(nameof(VitConfig.Channels), source.Channels, target.Channels);
        Check(nameof(VitConfig.Patch), source.Patch, target.Patch);
        Check(nameof(VitConfig.Layers), source.Layers, target.Layers);
        Check(nameof(VitConfig.Hidden), source.Hidden, target.Hidden);
        Check(nameof(VitConfig.Heads), source.Heads, target.Heads);
        Check(nameof(VitConfig.MlpWidth), source.MlpWidth, target.MlpWidth);
        Check(nameof(VitConfig.Pooling), source.Pooling, target.Pooling);
        Check(nameof(VitConfig.LayerNormEpsilon), source.LayerNormEpsilon, target.LayerNormEpsilon);
        Check(nameof(VitConfig.QkvBias), source.QkvBias, target.QkvBias);
        return list;
    }

    internal static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        // The vectorised check answers the common case (all finite); only a block with a bad value is searched again.
        if (TensorPrimitives.IsFiniteAll(values)) return -1;
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }
}
