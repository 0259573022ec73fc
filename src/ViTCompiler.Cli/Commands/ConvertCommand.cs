using System.CommandLine;
using ViTCompiler.IO;
using ImagePreprocessing = ViTCompiler.Imaging.ImagePreprocessing;

namespace ViTCompiler.Cli.Commands;

/// <summary><c>vit convert IN OUT</c>: any readable weights format → HuggingFace, timm or a vit checkpoint.</summary>
internal static class ConvertCommand
{
    public static Command Create(CliContext context)
    {
        var input = new Argument<string>("IN") { Description = "Weights to read: HuggingFace directory or model.safetensors, timm .safetensors, JAX .npz or vit checkpoint." };
        var output = new Argument<string>("OUT") { Description = "Where to write: a directory for hf (created if missing), a .safetensors file for timm and checkpoint." };
        var to = new Option<string>("--to") { Description = "Output format: hf, timm or checkpoint.", DefaultValueFactory = _ => "hf", HelpName = "FORMAT" };
        to.AcceptOnlyFromAmong(ModelWriter.FormatChoices);
        Option<string> config = CommonOptions.Config();
        Option<int?> heads = CommonOptions.Heads();
        Option<int?> imageSize = CommonOptions.ImageSize();
        var command = new Command("convert", "Convert weights between formats (npz/timm/HF/checkpoint → HF safetensors + config.json, timm safetensors, or a vit checkpoint).")
        {
            input, output, to, config, heads, imageSize,
        };
        command.SetAction(parse => context.Run(() =>
        {
            string inPath = parse.GetValue(input)!, outPath = parse.GetValue(output)!;
            WeightsFormat format = ModelWriter.Parse(parse.GetValue(to)!);
            if (Path.GetFullPath(inPath).TrimEnd('/') == Path.GetFullPath(outPath).TrimEnd('/'))
                throw CliException.Usage("IN and OUT are the same path; write the converted weights somewhere else.");
            ResolvedWeights resolved = ResolvedWeights.Open(inPath, parse.GetValue(config), parse.GetValue(heads), parse.GetValue(imageSize), context);
            IVitWeights model = resolved.LoadParameters();
            ImagePreprocessing preprocessing = InputPreprocessing.For(resolved.Source, resolved.Config, null, context);
            IReadOnlyList<string>? labels = format == WeightsFormat.Checkpoint ? resolved.Source.Labels : ClassNames.For(resolved.Config, resolved.Source.Labels);
            ModelWriter.Save(outPath, model, format, labels, preprocessing, resolved.Source.Preprocessing);
            context.Note($"wrote {Weights.FormatName(format)} weights of {resolved.Config} to '{outPath}'.");
            return ExitCodes.Ok;
        }));
        return command;
    }
}
