using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ViTCompiler.Serving.Endpoints;

/// <summary><c>GET /</c>: a page to try the model (HTML, CSS and a little JavaScript, embedded in the binary; no CDN).</summary>
internal static class PageEndpoints
{
    // Everything the page loads comes from this server; images it shows are blob: URLs it made itself.
    private const string ContentSecurityPolicy = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

    public static void Map(IEndpointRouteBuilder routes)
    {
        Page index = Load("index.html", "text/html; charset=utf-8");
        Page script = Load("app.js", "text/javascript; charset=utf-8");
        Page style = Load("style.css", "text/css; charset=utf-8");
        routes.MapGet("/", (HttpContext context) => Serve(context, index));
        routes.MapGet("/app.js", (HttpContext context) => Serve(context, script));
        routes.MapGet("/style.css", (HttpContext context) => Serve(context, style));
    }

    private static Task Serve(HttpContext context, Page page)
    {
        context.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        context.Response.Headers.XContentTypeOptions = "nosniff";
        context.Response.Headers.CacheControl = "no-cache";
        return Results.Bytes(page.Bytes, page.ContentType).ExecuteAsync(context);
    }

    private sealed record Page(byte[] Bytes, string ContentType);

    private static Page Load(string name, string contentType)
    {
        using Stream stream = typeof(PageEndpoints).Assembly.GetManifestResourceStream("ViTCompiler.Serving.Page." + name)
            ?? throw new InvalidOperationException($"The page's {name} is missing from the serving assembly's resources.");
        var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return new Page(bytes.ToArray(), contentType);
    }
}
