using System.CommandLine;
using System.Globalization;

namespace ViTCompiler.Cli.Commands;

/// <summary><c>vit info</c>: a model's configuration, size, cost and the engine that would run it.</summary>
internal static class InfoCommand
{
    public static Command Create(CliContext context)
    {
        Option<string> preset = CommonOptions.Preset(required: false);
        Option<string> weights = CommonOptions.Weights(required: false);
        Option<string> config = CommonOptions.Config();
        Option<int?> heads = CommonOptions.Heads();
        Option<int?> imageSize = CommonOptions.ImageSize();
        Option<bool> json = CommonOptions.Json();
        var command = new Command("info", "Show a model's configuration, parameters, FLOPs and memory per image, and the engine and instruction set that run it.")
        {
            preset, weights, config, heads, imageSize, json,
        };
        command.SetAction(parse => context.Run(() =>
        {
            string? presetName = parse.GetValue(preset), weightsPath = parse.GetValue(weights);
            if ((presetName is null) == (weightsPath is null)) throw CliException.Usage("Give exactly one of --preset NAME and --weights FILE.");
            ModelInfo info;
            if (presetName is not null)
            {
                if (parse.GetValue(config) is not null || parse.GetValue(heads) is not null || parse.GetValue(imageSize) is not null)
                    throw CliException.Usage("--config, --heads and --image-size describe a weights file; use them with --weights, not --preset.");
                CompiledModel model = Presets.Get(presetName);
                info = new ModelInfo(model.Preset!, "preset", null, model.Config);
            }
            else
            {
                ResolvedWeights resolved = ResolvedWeights.Open(weightsPath!, parse.GetValue(config), parse.GetValue(heads), parse.GetValue(imageSize), context);
                info = new ModelInfo(weightsPath!, "weights", resolved.Source.FormatName, resolved.Config);
            }
            if (parse.GetValue(json)) context.WriteJsonLine(info.ToJson(), CliJsonContext.Default.InfoJson);
            else info.WriteText(context.Output);
            return ExitCodes.Ok;
        }));
        return command;
    }
}

/// <summary>Everything <c>vit info</c> reports about one configuration.</summary>
internal sealed record ModelInfo(string Name, string Source, string? Format, VitConfig Config)
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>The compiled class that runs it, or null for the reference engine.</summary>
    public CompiledModel? Compiled { get; } = Presets.Find(Config);

    public long ParameterBytes => Config.ParameterCount * sizeof(float);

    /// <summary>
    /// The generated engine's inference workspace for one image, in bytes (<see cref="VitConfig.InferenceFloatsPerImage"/>,
    /// the figure the generated code sizes its workspace with). Per-thread scratch and the packed copy of the weight
    /// matrices come on top, once per model.
    /// </summary>
    public long ActivationBytesPerImage => Config.InferenceFloatsPerImage * sizeof(float);

    public void WriteText(TextWriter o)
    {
        VitConfig c = Config;
        o.WriteLine(Source == "preset" ? $"preset {Name}" : $"weights {Name} ({Format})");
        if (c.HasStem)
        {
            o.WriteLine($"  image          {c.ImageSize}×{c.ImageSize}×{c.Channels}");
            o.WriteLine($"  stem           {c.StemChannels.Count} × (3×3 conv, GroupNorm, ReLU), channels/stride {c.StemDescription} → {c.FeatureSize}×{c.FeatureSize}×{c.FeatureChannels} feature map (the paper's hybrid)");
            o.WriteLine($"  patches        patch {c.Patch} of the feature map: {c.GridSize}×{c.GridSize} = {c.PatchCount} patches{(c.HasClassToken ? " + [class] token" : "")} = {c.Tokens} tokens");
        }
        else
        {
            o.WriteLine($"  image          {c.ImageSize}×{c.ImageSize}×{c.Channels}, patch {c.Patch}: {c.GridSize}×{c.GridSize} = {c.PatchCount} patches{(c.HasClassToken ? " + [class] token" : "")} = {c.Tokens} tokens");
        }
        o.WriteLine($"  encoder        {c.Layers} layers, width {c.Hidden}, {c.Heads} heads × {c.HeadDim}, MLP {c.MlpWidth}, LayerNorm ε {c.LayerNormEpsilon.ToString("R", Invariant)}, qkv bias {(c.QkvBias ? "yes" : "no")}");
        o.WriteLine($"  head           {(c.HasClassToken ? "[class] token" : "mean of the tokens")} → {c.Classes} classes");
        o.WriteLine(string.Format(Invariant, "  parameters     {0:N0} ({1})", c.ParameterCount, Bytes(ParameterBytes)));
        o.WriteLine(string.Format(Invariant, "  FLOPs / image  {0:N0} ({1:0.00} GFLOP; 2 per multiply-add)", c.FlopsPerImage, c.FlopsPerImage / 1e9));
        o.WriteLine($"  activations    {Bytes(ActivationBytesPerImage)} per image (inference workspace)");
        o.WriteLine($"  engine         {(Compiled is null ? "reference (double precision, unoptimised; no compiled model matches)" : $"generated ({Compiled.ClassName}), {Isa.Name} kernels")}");
        if (Compiled is not null) o.WriteLine($"  schedule       {Compiled.Schedule}");
        o.WriteLine($"  CPU            {Isa.CpuFeatures}; {Isa.Runtime}; {CompiledVit.MaxThreads} threads");
        o.WriteLine($"  variant        {IsaVariants.Current.Variant}: {IsaVariants.Current.Reason}");
    }

    public InfoJson ToJson()
    {
        VitConfig c = Config;
        return new InfoJson(Name, Source, Format, c.ImageSize, c.Channels, c.Patch, c.Layers, c.Hidden, c.Heads, c.MlpWidth, c.Classes,
            c.HasClassToken ? "class_token" : "mean", c.LayerNormEpsilon, c.QkvBias, c.Tokens, c.ParameterCount, c.MacsPerImage,
            c.FlopsPerImage, ParameterBytes, ActivationBytesPerImage, Compiled is null ? "reference" : "generated", Compiled?.ClassName,
            Compiled is null ? "scalar" : Isa.Name, Isa.Features, Isa.Runtime, CompiledVit.MaxThreads,
            IsaVariants.Current.Variant, IsaVariants.Current.Reason,
            c.HasStem ? [.. c.StemChannels] : null, c.HasStem ? [.. c.StemStrides] : null, c.HasStem ? c.StemGroups : null, Compiled?.Schedule);
    }

    private static string Bytes(long bytes) => bytes >= 1 << 20
        ? string.Format(Invariant, "{0:0.0} MiB", bytes / 1048576.0)
        : string.Format(Invariant, "{0:0.0} KiB", bytes / 1024.0);
}
