using System.Reflection;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Runtime.Intrinsics.Arm;

namespace ViTCompiler.Cli;

/// <summary>The instruction set the generated kernels run with in this process, and how vit was compiled.</summary>
internal static class Isa
{
    /// <summary>The widest vector path the generated code takes: Vector512, Vector256, Vector128 or scalar.</summary>
    public static string Name =>
        Vector512.IsHardwareAccelerated ? "Vector512" : Vector256.IsHardwareAccelerated ? "Vector256" : Vector128.IsHardwareAccelerated ? "Vector128" : "scalar";

    /// <summary>The SIMD extensions this process may use (what the CPU has, limited to what the binary was compiled for).</summary>
    public static IReadOnlyList<string> Features
    {
        get
        {
            var features = new List<string>();
            if (Avx512F.IsSupported) features.Add("avx512f");
            if (Avx2.IsSupported) features.Add("avx2");
            if (Fma.IsSupported) features.Add("fma");
            if (Avx.IsSupported) features.Add("avx");
            if (Sse42.IsSupported) features.Add("sse4.2");
            if (AdvSimd.IsSupported) features.Add("neon");
            if (Dp.IsSupported) features.Add("dotprod");
            if (Rdm.IsSupported) features.Add("rdm");
            return features;
        }
    }

    public static string CpuFeatures => Features.Count == 0 ? "no SIMD" : string.Join(", ", Features);

    /// <summary>"NativeAOT, compiled for x86-64-v3" or "JIT (.NET 10.0.x)".</summary>
    public static string Runtime => IsJit ? $"JIT (.NET {Environment.Version})"
        : CompiledFor is null ? "NativeAOT (baseline instruction set)" : $"NativeAOT, compiled for {CompiledFor}";

    /// <summary>
    /// Whether this process runs under the JIT. A NativeAOT binary never JIT-compiles, so the JIT has compiled nothing;
    /// under the JIT, at least Main was. (RuntimeFeature.IsDynamicCodeSupported cannot tell: projects with PublishAot
    /// turn it off for JIT runs too.)
    /// </summary>
    public static bool IsJit => System.Runtime.JitInfo.GetCompiledMethodCount() > 0;

    /// <summary>The IlcInstructionSet this binary was published with (x86-64-v3, x86-64-v4, native …), or null.</summary>
    public static string? CompiledFor { get; } = typeof(Isa).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .FirstOrDefault(a => a.Key == "IlcInstructionSet")?.Value is { Length: > 0 } target ? target : null;
}
