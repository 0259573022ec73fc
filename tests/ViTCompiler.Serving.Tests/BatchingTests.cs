using System.Net;
using System.Text.Json;
using Xunit;

namespace ViTCompiler.Serving.Tests;

/// <summary>Dynamic batching: concurrent requests share forward passes, each gets its own row, the queue is bounded.</summary>
public sealed class BatchingTests
{
    [Fact]
    public async Task Concurrent_requests_share_forward_passes_and_each_gets_its_own_answer()
    {
        const int requests = 9;
        await using Running server = await Running.StartAsync(new ServeOptions { MaxBatch = 16, MaxWaitMs = 0 });
        byte[][] images = Enumerable.Range(0, requests).Select(i => i == 0 ? TestModels.FashionPng(i) : TestModels.NoisePng(100 + i)).ToArray();

        // The first request enters a forward pass and is held there; the other eight queue up behind it.
        server.Model.Close();
        Task<HttpResponseMessage> first = server.PostAsync("/v1/classify?top=10", images[0]);
        Assert.True(await server.Model.Entered.WaitAsync(TimeSpan.FromSeconds(30)), "the first forward pass never started");
        Task<HttpResponseMessage>[] rest = images.Skip(1).Select(png => server.PostAsync("/v1/classify?top=10", png)).ToArray();
        await WaitFor(() => server.Server.Metrics.QueueDepth == requests - 1, "the other requests to queue");
        server.Model.Open();

        HttpResponseMessage[] answers = [await first, .. await Task.WhenAll(rest)];
        Assert.Equal(2, server.Model.ForwardCalls); // one held pass of 1, then one pass of the 8 that queued
        Assert.Equal([1, requests - 1], server.Model.BatchSizes);
        for (int i = 0; i < requests; i++)
        {
            Assert.Equal(HttpStatusCode.OK, answers[i].StatusCode);
            JsonElement json = await Json.ReadAsync(answers[i]);
            Assert.Equal(i == 0 ? 1 : requests - 1, json.GetProperty("batch_size").GetInt32());
            // Each answer is its own image's, as a forward pass of that image alone gives it.
            float[] alone = TestModels.SingleForward(server.Model.Inner, images[i]);
            (int Index, double Probability)[] expected = Predictions.TopK(alone, 10);
            JsonElement[] top = json.GetProperty("top").EnumerateArray().ToArray();
            for (int k = 0; k < 10; k++)
            {
                Assert.Equal(expected[k].Index, top[k].GetProperty("index").GetInt32());
                Assert.Equal(expected[k].Probability, top[k].GetProperty("probability").GetDouble(), 6);
            }
        }
    }

    [Fact]
    public async Task The_scheduler_gives_each_job_the_logits_of_a_single_image_forward()
    {
        GatedModel model = TestModels.Fashion();
        var options = new ServeOptions { MaxBatch = 5, MaxWaitMs = 200 };
        var scheduler = new BatchScheduler(model, options, new ServeMetrics());
        int perImage = model.Config.PixelsPerImage;
        var random = new Random(21);
        // 7 odd images, all queued before the loop starts: batches of 5 and 2 (the batch limit splits them).
        float[][] inputs = Enumerable.Range(0, 7).Select(_ => Enumerable.Range(0, perImage).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray()).ToArray();
        BatchJob[] jobs = inputs.Select(p => new BatchJob(p, explain: false, CancellationToken.None)).ToArray();
        foreach (BatchJob job in jobs) Assert.True(scheduler.TryEnqueue(job));
        scheduler.Start();
        BatchResult[] results = await Task.WhenAll(jobs.Select(j => j.Done.Task));
        await scheduler.CompleteAsync();

        Assert.Equal([5, 2], model.BatchSizes);
        for (int i = 0; i < inputs.Length; i++)
        {
            float[] alone = new float[model.Config.Classes];
            model.Inner.Forward(inputs[i], 1, alone);
            for (int c = 0; c < alone.Length; c++) Assert.Equal(alone[c], results[i].Logits[c], 1e-5f);
        }
    }

    [Fact]
    public async Task A_full_queue_answers_503_with_Retry_After_and_a_late_request_times_out()
    {
        await using Running server = await Running.StartAsync(new ServeOptions { MaxBatch = 1, MaxWaitMs = 0, QueueCapacity = 1, TimeoutMs = 1500 });
        server.Model.Close();
        Task<HttpResponseMessage> held = server.PostAsync("/v1/classify", TestModels.NoisePng(1));
        Assert.True(await server.Model.Entered.WaitAsync(TimeSpan.FromSeconds(30)));
        Task<HttpResponseMessage> queued = server.PostAsync("/v1/classify", TestModels.NoisePng(2));
        await WaitFor(() => server.Server.Metrics.QueueDepth == 1, "the second request to queue");

        using HttpResponseMessage refused = await server.PostAsync("/v1/classify", TestModels.NoisePng(3));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
        Assert.Contains("queue is full", (await Json.ReadAsync(refused)).GetProperty("detail").GetString());

        // Both waiting requests pass their 1.5 s deadline while the forward pass is held.
        using HttpResponseMessage late = await held;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, late.StatusCode);
        Assert.Contains("deadline", (await Json.ReadAsync(late)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await queued).StatusCode);
        server.Model.Open();
        await WaitFor(() => server.Server.Metrics.QueueDepth == 0, "the queue to empty");

        // The queued job was dropped when its caller's deadline passed, not run; the service carries on.
        using HttpResponseMessage after = await server.PostAsync("/v1/classify", TestModels.NoisePng(4));
        Assert.True(after.StatusCode == HttpStatusCode.OK, await after.Content.ReadAsStringAsync());
        Assert.Equal(2, server.Model.ForwardCalls);
    }

    [Fact]
    public async Task A_lone_request_does_not_wait_for_a_batch_that_nobody_is_sending()
    {
        await using Running server = await Running.StartAsync(new ServeOptions { MaxBatch = 16, MaxWaitMs = 10_000 });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using HttpResponseMessage answer = await server.PostAsync("/v1/classify", TestModels.NoisePng(5));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        // Nothing else was being uploaded, so the batch ran at once rather than after the 10 s wait.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"took {clock.Elapsed}");
    }

    internal static async Task WaitFor(Func<bool> condition, string what)
    {
        for (int i = 0; i < 600 && !condition(); i++) await Task.Delay(50);
        Assert.True(condition(), "timed out waiting for " + what);
    }
}
