using ViTCompiler.Reference;

namespace ViTCompiler.Cli;

/// <summary>Builds the fastest engine available for a configuration.</summary>
internal static class ModelFactory
{
    /// <summary>
    /// The compiled model for <paramref name="config"/> when vit has one, else the reference engine with a warning on
    /// stderr: it computes the same thing in double precision, much more slowly.
    /// </summary>
    public static IVitTrainable Create(VitConfig config, ulong seed, CliContext context, out CompiledModel? compiled)
    {
        compiled = Presets.Find(config);
        if (compiled is not null) return compiled.Create(seed, config.Classes);
        int[] sizes = Presets.CompiledImageSizes(config);
        string elsewhere = sizes.Length == 0 ? "" : $" (vit has this model compiled at {string.Join(", ", sizes.Select(s => s + " px"))} only)";
        context.Warn($"no compiled model matches this configuration ({config}, LayerNorm ε {config.LayerNormEpsilon:R}){elsewhere}; " +
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
internal sealed class WeightsOnlyModel(VitConfig config) : IVitWeights
{
    private readonly float[] _parameters = new float[checked((int)config.Validate().ParameterCount)];

    public VitConfig Config { get; } = config;
    public ReadOnlySpan<float> Parameters => _parameters;
    public ParameterEdit EditParameters() => new(_parameters, null);
}
