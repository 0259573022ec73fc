using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace ViTCompiler.Cli;

/// <summary>
/// What an x86-64 CPU offers, as far as choosing a <c>vit</c> variant goes: the CPUID feature words and the state
/// components the operating system saves on a context switch (XCR0). A value, so that the choice can be tested with
/// any CPU's numbers.
/// </summary>
/// <param name="Leaf1Ecx">CPUID leaf 1, ECX: OSXSAVE (bit 27), AVX (28), FMA (12).</param>
/// <param name="Leaf7Ebx">CPUID leaf 7 sub-leaf 0, EBX: AVX2 (5), AVX-512 F (16), DQ (17), CD (28), BW (30), VL (31).</param>
/// <param name="Xcr0">
/// The state components the OS enables (the XCR0 register), or null when it could not be read; then
/// <paramref name="XsaveEnabledBytes"/> decides.
/// </param>
/// <param name="XsaveEnabledBytes">CPUID leaf 0xD sub-leaf 0, EBX: the size of the XSAVE area the enabled components need.</param>
/// <param name="ZmmStateEnd">CPUID leaf 0xD sub-leaf 7, EBX + EAX: where the last AVX-512 component (Hi16_ZMM) ends in that area.</param>
internal readonly partial record struct X86Cpu(uint Leaf1Ecx, uint Leaf7Ebx, ulong? Xcr0, uint XsaveEnabledBytes = 0, uint ZmmStateEnd = 0)
{
    // XCR0 bits: SSE (1) and AVX (2) state, then AVX-512's opmask (5), ZMM_Hi256 (6) and Hi16_ZMM (7).
    private const ulong AvxState = 0b110, Avx512State = 0b1110_0110;

    private static readonly (int Bit, string Name)[] Avx512Features = [(16, "F"), (28, "CD"), (30, "BW"), (17, "DQ"), (31, "VL")];

    /// <summary>The AVX-512 subsets x86-64-v4 requires that this CPU lacks (empty when it has all five).</summary>
    public IReadOnlyList<string> MissingAvx512
    {
        get
        {
            uint ebx = Leaf7Ebx;
            return [.. Avx512Features.Where(f => (ebx & (1u << f.Bit)) == 0).Select(f => f.Name)];
        }
    }

    /// <summary>Whether the OS saves the AVX-512 registers (without it, using them faults or corrupts other processes' state).</summary>
    public bool OsSavesAvx512
    {
        get
        {
            if ((Leaf1Ecx & (1u << 27)) == 0) return false; // no OSXSAVE: the OS enabled no extended state at all
            // Without XCR0, the enabled area's size tells: it reaches past Hi16_ZMM only when AVX-512's state is on
            // (a heuristic: an OS that enabled a later component such as PKRU but not AVX-512 would pass it too).
            return Xcr0 is { } xcr0 ? (xcr0 & Avx512State) == Avx512State : ZmmStateEnd > 0 && XsaveEnabledBytes >= ZmmStateEnd;
        }
    }

    /// <summary>Whether the OS saves the AVX registers.</summary>
    public bool OsSavesAvx => (Leaf1Ecx & (1u << 27)) != 0 && (Xcr0 is not { } xcr0 || (xcr0 & AvxState) == AvxState);

    /// <summary>Whether code compiled for x86-64-v4 runs here.</summary>
    public bool SupportsV4 => MissingAvx512.Count == 0 && OsSavesAvx512;

    /// <summary>This CPU, read with CPUID; XCR0 from the Linux kernel (arch_prctl), which knows what it enabled.</summary>
    public static X86Cpu? Read()
    {
        if (!X86Base.X64.IsSupported) return null;
        (_, _, int leaf1Ecx, _) = X86Base.CpuId(1, 0);
        (int maxLeaf, _, _, _) = X86Base.CpuId(0, 0);
        int leaf7Ebx = 0, xsaveBytes = 0, zmmEnd = 0;
        if (maxLeaf >= 7) (_, leaf7Ebx, _, _) = X86Base.CpuId(7, 0);
        if (maxLeaf >= 0xD)
        {
            (_, xsaveBytes, _, _) = X86Base.CpuId(0xD, 0);
            (int hi16Size, int hi16Offset, _, _) = X86Base.CpuId(0xD, 7);
            zmmEnd = hi16Size == 0 ? 0 : hi16Offset + hi16Size;
        }
        return new X86Cpu((uint)leaf1Ecx, (uint)leaf7Ebx, LinuxXcr0(), (uint)xsaveBytes, (uint)zmmEnd);
    }

    // ARCH_GET_XCOMP_SUPP (Linux 5.16+): the user state components the kernel enabled in XCR0. .NET has no XGETBV.
    private static unsafe ulong? LinuxXcr0()
    {
        if (!OperatingSystem.IsLinux()) return null;
        ulong features = 0;
        try { return ArchPrctl(0x1021, &features) == 0 ? features : null; }
        catch (EntryPointNotFoundException) { return null; }
        catch (DllNotFoundException) { return null; }
    }

    [LibraryImport("libc", EntryPoint = "arch_prctl")]
    private static unsafe partial int ArchPrctl(int code, ulong* address);
}

/// <summary>The variant of <c>vit</c> that runs, and why.</summary>
/// <param name="Variant">"x86-64-v4", "x86-64-v3", another IlcInstructionSet, or "JIT".</param>
/// <param name="Reason">Why, in words (shown by <c>vit info</c>).</param>
/// <param name="ExecPath">The sibling binary to run instead of this one; null to run here.</param>
/// <param name="Error">Set when <see cref="IsaVariants.EnvironmentVariable"/> asks for something impossible.</param>
internal sealed record VariantChoice(string Variant, string Reason, string? ExecPath = null, string? Error = null);

/// <summary>
/// One published <c>vit</c>, the best kernels of the machine. NativeAOT fixes the instruction set at compile time, so
/// the publish builds <c>vit</c> for x86-64-v3 (AVX2 + FMA: starts on any such CPU) and <c>vit-x86-64-v4</c> (AVX-512)
/// beside it; at start-up the x86-64-v3 binary reads CPUID and, on a CPU with AVX-512 F/CD/BW/DQ/VL whose registers the
/// OS saves, replaces itself with the other one (<c>execv</c>: same process id, arguments and environment).
/// <c>VIT_ISA=x86-64-v3</c> (or <c>avx2</c>) forces the lower one. Under the JIT nothing is chosen here: the JIT
/// compiles for the CPU it runs on.
/// </summary>
internal static partial class IsaVariants
{
    public const string EnvironmentVariable = "VIT_ISA";
    public const string V3 = "x86-64-v3", V4 = "x86-64-v4";

    /// <summary>The file name of a variant beside the launcher: <c>vit</c> itself is x86-64-v3.</summary>
    public static string FileName(string variant) => variant == V3 ? "vit" : "vit-" + variant;

    /// <summary>The choice for this process (computed once: CPUID and the file system do not change while it runs).</summary>
    public static VariantChoice Current => current ??= Choose(
        Isa.IsJit ? null : Isa.CompiledFor, Environment.GetEnvironmentVariable(EnvironmentVariable), X86Cpu.Read(),
        variant => File.Exists(Path.Combine(AppContext.BaseDirectory, FileName(variant))));

    private static VariantChoice? current;

    /// <summary>Chooses the variant to run.</summary>
    /// <param name="compiledFor">This binary's IlcInstructionSet, or null under the JIT.</param>
    /// <param name="requested">The value of VIT_ISA, if set.</param>
    /// <param name="cpu">The CPU, or null on a CPU that is not x86-64.</param>
    /// <param name="siblingExists">Whether a variant's binary lies beside this one.</param>
    public static VariantChoice Choose(string? compiledFor, string? requested, X86Cpu? cpu, Func<string, bool> siblingExists)
    {
        if (compiledFor is null)
            return new VariantChoice("JIT", $"the JIT compiles for the CPU it runs on ({EnvironmentVariable} applies to the published binary only; DOTNET_EnableAVX512F=0 limits the JIT)");
        string? wanted = Normalize(requested, out string? error);
        if (error is not null) return new VariantChoice(compiledFor, error, Error: error);
        bool isLadder = compiledFor is V3 or V4 && cpu is not null;
        if (!isLadder)
        {
            if (wanted is not null && wanted != compiledFor)
                return new VariantChoice(compiledFor, "", Error: $"{EnvironmentVariable}={requested} asks for {wanted}, but this vit was published for {compiledFor} only.");
            return new VariantChoice(compiledFor, $"the only variant of this build (published with IlcInstructionSet={compiledFor})");
        }

        X86Cpu x86 = cpu!.Value;
        bool v4Available = compiledFor == V4 || siblingExists(V4);
        string noV4 = x86.MissingAvx512.Count > 0 ? $"the CPU lacks AVX-512 {string.Join("/", x86.MissingAvx512)}"
            : !x86.OsSavesAvx512 ? "the CPU has AVX-512 but the OS does not save its registers (XCR0)"
            : !v4Available ? $"the CPU has AVX-512, but there is no {FileName(V4)} beside this binary (published with -p:VitIsaVariants=)" : "";

        string chosen, reason;
        if (wanted == V4)
        {
            if (!x86.SupportsV4 || !v4Available)
                return new VariantChoice(compiledFor, "", Error: $"{EnvironmentVariable}={requested} asks for {V4}, but {noV4}.");
            (chosen, reason) = (V4, $"{EnvironmentVariable}={requested} asks for it");
        }
        else if (wanted == V3)
        {
            if (compiledFor == V4 && !siblingExists(V3))
                return new VariantChoice(compiledFor, "", Error: $"{EnvironmentVariable}={requested} asks for {V3}, but there is no {FileName(V3)} beside this binary.");
            (chosen, reason) = (V3, $"{EnvironmentVariable}={requested} forces it");
        }
        else if (noV4 == "") (chosen, reason) = (V4, "the CPU has AVX-512 F/CD/BW/DQ/VL and the OS saves its registers");
        else (chosen, reason) = (V3, noV4);

        string? exec = chosen == compiledFor ? null : FileName(chosen);
        return new VariantChoice(chosen, reason, exec);
    }

    private static string? Normalize(string? requested, out string? error)
    {
        error = null;
        switch (requested?.Trim().ToLowerInvariant())
        {
            case null or "": return null;
            case "x86-64-v4" or "avx512" or "avx-512" or "v4": return V4;
            case "x86-64-v3" or "avx2" or "v3": return V3;
            default:
                error = $"{EnvironmentVariable}={requested} is not a variant; use x86-64-v3 (or avx2) or x86-64-v4 (or avx512), or unset it.";
                return null;
        }
    }

    /// <summary>
    /// Called first thing in Main: replaces this process with the better variant when there is one (and does not
    /// return then); returns an exit code when <see cref="EnvironmentVariable"/> is invalid, or null to run here.
    /// </summary>
    public static int? Dispatch(string[] args, TextWriter error)
    {
        VariantChoice choice = Current;
        if (choice.Error is not null)
        {
            error.WriteLine("vit: " + choice.Error);
            return ExitCodes.Usage;
        }
        if (choice.ExecPath is null) return null;
        string path = Path.Combine(AppContext.BaseDirectory, choice.ExecPath);
        int errno = Exec(path, args);
        // Only reached when execv failed: say so, and run here (slower kernels, same results).
        error.WriteLine($"vit: could not start {path} (errno {errno}); running the {Isa.CompiledFor} variant.");
        current = choice with { Variant = Isa.CompiledFor ?? "", Reason = $"{path} could not be started (errno {errno})", ExecPath = null };
        return null;
    }

    private static unsafe int Exec(string path, string[] args)
    {
        var strings = new List<nint>(args.Length + 2);
        try
        {
            strings.Add(Marshal.StringToCoTaskMemUTF8(path));
            foreach (string arg in args) strings.Add(Marshal.StringToCoTaskMemUTF8(arg));
            nint[] argv = [.. strings, 0]; // argv[0] is the program's own path; the list ends with a null pointer
            Console.Out.Flush();
            fixed (nint* pointers = argv) ExecV((byte*)argv[0], (byte**)pointers);
            return Marshal.GetLastPInvokeError();
        }
        finally
        {
            foreach (nint s in strings) Marshal.FreeCoTaskMem(s);
        }
    }

    [LibraryImport("libc", EntryPoint = "execv", SetLastError = true)]
    private static unsafe partial int ExecV(byte* path, byte** argv);
}
