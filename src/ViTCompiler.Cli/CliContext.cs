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
    public void WriteJsonLine<T>(T value, JsonTypeInfo<T> type)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, s_jsonOptions)) JsonSerializer.Serialize(json, value, type);
        Output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
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
        catch (Exception e) when (e is WeightsFileException or ImageLoadException or FileNotFoundException or DirectoryNotFoundException
                                      or UnauthorizedAccessException or InvalidDataException or IOException)
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
        Error.WriteLine("vit: " + message);
        if (Environment.GetEnvironmentVariable("VIT_DEBUG") is "1" or "true") Error.WriteLine(e.ToString());
        return code;
    }
}
