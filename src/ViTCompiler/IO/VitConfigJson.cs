using System.Text.Json;

namespace ViTCompiler.IO;

/// <summary>
/// <see cref="VitConfig"/> as a small JSON object with snake_case keys (<c>image_size</c>, <c>channels</c>, <c>patch</c>,
/// <c>layers</c>, <c>hidden</c>, <c>heads</c>, <c>mlp_dim</c>, <c>classes</c>, <c>pooling</c> ("class_token" or "mean"),
/// <c>layer_norm_epsilon</c>, <c>qkv_bias</c>): a checkpoint's <c>vit.config</c> metadata and the CLI's <c>--config</c>
/// files. Written with <see cref="Utf8JsonWriter"/> and read with <see cref="JsonDocument"/>, so no reflection is
/// involved (NativeAOT), and every problem is reported with the key it concerns.
/// </summary>
public static class VitConfigJson
{
    /// <summary>The configuration as JSON with every key (what <see cref="Read"/> with <c>requireAll</c> accepts).</summary>
    public static string Write(VitConfig config)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("image_size", config.ImageSize);
            json.WriteNumber("channels", config.Channels);
            json.WriteNumber("patch", config.Patch);
            json.WriteNumber("layers", config.Layers);
            json.WriteNumber("hidden", config.Hidden);
            json.WriteNumber("heads", config.Heads);
            json.WriteNumber("mlp_dim", config.MlpDim);
            json.WriteNumber("classes", config.Classes);
            json.WriteString("pooling", config.Pooling == VitPooling.Mean ? "mean" : "class_token");
            json.WriteNumber("layer_norm_epsilon", config.LayerNormEpsilon);
            json.WriteBoolean("qkv_bias", config.QkvBias);
            if (config.HasStem)
            {
                // Written only for hybrids, so a pure model's JSON stays what it always was.
                json.WriteStartArray("stem_channels");
                foreach (int c in config.StemChannels) json.WriteNumberValue(c);
                json.WriteEndArray();
                json.WriteStartArray("stem_strides");
                foreach (int s in config.StemStrides) json.WriteNumberValue(s);
                json.WriteEndArray();
                json.WriteNumber("stem_groups", config.StemGroups);
            }
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// Parses and validates; <paramref name="fail"/> builds the exception for a problem (its text reads after the source's
    /// name, e.g. "has no 'patch'"). With <paramref name="requireAll"/> every key must be present (what a checkpoint
    /// writes); without, keys left out take <see cref="VitConfig"/>'s defaults (what a person writes).
    /// </summary>
    public static VitConfig Read(string text, Func<string, Exception> fail, bool requireAll = true)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            throw fail($"is not valid JSON ({e.Message})");
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw fail($"is a JSON {root.ValueKind}, not an object");
            var config = new VitConfig();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty p in root.EnumerateObject())
            {
                if (!seen.Add(p.Name)) throw fail($"gives '{p.Name}' twice");
                config = p.Name switch
                {
                    "image_size" => config with { ImageSize = Int(p, fail) },
                    "channels" => config with { Channels = Int(p, fail) },
                    "patch" => config with { Patch = Int(p, fail) },
                    "layers" => config with { Layers = Int(p, fail) },
                    "hidden" => config with { Hidden = Int(p, fail) },
                    "heads" => config with { Heads = Int(p, fail) },
                    "mlp_dim" => config with { MlpDim = Int(p, fail) },
                    "classes" => config with { Classes = Int(p, fail) },
                    "pooling" => config with
                    {
                        Pooling = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() switch
                        {
                            "class_token" => VitPooling.ClassToken,
                            "mean" => VitPooling.Mean,
                            string other => throw fail($"has pooling '{other}'; expected 'class_token' or 'mean'"),
                            null => throw fail("has no pooling"),
                        } : throw fail($"has pooling of JSON type {p.Value.ValueKind}; expected a string"),
                    },
                    "layer_norm_epsilon" => config with
                    {
                        LayerNormEpsilon = p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetDouble(out double e)
                            ? e : throw fail($"has layer_norm_epsilon {p.Value.GetRawText()}; expected a number"),
                    },
                    "qkv_bias" => config with
                    {
                        QkvBias = p.Value.ValueKind is JsonValueKind.True or JsonValueKind.False
                            ? p.Value.GetBoolean() : throw fail($"has qkv_bias {p.Value.GetRawText()}; expected true or false"),
                    },
                    "stem_channels" => config with { StemChannels = Ints(p, fail) },
                    "stem_strides" => config with { StemStrides = Ints(p, fail) },
                    "stem_groups" => config with { StemGroups = Int(p, fail) },
                    _ => throw fail($"has an unknown field '{Shorten(p.Name)}' (expected image_size, channels, patch, layers, hidden, heads, mlp_dim, classes, pooling, layer_norm_epsilon, qkv_bias, and for a hybrid stem_channels, stem_strides, stem_groups)"),
                };
            }
            if (requireAll)
            foreach (string required in (string[])["image_size", "channels", "patch", "layers", "hidden", "heads", "mlp_dim", "classes", "pooling", "layer_norm_epsilon", "qkv_bias"])
                if (!seen.Contains(required)) throw fail($"has no '{required}'");
            if (config.Problem() is string problem) throw fail($"describes an invalid configuration: {problem}");
            return config;
        }
    }

    private static int[] Ints(JsonProperty p, Func<string, Exception> fail)
    {
        if (p.Value.ValueKind != JsonValueKind.Array) throw fail($"has {p.Name} of JSON type {p.Value.ValueKind}; expected an array of integers");
        if (p.Value.GetArrayLength() > 64) throw fail($"has {p.Value.GetArrayLength()} values in {p.Name}; a stem has at most 8 stages");
        var values = new List<int>();
        foreach (JsonElement e in p.Value.EnumerateArray())
            values.Add(e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v : throw fail($"has {p.Name} containing {Shorten(e.GetRawText())}; expected integers"));
        return [.. values];
    }

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..60] + "…";

    private static int Int(JsonProperty p, Func<string, Exception> fail) =>
        p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt32(out int v) ? v : throw fail($"has {p.Name} {p.Value.GetRawText()}; expected an integer");

    /// <summary>
    /// Throws <see cref="WeightsFileException"/> listing each field of <paramref name="saved"/> that differs from the
    /// model's (with the option that would allow it, where one exists).
    /// </summary>
    internal static void CheckMatches(string path, VitConfig saved, VitConfig model, LoadOptions options, bool compareEpsilon = true)
    {
        List<string> differences = Differences(saved, model, options, compareEpsilon);
        if (differences.Count == 0) return;
        string text = $"was saved from a different configuration than the model's ({model}): {string.Join("; ", differences)}.";
        if (saved.ImageSize != model.ImageSize && saved.Patch == model.Patch)
            text += " Pass LoadOptions { ResizePositions = true } to interpolate the position embeddings to the model's image size.";
        if (saved.Classes != model.Classes)
            text += " Pass LoadOptions { KeepHead = true } to keep the model's own head (fine-tuning on a new label set).";
        throw new WeightsFileException(path, text);
    }

    /// <summary>
    /// Fields of <paramref name="file"/> that differ from <paramref name="model"/>, as "Field: file X, model Y", leaving
    /// out ImageSize when positions may be resized and Classes when the head is kept.
    /// </summary>
    internal static List<string> Differences(VitConfig file, VitConfig model, LoadOptions options, bool compareEpsilon = true)
    {
        var list = new List<string>();
        void Check<T>(string field, T a, T b)
        {
            if (!EqualityComparer<T>.Default.Equals(a, b)) list.Add($"{field}: file {a}, model {b}");
        }
        if (!options.ResizePositions) Check(nameof(VitConfig.ImageSize), file.ImageSize, model.ImageSize);
        Check(nameof(VitConfig.Channels), file.Channels, model.Channels);
        Check(nameof(VitConfig.Patch), file.Patch, model.Patch);
        Check(nameof(VitConfig.Layers), file.Layers, model.Layers);
        Check(nameof(VitConfig.Hidden), file.Hidden, model.Hidden);
        Check(nameof(VitConfig.Heads), file.Heads, model.Heads);
        Check("MlpWidth", file.MlpWidth, model.MlpWidth);
        if (!options.KeepHead) Check(nameof(VitConfig.Classes), file.Classes, model.Classes);
        Check(nameof(VitConfig.Pooling), file.Pooling, model.Pooling);
        if (compareEpsilon) Check(nameof(VitConfig.LayerNormEpsilon), file.LayerNormEpsilon, model.LayerNormEpsilon);
        Check(nameof(VitConfig.QkvBias), file.QkvBias, model.QkvBias);
        Check("Stem", file.StemDescription, model.StemDescription);
        return list;
    }
}
