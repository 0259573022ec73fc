namespace ViTCompiler.Serving;

/// <summary>
/// A request the service refuses, with the status and a message for the caller; the error middleware writes it as
/// problem details. <see cref="RetryAfterSeconds"/> becomes a <c>Retry-After</c> header.
/// </summary>
internal sealed class ServeProblem(int status, string title, string detail, int? retryAfterSeconds = null) : Exception(detail)
{
    public int Status { get; } = status;
    public string Title { get; } = title;
    public int? RetryAfterSeconds { get; } = retryAfterSeconds;

    public static ServeProblem BadRequest(string detail) => new(400, "Bad request", detail);
    public static ServeProblem TooLarge(string detail) => new(413, "Payload too large", detail);
    public static ServeProblem Unsupported(string detail) => new(415, "Unsupported media type", detail);
    public static ServeProblem Unprocessable(string detail) => new(422, "Unprocessable image", detail);
    public static ServeProblem Busy(string detail, int retryAfterSeconds) => new(503, "Service unavailable", detail, retryAfterSeconds);
}
