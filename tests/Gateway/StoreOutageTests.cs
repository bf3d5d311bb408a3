using System.Net;
using AwesomeAssertions;
using MeshHook.Tests.Gateway.Infrastructure;
using MeshHook.Tests.Integration.Infrastructure;
using Npgsql;

namespace MeshHook.Tests.Gateway;

/// <summary>
/// A run's grain that cannot reach Postgres (a restart or an outage of seconds). The chaos soak saw cancels answered
/// 500 then: the silo's answer carried an Npgsql exception that the gateway could not decode
/// (CodecNotFoundException). It now crosses the call and maps to 503 + Retry-After, as the contract says.
/// </summary>
public sealed class StoreOutageTests(GatewayCluster fixture) : IClassFixture<GatewayCluster>
{
    [Fact]
    public async Task CancelAndView_PostgresUnreachableWhenTheRunActivates_Answer503WithRetryAfter()
    {
        var slug = await fixture.Http.PublishOkAsync(Api.TransformWorkflow);
        // Stored but never started: its grain activates (and loads its state from Postgres) on the first call.
        var (runId, _) = await fixture.Store.CreateRunAsync(slug, """{"headers":{},"body":{}}""", null, CancellationToken.None);

        HttpResponseMessage cancel;
        HttpResponseMessage view;
        await PostgresServer.SetDatabaseReachableAsync(fixture.ConnectionString, reachable: false);
        try
        {
            cancel = await fixture.Http.PostAsync($"/api/runs/{runId}/cancel", null);
            view = await fixture.Http.GetAsync($"/api/runs/{runId}");
        }
        finally
        {
            await PostgresServer.SetDatabaseReachableAsync(fixture.ConnectionString, reachable: true);
            fixture.DataSource.Clear();
        }

        cancel.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, await cancel.Content.ReadAsStringAsync());
        cancel.Headers.RetryAfter.Should().NotBeNull();
        view.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, await view.Content.ReadAsStringAsync());
        view.Headers.RetryAfter.Should().NotBeNull();
    }
}
