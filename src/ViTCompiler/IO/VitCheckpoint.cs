namespace ViTCompiler.IO;

/// <summary>
/// This library's own checkpoint: one safetensors file holding the parameters under their layout names and shapes,
/// any number of extra named float blocks (optimiser moments such as <c>optimizer.m</c> and <c>optimizer.v</c>, stored
/// as 1-D tensors), and string metadata: <c>vit.format</c>, <c>vit.config</c> (the <see cref="VitConfig"/> as JSON) and
/// free-form keys such as <c>step</c> or <c>rng</c>.
/// </summary>
public sealed class VitCheckpoint
{
    /// <summary>Metadata key marking the file as a checkpoint; its value is <see cref="FormatVersion"/>.</summary>
    public const string FormatKey = "vit.format";
    /// <summary>The current format's marker.</summary>
    public const string FormatVersion = "vitcompiler-checkpoint/1";
    /// <summary>Metadata key holding the configuration as JSON.</summary>
    public const string ConfigKey = TimmWeights.ConfigKey;

    /// <summary>A checkpoint of <paramref name="parameters"/> (laid out as <paramref name="config"/> says; not copied).</summary>
    public VitCheckpoint(VitConfig config, float[] parameters)
    {
        Config = config.Validate();
        if (parameters.Length != config.Layout.ParameterCount)
            throw new ArgumentException($"The parameter block holds {parameters.Length:N0} floats; {config} needs {config.Layout.ParameterCount:N0}.", nameof(parameters));
        Parameters = parameters;
    }

    /// <summary>The configuration the parameters belong to.</summary>
    public VitConfig Config { get; }

    /// <summary>The parameter block, laid out as <see cref="VitConfig.Layout"/>.</summary>
    public float[] Parameters { get; }

    /// <summary>Extra float blocks by name, e.g. optimiser moments; names must not be parameter names.</summary>
    public Dictionary<string, float[]> Blocks { get; } = new(StringComparer.Ordinal);

    /// <summary>Free-form string metadata (e.g. <c>step</c>, <c>rng</c>); keys starting with <c>vit.</c> are reserved.</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>A checkpoint holding a copy of <paramref name="model"/>'s parameters.</summary>
    public static VitCheckpoint FromModel(IVitWeights model) => new(model.Config, model.Parameters.ToArray());

    /// <summary>Writes the checkpoint atomically (the previous file survives any failure).</summary>
    public void Save(string path) => Save(path, Config, () => Parameters, Blocks, Metadata);

    /// <summary>Writes a checkpoint of <paramref name="model"/> straight from its parameter block (no copy).</summary>
    public static void Save(string path, IVitWeights model, IReadOnlyDictionary<string, float[]>? blocks = null, IReadOnlyDictionary<string, string>? metadata = null) =>
        Save(path, model.Config, () => model.Parameters, blocks, metadata);

    /// <summary>Reads a whole checkpoint into memory, checking its layout and configuration.</summary>
    public static VitCheckpoint Load(string path)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        VitConfig config = ReadConfig(file);
        var checkpoint = new VitCheckpoint(config, new float[config.Layout.ParameterCount]);
        var tensors = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (SafeTensorInfo t in file.Tensors) tensors[t.Name] = (long[])t.Shape;
        var missing = new List<string>();
        var wrongShape = new List<string>();
        var unreadable = new List<string>();
        foreach (ParameterTensor p in config.Layout)
        {
            if (!tensors.Remove(p.Name, out long[]? shape)) { missing.Add($"{p.Name} {p.ShapeText}"); continue; }
            if (!Shapes.Equal(shape, Shapes.Of(p.Shape))) wrongShape.Add($"{p.Name} is {Shapes.Text(shape)}, the configuration needs {p.ShapeText}");
            else if (!file[p.Name].DType.IsFloatReadable()) unreadable.Add($"{p.Name} is {file[p.Name].DType.Name()}");
            else file.Read(p.Name, p.Of(checkpoint.Parameters.AsSpan()));
        }
        var unexpected = new List<string>();
        foreach ((string name, long[] shape) in tensors)
        {
            if (shape.Length != 1) unexpected.Add($"{name} {Shapes.Text(shape)} — extra blocks are stored as 1-D tensors");
            else if (!file[name].DType.IsFloatReadable()) unreadable.Add($"{name} is {file[name].DType.Name()}");
            else checkpoint.Blocks[name] = file.ReadFloats(name);
        }
        if (missing.Count + wrongShape.Count + unexpected.Count + unreadable.Count > 0)
            throw new WeightsMismatchException(path, $"does not match the configuration it records ({config}):", missing, unexpected, wrongShape, unreadable, []);
        foreach ((string key, string value) in file.Metadata)
            if (!key.StartsWith("vit.", StringComparison.Ordinal)) checkpoint.Metadata[key] = value;
        return checkpoint;
    }

    /// <summary>
    /// Copies the parameters into <paramref name="model"/> after checking that its configuration matches the
    /// checkpoint's (naming each field that differs) and that every value is finite.
    /// </summary>
    public void ApplyTo(IVitWeights model, LoadOptions? options = null)
    {
        options ??= LoadOptions.Default;
        VitConfigJson.CheckMatches("(checkpoint in memory)", Config, model.Config, options);
        WeightLoader.Apply(new ArraySource(this), "a ViTCompiler checkpoint", TimmWeights.Plan(model.Config, options), model, options);
    }

    /// <summary>
    /// Loads the parameters of the checkpoint at <paramref name="path"/> straight from the mapped file into
    /// <paramref name="model"/> (extra blocks are not read), with the checks of <see cref="ApplyTo"/>.
    /// </summary>
    public static void LoadInto(string path, IVitWeights model, LoadOptions? options = null)
    {
        options ??= LoadOptions.Default;
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        VitConfig config = ReadConfig(file);
        VitConfigJson.CheckMatches(path, config, model.Config, options);
        var plan = TimmWeights.Plan(model.Config, options);
        var parameterNames = new HashSet<string>(config.Layout.Select(t => t.Name), StringComparer.Ordinal);
        // Extra blocks are not parameters: skip them (but not a stray multi-dimensional tensor).
        var skipping = new LoadPlan
        {
            Ignore = name => plan.Ignore(name) || (!parameterNames.Contains(name) && file[name].Shape.Count == 1),
            Explain = plan.Explain,
        };
        skipping.Slots.AddRange(plan.Slots);
        WeightLoader.Apply(file, "a ViTCompiler checkpoint", skipping, model, options);
    }

    /// <summary>The configuration recorded in a checkpoint file.</summary>
    public static VitConfig ReadConfig(string path)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        return ReadConfig(file);
    }

    internal static VitConfig ReadConfig(SafeTensorsFile file)
    {
        if (!file.Metadata.TryGetValue(FormatKey, out string? format))
            throw new WeightsFileException(file.Path, $"is not a ViTCompiler checkpoint: its metadata has no '{FormatKey}'");
        if (format != FormatVersion)
            throw new WeightsFileException(file.Path, $"is checkpoint format '{format}'; this version reads '{FormatVersion}'");
        if (!file.Metadata.TryGetValue(ConfigKey, out string? json))
            throw new WeightsFileException(file.Path, $"has no '{ConfigKey}' metadata");
        return VitConfigJson.Read(json, problem => new WeightsFileException(file.Path, $"metadata '{ConfigKey}' {problem}"));
    }

    private static void Save(string path, VitConfig config, TensorData parameters, IReadOnlyDictionary<string, float[]>? blocks,
        IReadOnlyDictionary<string, string>? metadata)
    {
        var entries = new List<SafeTensorsEntry>();
        foreach (ParameterTensor t in config.Layout)
        {
            ParameterTensor tensor = t;
            entries.Add(new SafeTensorsEntry(t.Name, t.Shape, () => tensor.Of(parameters())));
        }
        foreach ((string name, float[] block) in blocks ?? new Dictionary<string, float[]>())
        {
            if (config.Layout.TryGet(name, out _)) throw new ArgumentException($"Extra block '{name}' has the name of a parameter.", nameof(blocks));
            entries.Add(new SafeTensorsEntry(name, [block.Length], block));
        }
        var all = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string key, string value) in metadata ?? new Dictionary<string, string>())
        {
            if (key.StartsWith("vit.", StringComparison.Ordinal))
                throw new ArgumentException($"Metadata key '{key}' is reserved; keys starting with 'vit.' are written by the checkpoint itself.", nameof(metadata));
            all[key] = value;
        }
        all[FormatKey] = FormatVersion;
        all[ConfigKey] = VitConfigJson.Write(config);
        SafeTensors.Write(path, entries, all);
    }

    /// <summary>An in-memory checkpoint seen through the loader's eyes (timm names).</summary>
    private sealed class ArraySource(VitCheckpoint checkpoint) : ITensorSource
    {
        public string Path => "(checkpoint in memory)";
        public IEnumerable<string> Names => checkpoint.Config.Layout.Select(t => t.Name);
        public bool TryGetShape(string name, out long[] shape)
        {
            if (checkpoint.Config.Layout.TryGet(name, out ParameterTensor t)) { shape = Shapes.Of(t.Shape); return true; }
            shape = [];
            return false;
        }
        public string? Unreadable(string name) => null;
        public void Read(string name, Span<float> destination) => checkpoint.Config.Layout[name].Of(checkpoint.Parameters.AsSpan()).CopyTo(destination);
    }
}
