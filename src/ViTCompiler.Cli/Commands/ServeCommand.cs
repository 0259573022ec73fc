using System.CommandLine;
using ViTCompiler.Serving;
using ImagePreprocessing = ViTCompiler.Imaging.ImagePreprocessing;

namespace ViTCompiler.Cli.Commands;

/// <summary>
/// <c>vit serve --weights FILE</c>: an HTTP classification service with dynamic batching and a page to try it
/// (src/ViTCompiler.Serving, docs/SERVE.md). Runs until SIGTERM or Ctrl-C, then finishes the requests it holds and exits 0.
/// </summary>
internal static class ServeCommand
{
    /// <summary>The environment variable that gives the API key when <c>--api-key</c> does not (keeps it out of <c>ps</c>).</summary>
    public const string ApiKeyVariable = "VIT_API_KEY";

    public static Command Create(CliContext context)
    {
        Option<string> weights = CommonOptions.Weights(required: false);
        Option<string> preset = CommonOptions.Preset(required: false);
        preset.Description = $"Serve a compiled model with freshly initialised (untrained) weights instead of --weights, for trials and load tests: {string.Join(", ", Presets.Names)}.";
        Option<string> config = CommonOptions.Config();
        Option<int?> heads = CommonOptions.Heads();
        Option<int?> imageSize = CommonOptions.ImageSize();
        Option<string> normalize = CommonOptions.Normalize();
        Option<int?> threads = CommonOptions.Threads();
        var defaults = new ServeOptions();
        var host = new Option<string>("--host") { Description = "Address to listen on; anything but loopback needs an API key.", DefaultValueFactory = _ => defaults.Host, HelpName = "ADDRESS" };
        var port = new Option<int>("--port") { Description = "TCP port (0: any free port, printed at start).", DefaultValueFactory = _ => defaults.Port, HelpName = "PORT" };
        var maxBatch = new Option<int>("--max-batch") { Description = "Most images in one forward pass.", DefaultValueFactory = _ => defaults.MaxBatch, HelpName = "N" };
        var maxWait = new Option<int>("--max-wait-ms") { Description = "How long the first image of a batch waits for more.", DefaultValueFactory = _ => defaults.MaxWaitMs, HelpName = "MS" };
        var queue = new Option<int>("--queue") { Description = "Most images waiting for a forward pass; more get 503 with Retry-After.", DefaultValueFactory = _ => defaults.QueueCapacity, HelpName = "N" };
        var timeout = new Option<int>("--timeout-ms") { Description = "Per-request deadline; a request past it gets 503.", DefaultValueFactory = _ => defaults.TimeoutMs, HelpName = "MS" };
        var maxBody = new Option<long>("--max-body-bytes") { Description = "Largest upload; larger gets 413.", DefaultValueFactory = _ => defaults.MaxBodyBytes, HelpName = "BYTES" };
        var maxPixels = new Option<long>("--max-pixels") { Description = "Most pixels an image header may declare; more gets 422 before decoding.", DefaultValueFactory = _ => defaults.MaxPixels, HelpName = "N" };
        var apiKey = new Option<string>("--api-key") { Description = $"Key that /v1/* requests must send (Authorization: Bearer KEY or X-Api-Key); default: the {ApiKeyVariable} environment variable.", HelpName = "KEY" };

        var command = new Command("serve", "Serve a model over HTTP: POST /v1/classify, POST /v1/explain, GET /v1/model, /healthz, /metrics, and a page at /.")
        {
            weights, preset, config, heads, imageSize, normalize, threads, host, port, maxBatch, maxWait, queue, timeout, maxBody, maxPixels, apiKey,
        };
        command.SetAction(parse => context.Run(() =>
        {
            ServedModel model = Load(context, parse.GetValue(weights), parse.GetValue(preset), parse.GetValue(config), parse.GetValue(heads),
                parse.GetValue(imageSize), parse.GetValue(normalize), parse.GetValue(threads));
            var options = new ServeOptions
            {
                Host = parse.GetValue(host)!, Port = parse.GetValue(port), MaxBatch = parse.GetValue(maxBatch), MaxWaitMs = parse.GetValue(maxWait),
                QueueCapacity = parse.GetValue(queue), TimeoutMs = parse.GetValue(timeout), MaxBodyBytes = parse.GetValue(maxBody),
                MaxPixels = parse.GetValue(maxPixels), ApiKey = parse.GetValue(apiKey) ?? NonEmpty(Environment.GetEnvironmentVariable(ApiKeyVariable)),
            };
            return Run(context, model, options);
        }));
        return command;
    }

    private static int Run(CliContext context, ServedModel model, ServeOptions options)
    {
        VitServer server;
        try
        {
            server = VitServer.Create(model, options, message => context.Error.WriteLine(message));
        }
        catch (ArgumentException e)
        {
            throw CliException.Usage(e.Message);
        }
        try
        {
            server.RunAsync(address =>
            {
                context.Output.WriteLine($"vit: serving {model.Name} ({model.Model.Engine} engine, {model.Config.Classes} classes) on {address}");
                context.Output.WriteLine($"vit: page at {address}, API at {address}v1/classify; Ctrl-C or SIGTERM stops it");
                context.Output.Flush();
            }).GetAwaiter().GetResult();
        }
        finally
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        context.Output.WriteLine($"vit: stopped; {server.Metrics.Images:N0} image(s) in {server.Metrics.ForwardCalls:N0} forward pass(es)");
        return ExitCodes.Ok;
    }

    /// <summary>The model from <c>--weights</c> (as <c>vit classify</c> loads it) or, for trials, a preset's fresh weights.</summary>
    private static ServedModel Load(CliContext context, string? weightsPath, string? presetName, string? configPath, int? heads, int? imageSize,
        string? normalize, int? threads)
    {
        if (weightsPath is not null && presetName is not null) throw CliException.Usage("Give --weights or --preset, not both.");
        if (weightsPath is not null)
        {
            var classifier = ImageClassifier.Open(context, weightsPath, configPath, heads, imageSize, normalize, threads);
            string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(weightsPath)));
            return new ServedModel(name, classifier.Model, classifier.Preprocessing, Labels(classifier.Config, classifier.Names));
        }
        if (presetName is null) throw CliException.Usage("Give the model to serve: --weights FILE, or --preset NAME for untrained weights.");
        CompiledModel compiled = Presets.Get(presetName);
        context.Warn($"serving {compiled.Preset} with freshly initialised weights: its answers are meaningless (use --weights for a trained model).");
        IVitTrainable model = compiled.Create(0);
        CommonOptions.ApplyThreads(model, threads);
        ImagePreprocessing preprocessing = InputPreprocessing.For(null, compiled.Config, normalize, context);
        return new ServedModel(compiled.Preset!, model, preprocessing, Labels(compiled.Config, ClassNames.For(compiled.Config, null)));
    }

    private static string[] Labels(VitConfig config, IReadOnlyList<string>? names) =>
        Enumerable.Range(0, config.Classes).Select(i => ClassNames.Name(names, i)).ToArray();

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
