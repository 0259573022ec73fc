using System.Net;
using Xunit;

namespace ViTCompiler.Serving.Tests;

/// <summary>Graceful shutdown: stop accepting, answer what is in flight, then stop.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task Stopping_with_requests_in_flight_answers_them_all_then_refuses_new_connections()
    {
        Running server = await Running.StartAsync(new ServeOptions { MaxBatch = 4, MaxWaitMs = 0 });
        Uri address = server.Server.Address;
        server.Model.Close();
        Task<HttpResponseMessage> first = server.PostAsync("/v1/classify", TestModels.NoisePng(1));
        Assert.True(await server.Model.Entered.WaitAsync(TimeSpan.FromSeconds(30)));
        Task<HttpResponseMessage>[] queued = [server.PostAsync("/v1/classify", TestModels.NoisePng(2)), server.PostAsync("/v1/explain", TestModels.NoisePng(3))];
        await BatchingTests.WaitFor(() => server.Server.Metrics.QueueDepth == 2, "two requests to queue");

        Task stopping = server.Server.StopAsync(); // as SIGTERM does
        await Task.Delay(300);
        Assert.False(stopping.IsCompleted, "the server stopped while requests were still in flight");
        server.Model.Open();
        await stopping.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
        foreach (Task<HttpResponseMessage> request in queued) Assert.Equal(HttpStatusCode.OK, (await request).StatusCode);
        using var fresh = new HttpClient { BaseAddress = address };
        await Assert.ThrowsAsync<HttpRequestException>(() => fresh.GetAsync("/healthz"));
        await server.DisposeAsync();
    }
}
