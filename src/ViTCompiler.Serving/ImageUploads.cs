using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using ViTCompiler.Imaging;

namespace ViTCompiler.Serving;

/// <summary>
/// Turns a request's body into the model's input: an image as the whole body, or the first file of a
/// <c>multipart/form-data</c> upload. The format is found from the content, never from a name or a Content-Type;
/// nothing a request says can name a file on disk. At most <see cref="ServeOptions.DecodeSlots"/> uploads are read and
/// decoded at once, which bounds the memory uploads can take whatever is sent.
/// </summary>
internal sealed class ImageUploads
{
    private readonly ServeOptions _options;
    private readonly ImageLoader _loader;
    private readonly SemaphoreSlim _slots;
    private readonly ServeMetrics _metrics;

    public ImageUploads(ServedModel model, ServeOptions options, ServeMetrics metrics)
    {
        _options = options;
        _metrics = metrics;
        // No extension to check (an upload has no trustworthy name); the limits are the service's.
        _loader = new ImageLoader(model.Preprocessing with { MaxPixels = options.MaxPixels, MaxFileBytes = options.MaxBodyBytes, AllowExtensionMismatch = true });
        _slots = new SemaphoreSlim(options.DecodeSlots, options.DecodeSlots);
    }

    /// <summary>The preprocessing applied (the model's, with the service's limits).</summary>
    public ImagePreprocessing Preprocessing => _loader.Options;

    /// <summary>Reads and decodes the request's image, or throws <see cref="ServeProblem"/> saying what is wrong with it.</summary>
    public async Task<float[]> DecodeAsync(HttpRequest request, CancellationToken deadline)
    {
        if (request.ContentLength > _options.MaxBodyBytes)
            throw ServeProblem.TooLarge($"The body is {request.ContentLength:N0} bytes, above the limit of {_options.MaxBodyBytes:N0}.");
        _metrics.DecodeStarted();
        try
        {
            return await DecodeInSlotAsync(request, deadline).ConfigureAwait(false);
        }
        finally
        {
            _metrics.DecodeFinished();
        }
    }

    private async Task<float[]> DecodeInSlotAsync(HttpRequest request, CancellationToken deadline)
    {
        try
        {
            await _slots.WaitAsync(deadline).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!request.HttpContext.RequestAborted.IsCancellationRequested)
        {
            throw ServeProblem.Busy("The server is busy decoding other uploads and the request's deadline passed; try again.", 1);
        }
        try
        {
            byte[] encoded = await ReadAsync(request, deadline).ConfigureAwait(false);
            if (encoded.Length == 0) throw ServeProblem.BadRequest("The request has no image: send the image as the body, or as a file in a multipart/form-data upload.");
            float[] pixels = new float[_loader.ValuesPerImage];
            try
            {
                _loader.Load(encoded, "upload", pixels);
            }
            catch (ImageLoadException e)
            {
                string detail = "The upload was refused: " + e.Problem;
                throw e.Kind is ImageLoadProblem.NotAnImage or ImageLoadProblem.Unsupported ? ServeProblem.Unsupported(detail) : ServeProblem.Unprocessable(detail);
            }
            return pixels;
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task<byte[]> ReadAsync(HttpRequest request, CancellationToken cancel)
    {
        if (request.ContentType is string type && MediaTypeHeaderValue.TryParse(type, out MediaTypeHeaderValue? media)
            && media.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            IFormCollection form;
            try
            {
                form = await request.ReadFormAsync(cancel).ConfigureAwait(false);
            }
            catch (InvalidDataException e)
            {
                // The form reader's own limits (multipart body, header and section sizes) and broken multipart framing.
                bool tooLarge = e.Message.Contains("limit", StringComparison.OrdinalIgnoreCase);
                throw tooLarge ? ServeProblem.TooLarge($"The upload is above a limit: {e.Message}") : ServeProblem.BadRequest($"The multipart body is malformed: {e.Message}");
            }
            catch (IOException e) when (e is not BadHttpRequestException && !request.HttpContext.RequestAborted.IsCancellationRequested)
            {
                throw ServeProblem.BadRequest($"The multipart body is malformed or cut short: {e.Message}");
            }
            IFormFile file = form.Files.Count > 0 ? form.Files[0] : throw ServeProblem.BadRequest("The multipart/form-data upload holds no file; add the image as a file field.");
            if (file.Length > _options.MaxBodyBytes)
                throw ServeProblem.TooLarge($"The file is {file.Length:N0} bytes, above the limit of {_options.MaxBodyBytes:N0}.");
            byte[] bytes = new byte[file.Length];
            await using Stream stream = file.OpenReadStream();
            await stream.ReadExactlyAsync(bytes, cancel).ConfigureAwait(false);
            return bytes;
        }

        // The body itself. Kestrel stops a body longer than its limit; this stops one without a Content-Length too.
        var buffer = new MemoryStream(request.ContentLength is long length ? (int)length : 64 << 10);
        byte[] chunk = new byte[64 << 10];
        while (true)
        {
            int read = await request.Body.ReadAsync(chunk, cancel).ConfigureAwait(false);
            if (read == 0) break;
            if (buffer.Length + read > _options.MaxBodyBytes)
                throw ServeProblem.TooLarge($"The body is above the limit of {_options.MaxBodyBytes:N0} bytes.");
            buffer.Write(chunk, 0, read);
        }
        return buffer.Length == buffer.Capacity ? buffer.GetBuffer() : buffer.ToArray();
    }
}
