using System.ComponentModel;

namespace ViTCompiler.Infrastructure;

/// <summary>
/// A register-blocked GEMM micro-kernel: one MR × NR tile of C from MR rows of A, read in place through two strides,
/// and a packed B micro-panel (kc × NR, k-major). The source generator emits the implementations, one per vector
/// width and tile it picks for a model's shapes; <see cref="Gemm"/> drives them. A struct type parameter makes the JIT
/// compile the driver once per kernel with MR and NR as constants.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public unsafe interface IGemmKernel
{
    /// <summary>Rows of the register tile.</summary>
    static abstract int MR { get; }

    /// <summary>Columns of the register tile (a whole number of vectors).</summary>
    static abstract int NR { get; }

    /// <summary>
    /// C[r, j] = (accumulate ? C[r, j] : 0) + Σ_k a[r·aRowStride + k·aColStride] · b[k·NR + j] (+ bias[j] when bias is
    /// not null), stored for r &lt; mr and j &lt; nr. All MR rows of A must be readable: the driver hands edge tiles
    /// (mr &lt; MR) over as a zero-padded copy.
    /// </summary>
    static abstract void Run(nint kc, float* a, nint aRowStride, nint aColStride, float* b, float* c, nint ldc, float* bias, bool accumulate, int mr, int nr);
}
