namespace ViTCompiler.IO;

/// <summary>
/// Shortens text taken from a file before it goes into an error message: a hostile or corrupt file can hold a
/// 5,000-digit number or a megabyte-long name, and echoing it whole buries the message.
/// </summary>
internal static class Echo
{
    /// <summary>The longest piece of a file's text quoted in a message, in characters.</summary>
    public const int MaxChars = 80;

    /// <summary><paramref name="text"/> up to <see cref="MaxChars"/> characters, with line breaks shown as ⏎ and the length of what was cut.</summary>
    public static string Clip(string text, int maxChars = MaxChars)
    {
        ArgumentNullException.ThrowIfNull(text);
        string shown = text.Length <= maxChars ? text : text[..maxChars];
        if (shown.AsSpan().IndexOfAny('\n', '\r') >= 0) shown = shown.Replace("\r\n", "⏎").Replace('\n', '⏎').Replace('\r', '⏎');
        return text.Length <= maxChars ? shown : $"{shown}… ({text.Length:N0} characters)";
    }

    /// <summary>At most <paramref name="maxItems"/> of <paramref name="items"/>, then "… and N more".</summary>
    public static IEnumerable<string> Few(IReadOnlyList<string> items, int maxItems)
    {
        int shown = items.Count <= maxItems ? items.Count : maxItems - 1;
        for (int i = 0; i < shown; i++) yield return items[i];
        if (shown < items.Count) yield return $"… and {items.Count - shown:N0} more";
    }
}
