using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ViTCompiler.Imaging;
using ViTCompiler.IO;

namespace ViTCompiler.Cli;

/// <summary>Where a command writes: results to <see cref="Output"/>, everything else (warnings, errors) to <see cref="Error"/>.</summary>
internal sealed class CliContext(TextWriter output, TextWriter error)
{
    // Paths and labels are printed as they are (é, not \u00E9): the output is for people and for JSON parsers, not HTML.
    private static readonly JsonWriterOptions s_jsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public TextWriter Output { get; } = output;
    public TextWriter Error { get; } = error;

    public void Warn(string message) => Error.WriteLine("vit: warning: " + message);

    public void Note(string message) => Error.WriteLine("vit: " + message);

    /// <summary>Writes <paramref name="value"/> as one JSON object on one line of <see cref="Output"/>.</summary>
    /// <param name="value">The result.</param>
    /// <param name="type">Its serialiser, from <see cref="CliJsonContext"/>.</param>
    public void WriteJsonLine<T>(T value, JsonTypeInfo<T> type) => Output.WriteLine(Json(value, type));

    /// <summary><paramref name="value"/> as one line of JSON, as <see cref="WriteJsonLine"/> writes it.</summary>
    public static string Json<T>(T value, JsonTypeInfo<T> type)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, s_jsonOptions)) JsonSerializer.Serialize(json, value, type);
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>
    /// Runs a command body and turns what it throws into a message on stderr and an exit code: the user's mistakes and
    /// file problems get their message only; anything else is an internal error (stack trace with VIT_DEBUG=1).
    /// </summary>
    public int Run(Func<int> body)
    {
        try
        {
            int code = body();
            Output.Flush();
            return code;
        }
        catch (CliException e)
        {
            return Fail(e.ExitCode, e.Message, e);
        }
        catch (Exception e) when (e is Distributed.CommunicatorException or Distributed.RanksDisagreeException)
        {
            return Fail(ExitCodes.Distributed, e.Message, e);
        }
        catch (Exception e) when (e is WeightsFileException or ImageLoadException or FileNotFoundException or DirectoryNotFoundException
                                      or UnauthorizedAccessException or InvalidDataException or IOException or DllNotFoundException)
        {
            return Fail(ExitCodes.FileProblem, e.Message, e);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            return Fail(ExitCodes.Usage, e.Message, e);
        }
        catch (Exception e)
        {
            return Fail(ExitCodes.Internal, $"internal error: {e.GetType().Name}: {e.Message} (set VIT_DEBUG=1 for the stack trace, and please report it)", e);
        }
    }

    private int Fail(int code, string message, Exception e)
    {
        Output.Flush();
        bool debug = Environment.GetEnvironmentVariable("VIT_DEBUG") is "1" or "true";
        Error.WriteLine("vit: " + (debug ? message : Bounded(WithoutParameterNote(message, e))));
        if (debug) Error.WriteLine(e.ToString());
        return code;
    }

    /// <summary>Longest line and most lines of an error message printed (VIT_DEBUG=1 prints it whole).</summary>
    internal const int MaxLineChars = 400, MaxLines = 24;

    /// <summary>
    /// The message cut to <see cref="MaxLines"/> lines of at most <see cref="MaxLineChars"/> characters: a hostile file
    /// can make a loader quote a 5,000-digit number or list every one of its tensors.
    /// </summary>
    internal static string Bounded(string message)
    {
        string[] lines = message.Split('\n');
        var kept = new List<string>(Math.Min(lines.Length, MaxLines));
        foreach (string line in lines.Take(lines.Length > MaxLines ? MaxLines - 1 : MaxLines))
            kept.Add(line.Length <= MaxLineChars ? line : $"{line[..MaxLineChars]}… ({line.Length - MaxLineChars:N0} more characters)");
        if (lines.Length > MaxLines) kept.Add($"… and {lines.Length - kept.Count:N0} more lines (set VIT_DEBUG=1 to see them all)");
        return string.Join('\n', kept);
    }

    /// <summary>
    /// An argument exception's message without what .NET appends for programmers: " (Parameter 'name')" and "Actual
    /// value was …". The sentence before says it for people.
    /// </summary>
    private static string WithoutParameterNote(string message, Exception e)
    {
        if (e is ArgumentOutOfRangeException { ActualValue: not null } && message.IndexOf("\nActual value was ", StringComparison.Ordinal) is int at and >= 0)
            message = message[..at].TrimEnd('\r');
        if (e is ArgumentException { ParamName: string name }) message = message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal);
        return message;
    }
}
