using System.ComponentModel;
using System.Runtime.InteropServices;
using ViTCompiler.Infrastructure;

namespace ViTCompiler;

// One copy of the weights for a model that only runs: the packed panels. The kernels read the weight matrices only as
// packed panels, so once those exist the matrices in the parameter block are dead weight — 330 MiB for ViT-B/16.
public abstract unsafe partial class CompiledVit
{
    private bool _inferenceOnly, _matricesReleased;

    /// <summary>
    /// Makes this model hold its weights once: when it next packs them (the first <see cref="Forward(ReadOnlySpan{float}, int, Span{float})"/>
    /// after they were written), each weight matrix is released from the parameter block as soon as its packed copy is
    /// made, so the resident size stays about one copy of the weights throughout. Set it before the first forward pass,
    /// load the weights, then only run the model. False by default.
    /// </summary>
    /// <remarks>
    /// Once the matrices are released, <see cref="Parameters"/>, <see cref="EditParameters"/> and
    /// <see cref="TrainStep"/> throw <see cref="InvalidOperationException"/>: the block no longer holds the weights.
    /// (The small tensors — biases, LayerNorm, [class] token, position embeddings — stay there: the forward pass reads
    /// them in place.) To save, export, inspect or train, use a model without this setting. The memory is returned to
    /// the operating system on Linux (<c>madvise(MADV_DONTNEED)</c> on the matrices' whole pages); elsewhere the pages stay
    /// resident, with the same behaviour otherwise.
    /// </remarks>
    /// <exception cref="InvalidOperationException">Set to false after the matrices were released.</exception>
    public bool InferenceOnly
    {
        get => _inferenceOnly;
        set
        {
            if (!value && _matricesReleased)
                throw new InvalidOperationException("This model's weight matrices were already released after packing (InferenceOnly); create a new model to train or edit it.");
            _inferenceOnly = value;
        }
    }

    /// <summary>Whether the weight matrices were released from the parameter block (see <see cref="InferenceOnly"/>).</summary>
    public bool ParameterMatricesReleased => _matricesReleased;

    /// <summary>
    /// Packs one torch-layout weight matrix W (<paramref name="n"/> outputs × <paramref name="k"/> inputs, contiguous)
    /// as B = Wᵀ into the driver's panels, then, for an <see cref="InferenceOnly"/> model, releases W's pages.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected void PackWeight<TKernel>(float* destination, float* weight, int n, int k, int blockK) where TKernel : IGemmKernel
    {
        Gemm.PackB<TKernel>(destination, weight, 1, k, n, k, blockK);
        if (!_inferenceOnly) return;
        ReleasePages(weight, (long)n * k);
        _matricesReleased = true;
    }

    /// <summary>
    /// Packs a stem convolution's torch-layout weight (<paramref name="n"/> outputs × <paramref name="channels"/> ×
    /// <paramref name="taps"/>) for tap-major columns: writes the permuted matrix to <paramref name="tapMajor"/> (which
    /// the backward pass reads as it is), packs that, then, for an <see cref="InferenceOnly"/> model, releases the
    /// weight's pages (the permuted copy stays: n × channels × taps floats, small beside the encoder).
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected void PackConvolutionWeight<TKernel>(float* destination, float* tapMajor, float* weight, int n, int channels, int taps, int blockK)
        where TKernel : IGemmKernel
    {
        int k = channels * taps;
        Convolution.ToTapMajor(weight, tapMajor, n, channels, taps);
        Gemm.PackB<TKernel>(destination, tapMajor, 1, k, n, k, blockK);
        if (!_inferenceOnly) return;
        ReleasePages(weight, (long)n * k);
        _matricesReleased = true;
    }

    private void ThrowIfReleased(string what)
    {
        if (_matricesReleased)
            throw new InvalidOperationException(
                $"{what}: this model was made InferenceOnly and keeps its weight matrices only in packed form, so its parameter block no longer holds them. " +
                "Use a model without InferenceOnly to read, save, edit or train the weights.");
    }

    // Gives back the whole pages inside [start, start + floats): the partial pages at either end hold other tensors.
    // Private anonymous pages read back as zeros after MADV_DONTNEED; nothing reads them again (ThrowIfReleased).
    private static void ReleasePages(float* start, long floats)
    {
        if (!OperatingSystem.IsLinux()) return;
        long Page = Environment.SystemPageSize;
        long first = ((long)start + Page - 1) & ~(Page - 1), end = ((long)(start + floats)) & ~(Page - 1);
        if (end > first) _ = MAdvise((nint)first, (nuint)(end - first), 4 /* MADV_DONTNEED */);
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int MAdvise(nint address, nuint length, int advice);
}
