using System.ComponentModel;
using System.Runtime.CompilerServices;
using ViTCompiler.Infrastructure;

namespace ViTCompiler;

/// <summary>
/// What every generated model inherits: the parameter block, the packed-weight cache, the workspace and argument
/// checking. The generated part adds the shape constants and the shape-specialised passes.
/// </summary>
/// <remarks>An instance is not safe for concurrent calls: it reuses one workspace. Use one model per thread.</remarks>
public abstract unsafe partial class CompiledVit : IVitTrainable
{
    private readonly float[] _parameters;
    private float[]? _gradients;
    private float[] _packed = [];
    private float[] _workspace = [];
    private int _parameterVersion = 1, _packedVersion;
    private int _threads = Math.Min(WorkerPool.DefaultThreads, WorkerPool.Shared.MaxThreads);
    private readonly Action _parametersWritten;

    /// <summary>The generated-code contract this runtime implements (see <see cref="CompiledVit(VitConfig, ulong, int)"/>).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public const int RuntimeContractVersion = VitContract.Version;

    /// <summary>
    /// Allocates the parameter block and initialises it deterministically from <paramref name="seed"/>. Generated code
    /// passes the contract version it was emitted for; a runtime that implements another one refuses to run it.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected CompiledVit(VitConfig config, ulong seed, int contractVersion)
    {
        if (contractVersion != RuntimeContractVersion)
            throw new InvalidOperationException(
                $"{GetType().FullName} was generated for ViTCompiler runtime contract {contractVersion}, but the ViTCompiler runtime loaded " +
                $"({typeof(CompiledVit).Assembly.GetName().Version}) implements contract {RuntimeContractVersion}. The generator and the runtime come " +
                "from different ViTCompiler versions: reference one version of the ViTCompiler package (it carries both) and rebuild.");
        Config = config.Validate();
        // Pinned, so kernels take raw pointers without fixed statements and the GC never moves 350 MB of weights.
        _parameters = GC.AllocateArray<float>(checked((int)config.ParameterCount), pinned: true);
        ParameterInit.Initialize(config, _parameters, seed);
        _parametersWritten = () => _parameterVersion++;
    }

    public VitConfig Config { get; }

    public string Engine => "generated, " + KernelDescription;

    /// <summary>The ISA path and register tiles in use, e.g. "Vector256 (6×16 tiles)".</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected abstract string KernelDescription { get; }

    /// <exception cref="InvalidOperationException">An <see cref="InferenceOnly"/> model released its weight matrices.</exception>
    public ReadOnlySpan<float> Parameters
    {
        get
        {
            ThrowIfReleased("Parameters");
            return _parameters;
        }
    }

    /// <exception cref="InvalidOperationException">An <see cref="InferenceOnly"/> model released its weight matrices.</exception>
    public ParameterEdit EditParameters()
    {
        ThrowIfReleased("EditParameters");
        _parameterVersion++;
        return new ParameterEdit(_parameters, _parametersWritten);
    }

    /// <summary>The gradient block, allocated (pinned) on first use so inference-only models do not pay for it.</summary>
    public Span<float> Gradients => GradientBlock;

    private float[] GradientBlock => _gradients ??= GC.AllocateArray<float>(_parameters.Length, pinned: true);

    /// <summary>The gradient block (pinned).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected float* GradientPointer
    {
        get => (float*)Unsafe.AsPointer(ref GradientBlock[0]);
    }

    public float TrainStep(ReadOnlySpan<float> pixels, ReadOnlySpan<int> labels, int batch, in TrainStepOptions options, Span<float> logits)
    {
        if (InferenceOnly) throw new InvalidOperationException("TrainStep: this model is InferenceOnly (it keeps its weights only in packed form); train a model without that setting.");
        CheckBatch(pixels.Length, batch, logits.IsEmpty ? batch * Config.Classes : logits.Length);
        options.Validate();
        if (labels.Length != batch) throw new ArgumentException($"labels must hold one label per image ({batch}); it holds {labels.Length}.", nameof(labels));
        foreach (int label in labels)
            if ((uint)label >= (uint)Config.Classes)
                throw new ArgumentOutOfRangeException(nameof(labels), label, $"A label must be in [0, {Config.Classes}).");
        // Always re-packed: the optimiser has just written the parameters, and a forward pass on stale panels would
        // silently train the wrong model. Packing is one pass over the weights, small next to a batch's work.
        PackWeights(ParameterPointer);
        _packedVersion = _parameterVersion;
        fixed (float* p = pixels)
        fixed (int* y = labels)
        fixed (float* l = logits)
            return ShardImages > 0 && batch > ShardImages
                ? TrainImageParallel(p, y, batch, options, logits.IsEmpty ? null : l)
                : TrainStepCore(p, y, batch, options, logits.IsEmpty ? null : l);
    }

    /// <summary>Training forward + backward with checked arguments; adds gradients, returns the mean loss.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected abstract float TrainStepCore(float* pixels, int* labels, int batch, in TrainStepOptions options, float* logits);

    public int Threads
    {
        get => _threads;
        set => _threads = value >= 1 ? Math.Min(value, WorkerPool.Shared.MaxThreads)
            : throw new ArgumentOutOfRangeException(nameof(Threads), value, "At least one thread is needed.");
    }

    /// <summary>The most threads any model in this process can use: the worker pool's size (cores, or <c>VIT_THREADS</c>).</summary>
    public static int MaxThreads => WorkerPool.Shared.MaxThreads;

    /// <summary>The pool kernels run on.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected static WorkerPool Pool => WorkerPool.Shared;

    /// <summary>The parameter block (pinned).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected float* ParameterPointer => (float*)Unsafe.AsPointer(ref _parameters[0]);

    /// <summary>The packed weights (valid inside <see cref="ForwardCore"/>).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected float* PackedPointer => _packed.Length == 0 ? null : (float*)Unsafe.AsPointer(ref _packed[0]);

    /// <summary>Returns a pinned, reused block of at least <paramref name="floats"/> floats (grown, never shrunk).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected float* Workspace(long floats)
    {
        if (_workspace.Length < floats)
        {
            if (floats > Array.MaxLength) throw new InvalidOperationException($"This batch needs a {floats:N0}-float workspace, more than one array can hold; use a smaller batch.");
            _workspace = [];
            _workspace = GC.AllocateUninitializedArray<float>((int)floats, pinned: true);
        }
        return (float*)Unsafe.AsPointer(ref _workspace[0]);
    }

    /// <summary>Returns a pinned block of <paramref name="floats"/> floats for packed weights, replacing the previous one.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected float* AllocatePacked(long floats)
    {
        if (_packed.Length != floats) _packed = GC.AllocateUninitializedArray<float>(checked((int)Math.Max(1, floats)), pinned: true);
        return (float*)Unsafe.AsPointer(ref _packed[0]);
    }

    /// <summary>Re-packs the weights into the panel order the active kernels stream.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected abstract void PackWeights(float* parameters);

    /// <summary>Runs the forward pass; arguments are checked, weights packed, attention null when not captured.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected abstract void ForwardCore(float* pixels, int batch, float* logits, float* attention);

    public void Forward(ReadOnlySpan<float> pixels, int batch, Span<float> logits) => Forward(pixels, batch, logits, default);

    public void Forward(ReadOnlySpan<float> pixels, int batch, Span<float> logits, Span<float> attention)
    {
        CheckBatch(pixels.Length, batch, logits.Length);
        long perImage = (long)Config.Layers * Config.Heads * Config.Tokens * Config.Tokens;
        if (!attention.IsEmpty && attention.Length != batch * perImage)
            throw new ArgumentException($"attention must hold batch × layers × heads × tokens² = {batch * perImage:N0} floats; it holds {attention.Length:N0}.", nameof(attention));
        EnsurePacked();
        fixed (float* p = pixels)
        fixed (float* l = logits)
        fixed (float* a = attention)
        {
            if (ForwardByImages(batch)) ForwardImageParallel(p, batch, l, attention.IsEmpty ? null : a);
            else ForwardCore(p, batch, l, attention.IsEmpty ? null : a);
        }
    }

    /// <summary>Packs the weights if the parameters changed since the last pack.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected void EnsurePacked()
    {
        if (_packedVersion == _parameterVersion) return;
        PackWeights(ParameterPointer);
        _packedVersion = _parameterVersion;
    }

    /// <summary>Throws a clear <see cref="ArgumentException"/> when the buffers do not match the batch.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected void CheckBatch(int pixelCount, int batch, int logitCount)
    {
        if (batch <= 0) throw new ArgumentOutOfRangeException(nameof(batch), batch, "The batch must hold at least one image.");
        if ((long)pixelCount != (long)batch * Config.PixelsPerImage)
            throw new ArgumentException($"pixels must hold batch × {Config.Channels} × {Config.ImageSize} × {Config.ImageSize} = {(long)batch * Config.PixelsPerImage:N0} floats (NCHW); it holds {pixelCount:N0}.", "pixels");
        if ((long)logitCount != (long)batch * Config.Classes)
            throw new ArgumentException($"logits must hold batch × {Config.Classes} classes = {(long)batch * Config.Classes:N0} floats; it holds {logitCount:N0}.", "logits");
    }
}
