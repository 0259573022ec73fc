using System.Numerics;
using System.Runtime.InteropServices;

namespace ViTCompiler.Training;

/// <summary>
/// Stochastic gradient descent with heavy-ball momentum, as PyTorch's <c>SGD(momentum=μ, weight_decay=λ)</c> and the
/// paper's fine-tuning (momentum 0.9, no weight decay). For learning rate η, with λ only on weight matrices:
/// <code>
/// b ← μ·b + (g + λ·θ)
/// θ ← θ − η·b
/// </code>
/// </summary>
/// <remarks>State block: <c>optimizer.momentum</c>. The first step, from b = 0, is plain gradient descent, as in PyTorch.</remarks>
public sealed class Sgd : Optimizer
{
    /// <summary>Name of the momentum block in checkpoints.</summary>
    public const string MomentumName = "optimizer.momentum";

    private static readonly string[] s_stateNames = [MomentumName];

    private readonly float[] _buffer;

    /// <summary>SGD for parameters laid out as <paramref name="layout"/>.</summary>
    /// <param name="layout">The model's parameter layout (<see cref="VitConfig.Layout"/>).</param>
    /// <param name="momentum">μ in [0, 1); 0.9 by default, as the paper fine-tunes.</param>
    /// <param name="weightDecay">λ (L2, added to the gradient), on weight matrices only; 0 by default.</param>
    public Sgd(ParameterLayout layout, float momentum = 0.9f, float weightDecay = 0f) : base(layout, weightDecay)
    {
        if (!(momentum >= 0 && momentum < 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Momentum must be in [0, 1).");
        Momentum = momentum;
        _buffer = NewStateBlock();
    }

    /// <summary>μ, the momentum coefficient.</summary>
    public float Momentum { get; }

    /// <inheritdoc/>
    public override string Name => "sgd";

    /// <inheritdoc/>
    public override IReadOnlyList<string> StateNames => s_stateNames;

    /// <inheritdoc/>
    public override Span<float> StateBlock(int index) => index == 0
        ? _buffer
        : throw new ArgumentOutOfRangeException(nameof(index), index, "SGD has one state block: 0 (momentum).");

    /// <inheritdoc/>
    protected override void Update(int offset, Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate, float weightDecay)
    {
        Span<float> b = _buffer.AsSpan(offset, parameters.Length);
        float momentum = Momentum;
        ref float p0 = ref MemoryMarshal.GetReference(parameters);
        ref float g0 = ref MemoryMarshal.GetReference(gradients);
        ref float b0 = ref MemoryMarshal.GetReference(b);
        nuint n = (nuint)parameters.Length, i = 0;
        // One fused pass over three arrays, not TensorPrimitives: as its calls this takes four passes and a scratch
        // block, over twice the time (docs/PERFORMANCE.md, "TensorPrimitives").
        if (Vector.IsHardwareAccelerated && n >= (nuint)Vector<float>.Count)
        {
            var vMomentum = new Vector<float>(momentum);
            var vDecay = new Vector<float>(weightDecay);
            var vRate = new Vector<float>(learningRate);
            nuint last = n - (nuint)Vector<float>.Count;
            for (; i <= last; i += (nuint)Vector<float>.Count)
            {
                Vector<float> p = Vector.LoadUnsafe(ref p0, i);
                Vector<float> bi = vMomentum * Vector.LoadUnsafe(ref b0, i) + (Vector.LoadUnsafe(ref g0, i) + vDecay * p);
                bi.StoreUnsafe(ref b0, i);
                (p - vRate * bi).StoreUnsafe(ref p0, i);
            }
        }
        for (; i < n; i++)
        {
            int k = (int)i;
            float p = parameters[k];
            float bi = momentum * b[k] + (gradients[k] + weightDecay * p);
            b[k] = bi;
            parameters[k] = p - learningRate * bi;
        }
    }
}
