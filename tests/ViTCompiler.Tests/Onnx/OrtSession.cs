using Microsoft.ML.OnnxRuntime;

namespace ViTCompiler.Tests.Onnx;

/// <summary>An ONNX Runtime session over an exported model, with every graph optimisation on, as a deployment would run it.</summary>
internal sealed class OrtSession : IDisposable
{
    private readonly InferenceSession _session;

    public OrtSession(byte[] model, string? optimizedModelPath = null)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        if (optimizedModelPath is not null) options.OptimizedModelFilePath = optimizedModelPath;
        _session = new InferenceSession(model, options);
    }

    public OrtSession(string path)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 1 };
        _session = new InferenceSession(path, options);
    }

    public InferenceSession Session => _session;

    /// <summary>Runs one batch through the named input and returns the named output's values.</summary>
    public float[] Run(VitConfig config, float[] pixels, int batch, string input = "pixels", string output = "logits")
    {
        using OrtValue value = OrtValue.CreateTensorValueFromMemory(pixels, [batch, config.Channels, config.ImageSize, config.ImageSize]);
        using var runOptions = new RunOptions();
        using IDisposableReadOnlyCollection<OrtValue> results = _session.Run(runOptions, [input], [value], [output]);
        OrtValue logits = results[0];
        long[] shape = logits.GetTensorTypeAndShape().Shape;
        if (shape.Length != 2 || shape[0] != batch || shape[1] != config.Classes)
            throw new InvalidOperationException($"ONNX Runtime returned logits of shape ({string.Join(", ", shape)}); expected ({batch}, {config.Classes}).");
        return logits.GetTensorDataAsSpan<float>().ToArray();
    }

    public void Dispose() => _session.Dispose();
}
