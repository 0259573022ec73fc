using System.Text.Json;
using PuppeteerSharp;
using Xunit;
using Xunit.Abstractions;

namespace ViTCompiler.Serving.Tests;

/// <summary>
/// The page in a real browser: Debian's chromium, headless, driven by PuppeteerSharp (which launches it by path and
/// downloads nothing). Skipped, with the reason shown, where chromium is not installed (CI installs it: .ci/run).
/// </summary>
public sealed class PageTests(ITestOutputHelper output)
{
    private const string Chromium = "/usr/bin/chromium";

    [SkippableFact]
    public async Task The_page_classifies_an_uploaded_image_as_the_api_does()
    {
        Skip.IfNot(File.Exists(Chromium), $"{Chromium} is not installed (apt-get install chromium): the browser test of the page was skipped.");
        // VIT_SERVE_PAGE_WEIGHTS: a trained Fashion-MNIST model for the documentation's screenshot (vit train … --out FILE).
        string? trained = Environment.GetEnvironmentVariable("VIT_SERVE_PAGE_WEIGHTS");
        await using Running server = await Running.StartAsync(model: TestModels.Fashion(string.IsNullOrEmpty(trained) ? null : trained));
        string folder = Path.Combine(AppContext.BaseDirectory, "serve-page");
        Directory.CreateDirectory(folder);
        string upload = Path.Combine(folder, "fashion-0.png");
        File.WriteAllBytes(upload, TestModels.FashionPng(0));

        var launch = new LaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            // --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--font-render-hinting=none"],
            Timeout = 60_000,
        };
        await using IBrowser browser = await Puppeteer.LaunchAsync(launch);
        await using IPage page = await browser.NewPageAsync();
        await page.SetViewportAsync(new ViewPortOptions { Width = 1100, Height = 640 });
        var errors = new List<string>();
        page.Console += (_, e) => { if (e.Message.Type == ConsoleType.Error) errors.Add(e.Message.Text); };
        page.PageError += (_, e) => errors.Add(e.Message);

        IResponse response = await page.GoToAsync(server.Server.Address.ToString(), WaitUntilNavigation.Networkidle0);
        Assert.True(response.Ok, $"GET / answered {response.Status}");
        await page.WaitForFunctionAsync("() => document.getElementById('model').textContent.includes('10 classes')", new WaitForFunctionOptions { Timeout = 30_000 });

        IElementHandle input = await page.QuerySelectorAsync("#file");
        await input.UploadFileAsync(upload);
        await page.WaitForFunctionAsync("() => document.getElementById('top1').dataset.label !== ''", new WaitForFunctionOptions { Timeout = 60_000 });
        await page.WaitForFunctionAsync("() => { const o = document.getElementById('overlay'); return o.complete && o.naturalWidth > 0; }",
            new WaitForFunctionOptions { Timeout = 60_000 });
        string shown = await page.EvaluateExpressionAsync<string>("document.getElementById('top1').dataset.label");
        int bars = await page.EvaluateExpressionAsync<int>("document.querySelectorAll('#bars li').length");

        string screenshot = Path.Combine(folder, "serve-page.png");
        await page.ScreenshotAsync(screenshot, new ScreenshotOptions { FullPage = true });
        output.WriteLine($"screenshot: {screenshot}");
        // The copy in docs/ is refreshed on request only, so a test run never changes the working tree by itself.
        if (Environment.GetEnvironmentVariable("VIT_UPDATE_SCREENSHOTS") == "1")
        {
            string docs = Path.Combine(TestModels.RepoRoot, "docs", "serve", "serve-page.png");
            Directory.CreateDirectory(Path.GetDirectoryName(docs)!);
            File.Copy(screenshot, docs, overwrite: true);
            output.WriteLine($"updated {docs}");
        }

        using HttpResponseMessage api = await server.PostAsync("/v1/classify", File.ReadAllBytes(upload));
        JsonElement json = await Json.ReadAsync(api);
        Assert.Equal(json.GetProperty("top")[0].GetProperty("label").GetString(), shown);
        Assert.Equal(5, bars);
        Assert.Empty(errors);
        Assert.True(new FileInfo(screenshot).Length > 10_000, "the screenshot is too small to show the page");
    }
}
