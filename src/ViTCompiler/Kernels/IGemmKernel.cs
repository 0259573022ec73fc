namespace ViTCompiler.Kernels;

/// <summary>
/// A register-blocked GEMM micro-kernel: one MR × NR tile of C from an A micro-panel (kc × MR, k-major) and a
/// B micro-panel (kc × NR, k-major). The source generator emits the implementations, one per vector width and tile
/// it picks for a model's shapes; <see cref="Gemm"/> drives them. A struct type parameter makes the JIT compile the
/// driver once per kernel with MR and NR as constants.
/// </summary>
public unsafe interface IGemmKernel
{
    /// <summary>Rows of the register tile.</summary>
    static abstract int MR { get; }

    /// <summary>Columns of the register tile (a whole number of vectors).</summary>
    static abstract int NR { get; }

    /// <summary>
    /// C[r, j] = (accumulate ? C[r, j] : 0) + Σ_k a[k·MR + r] · b[k·NR + j] (+ bias[j] when bias is not null), for
    /// r &lt; mr and j &lt; nr. Rows and columns beyond mr/nr are computed on zero padding and not stored.
    /// </summary>
    static abstract void Run(nint kc, float* a, float* b, float* c, nint ldc, float* bias, bool accumulate, int mr, int nr);
}
