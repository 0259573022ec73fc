using System.CommandLine;
using ViTCompiler.IO;

namespace ViTCompiler.Cli.Commands;

/// <summary><c>vit init</c>: writes a freshly initialised model, the starting point for training or a fixture for tests.</summary>
internal static class InitCommand
{
    public static Command Create(CliContext context)
    {
        var output = new Argument<string>("OUT") { Description = "Where to write: a directory for hf, a .safetensors file for timm and checkpoint." };
        Option<string> preset = CommonOptions.Preset(required: false);
        Option<string> config = CommonOptions.Config();
        var to = new Option<string>("--to") { Description = "Output format: hf, timm or checkpoint.", DefaultValueFactory = _ => "checkpoint", HelpName = "FORMAT" };
        to.AcceptOnlyFromAmong(ModelWriter.FormatChoices);
        var seed = new Option<ulong>("--seed") { Description = "Seed of the initialisation.", DefaultValueFactory = _ => 0UL, HelpName = "N" };
        var command = new Command("init", "Write a model initialised as in the paper's code (zero head: every class equally likely until trained).")
        {
            output, preset, config, to, seed,
        };
        command.SetAction(parse => context.Run(() =>
        {
            string? presetName = parse.GetValue(preset), configPath = parse.GetValue(config);
            if ((presetName is null) == (configPath is null)) throw CliException.Usage("Give exactly one of --preset NAME and --config FILE.");
            VitConfig vit = presetName is not null ? Presets.Get(presetName).Config : Weights.ReadConfigFile(configPath!).Config;
            var model = new WeightsOnlyModel(vit);
            using (ParameterEdit edit = model.EditParameters()) ParameterInit.Initialize(vit, edit.Values, parse.GetValue(seed));
            WeightsFormat format = ModelWriter.Parse(parse.GetValue(to)!);
            var preprocessing = InputPreprocessing.For(null, vit, null, context);
            ModelWriter.Save(parse.GetValue(output)!, model, format, format == WeightsFormat.Checkpoint ? null : ClassNames.For(vit, null), preprocessing, null);
            context.Note($"wrote an initialised {vit} to '{parse.GetValue(output)}'.");
            return ExitCodes.Ok;
        }));
        return command;
    }
}
