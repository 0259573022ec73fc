using System.Runtime.Intrinsics.X86;
using System.Text.Json;
using Xunit;

namespace ViTCompiler.Cli.Tests;

/// <summary>
/// The published vit's choice between its x86-64-v3 and x86-64-v4 binaries (IsaVariants), fed with the CPUID words of
/// CPUs this machine is not; .ci/aot-smoke.sh checks the real binaries.
/// </summary>
public class IsaVariantTests
{
    private const uint OsXsave = 1u << 27, Avx = 1u << 28, Fma = 1u << 12;
    private const uint Avx2 = 1u << 5, F = 1u << 16, Dq = 1u << 17, Cd = 1u << 28, Bw = 1u << 30, Vl = 1u << 31;
    private const ulong Xcr0Avx = 0b111 | 1ul << 9, Xcr0Avx512 = 0b1110_0111 | 1ul << 9; // x87, SSE, AVX (+ opmask, ZMM), PKRU

    private static readonly X86Cpu Zen3 = new(OsXsave | Avx | Fma, Avx2, Xcr0Avx);
    private static readonly X86Cpu Zen5 = new(OsXsave | Avx | Fma, Avx2 | F | Dq | Cd | Bw | Vl, Xcr0Avx512);
    private static readonly X86Cpu KnightsLanding = new(OsXsave | Avx | Fma, Avx2 | F | Cd, Xcr0Avx512);

    private static Func<string, bool> Siblings(params string[] present) => present.Contains;

    [Fact]
    public void Cpu_features_and_os_state_decide_whether_v4_runs()
    {
        Assert.True(Zen5.SupportsV4);
        Assert.False(Zen3.SupportsV4);
        Assert.Equal(new[] { "F", "CD", "BW", "DQ", "VL" }, Zen3.MissingAvx512);
        Assert.Equal(new[] { "BW", "DQ", "VL" }, KnightsLanding.MissingAvx512);
        Assert.False((Zen5 with { Xcr0 = Xcr0Avx }).SupportsV4);            // an OS that does not save ZMM registers
        Assert.False((Zen5 with { Leaf1Ecx = Avx | Fma }).SupportsV4);       // no OSXSAVE: no extended state at all
        // Without XCR0 (kernels before 5.16), the size of the enabled XSAVE area decides: Hi16_ZMM ends at byte 2688.
        Assert.True((Zen5 with { Xcr0 = null, XsaveEnabledBytes = 2696, ZmmStateEnd = 2688 }).SupportsV4);
        Assert.False((Zen5 with { Xcr0 = null, XsaveEnabledBytes = 832, ZmmStateEnd = 2688 }).SupportsV4);
    }

    [Fact]
    public void The_v3_launcher_runs_itself_on_an_avx2_cpu()
    {
        VariantChoice choice = IsaVariants.Choose("x86-64-v3", null, Zen3, Siblings("x86-64-v4"));
        Assert.Equal("x86-64-v3", choice.Variant);
        Assert.Null(choice.ExecPath);
        Assert.Null(choice.Error);
        Assert.Contains("lacks AVX-512 F/CD/BW/DQ/VL", choice.Reason);
    }

    [Fact]
    public void The_v3_launcher_hands_over_to_the_v4_binary_on_an_avx512_cpu()
    {
        VariantChoice choice = IsaVariants.Choose("x86-64-v3", null, Zen5, Siblings("x86-64-v4"));
        Assert.Equal("x86-64-v4", choice.Variant);
        Assert.Equal("vit-x86-64-v4", choice.ExecPath);
        Assert.Contains("has AVX-512", choice.Reason);

        // The v4 binary, once started, computes the same choice and runs itself: no loop.
        VariantChoice inV4 = IsaVariants.Choose("x86-64-v4", null, Zen5, Siblings("x86-64-v3"));
        Assert.Equal("x86-64-v4", inV4.Variant);
        Assert.Null(inV4.ExecPath);
    }

    [Fact]
    public void Without_the_sibling_or_the_os_support_v3_runs_and_says_why()
    {
        VariantChoice alone = IsaVariants.Choose("x86-64-v3", null, Zen5, Siblings());
        Assert.Equal(("x86-64-v3", (string?)null), (alone.Variant, alone.ExecPath));
        Assert.Contains("no vit-x86-64-v4 beside", alone.Reason);

        VariantChoice noOs = IsaVariants.Choose("x86-64-v3", null, Zen5 with { Xcr0 = Xcr0Avx }, Siblings("x86-64-v4"));
        Assert.Equal(("x86-64-v3", (string?)null), (noOs.Variant, noOs.ExecPath));
        Assert.Contains("OS does not save", noOs.Reason);
    }

    [Theory]
    [InlineData("avx2")]
    [InlineData("x86-64-v3")]
    [InlineData(" AVX2 ")]
    public void Vit_isa_forces_the_lower_variant(string value)
    {
        VariantChoice inV3 = IsaVariants.Choose("x86-64-v3", value, Zen5, Siblings("x86-64-v4"));
        Assert.Equal(("x86-64-v3", (string?)null, (string?)null), (inV3.Variant, inV3.ExecPath, inV3.Error));
        Assert.Contains("forces it", inV3.Reason);

        // Started as the v4 binary, it hands back to vit.
        VariantChoice inV4 = IsaVariants.Choose("x86-64-v4", value, Zen5, Siblings("x86-64-v3"));
        Assert.Equal(("x86-64-v3", "vit"), (inV4.Variant, inV4.ExecPath));
    }

    [Fact]
    public void Impossible_or_unknown_requests_are_errors_that_name_the_problem()
    {
        VariantChoice tooHigh = IsaVariants.Choose("x86-64-v3", "avx512", Zen3, Siblings("x86-64-v4"));
        Assert.Contains("VIT_ISA=avx512 asks for x86-64-v4, but the CPU lacks AVX-512", tooHigh.Error);

        VariantChoice unknown = IsaVariants.Choose("x86-64-v3", "sse2", Zen5, Siblings("x86-64-v4"));
        Assert.Contains("VIT_ISA=sse2 is not a variant", unknown.Error);

        VariantChoice single = IsaVariants.Choose("native", "avx2", Zen5, Siblings());
        Assert.Contains("published for native only", single.Error);
        Assert.Null(IsaVariants.Choose("native", null, Zen5, Siblings()).Error);
    }

    [Fact]
    public void Under_the_jit_nothing_is_chosen_and_vit_isa_is_ignored()
    {
        VariantChoice choice = IsaVariants.Choose(null, "sse2", Zen5, Siblings("x86-64-v4"));
        Assert.Equal("JIT", choice.Variant);
        Assert.Null(choice.Error);
        Assert.Null(choice.ExecPath);

        JsonElement info = Assert.Single(Cli.Ok("info", "--preset", "fashion-mnist", "--json").JsonLines);
        Assert.Equal("JIT", info.GetProperty("variant").GetString());
        Assert.Contains("JIT compiles", info.GetProperty("variant_reason").GetString());
    }

    [Fact]
    public void This_machine_read_with_cpuid_agrees_with_the_jit()
    {
        if (!X86Base.X64.IsSupported || Environment.GetEnvironmentVariable("DOTNET_EnableAVX512F") is not null
            || Environment.GetEnvironmentVariable("DOTNET_EnableHWIntrinsic") is not null) return;
        X86Cpu cpu = X86Cpu.Read()!.Value;
        // The JIT reads CPUID and XGETBV itself: an independent check of the launcher's reading.
        Assert.Equal(Avx512F.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported && Avx512CD.IsSupported && Avx512F.VL.IsSupported, cpu.SupportsV4);
        Assert.True(cpu.OsSavesAvx);
    }
}
