using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Xunit;

namespace ViTCompiler.Serving.Tests;

/// <summary>Each endpoint against a real Kestrel on 127.0.0.1.</summary>
public sealed class EndpointTests
{
    [Fact]
    public async Task Classify_answers_the_models_top_k_for_an_image_body()
    {
        await using Running server = await Running.StartAsync();
        byte[] png = TestModels.FashionPng(0);
        using HttpResponseMessage response = await server.PostAsync("/v1/classify?top=3", png);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        JsonElement json = await Json.ReadAsync(response);
        Assert.Equal("fashion-test", json.GetProperty("model").GetString());
        JsonElement[] top = json.GetProperty("top").EnumerateArray().ToArray();
        Assert.Equal(3, top.Length);

        // The same image through the model alone: same classes, same probabilities (6 decimals), same order.
        (int Index, double Probability)[] expected = Predictions.TopK(TestModels.SingleForward(server.Model.Inner, png), 3);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(expected[i].Index, top[i].GetProperty("index").GetInt32());
            Assert.Equal(Data.FashionMnist.ClassNames[expected[i].Index], top[i].GetProperty("label").GetString());
            Assert.Equal(expected[i].Probability, top[i].GetProperty("probability").GetDouble(), 6);
        }
        Assert.True(json.GetProperty("elapsed_ms").GetDouble() > 0);
        Assert.Equal(1, json.GetProperty("batch_size").GetInt32());
    }

    [Fact]
    public async Task Classify_takes_a_multipart_upload_and_finds_the_format_from_the_content()
    {
        await using Running server = await Running.StartAsync();
        byte[] png = TestModels.NoisePng(4);
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(png);
        file.Headers.ContentType = MediaTypeHeaderValue.Parse("image/jpeg"); // wrong on purpose: the content decides
        form.Add(file, "image", "photo.jpg");
        using HttpResponseMessage response = await server.Client.PostAsync("/v1/classify?top=10", form);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement json = await Json.ReadAsync(response);
        int best = Predictions.TopK(TestModels.SingleForward(server.Model.Inner, png), 1)[0].Index;
        Assert.Equal(best, json.GetProperty("top")[0].GetProperty("index").GetInt32());
        Assert.Equal(10, json.GetProperty("top").GetArrayLength());
        double sum = json.GetProperty("top").EnumerateArray().Sum(t => t.GetProperty("probability").GetDouble());
        Assert.Equal(1.0, sum, 4);
    }

    [Fact]
    public async Task Explain_returns_the_rollout_overlay_as_a_png_and_the_prediction_in_headers()
    {
        await using Running server = await Running.StartAsync();
        byte[] png = TestModels.FashionPng(1);
        using HttpResponseMessage response = await server.PostAsync("/v1/explain", png);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        byte[] body = await response.Content.ReadAsByteArrayAsync();
        Assert.True(body.AsSpan().StartsWith(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }), "not a PNG");
        using var picture = SixLabors.ImageSharp.Image.Load(body);
        Assert.Equal((560, 480), (picture.Width, picture.Height)); // the figure vit explain draws
        int best = Predictions.TopK(TestModels.SingleForward(server.Model.Inner, png), 1)[0].Index;
        Assert.Equal(best.ToString(System.Globalization.CultureInfo.InvariantCulture), response.Headers.GetValues("X-Vit-Class").Single());
    }

    [Fact]
    public async Task Healthz_model_and_metrics_describe_the_service()
    {
        await using Running server = await Running.StartAsync(new ServeOptions { MaxBatch = 7, MaxWaitMs = 3 });
        using (HttpResponseMessage health = await server.Client.GetAsync("/healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            Assert.Equal("ok", (await Json.ReadAsync(health)).GetProperty("status").GetString());
        }

        JsonElement model = await Json.ReadAsync(await server.Client.GetAsync("/v1/model"));
        Assert.Equal(28, model.GetProperty("config").GetProperty("image_size").GetInt32());
        Assert.Equal(10, model.GetProperty("config").GetProperty("classes").GetInt32());
        Assert.Equal("grey", model.GetProperty("preprocessing").GetProperty("color").GetString());
        Assert.Equal(Data.FashionMnist.ClassNames, model.GetProperty("labels").EnumerateArray().Select(l => l.GetString()!).ToArray());
        Assert.Equal(7, model.GetProperty("batching").GetProperty("max_batch").GetInt32());
        Assert.False(model.GetProperty("limits").GetProperty("api_key_required").GetBoolean());

        (await server.PostAsync("/v1/classify", TestModels.NoisePng(1))).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await server.PostAsync("/v1/classify", "not an image"u8.ToArray())).StatusCode);
        using HttpResponseMessage metrics = await server.Client.GetAsync("/metrics");
        Assert.Equal("text/plain", metrics.Content.Headers.ContentType?.MediaType);
        string text = await metrics.Content.ReadAsStringAsync();
        Assert.Contains("vit_requests_total{route=\"/v1/classify\",status=\"200\"} 1\n", text);
        Assert.Contains("vit_requests_total{route=\"/v1/classify\",status=\"415\"} 1\n", text);
        Assert.Contains("# TYPE vit_request_duration_seconds histogram", text);
        Assert.Contains("vit_batch_size_bucket{le=\"1\"} 1\n", text);
        Assert.Contains("vit_batch_size_count 1\n", text);
        Assert.Contains("vit_queue_depth 0\n", text);
        // Every sample line is "name{labels} value" or "name value" with a number: what a Prometheus scraper parses.
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')))
            Assert.Matches(@"^[a-z_]+(\{[a-z_]+=""[^""]*""(,[a-z_]+=""[^""]*"")*\})? -?[0-9.eE+-]+$", line);
    }

    [Fact]
    public async Task The_page_and_its_script_are_served_from_the_binary_with_no_outside_references()
    {
        await using Running server = await Running.StartAsync();
        using HttpResponseMessage page = await server.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single());
        string html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<script src=\"/app.js\">", html);
        string script = await server.Client.GetStringAsync("/app.js");
        Assert.Contains("/v1/classify", script);
        Assert.Contains("/v1/explain", script);
        string style = await server.Client.GetStringAsync("/style.css");
        foreach (string text in new[] { html, script, style }) Assert.DoesNotContain("http", text, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Beyond_loopback_needs_an_api_key_and_v1_refuses_requests_without_it()
    {
        Assert.Contains("API key", Assert.Throws<ArgumentException>(() => new ServeOptions { Host = "0.0.0.0" }.Validate()).Message);
        Assert.Contains("shorter than 16", Assert.Throws<ArgumentException>(() => new ServeOptions { Host = "0.0.0.0", ApiKey = "short" }.Validate()).Message);
        Assert.True(new ServeOptions().IsLoopback);
        Assert.False(new ServeOptions { Host = "10.0.0.1", ApiKey = new string('k', 20) }.Validate().IsLoopback);

        // The key is checked whatever the address; here on loopback, so the test never listens beyond this machine.
        string key = "test-key-0123456789abcdef";
        await using Running server = await Running.StartAsync(new ServeOptions { ApiKey = key });
        byte[] png = TestModels.NoisePng(2);
        using (HttpResponseMessage refused = await server.PostAsync("/v1/classify", png))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Contains("API key", (await Json.ReadAsync(refused)).GetProperty("detail").GetString());
        }
        var wrong = new HttpRequestMessage(HttpMethod.Get, "/v1/model");
        wrong.Headers.Add("X-Api-Key", key + "x");
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Client.SendAsync(wrong)).StatusCode);
        var bearer = new HttpRequestMessage(HttpMethod.Post, "/v1/classify") { Content = new ByteArrayContent(png) };
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.SendAsync(bearer)).StatusCode);
        // The page and health check stay open: they reveal nothing and a load balancer must reach /healthz.
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/")).StatusCode);
    }
}
