namespace ViTCompiler.Reference;

/// <summary>
/// <see cref="IVitTrainable"/> over the reference engine: any valid configuration, double-precision arithmetic, slow.
/// The CLI falls back to it for configurations nobody compiled; tests use it as the oracle.
/// </summary>
public sealed class ReferenceVitModel : IVitTrainable
{
    private readonly float[] _parameters;
    private readonly float[] _gradients;
    private readonly Action _parametersWritten;
    private double[]? _cache;

    public ReferenceVitModel(VitConfig config, ulong seed = 0)
    {
        Config = config.Validate();
        _parameters = new float[checked((int)config.ParameterCount)];
        _gradients = new float[_parameters.Length];
        ParameterInit.Initialize(config, _parameters, seed);
        _parametersWritten = () => _cache = null;
    }

    public VitConfig Config { get; }
    public string Engine => "reference (double precision, not optimised)";
    public ReadOnlySpan<float> Parameters => _parameters;
    public Span<float> Gradients => _gradients;

    public ParameterEdit EditParameters()
    {
        _cache = null;
        return new ParameterEdit(_parameters, _parametersWritten);
    }

    /// <summary>Accepted for interface compatibility; the reference engine always runs on one thread.</summary>
    public int Threads { get; set; } = 1;

    private double[] Weights()
    {
        if (_cache is null)
        {
            _cache = new double[_parameters.Length];
            for (int i = 0; i < _parameters.Length; i++) _cache[i] = _parameters[i];
        }
        return _cache;
    }

    public void Forward(ReadOnlySpan<float> pixels, int batch, Span<float> logits) => Forward(pixels, batch, logits, default);

    public void Forward(ReadOnlySpan<float> pixels, int batch, Span<float> logits, Span<float> attention)
    {
        double[] result = new double[logits.Length];
        double[]? probabilities = attention.IsEmpty ? null : new double[attention.Length];
        ReferenceVit.Forward(Config, Weights(), pixels, batch, result, probabilities);
        for (int i = 0; i < result.Length; i++) logits[i] = (float)result[i];
        if (probabilities is not null)
            for (int i = 0; i < probabilities.Length; i++) attention[i] = (float)probabilities[i];
    }

    public float TrainStep(ReadOnlySpan<float> pixels, ReadOnlySpan<int> labels, int batch, in TrainStepOptions options, Span<float> logits)
    {
        options.Validate();
        double[] gradients = new double[_parameters.Length];
        double[] result = new double[batch * Config.Classes];
        double loss = ReferenceVit.ForwardBackward(Config, Weights(), pixels, labels, batch, options, gradients, result);
        for (int i = 0; i < gradients.Length; i++) _gradients[i] += (float)gradients[i];
        if (!logits.IsEmpty)
            for (int i = 0; i < result.Length; i++) logits[i] = (float)result[i];
        return (float)loss;
    }
}
