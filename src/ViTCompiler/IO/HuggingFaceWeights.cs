using System.Text.Encodings.Web;
using System.Text.Json;

namespace ViTCompiler.IO;

/// <summary>
/// HuggingFace transformers' <c>ViTForImageClassification</c> and <c>ViTModel</c>: a <c>model.safetensors</c> with a
/// <c>config.json</c> (and optionally a <c>preprocessor_config.json</c>) beside it. q, k and v are separate (D, D)
/// linears there; they become the rows [q; k; v] of the fused <c>attn.qkv</c>. Names carry a <c>vit.</c> prefix in
/// <c>ViTForImageClassification</c> and none in <c>ViTModel</c>; the latter has no classifier (load it with
/// <see cref="LoadOptions.KeepHead"/>) and may have a pooler, which classification never uses and which is ignored.
/// </summary>
public static class HuggingFaceWeights
{
    /// <summary>The weights' file name inside a checkpoint directory.</summary>
    public const string WeightsFileName = "model.safetensors";
    /// <summary>The architecture's file name.</summary>
    public const string ConfigFileName = "config.json";
    /// <summary>The image processor's file name.</summary>
    public const string PreprocessorFileName = "preprocessor_config.json";

    /// <summary>
    /// Writes a <c>ViTForImageClassification</c> checkpoint: the weights to <paramref name="path"/> (a directory, which
    /// gets <c>model.safetensors</c>, or a <c>.safetensors</c> file), <c>config.json</c> beside them, and
    /// <c>preprocessor_config.json</c> when <paramref name="preprocessing"/> is given. Each file is written atomically.
    /// </summary>
    public static void Save(string path, IVitWeights model, IReadOnlyList<string>? labels = null, ImagePreprocessing? preprocessing = null)
    {
        VitConfig config = model.Config;
        if (!config.HasClassToken)
            throw new NotSupportedException($"HuggingFace's ViT always has a [class] token; {config} uses mean pooling and cannot be written in its format (save it as timm weights or a checkpoint).");
        if (labels is not null && labels.Count != config.Classes)
            throw new ArgumentException($"{labels.Count} labels were given for a model with {config.Classes} classes.", nameof(labels));
        (string weights, string directory) = Resolve(path);
        var entries = new List<SafeTensorsEntry>();
        foreach (Slot slot in Plan(config, "vit.", LoadOptions.Default).Slots)
        {
            Slot s = slot;
            entries.Add(new SafeTensorsEntry(s.File, s.FileShape.Select(d => (int)d).ToArray(), () => s.Target.Of(model.Parameters).Slice(s.Start, s.Count)));
        }
        SafeTensors.Write(weights, entries, new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.WriteText(System.IO.Path.Combine(directory, ConfigFileName), ConfigJson(config, labels));
        if (preprocessing is not null) AtomicFile.WriteText(System.IO.Path.Combine(directory, PreprocessorFileName), PreprocessorJson(preprocessing));
    }

    /// <summary>
    /// Loads a checkpoint (a directory holding <c>model.safetensors</c>, or the weights file itself) into
    /// <paramref name="model"/>. When <c>config.json</c> is beside the weights, its head count, LayerNorm ε and the
    /// rest must match the model (field by field); every tensor name and shape is checked in any case. Returns what
    /// the directory says besides the weights, or null when it has no <c>config.json</c>.
    /// </summary>
    public static HuggingFaceConfig? Load(string path, IVitWeights model, LoadOptions? options = null)
    {
        options ??= LoadOptions.Default;
        (string weights, string directory) = Resolve(path);
        using SafeTensorsFile file = SafeTensorsFile.Open(weights);
        HuggingFaceConfig? info = null;
        string configPath = System.IO.Path.Combine(directory, ConfigFileName);
        if (File.Exists(configPath))
        {
            info = ReadConfig(configPath, file);
            VitConfigJson.CheckMatches(configPath, info.Config, model.Config, options);
        }
        string prefix = Prefix(file);
        WeightLoader.Apply(file, prefix == "vit." ? "HuggingFace ViTForImageClassification weights" : "HuggingFace ViTModel weights",
            Plan(model.Config, prefix, options), model, options);
        return info;
    }

    /// <summary>
    /// Reads <c>config.json</c> (and <c>preprocessor_config.json</c> if present) of the checkpoint at
    /// <paramref name="path"/>: a directory, the weights file, or the <c>config.json</c> itself. The number of classes
    /// comes from <c>id2label</c> and is checked against the classifier's shape when the weights are there.
    /// </summary>
    public static HuggingFaceConfig ReadConfig(string path)
    {
        string configPath;
        string? weights;
        if (System.IO.Path.GetFileName(path) == ConfigFileName && File.Exists(path))
        {
            configPath = path;
            weights = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, WeightsFileName);
        }
        else
        {
            (weights, string directory) = Resolve(path);
            configPath = System.IO.Path.Combine(directory, ConfigFileName);
        }
        if (!File.Exists(configPath)) throw new WeightsFileException(path, $"has no {ConfigFileName} beside it; HuggingFace checkpoints describe their architecture there (put it there, or give the configuration separately: --config FILE)");
        if (!File.Exists(weights)) return ReadConfig(configPath, null);
        using SafeTensorsFile file = SafeTensorsFile.Open(weights);
        return ReadConfig(configPath, file);
    }

    internal static (string Weights, string Directory) Resolve(string path)
    {
        if (Directory.Exists(path)) return (System.IO.Path.Combine(path, WeightsFileName), path);
        return (path, System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
    }

    internal static string Prefix(SafeTensorsFile file) =>
        file.Tensors.Any(t => t.Name.StartsWith("vit.", StringComparison.Ordinal)) ? "vit." : "";

    internal static LoadPlan Plan(VitConfig config, string prefix, LoadOptions options)
    {
        bool IsHead(string name) => name.StartsWith("classifier.", StringComparison.Ordinal);
        var plan = new LoadPlan
        {
            // The pooler (dense + tanh on the [class] token) only feeds ViTModel's pooler_output; classification never uses it.
            Ignore = name => name.StartsWith(prefix + "pooler.", StringComparison.Ordinal) || name.StartsWith("pooler.", StringComparison.Ordinal)
                || (options.KeepHead && IsHead(name)),
            Explain = name => name.Contains("mask_token", StringComparison.Ordinal) ? "a masked-image-modelling token, not part of a classifier"
                : name.Contains("distillation", StringComparison.Ordinal) ? "DeiT distillation is not supported"
                : null,
        };
        ParameterLayout layout = config.Layout;
        int d = config.Hidden;
        void Add(string file, string target, int[]? shape = null, int start = 0, SlotLayout how = SlotLayout.Same)
        {
            ParameterTensor t = layout[target];
            int[] fileShape = shape ?? t.Shape.ToArray();
            int count = fileShape.Aggregate(1, (a, b) => a * b);
            plan.Slots.Add(new Slot(file, Shapes.Of(fileShape), t, start, count, how));
        }
        string e = prefix + "embeddings.";
        Add(e + "patch_embeddings.projection.weight", "patch_embed.proj.weight");
        Add(e + "patch_embeddings.projection.bias", "patch_embed.proj.bias");
        if (config.HasClassToken) Add(e + "cls_token", "cls_token");
        Add(e + "position_embeddings", "pos_embed", how: SlotLayout.Positions);
        for (int i = 0; i < config.Layers; i++)
        {
            string h = $"{prefix}encoder.layer.{i}.", b = $"blocks.{i}.";
            Add(h + "layernorm_before.weight", b + "norm1.weight");
            Add(h + "layernorm_before.bias", b + "norm1.bias");
            string[] parts = ["query", "key", "value"];
            for (int k = 0; k < 3; k++)
            {
                Add(h + $"attention.attention.{parts[k]}.weight", b + "attn.qkv.weight", [d, d], k * d * d);
                if (config.QkvBias) Add(h + $"attention.attention.{parts[k]}.bias", b + "attn.qkv.bias", [d], k * d);
            }
            Add(h + "attention.output.dense.weight", b + "attn.proj.weight");
            Add(h + "attention.output.dense.bias", b + "attn.proj.bias");
            Add(h + "layernorm_after.weight", b + "norm2.weight");
            Add(h + "layernorm_after.bias", b + "norm2.bias");
            Add(h + "intermediate.dense.weight", b + "mlp.fc1.weight");
            Add(h + "intermediate.dense.bias", b + "mlp.fc1.bias");
            Add(h + "output.dense.weight", b + "mlp.fc2.weight");
            Add(h + "output.dense.bias", b + "mlp.fc2.bias");
        }
        Add(prefix + "layernorm.weight", "norm.weight");
        Add(prefix + "layernorm.bias", "norm.bias");
        if (!options.KeepHead)
        {
            Add("classifier.weight", "head.weight");
            Add("classifier.bias", "head.bias");
        }
        return plan;
    }

    internal static HuggingFaceConfig ReadConfig(string configPath, SafeTensorsFile? weights)
    {
        var json = new JsonFields(configPath);
        var config = new VitConfig
        {
            // transformers' ViTConfig defaults, for keys a config.json leaves out.
            ImageSize = 224, Channels = 3, Patch = 16, Layers = 12, Hidden = 768, Heads = 12, MlpDim = 3072,
            LayerNormEpsilon = 1e-12, QkvBias = true, Pooling = VitPooling.ClassToken,
        };
        string[]? labels = null;
        using (JsonDocument document = JsonFields.Parse(configPath, "config.json"))
        {
            foreach (JsonProperty p in document.RootElement.EnumerateObject())
            {
                JsonElement v = p.Value;
                switch (p.Name)
                {
                    case "model_type":
                        string type = json.String(v, p.Name);
                        if (type != "vit") throw json.Fail($"model_type is '{type}'; only 'vit' (ViTModel, ViTForImageClassification) is supported");
                        break;
                    case "hidden_act":
                        string act = json.String(v, p.Name);
                        if (act != "gelu") throw json.Fail($"hidden_act is '{act}'; this library computes exact (erf) GELU, which HuggingFace calls 'gelu'");
                        break;
                    case "hidden_size": config = config with { Hidden = json.Int(v, p.Name) }; break;
                    case "num_hidden_layers": config = config with { Layers = json.Int(v, p.Name) }; break;
                    case "num_attention_heads": config = config with { Heads = json.Int(v, p.Name) }; break;
                    case "intermediate_size": config = config with { MlpDim = json.Int(v, p.Name) }; break;
                    case "image_size": config = config with { ImageSize = json.Square(v, p.Name) }; break;
                    case "patch_size": config = config with { Patch = json.Square(v, p.Name) }; break;
                    case "num_channels": config = config with { Channels = json.Int(v, p.Name) }; break;
                    case "layer_norm_eps": config = config with { LayerNormEpsilon = json.Double(v, p.Name) }; break;
                    case "qkv_bias": config = config with { QkvBias = json.Bool(v, p.Name) }; break;
                    case "id2label": labels = Labels(json, v); break;
                }
            }
        }
        long? classifierRows = weights is not null && weights.TryGetTensor("classifier.weight", out SafeTensorInfo head) && head.Shape.Count == 2 ? head.Shape[0] : null;
        if (labels is not null && classifierRows is long rows && rows != labels.Length)
            throw json.Fail($"id2label names {labels.Length} classes but classifier.weight in '{weights!.Path}' has {rows} rows");
        int classes = labels?.Length ?? (classifierRows is long r && r <= int.MaxValue ? (int)r : 2); // 2: transformers' default num_labels
        labels ??= Enumerable.Range(0, classes).Select(i => $"LABEL_{i}").ToArray();
        config = config with { Classes = classes };
        if (config.Problem() is string problem) throw json.Fail($"describes an invalid configuration: {problem}");

        string preprocessorPath = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(configPath))!, PreprocessorFileName);
        ImagePreprocessing? preprocessing = File.Exists(preprocessorPath) ? ReadPreprocessing(preprocessorPath) : null;
        return new HuggingFaceConfig(config, labels, preprocessing, configPath);
    }

    private static string[] Labels(JsonFields json, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object) throw json.Fail($"id2label is a JSON {value.ValueKind}; expected an object");
        var byId = new Dictionary<int, string>();
        foreach (JsonProperty p in value.EnumerateObject())
        {
            if (!int.TryParse(p.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id))
                throw json.Fail($"id2label has key '{p.Name}'; keys are class numbers");
            if (!byId.TryAdd(id, json.String(p.Value, $"id2label.{p.Name}"))) throw json.Fail($"id2label names class {id} twice");
        }
        string[] labels = new string[byId.Count];
        foreach ((int id, string label) in byId)
        {
            if (id >= labels.Length) throw json.Fail($"id2label has {labels.Length} entries but names class {id}; classes must be numbered 0 to {labels.Length - 1}");
            labels[id] = label;
        }
        return labels;
    }

    internal static ImagePreprocessing ReadPreprocessing(string path)
    {
        var json = new JsonFields(path);
        var result = new ImagePreprocessing();
        using JsonDocument document = JsonFields.Parse(path, "preprocessor_config.json");
        foreach (JsonProperty p in document.RootElement.EnumerateObject())
        {
            JsonElement v = p.Value;
            switch (p.Name)
            {
                case "image_mean": result = result with { Mean = json.Floats(v, p.Name) }; break;
                case "image_std": result = result with { Std = json.Floats(v, p.Name) }; break;
                case "resample": result = result with { Resample = json.Int(v, p.Name) }; break;
                case "rescale_factor": result = result with { RescaleFactor = json.Double(v, p.Name) }; break;
                case "do_resize": result = result with { DoResize = json.Bool(v, p.Name) }; break;
                case "do_rescale": result = result with { DoRescale = json.Bool(v, p.Name) }; break;
                case "do_normalize": result = result with { DoNormalize = json.Bool(v, p.Name) }; break;
                case "size" when v.ValueKind == JsonValueKind.Object:
                    int? height = null, width = null, shortest = null;
                    foreach (JsonProperty s in v.EnumerateObject())
                    {
                        switch (s.Name)
                        {
                            case "height": height = json.Int(s.Value, "size.height"); break;
                            case "width": width = json.Int(s.Value, "size.width"); break;
                            case "shortest_edge": shortest = json.Int(s.Value, "size.shortest_edge"); break;
                            default: throw json.Fail($"size has an unknown key '{s.Name}' (expected height and width, or shortest_edge)");
                        }
                    }
                    if ((height is null) != (width is null)) throw json.Fail("size gives only one of height and width");
                    if (height is null && shortest is null) throw json.Fail("size gives neither height/width nor shortest_edge");
                    result = result with { Height = height, Width = width, ShortestEdge = shortest };
                    break;
                case "size":
                    int side = json.Int(v, p.Name);
                    result = result with { Height = side, Width = side, ShortestEdge = null };
                    break;
            }
        }
        if (result.Mean.Count != result.Std.Count) throw json.Fail($"image_mean has {result.Mean.Count} values but image_std {result.Std.Count}");
        if (result.Std.Any(s => !(s > 0))) throw json.Fail("image_std must be positive");
        if (result.Height is <= 0 || result.Width is <= 0 || result.ShortestEdge is <= 0) throw json.Fail("sizes must be positive");
        return result;
    }

    private static string ConfigJson(VitConfig config, IReadOnlyList<string>? labels)
    {
        return WriteJson(json =>
        {
            // Keys in sorted order, as transformers writes them.
            json.WriteStartArray("architectures");
            json.WriteStringValue("ViTForImageClassification");
            json.WriteEndArray();
            json.WriteNumber("attention_probs_dropout_prob", 0.0);
            json.WriteNumber("encoder_stride", config.Patch);
            json.WriteString("hidden_act", "gelu");
            json.WriteNumber("hidden_dropout_prob", 0.0);
            json.WriteNumber("hidden_size", config.Hidden);
            json.WriteStartObject("id2label");
            for (int i = 0; i < config.Classes; i++) json.WriteString(i.ToString(System.Globalization.CultureInfo.InvariantCulture), labels?[i] ?? $"LABEL_{i}");
            json.WriteEndObject();
            json.WriteNumber("image_size", config.ImageSize);
            json.WriteNumber("initializer_range", 0.02);
            json.WriteNumber("intermediate_size", config.MlpWidth);
            json.WriteStartObject("label2id");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < config.Classes; i++)
            {
                string label = labels?[i] ?? $"LABEL_{i}";
                if (seen.Add(label)) json.WriteNumber(label, i);
            }
            json.WriteEndObject();
            json.WriteNumber("layer_norm_eps", config.LayerNormEpsilon);
            json.WriteString("model_type", "vit");
            json.WriteNumber("num_attention_heads", config.Heads);
            json.WriteNumber("num_channels", config.Channels);
            json.WriteNumber("num_hidden_layers", config.Layers);
            json.WriteNumber("patch_size", config.Patch);
            json.WriteBoolean("qkv_bias", config.QkvBias);
            json.WriteString("torch_dtype", "float32");
        });
    }

    private static string PreprocessorJson(ImagePreprocessing p) => WriteJson(json =>
    {
        json.WriteBoolean("do_normalize", p.DoNormalize);
        json.WriteBoolean("do_rescale", p.DoRescale);
        json.WriteBoolean("do_resize", p.DoResize);
        json.WriteStartArray("image_mean");
        foreach (float m in p.Mean) json.WriteNumberValue(m);
        json.WriteEndArray();
        json.WriteString("image_processor_type", "ViTImageProcessor");
        json.WriteStartArray("image_std");
        foreach (float s in p.Std) json.WriteNumberValue(s);
        json.WriteEndArray();
        json.WriteNumber("resample", p.Resample);
        json.WriteNumber("rescale_factor", p.RescaleFactor);
        json.WriteStartObject("size");
        if (p.Height is int h) json.WriteNumber("height", h);
        if (p.ShortestEdge is int e) json.WriteNumber("shortest_edge", e);
        if (p.Width is int w) json.WriteNumber("width", w);
        json.WriteEndObject();
    });

    private static string WriteJson(Action<Utf8JsonWriter> body)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            body(json);
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }
}
