using System.Net;
using AwesomeAssertions;
using MeshHook.Tests.Gateway.Infrastructure;
using MeshHook.Tests.Integration.Infrastructure;
using Npgsql;

namespace MeshHook.Tests.Gateway;

/// <summary>
/// A gateway on a database no silo uses: it starts at once (the Orleans client keeps trying in the background),
/// intake still stores runs and answers 202, and the runs stay queued for the silos' recovery sweep.
/// </summary>
public sealed class NoClusterTests : IAsyncLifetime
{
    private string _connectionString = "";
    private GatewayServer _gateway = null!;

    public async ValueTask InitializeAsync()
    {
        _connectionString = await PostgresServer.CreateDatabaseAsync("gateway_nosilo");
        _gateway = await GatewayServer.StartAsync(_connectionString, "nosilo", "nosilo");
    }

    public async ValueTask DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Intake_NoSiloRunning_Returns202AndTheRunStaysQueued()
    {
        var http = _gateway.Http;
        var slug = await http.PublishOkAsync(Api.TransformWorkflow);

        var response = await http.PostAsync($"/api/hooks/{slug}", Api.Json("""{"n": 1}"""));

        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var runId = await response.RunIdOfAsync();
        await using var dataSource = NpgsqlDataSource.Create(_connectionString);
        await using var command = dataSource.CreateCommand("SELECT status FROM workflow_runs WHERE id = @id");
        command.Parameters.AddWithValue("id", runId);
        ((string?)await command.ExecuteScalarAsync()).Should().Be("queued");
        (await http.GetAsync($"/api/runs/{runId}/events")).StatusCode.Should().Be(HttpStatusCode.OK, "the history is read from Postgres");
    }

    [Fact]
    public async Task Health_NoSiloRunning_ReadyIs503AndLiveIs200()
    {
        (await _gateway.Http.GetAsync("/health/ready")).StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        (await _gateway.Http.GetAsync("/health/live")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task RunView_NoSiloRunning_Returns503WithRetryAfter()
    {
        var response = await _gateway.Http.GetAsync($"/api/runs/{Guid.NewGuid()}");

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        response.Headers.RetryAfter.Should().NotBeNull();
    }
}

/// <summary>A gateway whose Postgres cannot be reached: intake answers 503 with Retry-After, never a 500.</summary>
public sealed class PostgresDownTests : IAsyncLifetime
{
    private GatewayServer _gateway = null!;

    public async ValueTask InitializeAsync()
    {
        // Port 1 on loopback: nothing listens there, so every connection is refused at once.
        _gateway = await GatewayServer.StartAsync("Host=127.0.0.1;Port=1;Username=postgres;Database=none;Timeout=2", "pgdown", "pgdown");
    }

    public async ValueTask DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Intake_PostgresDown_Returns503WithRetryAfter()
    {
        var response = await _gateway.Http.PostAsync("/api/hooks/orders", Api.Json("{}"));

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        response.Headers.RetryAfter!.Delta.Should().Be(TimeSpan.FromSeconds(5));
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
    }

    [Fact]
    public async Task PublishAndReads_PostgresDown_Return503AndReadyIs503()
    {
        (await _gateway.Http.PublishAsync("orders", Api.TransformWorkflow)).StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        (await _gateway.Http.GetAsync("/api/workflows/orders")).StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        (await _gateway.Http.GetAsync($"/api/runs/{Guid.NewGuid()}/events")).StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        (await _gateway.Http.GetAsync("/health/ready")).StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        (await _gateway.Http.GetAsync("/health/live")).StatusCode.Should().Be(HttpStatusCode.OK);
    }
}
