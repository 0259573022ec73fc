using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace ViTCompiler.Benchmarks;

/// <summary>
/// <c>serve-load</c>: a load generator for <c>vit serve</c> (docs/SERVE.md, "Under load"). Starts the published
/// <c>vit</c> on 127.0.0.1 once per configuration, sends a bounded number of requests (and stops at a time limit) from
/// 1, 8, 32 and 128 concurrent clients, and prints one markdown row per run: throughput, p50/p99 latency of the valid
/// requests, errors, and the server's peak resident memory (VmHWM). Configurations: dynamic batching (the defaults),
/// <c>--max-batch 1</c>, and batching with 10 % hostile uploads mixed in. Only ever connects to 127.0.0.1.
/// </summary>
internal static class ServeLoad
{
    private sealed record LoadRun(string Model, string Server, string[] ServeArgs, int Clients, double Hostile);

    private sealed record Outcome(int Valid, int ValidOk, int Valid5xx, int ValidOther, int Hostile, int Hostile5xx, Dictionary<int, int> HostileStatuses,
        double Seconds, double P50, double P99, long PeakRssKiB, bool Crashed);

    public static int Run(string[] args)
    {
        string vit = Option(args, "--vit") ?? "artifacts/vit/vit";
        string[] models = (Option(args, "--models") ?? "fashion-mnist,vit-ti16").Split(',');
        int[] clients = (Option(args, "--clients") ?? "1,8,32,128").Split(',').Select(int.Parse).ToArray();
        int requests = int.Parse(Option(args, "--requests") ?? "2000", CultureInfo.InvariantCulture);
        double seconds = double.Parse(Option(args, "--seconds") ?? "60", CultureInfo.InvariantCulture);
        int hostileClients = int.Parse(Option(args, "--hostile-clients") ?? "32", CultureInfo.InvariantCulture);
        if (!File.Exists(vit))
        {
            Console.Error.WriteLine($"serve-load: {vit} does not exist; publish it first (dotnet publish src/ViTCompiler.Cli -c Release -r linux-x64 -o artifacts/vit) or pass --vit PATH.");
            return 1;
        }
        Console.WriteLine($"serve-load: {vit}, at most {requests} requests or {seconds} s per run, {Environment.ProcessorCount} logical CPUs, 127.0.0.1 only");
        Console.WriteLine();
        Console.WriteLine("| model | server | clients | requests | images/s | p50 ms | p99 ms | errors | peak RSS MiB |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        var runs = new List<LoadRun>();
        foreach (string model in models)
        {
            foreach (int c in clients) runs.Add(new LoadRun(model, "batching (16, 5 ms)", [], c, 0));
            foreach (int c in clients) runs.Add(new LoadRun(model, "--max-batch 1", ["--max-batch", "1"], c, 0));
        }
        var hostileRows = new List<(LoadRun Run, Outcome Outcome)>();
        foreach (string model in models) runs.Add(new LoadRun(model, "batching + 10 % hostile", [], hostileClients, 0.10));
        int failures = 0;
        foreach (LoadRun run in runs)
        {
            Outcome o = Measure(vit, run, requests, seconds);
            int errors = o.Valid5xx + o.ValidOther;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {run.Model} | {run.Server} | {run.Clients} | {o.Valid + o.Hostile} | {o.ValidOk / o.Seconds:F0} | {o.P50:F1} | {o.P99:F1} | {errors}{(o.Crashed ? " (server died)" : "")} | {o.PeakRssKiB / 1024.0:F0} |"));
            if (run.Hostile > 0) hostileRows.Add((run, o));
            if (o.Crashed || o.Valid5xx > 0) failures++;
        }
        if (hostileRows.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine("| model | valid requests | valid 5xx | hostile requests | hostile answers (status × count) | hostile 5xx | server crashed | peak RSS MiB |");
            Console.WriteLine("|---|---:|---:|---:|---|---:|---|---:|");
            foreach ((LoadRun run, Outcome o) in hostileRows)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {run.Model} | {o.Valid} | {o.Valid5xx} | {o.Hostile} | {string.Join(", ", o.HostileStatuses.OrderBy(s => s.Key).Select(s => $"{s.Key} × {s.Value}"))} | {o.Hostile5xx} | {(o.Crashed ? "yes" : "no")} | {o.PeakRssKiB / 1024.0:F0} |"));
        }
        return failures == 0 ? 0 : 2;
    }

    private static Outcome Measure(string vit, LoadRun run, int requests, double limitSeconds)
    {
        var start = new ProcessStartInfo(vit) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in (string[])["serve", "--preset", run.Model, "--host", "127.0.0.1", "--port", "0", .. run.ServeArgs]) start.ArgumentList.Add(a);
        using Process server = Process.Start(start) ?? throw new InvalidOperationException("cannot start " + vit);
        server.ErrorDataReceived += (_, _) => { };
        server.BeginErrorReadLine();
        Uri address = WaitForAddress(server);
        try
        {
            byte[] image = Image(run.Model);
            byte[][] hostile = HostilePayloads(image);
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = run.Clients, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
            using var client = new HttpClient(handler) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(120) };
            for (int i = 0; i < 10; i++) Send(client, "/v1/classify", image).GetAwaiter().GetResult(); // warm-up: JIT-free under AOT, but page faults and pools

            var latencies = new List<double>[run.Clients];
            int next = -1, valid = 0, validOk = 0, valid5xx = 0, validOther = 0, hostileCount = 0, hostile5xx = 0;
            var statuses = new Dictionary<int, int>();
            var clock = Stopwatch.StartNew();
            Task[] workers = Enumerable.Range(0, run.Clients).Select(worker => Task.Run(async () =>
            {
                var mine = latencies[worker] = [];
                var random = new Random(worker);
                while (clock.Elapsed.TotalSeconds < limitSeconds)
                {
                    int n = Interlocked.Increment(ref next);
                    if (n >= requests) break;
                    if (random.NextDouble() < run.Hostile)
                    {
                        int kind = random.Next(hostile.Length + 1);
                        int status = kind == hostile.Length ? await Get(client, "/v1/classify") : await Send(client, "/v1/classify", hostile[kind]);
                        Interlocked.Increment(ref hostileCount);
                        if (status >= 500) Interlocked.Increment(ref hostile5xx);
                        lock (statuses) statuses[status] = statuses.GetValueOrDefault(status) + 1;
                        continue;
                    }
                    long t0 = Stopwatch.GetTimestamp();
                    int code = await Send(client, "/v1/classify", image);
                    Interlocked.Increment(ref valid);
                    if (code == 200)
                    {
                        Interlocked.Increment(ref validOk);
                        mine.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    }
                    else if (code >= 500) Interlocked.Increment(ref valid5xx);
                    else Interlocked.Increment(ref validOther);
                }
            })).ToArray();
            Task.WaitAll(workers);
            double elapsed = clock.Elapsed.TotalSeconds;
            double[] all = latencies.SelectMany(l => l).Order().ToArray();
            bool crashed = server.HasExited;
            long peak = crashed ? 0 : PeakRssKiB(server.Id);
            return new Outcome(valid, validOk, valid5xx, validOther, hostileCount, hostile5xx, statuses, elapsed, Percentile(all, 0.50), Percentile(all, 0.99), peak, crashed);
        }
        finally
        {
            if (!server.HasExited)
            {
                Process.Start("kill", ["-TERM", server.Id.ToString(CultureInfo.InvariantCulture)])?.WaitForExit();
                if (!server.WaitForExit(30_000)) server.Kill();
            }
        }
    }

    private static async Task<int> Send(HttpClient client, string path, byte[] body)
    {
        try
        {
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using HttpResponseMessage response = await client.PostAsync(path, content);
            await response.Content.ReadAsByteArrayAsync();
            return (int)response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 599; // the connection failed or was reset: counted as a server error
        }
    }

    private static async Task<int> Get(HttpClient client, string path)
    {
        try
        {
            using HttpResponseMessage response = await client.GetAsync(path);
            return (int)response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 599;
        }
    }

    /// <summary>What a hostile client sends: noise, a truncated PNG, a BMP header claiming 2.5 gigapixels, a body above the 16 MiB limit.</summary>
    private static byte[][] HostilePayloads(byte[] png)
    {
        byte[] noise = new byte[4096];
        new Random(7).NextBytes(noise);
        byte[] bmp = new byte[54];
        "BM"u8.CopyTo(bmp);
        BitConverter.TryWriteBytes(bmp.AsSpan(2), 54);
        BitConverter.TryWriteBytes(bmp.AsSpan(10), 54);
        BitConverter.TryWriteBytes(bmp.AsSpan(14), 40);
        BitConverter.TryWriteBytes(bmp.AsSpan(18), 50_000);
        BitConverter.TryWriteBytes(bmp.AsSpan(22), 50_000);
        BitConverter.TryWriteBytes(bmp.AsSpan(26), (short)1);
        BitConverter.TryWriteBytes(bmp.AsSpan(28), (short)24);
        return [noise, png[..(png.Length / 2)], bmp, new byte[(16 << 20) + 1]];
    }

    private static byte[] Image(string model)
    {
        bool grey = model == "fashion-mnist";
        int size = grey ? 28 : 224;
        var random = new Random(1);
        var bytes = new MemoryStream();
        if (grey)
        {
            using var image = new Image<L8>(size, size);
            for (int y = 0; y < size; y++) for (int x = 0; x < size; x++) image[x, y] = new L8((byte)random.Next(256));
            image.Save(bytes, new PngEncoder());
        }
        else
        {
            using var image = new Image<Rgb24>(size, size);
            for (int y = 0; y < size; y++) for (int x = 0; x < size; x++) image[x, y] = new Rgb24((byte)random.Next(256), (byte)(x + y), (byte)(x * 3));
            image.Save(bytes, new PngEncoder());
        }
        return bytes.ToArray();
    }

    private static Uri WaitForAddress(Process server)
    {
        var pattern = new Regex(@"on (http://127\.0\.0\.1:\d+/)");
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(60))
        {
            string? line = server.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"vit serve exited ({server.ExitCode}) before listening.");
            if (pattern.Match(line) is { Success: true } match)
            {
                _ = Task.Run(() => server.StandardOutput.ReadToEnd()); // keep the pipe drained
                return new Uri(match.Groups[1].Value);
            }
        }
        throw new TimeoutException("vit serve did not print its address within 60 s.");
    }

    private static long PeakRssKiB(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return 0;
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static string? Option(string[] args, string name)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }
}
