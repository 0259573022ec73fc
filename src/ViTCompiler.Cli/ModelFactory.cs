using ViTCompiler.Reference;

namespace ViTCompiler.Cli;

/// <summary>Builds the fastest engine available for a configuration.</summary>
internal static class ModelFactory
{
    /// <summary>
    /// The compiled model for <paramref name="config"/> when vit has one, else the reference engine with a warning on
    /// stderr: it computes the same thing in double precision, much more slowly.
    /// </summary>
    public static IVitModel Create(VitConfig config, ulong seed, CliContext context, out CompiledModel? compiled)
    {
        compiled = Presets.Find(config);
        if (compiled is not null) return compiled.Create(seed);
        context.Warn($"no compiled model matches this configuration ({config}, LayerNorm ε {config.LayerNormEpsilon:R}); " +
                     "running it on the reference engine, which is double precision, single-threaded and much slower. " +
                     "To compile it, add a [VitModel] class with these settings to src/ViTCompiler.Cli/Presets.cs and rebuild vit.");
        return new ReferenceVitModel(config, seed);
    }

    /// <summary>The engine <see cref="Create"/> would pick, without building it.</summary>
    public static string EngineName(VitConfig config) => Presets.Find(config) is null ? "reference" : "generated";
}

/// <summary>
/// A parameter block with nothing to run it: what conversions load into and save from, so that converting a file
/// allocates the weights once and never initialises or packs them.
/// </summary>
internal sealed class WeightsOnlyModel(VitConfig config) : IVitModel
{
    private readonly float[] _parameters = new float[checked((int)config.Validate().ParameterCount)];

    public VitConfig Config { get; } = config;
    public string Engine => "none (weights only)";
    public Span<float> Parameters => _parameters;
    public void ParametersChanged() { }
    public int Threads { get; set; } = 1;
    public Span<float> Gradients => throw new NotSupportedException("A weights-only model has no gradients.");

    public void Forward(ReadOnlySpan<float> pixels, int batch, Span<float> logits) =>
        throw new NotSupportedException("A weights-only model cannot run.");

    public void Forward(ReadOnlySpan<float> pixels, int batch, Span<float> logits, Span<float> attention) =>
        throw new NotSupportedException("A weights-only model cannot run.");

    public float TrainStep(ReadOnlySpan<float> pixels, ReadOnlySpan<int> labels, int batch, in TrainStepOptions options, Span<float> logits) =>
        throw new NotSupportedException("A weights-only model cannot train.");
}
