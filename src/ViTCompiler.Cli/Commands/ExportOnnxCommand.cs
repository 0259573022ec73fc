using System.CommandLine;
using ViTCompiler.Onnx;

namespace ViTCompiler.Cli.Commands;

/// <summary><c>vit export-onnx</c>: writes a model as a standard ONNX file (input <c>pixels</c>, output <c>logits</c>).</summary>
internal static class ExportOnnxCommand
{
    public static Command Create(CliContext context)
    {
        var output = new Argument<string>("OUT") { Description = "The .onnx file to write." };
        Option<string> weights = CommonOptions.Weights(required: false);
        Option<string> preset = CommonOptions.Preset(required: false);
        Option<string> config = CommonOptions.Config();
        Option<int?> heads = CommonOptions.Heads();
        Option<int?> imageSize = CommonOptions.ImageSize();
        var opset = new Option<int>("--opset") { Description = $"ONNX opset, {OnnxExportOptions.MinimumOpset} to {OnnxExportOptions.MaximumOpset}.", DefaultValueFactory = _ => OnnxExportOptions.Default.Opset, HelpName = "N" };
        var batch = new Option<int>("--batch") { Description = "Fix the batch dimension (default 0: chosen at run time).", DefaultValueFactory = _ => 0, HelpName = "N" };
        var seed = new Option<ulong>("--seed") { Description = "With --preset: seed of the initialisation.", DefaultValueFactory = _ => 0UL, HelpName = "N" };
        var command = new Command("export-onnx", "Write a model (trained weights, or an initialised preset) as an ONNX file.")
        {
            output, weights, preset, config, heads, imageSize, opset, batch, seed,
        };
        command.SetAction(parse => context.Run(() =>
        {
            string? presetName = parse.GetValue(preset), weightsPath = parse.GetValue(weights);
            if ((presetName is null) == (weightsPath is null)) throw CliException.Usage("Give exactly one of --weights FILE and --preset NAME.");
            IVitWeights model;
            if (presetName is not null)
            {
                VitConfig vit = Presets.Get(presetName).Config;
                model = new WeightsOnlyModel(vit);
                using ParameterEdit edit = model.EditParameters();
                ParameterInit.Initialize(vit, edit.Values, parse.GetValue(seed));
            }
            else
            {
                model = ResolvedWeights.Open(weightsPath!, parse.GetValue(config), parse.GetValue(heads), parse.GetValue(imageSize), context).LoadParameters();
            }
            var options = new OnnxExportOptions { Opset = parse.GetValue(opset), BatchSize = parse.GetValue(batch) };
            if (options.Problem() is string problem) throw CliException.Usage($"Cannot export with these options: {problem}.");
            string path = parse.GetValue(output)!;
            OnnxExporter.Export(model, path, options);
            context.Note($"wrote ONNX opset {options.Opset} of {model.Config} to '{path}' ({new FileInfo(path).Length:N0} bytes).");
            return ExitCodes.Ok;
        }));
        return command;
    }
}
