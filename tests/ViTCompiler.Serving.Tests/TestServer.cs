using System.Net.Http.Headers;
using System.Text.Json;
using FashionMnistSample;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using ViTCompiler.Data;
using ViTCompiler.Imaging;

namespace ViTCompiler.Serving.Tests;

/// <summary>
/// A model wrapper that counts forward passes and can hold them at a gate, so tests can line requests up in the queue
/// before the batch runs. Everything else goes to the real model.
/// </summary>
internal sealed class GatedModel(IVitClassifier inner) : IVitClassifier
{
    private readonly ManualResetEventSlim _gate = new(true);
    private int _calls;

    public IVitClassifier Inner => inner;
    public int ForwardCalls => Volatile.Read(ref _calls);
    public List<int> BatchSizes { get; } = [];
    public SemaphoreSlim Entered { get; } = new(0);

    public void Close() => _gate.Reset();
    public void Open() => _gate.Set();

    public VitConfig Config => inner.Config;
    public ReadOnlySpan<float> Parameters => inner.Parameters;
    public ParameterEdit EditParameters() => inner.EditParameters();
    public string Engine => inner.Engine;
    public int Threads { get => inner.Threads; set => inner.Threads = value; }

    public void Forward(ReadOnlySpan<float> pixels, int batch, Span<float> logits)
    {
        Enter(batch);
        inner.Forward(pixels, batch, logits);
    }

    public void Forward(ReadOnlySpan<float> pixels, int batch, Span<float> logits, Span<float> attention)
    {
        Enter(batch);
        inner.Forward(pixels, batch, logits, attention);
    }

    private void Enter(int batch)
    {
        Interlocked.Increment(ref _calls);
        lock (BatchSizes) BatchSizes.Add(batch);
        Entered.Release();
        if (!_gate.Wait(TimeSpan.FromSeconds(60))) throw new TimeoutException("The test never opened the gate.");
    }
}

/// <summary>The served model (the Fashion-MNIST sample's FashionVit) and test images.</summary>
internal static class TestModels
{
    /// <summary>
    /// FashionVit with a random head (an initialised head is zero: every class equally likely), so answers differ between
    /// images; or, given <paramref name="weights"/>, a trained one (for the documentation's screenshot).
    /// </summary>
    public static GatedModel Fashion(string? weights = null)
    {
        var model = new FashionVit(seed: 3);
        var random = new Random(11);
        if (weights is not null) ViTCompiler.IO.Weights.Load(weights, model);
        else
        {
            using ParameterEdit edit = model.EditParameters();
            foreach (string name in new[] { "head.weight", "head.bias" })
                foreach (ref float v in edit[model.Config.Layout[name]]) v = (float)(random.NextDouble() * 2 - 1);
        }
        model.Threads = 1;
        return new GatedModel(model);
    }

    public static ServedModel Served(GatedModel model) =>
        new("fashion-test", model, ImagePreprocessing.For(null, model.Config), FashionMnist.ClassNames);

    /// <summary>A 28 × 28 grey PNG of noise drawn from <paramref name="seed"/>.</summary>
    public static byte[] NoisePng(int seed, int width = 28, int height = 28)
    {
        var random = new Random(seed);
        using var image = new Image<L8>(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) image[x, y] = new L8((byte)random.Next(256));
        return Encode(image);
    }

    /// <summary>Test image <paramref name="index"/> of the Fashion-MNIST split that ships in data/, as a PNG.</summary>
    public static byte[] FashionPng(int index)
    {
        IdxImages images = Idx.ReadImages(Path.Combine(RepoRoot, "data", "fashion-mnist", "t10k-images-idx3-ubyte.gz"));
        using var image = Image.LoadPixelData<L8>(images.Pixels.AsSpan(index * 784, 784), 28, 28);
        return Encode(image);
    }

    private static byte[] Encode(Image image) => ViTCompiler.Tests.Imaging.TestImages.Encode(image, ".png");

    /// <summary>The model's own answer for one image, loaded as the server loads it, run alone (batch of 1).</summary>
    public static float[] SingleForward(IVitClassifier model, byte[] png)
    {
        var loader = new ImageLoader(ImagePreprocessing.For(null, model.Config) with { AllowExtensionMismatch = true });
        float[] pixels = new float[model.Config.PixelsPerImage];
        loader.Load(png, "upload", pixels);
        float[] logits = new float[model.Config.Classes];
        model.Forward(pixels, 1, logits);
        return logits;
    }

    public static string RepoRoot
    {
        get
        {
            for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
                if (File.Exists(Path.Combine(folder.FullName, "ViTCompiler.sln"))) return folder.FullName;
            throw new InvalidOperationException("The repository root (ViTCompiler.sln) was not found above " + AppContext.BaseDirectory);
        }
    }
}

/// <summary>A started server on 127.0.0.1 and a client for it; disposing stops it.</summary>
internal sealed class Running : IAsyncDisposable
{
    private Running(VitServer server, GatedModel model, HttpClient client)
    {
        Server = server;
        Model = model;
        Client = client;
    }

    public VitServer Server { get; }
    public GatedModel Model { get; }
    public HttpClient Client { get; }
    public List<string> Log { get; } = [];

    public static async Task<Running> StartAsync(ServeOptions? options = null, GatedModel? model = null)
    {
        model ??= TestModels.Fashion();
        options = (options ?? new ServeOptions()) with { Host = "127.0.0.1", Port = 0 };
        var log = new List<string>();
        VitServer server = VitServer.Create(TestModels.Served(model), options, message => { lock (log) log.Add(message); });
        await server.StartAsync();
        var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
        var running = new Running(server, model, client);
        running.Log.AddRange(log);
        return running;
    }

    public Task<HttpResponseMessage> PostAsync(string path, byte[] body, string? contentType = "image/png")
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return Client.PostAsync(path, content);
    }

    public async ValueTask DisposeAsync()
    {
        Model.Open();
        Client.Dispose();
        await Server.DisposeAsync();
    }
}

internal static class Json
{
    public static async Task<JsonElement> ReadAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
}
