using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Xunit;

namespace ViTCompiler.Serving.Tests;

/// <summary>Bad input gets a clear problem-details answer with the right status, and the server stays up.</summary>
public sealed class ErrorTests
{
    private static async Task<JsonElement> ExpectProblem(HttpResponseMessage response, HttpStatusCode status, string detailContains)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        JsonElement json = await Json.ReadAsync(response);
        Assert.Equal((int)status, json.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(json.GetProperty("title").GetString()));
        Assert.Contains(detailContains, json.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
        return json;
    }

    [Fact]
    public async Task Each_kind_of_bad_request_gets_its_status_and_the_server_still_answers()
    {
        await using Running server = await Running.StartAsync(new ServeOptions { MaxBodyBytes = 64 << 10, MaxPixels = 1_000_000 });
        byte[] good = TestModels.NoisePng(7);

        // 413: declared too large (refused before reading), and too large without a Content-Length (counted while reading).
        await ExpectProblem(await server.PostAsync("/v1/classify", new byte[(64 << 10) + 1]), HttpStatusCode.RequestEntityTooLarge, "above the limit");
        var chunked = new HttpRequestMessage(HttpMethod.Post, "/v1/classify") { Content = new StreamContent(new MemoryStream(new byte[200 << 10])) };
        chunked.Headers.TransferEncodingChunked = true;
        await ExpectProblem(await server.Client.SendAsync(chunked), HttpStatusCode.RequestEntityTooLarge, "above the limit");

        // 415: not an image, whatever the Content-Type says; an empty body is a 400.
        await ExpectProblem(await server.PostAsync("/v1/classify", "{\"image\": \"cat.png\"}"u8.ToArray(), "application/json"), HttpStatusCode.UnsupportedMediaType, "not an image");
        await ExpectProblem(await server.PostAsync("/v1/classify", "%PDF-1.4\n%\u00e2\u00e3\n1 0 obj\n<< >>\nendobj\n"u8.ToArray(), "image/png"), HttpStatusCode.UnsupportedMediaType, "25 50 44 46");
        // A GIF signature with nothing sensible after it is a damaged image, not a foreign format.
        await ExpectProblem(await server.PostAsync("/v1/classify", "GIF89a-but-not-really-a-gif-at-all"u8.ToArray()), HttpStatusCode.UnprocessableEntity, "GIF");
        await ExpectProblem(await server.PostAsync("/v1/classify", []), HttpStatusCode.BadRequest, "no image");

        // 422: a truncated PNG and a PNG whose chunks are damaged.
        await ExpectProblem(await server.PostAsync("/v1/classify", good[..(good.Length / 2)]), HttpStatusCode.UnprocessableEntity, "");
        byte[] damaged = (byte[])good.Clone();
        damaged[40] ^= 0xFF;
        await ExpectProblem(await server.PostAsync("/v1/explain", damaged), HttpStatusCode.UnprocessableEntity, "");

        // 422 before decoding: a valid PNG header claiming 30000 × 30000 pixels (its data could never hold them).
        await ExpectProblem(await server.PostAsync("/v1/classify", ViTCompiler.Tests.Imaging.TestImages.PngClaiming(30_000, 30_000, good)), HttpStatusCode.UnprocessableEntity, "not decoded");

        // 400: a bad query; 404: unknown route; 405: wrong method (with Allow).
        await ExpectProblem(await server.PostAsync("/v1/classify?top=0", good), HttpStatusCode.BadRequest, "top must be");
        await ExpectProblem(await server.PostAsync("/v1/classify?top=11", good), HttpStatusCode.BadRequest, "10 classes");
        await ExpectProblem(await server.Client.GetAsync("/v2/classify"), HttpStatusCode.NotFound, "/v1/classify");
        await ExpectProblem(await server.Client.GetAsync("/etc/passwd"), HttpStatusCode.NotFound, "There is no");
        using (HttpResponseMessage wrongMethod = await server.Client.GetAsync("/v1/classify"))
        {
            await ExpectProblem(wrongMethod, HttpStatusCode.MethodNotAllowed, "POST");
            Assert.Equal("POST", wrongMethod.Content.Headers.Allow.Single());
        }
        await ExpectProblem(await server.Client.DeleteAsync("/healthz"), HttpStatusCode.MethodNotAllowed, "GET");

        // A broken multipart body, and one without a file.
        var noFile = new MultipartFormDataContent { { new StringContent("hello"), "note" } };
        await ExpectProblem(await server.Client.PostAsync("/v1/classify", noFile), HttpStatusCode.BadRequest, "no file");
        var broken = new ByteArrayContent("--x\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.png\"\r\n\r\nabc"u8.ToArray());
        broken.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=x");
        HttpResponseMessage brokenAnswer = await server.Client.PostAsync("/v1/classify", broken);
        await ExpectProblem(brokenAnswer, HttpStatusCode.BadRequest, "multipart");

        // Still up, still right, and nothing was logged as an internal error.
        using HttpResponseMessage after = await server.PostAsync("/v1/classify", good);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Empty(server.Log);
        Assert.Equal(0, server.Server.Metrics.Requests("/v1/classify", 500));
    }

    [Fact]
    public async Task The_pixel_limit_is_the_servers_own()
    {
        await using Running server = await Running.StartAsync(new ServeOptions { MaxPixels = 700 });
        // 28 × 28 = 784 pixels, above 700: refused from the header.
        await ExpectProblem(await server.PostAsync("/v1/classify", TestModels.NoisePng(1)), HttpStatusCode.UnprocessableEntity, "784 pixels");
        Assert.Equal(HttpStatusCode.OK, (await server.PostAsync("/v1/classify", TestModels.NoisePng(1, 20, 20))).StatusCode);
    }
}
