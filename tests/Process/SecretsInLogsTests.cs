using System.Net;
using System.Text;
using System.Text.Json;
using AwesomeAssertions;
using MeshHook.Tests.Integration.Infrastructure;
using MeshHook.Tests.Process.Rolling;

namespace MeshHook.Tests.Process;

/// <summary>
/// A named secret used by http_call headers, end to end through the real gateway and silo processes, with every log
/// category at Debug and MeshHook's, ASP.NET Core's and the HTTP client's at Trace: the peer receives the value, and
/// no API answer and no line either process writes, from start to a graceful stop, holds it.
/// </summary>
[Collection(RollingRestartCollection.Name)]
public sealed class SecretsInLogsTests(ITestOutputHelper output)
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);

    [Fact(Timeout = 240_000)]
    public async Task NamedSecret_ReachesThePeer_AndNoAnswerOrLogLineOfTheGatewayOrTheSiloHoldsIt()
    {
        var value = $"sk_live_{Guid.NewGuid():N}";
        await using var sink = await HttpSink.StartAsync();
        await using var cluster = await RollingCluster.StartAsync(1, ReadyTimeout, new Dictionary<string, string?>
        {
            ["Logging__LogLevel__Default"] = "Debug",
            ["Logging__LogLevel__MeshHook"] = "Trace",
            ["Logging__LogLevel__Microsoft.AspNetCore"] = "Trace",
            ["Logging__LogLevel__System.Net.Http"] = "Trace",
            ["Logging__LogLevel__Polly"] = "Trace",
        });
        using var http = new HttpClient { BaseAddress = cluster.Gateway.HttpAddress, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", RollingCluster.ApiKey);
        try
        {
            var put = await http.PutAsync("/api/secrets/crm-token", Json(JsonSerializer.Serialize(new { value })));
            put.StatusCode.Should().Be(HttpStatusCode.NoContent, await put.Content.ReadAsStringAsync());
            var slug = $"secret-{Guid.NewGuid():N}"[..20];
            var publish = await http.PutAsync($"/api/workflows/{slug}", Json($$"""{"name": "secret header", "definition": {{Definition(sink.BaseAddress)}}}"""));
            publish.StatusCode.Should().Be(HttpStatusCode.Created, await publish.Content.ReadAsStringAsync());

            var runs = new List<Guid>();
            for (var i = 0; i < 3; i++)
            {
                var hook = await http.PostAsync($"/api/hooks/{slug}", Json($$"""{"n": {{i}}}"""));
                hook.StatusCode.Should().Be(HttpStatusCode.Accepted);
                runs.Add(JsonDocument.Parse(await hook.Content.ReadAsStringAsync()).RootElement.GetProperty("runId").GetGuid());
            }

            var answers = new List<string>();
            foreach (var runId in runs)
            {
                var run = await WaitFinishedAsync(http, runId, TestContext.Current.CancellationToken);
                run.Should().Contain("\"status\":\"succeeded\"", run);
                answers.Add(run);
                answers.Add(await http.GetStringAsync($"/api/runs/{runId}/events"));
                var calls = sink.Requests.Where(r => r.IdempotencyKey == $"mh-{runId}-call").ToList();
                calls.Should().HaveCount(2, "the first attempt gets a 503 and is retried");
                calls.Should().AllSatisfy(r => r.Headers["Authorization"].Should().Be($"Bearer {value}"));
            }

            answers.Add(await http.GetStringAsync($"/api/workflows/{slug}"));
            answers.Add(await http.GetStringAsync("/api/secrets"));
            answers.Should().AllSatisfy(a => a.Should().NotContain(value));

            // A graceful stop of both, so that their shutdown lines are checked too.
            cluster.Gateway.Terminate();
            cluster.Silo(0).Terminate();
            (await cluster.Gateway.WaitForExitAsync(TimeSpan.FromSeconds(45))).Should().Be(0);
            (await cluster.Silo(0).WaitForExitAsync(TimeSpan.FromSeconds(45))).Should().Be(0);

            foreach (var process in cluster.AllProcesses)
            {
                var lines = process.Output.Split('\n');
                output.WriteLine($"{process.Name}: {lines.Length} lines, {process.Output.Length} characters");
                lines.Should().HaveCountGreaterThan(100, $"{process.Name} logs at Debug and Trace");
                lines.Where(l => l.Contains(value, StringComparison.Ordinal)).Should().BeEmpty($"no line of {process.Name} may hold the secret");
            }

            cluster.Gateway.Output.Should().Contain("Secret 'crm-token' stored", "the gateway logs the name it stored");
            cluster.Silo(0).Output.Should().Contain($"http_call call of run {runs[0]}: attempt 1 got 503", "the silo logs each attempt at Debug");
        }
        catch
        {
            output.WriteLine(cluster.Explain());
            throw;
        }
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<string> WaitFinishedAsync(HttpClient http, Guid runId, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            last = await http.GetStringAsync($"/api/runs/{runId}", cancellationToken);
            if (!last.Contains("\"status\":\"queued\"", StringComparison.Ordinal) && !last.Contains("\"status\":\"running\"", StringComparison.Ordinal))
            {
                return last;
            }

            await Task.Delay(200, cancellationToken);
        }

        throw new TimeoutException($"run {runId} did not finish within 60 s: {last}");
    }

    private static string Definition(Uri sink) => $$$"""
        {
          "nodes": [
            {"id": "hook", "type": "webhook"},
            {"id": "call", "type": "http_call", "data": {"method": "POST", "url": "{{{new Uri(sink, "/fail-first/1")}}}", "body": "trigger.body",
              "headers": {"Authorization": {"secret": "crm-token", "prefix": "Bearer "}},
              "retry": {"maxAttempts": 3, "baseDelayMs": 50, "maxDelayMs": 100} } },
            {"id": "done", "type": "terminate"}
          ],
          "edges": [{"source": "hook", "target": "call"}, {"source": "call", "target": "done"}]
        }
        """;
}
