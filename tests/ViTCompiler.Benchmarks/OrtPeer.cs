using Microsoft.ML.OnnxRuntime;
using ViTCompiler.Onnx;

namespace ViTCompiler.Benchmarks;

/// <summary>
/// ONNX Runtime running the same model, with the same weights, as a compiled ViT: the model is exported to a temporary
/// ONNX file and loaded into a CPU session with every graph optimisation on, so a benchmark can time both side by side.
/// </summary>
/// <remarks>
/// The session is set up the way a latency-minded deployment would: sequential execution, one inter-op thread, and
/// <c>intraOpThreads</c> threads inside each operator (2 by default, to match a small machine; pass the same count
/// as the compiled model's <see cref="IVitClassifier.Threads"/> for a fair comparison). Input and output tensors wrap the
/// caller's arrays (no copies) and are cached, so repeated <see cref="Run"/> calls with the same arrays and batch size
/// allocate nothing on the managed side.
/// </remarks>
public sealed class OrtPeer : IDisposable
{
    private readonly VitConfig _config;
    private readonly string[] _inputNames, _outputNames;
    private readonly OrtValue[] _inputValues = new OrtValue[1], _outputValues = new OrtValue[1];
    private readonly RunOptions _runOptions = new();
    private OrtValue? _input, _output;
    private float[]? _pixels, _logits;
    private int _batch;
    private bool _disposed;

    /// <summary>Exports <paramref name="model"/> (its current parameters) and opens an ONNX Runtime session on it.</summary>
    /// <param name="model">The model whose configuration and weights ONNX Runtime runs.</param>
    /// <param name="intraOpThreads">Threads ONNX Runtime may use inside one operator (at least 1).</param>
    /// <param name="options">Export options (opset, names); the defaults suit ONNX Runtime.</param>
    public OrtPeer(IVitWeights model, int intraOpThreads = 2, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(intraOpThreads, 1);
        options ??= OnnxExportOptions.Default;
        _config = model.Config;
        _inputNames = [options.InputName];
        _outputNames = [options.OutputName];
        IntraOpThreads = intraOpThreads;
        ModelPath = Path.Combine(Path.GetTempPath(), $"vitcompiler-ort-peer-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxExporter.Export(model, ModelPath, options);
            using var sessionOptions = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                IntraOpNumThreads = intraOpThreads,
                InterOpNumThreads = 1,
            };
            Session = new InferenceSession(ModelPath, sessionOptions);
        }
        catch
        {
            File.Delete(ModelPath);
            _runOptions.Dispose();
            throw;
        }
    }

    /// <summary>The ONNX Runtime session (for metadata, or to run it some other way).</summary>
    public InferenceSession Session { get; }

    /// <summary>The exported file; deleted by <see cref="Dispose"/>.</summary>
    public string ModelPath { get; }

    /// <summary>Threads ONNX Runtime uses inside one operator.</summary>
    public int IntraOpThreads { get; }

    /// <summary>What runs the forward pass, in the style of <see cref="IVitClassifier.Engine"/>.</summary>
    public string Engine => $"ONNX Runtime (CPU, {IntraOpThreads} intra-op threads, ORT_ENABLE_ALL)";

    /// <summary>
    /// Classifies <paramref name="batch"/> NCHW images from <paramref name="pixels"/> into <paramref name="logits"/>
    /// (batch × classes), as <see cref="IVitClassifier.Forward(ReadOnlySpan{float}, int, Span{float})"/> does.
    /// </summary>
    public void Run(float[] pixels, int batch, float[] logits)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (pixels.Length != (long)batch * _config.PixelsPerImage)
            throw new ArgumentException($"pixels must hold batch × {_config.PixelsPerImage:N0} = {(long)batch * _config.PixelsPerImage:N0} values; it holds {pixels.Length:N0}.", nameof(pixels));
        if (logits.Length != (long)batch * _config.Classes)
            throw new ArgumentException($"logits must hold batch × {_config.Classes} = {(long)batch * _config.Classes:N0} values; it holds {logits.Length:N0}.", nameof(logits));

        if (!ReferenceEquals(pixels, _pixels) || !ReferenceEquals(logits, _logits) || batch != _batch)
        {
            // The OrtValues pin the arrays they wrap; rebuild them only when the arrays or the batch size change.
            _input?.Dispose();
            _output?.Dispose();
            _input = OrtValue.CreateTensorValueFromMemory(pixels, [batch, _config.Channels, _config.ImageSize, _config.ImageSize]);
            _output = OrtValue.CreateTensorValueFromMemory(logits, [batch, _config.Classes]);
            (_inputValues[0], _outputValues[0]) = (_input, _output);
            (_pixels, _logits, _batch) = (pixels, logits, batch);
        }
        Session.Run(_runOptions, _inputNames, _inputValues, _outputNames, _outputValues);
    }

    /// <summary>Closes the session and deletes the exported file.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _input?.Dispose();
        _output?.Dispose();
        Session.Dispose();
        _runOptions.Dispose();
        try { File.Delete(ModelPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
