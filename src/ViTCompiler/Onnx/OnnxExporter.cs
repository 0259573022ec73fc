using System.Globalization;
using System.Reflection;
using ViTCompiler.IO;

namespace ViTCompiler.Onnx;

/// <summary>
/// Writes a Vision Transformer, with its current parameters, as a standard ONNX model that ONNX Runtime and other
/// runtimes load: input <c>pixels</c> float32 (batch, C, S, S) NCHW, output <c>logits</c> float32 (batch, classes),
/// default-domain operators only, weights stored as float32 initializers.
/// </summary>
/// <remarks>
/// The graph computes what <see cref="Reference.ReferenceVit"/> computes: Conv patch embedding (kernel = stride = P),
/// class token and position embeddings, pre-LayerNorm blocks with exact (erf) GELU, final LayerNorm, class-token or
/// mean pooling, and the head. The file is encoded here, without a protobuf library, so the core library keeps no
/// dependencies and stays NativeAOT-compatible. Models whose file would reach 2 GiB are refused (see
/// <see cref="OnnxModelWriter.MaximumLength"/>).
/// </remarks>
public static class OnnxExporter
{
    /// <summary>Writes <paramref name="model"/> as ONNX to <paramref name="destination"/> (which stays open).</summary>
    /// <exception cref="ArgumentException">The options, or the model's configuration, cannot be exported; the message says which and why.</exception>
    /// <exception cref="NotSupportedException">The file would reach protobuf's 2 GiB limit.</exception>
    public static void Export(IVitWeights model, Stream destination, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Export(model.Config, model.Parameters, destination, options);
    }

    /// <summary>
    /// Writes <paramref name="model"/> as ONNX to the file <paramref name="path"/>, atomically: the bytes go to a temporary
    /// file beside it that replaces <paramref name="path"/> only once complete, so a failed export leaves any existing file as it was.
    /// </summary>
    /// <exception cref="ArgumentException">The options, or the model's configuration, cannot be exported; the message says which and why.</exception>
    /// <exception cref="DirectoryNotFoundException">The file's directory does not exist.</exception>
    /// <exception cref="NotSupportedException">The file would reach protobuf's 2 GiB limit.</exception>
    public static void Export(IVitWeights model, string path, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Export(model.Config, model.Parameters, path, options);
    }

    /// <summary>The ONNX file of <paramref name="model"/> as bytes (e.g. for <c>new InferenceSession(byte[])</c>).</summary>
    /// <exception cref="ArgumentException">The options, or the model's configuration, cannot be exported; the message says which and why.</exception>
    /// <exception cref="NotSupportedException">The file would reach protobuf's 2 GiB limit.</exception>
    public static byte[] ExportToBytes(IVitWeights model, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return ExportToBytes(model.Config, model.Parameters, options);
    }

    /// <summary>
    /// Writes a model given as a configuration and a parameter block laid out as <see cref="VitConfig.Layout"/> (e.g. as
    /// loaded from a checkpoint, without instantiating a model) to <paramref name="destination"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The options, the configuration or the parameter count cannot be exported; the message says which and why.</exception>
    /// <exception cref="NotSupportedException">The file would reach protobuf's 2 GiB limit.</exception>
    public static void Export(VitConfig config, ReadOnlySpan<float> parameters, Stream destination, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!destination.CanWrite) throw new ArgumentException("The destination stream cannot be written to.", nameof(destination));
        Prepare(config, parameters, options).WriteTo(destination);
    }

    /// <summary>As <see cref="Export(VitConfig, ReadOnlySpan{float}, Stream, OnnxExportOptions?)"/>, to a file written atomically.</summary>
    /// <exception cref="ArgumentException">The options, the configuration or the parameter count cannot be exported; the message says which and why.</exception>
    /// <exception cref="DirectoryNotFoundException">The file's directory does not exist.</exception>
    /// <exception cref="NotSupportedException">The file would reach protobuf's 2 GiB limit.</exception>
    public static void Export(VitConfig config, ReadOnlySpan<float> parameters, string path, OnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        // Everything that can be refused is refused before the file system is touched.
        OnnxModelWriter writer = Prepare(config, parameters, options);
        AtomicFile.Write(path, writer.WriteTo);
    }

    /// <summary>As <see cref="Export(VitConfig, ReadOnlySpan{float}, Stream, OnnxExportOptions?)"/>, returning the file's bytes.</summary>
    /// <exception cref="ArgumentException">The options, the configuration or the parameter count cannot be exported; the message says which and why.</exception>
    /// <exception cref="NotSupportedException">The file would reach protobuf's 2 GiB limit.</exception>
    public static byte[] ExportToBytes(VitConfig config, ReadOnlySpan<float> parameters, OnnxExportOptions? options = null)
    {
        OnnxModelWriter writer = Prepare(config, parameters, options);
        byte[] bytes = new byte[writer.Length];
        using var stream = new MemoryStream(bytes, writable: true);
        writer.WriteTo(stream);
        if (stream.Position != bytes.Length)
            throw new InvalidOperationException($"ONNX export bug: {stream.Position:N0} bytes written where {bytes.Length:N0} were computed.");
        return bytes;
    }

    private static OnnxModelWriter Prepare(VitConfig config, ReadOnlySpan<float> parameters, OnnxExportOptions? options)
    {
        ArgumentNullException.ThrowIfNull(config);
        options = (options ?? OnnxExportOptions.Default).Validate();
        config.Validate();
        // Refuse an oversized model before touching its weights (the exact size is checked again once encoded).
        if (4 * config.ParameterCount > OnnxModelWriter.MaximumLength) throw OnnxModelWriter.TooLarge(4 * config.ParameterCount);
        float epsilon = (float)config.LayerNormEpsilon;
        if (!(epsilon > 0) || float.IsInfinity(epsilon))
            throw new ArgumentException($"LayerNormEpsilon {config.LayerNormEpsilon} has no positive float32 value, and ONNX's LayerNormalization takes its epsilon as a float32; use a value between 1e-38 and 1e38.", nameof(config));
        if (parameters.Length != config.ParameterCount)
            throw new ArgumentException($"The parameter block holds {parameters.Length:N0} values; {config} has {config.ParameterCount:N0}.", nameof(parameters));

        OnnxGraph graph = VitOnnxGraph.Build(config, parameters, options);
        return new OnnxModelWriter(graph, new OnnxModelInfo(options.Opset, "ViTCompiler", ProducerVersion, config.ToString(), Metadata(config)));
    }

    private static string ProducerVersion =>
        typeof(OnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>The hyper-parameters as metadata_props, so a tool can read the configuration without parsing the graph.</summary>
    private static List<KeyValuePair<string, string>> Metadata(VitConfig c)
    {
        static KeyValuePair<string, string> Entry(string key, object value) =>
            new("vit." + key, Convert.ToString(value, CultureInfo.InvariantCulture)!);
        return
        [
            Entry("image_size", c.ImageSize), Entry("channels", c.Channels), Entry("patch", c.Patch),
            Entry("layers", c.Layers), Entry("hidden", c.Hidden), Entry("heads", c.Heads), Entry("mlp_dim", c.MlpWidth),
            Entry("classes", c.Classes), Entry("pooling", c.HasClassToken ? "class_token" : "mean"),
            Entry("layer_norm_epsilon", c.LayerNormEpsilon.ToString("R", CultureInfo.InvariantCulture)),
            Entry("qkv_bias", c.QkvBias ? "true" : "false"),
            .. c.HasStem
                ? (KeyValuePair<string, string>[])[Entry("stem_channels", string.Join(",", c.StemChannels)), Entry("stem_strides", string.Join(",", c.StemStrides)), Entry("stem_groups", c.StemGroups)]
                : [],
        ];
    }
}
