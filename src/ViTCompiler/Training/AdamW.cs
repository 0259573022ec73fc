using System.Numerics;
using System.Runtime.InteropServices;

namespace ViTCompiler.Training;

/// <summary>
/// Adam with decoupled weight decay (Loshchilov &amp; Hutter; PyTorch's <c>AdamW</c>): β1 0.9, β2 0.999, ε 1e-8, with
/// bias correction. For step t, learning rate η and decay λ (λ only on weight matrices):
/// <code>
/// θ ← θ · (1 − η·λ)
/// m ← β1·m + (1 − β1)·g
/// v ← β2·v + (1 − β2)·g²
/// θ ← θ − η/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)
/// </code>
/// </summary>
/// <remarks>State blocks: <c>optimizer.m</c> (first moment) and <c>optimizer.v</c> (second moment).</remarks>
public sealed class AdamW : Optimizer
{
    /// <summary>Name of the first-moment block in checkpoints.</summary>
    public const string FirstMomentName = "optimizer.m";

    /// <summary>Name of the second-moment block in checkpoints.</summary>
    public const string SecondMomentName = "optimizer.v";

    private static readonly string[] s_stateNames = [FirstMomentName, SecondMomentName];

    private readonly float[] _m;
    private readonly float[] _v;

    // Per-step constants, set by BeginStep.
    private float _stepSize;      // η / (1 − β1ᵗ)
    private float _inverseRootBias; // 1 / √(1 − β2ᵗ)

    /// <summary>AdamW for parameters laid out as <paramref name="layout"/>.</summary>
    /// <param name="layout">The model's parameter layout (<see cref="VitConfig.Layout"/>).</param>
    /// <param name="weightDecay">λ, applied to weight matrices only; the paper pre-trains with 0.1, timm's DeiT recipe uses 0.05.</param>
    public AdamW(ParameterLayout layout, float weightDecay = 0.05f) : base(layout, weightDecay)
    {
        _m = NewStateBlock();
        _v = NewStateBlock();
    }

    /// <summary>β1, the first moment's decay: 0.9.</summary>
    public float Beta1 => 0.9f;

    /// <summary>β2, the second moment's decay: 0.999.</summary>
    public float Beta2 => 0.999f;

    /// <summary>ε, added to the denominator: 1e-8.</summary>
    public float Epsilon => 1e-8f;

    /// <inheritdoc/>
    public override string Name => "adamw";

    /// <inheritdoc/>
    public override IReadOnlyList<string> StateNames => s_stateNames;

    /// <inheritdoc/>
    public override Span<float> StateBlock(int index) => index switch
    {
        0 => _m,
        1 => _v,
        _ => throw new ArgumentOutOfRangeException(nameof(index), index, "AdamW has two state blocks: 0 (m) and 1 (v)."),
    };

    /// <summary>The first-moment block m.</summary>
    public ReadOnlySpan<float> FirstMoment => _m;

    /// <summary>The second-moment block v.</summary>
    public ReadOnlySpan<float> SecondMoment => _v;

    /// <inheritdoc/>
    protected override void BeginStep(long step, float learningRate)
    {
        // In double: β2ᵗ for small t is 1 − tiny, which float would round to exactly 1 and then divide by zero.
        double correction1 = 1 - Math.Pow(Beta1, step);
        double correction2 = 1 - Math.Pow(Beta2, step);
        _stepSize = (float)(learningRate / correction1);
        _inverseRootBias = (float)(1 / Math.Sqrt(correction2));
    }

    /// <inheritdoc/>
    protected override void Update(int offset, Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate, float weightDecay)
    {
        Span<float> m = _m.AsSpan(offset, parameters.Length);
        Span<float> v = _v.AsSpan(offset, parameters.Length);
        float beta1 = Beta1, beta2 = Beta2, epsilon = Epsilon;
        float oneMinusBeta1 = 1 - beta1, oneMinusBeta2 = 1 - beta2;
        float stepSize = _stepSize, inverseRootBias = _inverseRootBias;
        float keep = (float)(1 - (double)learningRate * weightDecay);

        ref float p0 = ref MemoryMarshal.GetReference(parameters);
        ref float g0 = ref MemoryMarshal.GetReference(gradients);
        ref float m0 = ref MemoryMarshal.GetReference(m);
        ref float v0 = ref MemoryMarshal.GetReference(v);
        nuint n = (nuint)parameters.Length, i = 0;

        // One fused pass over the four arrays, not TensorPrimitives: the same operations as its calls take eleven passes
        // over whole blocks and a scratch block, about 5× the time (docs/PERFORMANCE.md, "TensorPrimitives").
        // The vector body and the scalar tail perform the same float operations in the same order (no fused
        // multiply-add), so an element's result does not depend on whether it fell in the tail.
        if (Vector.IsHardwareAccelerated && n >= (nuint)Vector<float>.Count)
        {
            var vBeta1 = new Vector<float>(beta1);
            var vBeta2 = new Vector<float>(beta2);
            var vOneMinusBeta1 = new Vector<float>(oneMinusBeta1);
            var vOneMinusBeta2 = new Vector<float>(oneMinusBeta2);
            var vStepSize = new Vector<float>(stepSize);
            var vInverseRootBias = new Vector<float>(inverseRootBias);
            var vEpsilon = new Vector<float>(epsilon);
            var vKeep = new Vector<float>(keep);
            nuint last = n - (nuint)Vector<float>.Count;
            for (; i <= last; i += (nuint)Vector<float>.Count)
            {
                Vector<float> g = Vector.LoadUnsafe(ref g0, i);
                Vector<float> mi = vBeta1 * Vector.LoadUnsafe(ref m0, i) + vOneMinusBeta1 * g;
                Vector<float> vi = vBeta2 * Vector.LoadUnsafe(ref v0, i) + vOneMinusBeta2 * (g * g);
                Vector<float> denominator = Vector.SquareRoot(vi) * vInverseRootBias + vEpsilon;
                Vector<float> p = Vector.LoadUnsafe(ref p0, i) * vKeep - vStepSize * (mi / denominator);
                mi.StoreUnsafe(ref m0, i);
                vi.StoreUnsafe(ref v0, i);
                p.StoreUnsafe(ref p0, i);
            }
        }
        for (; i < n; i++)
        {
            int k = (int)i;
            float g = gradients[k];
            float mi = beta1 * m[k] + oneMinusBeta1 * g;
            float vi = beta2 * v[k] + oneMinusBeta2 * (g * g);
            float denominator = MathF.Sqrt(vi) * inverseRootBias + epsilon;
            m[k] = mi;
            v[k] = vi;
            parameters[k] = parameters[k] * keep - stepSize * (mi / denominator);
        }
    }
}
