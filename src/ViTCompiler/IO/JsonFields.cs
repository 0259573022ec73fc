using System.Text.Json;

namespace ViTCompiler.IO;

/// <summary>Typed reads of JSON values with messages that name the file and the field.</summary>
internal sealed class JsonFields(string path)
{
    public WeightsFileException Fail(string problem) => new(path, problem);

    public int Int(JsonElement value, string field) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int v) ? v
        // Python writes whole floats as 224.0; accept those, nothing fractional.
        : value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double d) && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue ? (int)d
        : throw Fail($"'{field}' is {Echo.Clip(value.GetRawText())}; expected an integer");

    public double Double(JsonElement value, string field) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double v) ? v : throw Fail($"'{field}' is {Echo.Clip(value.GetRawText())}; expected a number");

    public bool Bool(JsonElement value, string field) =>
        value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : throw Fail($"'{field}' is {Echo.Clip(value.GetRawText())}; expected true or false");

    public string String(JsonElement value, string field) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Fail($"'{field}' is {Echo.Clip(value.GetRawText())}; expected a string");

    public float[] Floats(JsonElement value, string field)
    {
        if (value.ValueKind != JsonValueKind.Array) throw Fail($"'{field}' is {Echo.Clip(value.GetRawText())}; expected a list of numbers");
        var list = new List<float>();
        foreach (JsonElement item in value.EnumerateArray()) list.Add((float)Double(item, field));
        return list.ToArray();
    }

    /// <summary>An image or patch size: a number, or a list of two equal numbers (ViT is square here).</summary>
    public int Square(JsonElement value, string field)
    {
        if (value.ValueKind != JsonValueKind.Array) return Int(value, field);
        int[] sides = value.EnumerateArray().Select(v => Int(v, field)).ToArray();
        if (sides.Length != 2) throw Fail($"'{field}' is {Echo.Clip(value.GetRawText())}; expected a number or [height, width]");
        if (sides[0] != sides[1]) throw Fail($"'{field}' is {Echo.Clip(value.GetRawText())}; only square images and patches are supported");
        return sides[0];
    }

    public static JsonDocument Parse(string path, string what)
    {
        byte[] bytes;
        try
        {
            bytes = FileGuard.ReadAllBytes(path, FileGuard.MaxConfigBytes, problem => new WeightsFileException(path, problem));
        }
        catch (Exception e) when (e is IOException and not WeightsFileException or UnauthorizedAccessException)
        {
            throw new WeightsFileException(path, "cannot be read: " + e.Message, e);
        }
        // JsonDocument checks the structure but not the bytes inside strings; reading such a string later would throw
        // InvalidOperationException far from here (found by the hostile corpus).
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new WeightsFileException(path, $"is not valid UTF-8 text; a {what} is UTF-8 JSON");
        try
        {
            JsonDocument document = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                document.Dispose();
                throw new WeightsFileException(path, $"is a JSON {document.RootElement.ValueKind}; a {what} is an object");
            }
            return document;
        }
        catch (JsonException e)
        {
            throw new WeightsFileException(path, $"is not valid JSON ({e.Message})", e);
        }
    }
}
