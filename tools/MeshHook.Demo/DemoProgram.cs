using MeshHook.Grains;
using MeshHook.Grains.Runs;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Npgsql;

namespace MeshHook.Demo;

/// <summary>
/// Drives the example workflow through a running cluster the way intake will: publishes it, stores a run in
/// Postgres, starts it through an Orleans client, and prints the run and its history. Until the gateway exists,
/// this is how ./run.sh shows a real run end to end.
/// </summary>
public static class DemoProgram
{
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        var connectionString = builder.Configuration.GetConnectionString("MeshHook");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            await Console.Error.WriteLineAsync("MeshHook.Demo: ConnectionStrings:MeshHook is not set.");
            return 2;
        }

        // The demo's own HTTP endpoint is the peer the workflow's http_call step talks to.
        builder.WebHost.UseUrls(builder.Configuration["SinkUrl"] ?? "http://127.0.0.1:8090");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(client =>
        {
            client.Configure<Orleans.Configuration.ClusterOptions>(o =>
            {
                o.ClusterId = builder.Configuration["Orleans:ClusterId"] ?? "meshhook";
                o.ServiceId = builder.Configuration["Orleans:ServiceId"] ?? "meshhook";
            });
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
            });
        });
        var app = builder.Build();
        app.MapPost("/orders", async (HttpContext context) =>
        {
            Console.WriteLine($"  sink: {context.Request.Method} {context.Request.Path} Idempotency-Key: {context.Request.Headers["Idempotency-Key"]}");
            await context.Response.WriteAsJsonAsync(new { accepted = true });
        });
        await app.StartAsync();
        var sink = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var store = new RunStore(dataSource);
        var version = await store.PublishAsync("orders", "Route big orders", ExampleWorkflow.Definition(new Uri(new Uri(sink), "/orders")), secret: null, CancellationToken.None);
        Console.WriteLine($"published workflow 'orders' version {version}");

        var body = args.SkipWhile(a => a != "--body").Skip(1).FirstOrDefault() ?? """{"order": 1001, "customer": "ada", "amount": 250}""";
        var (runId, _) = await store.CreateRunAsync("orders", $$"""{"headers": {}, "body": {{body}}}""", idempotencyKey: null, CancellationToken.None);
        Console.WriteLine($"run {runId} stored (queued); starting it");
        var grain = app.Services.GetRequiredService<IClusterClient>().GetGrain<IWorkflowRunGrain>(runId);
        await grain.StartAsync();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        RunView view;
        while (!(view = await grain.GetViewAsync()).Status.IsFinished())
        {
            if (DateTime.UtcNow > deadline)
            {
                await Console.Error.WriteLineAsync($"run {runId} did not finish within 60 s (status {view.Status.ToText()})");
                return 1;
            }

            await Task.Delay(100);
        }

        Console.WriteLine($"run {runId}: {view.Status.ToText()}");
        foreach (var step in view.Steps)
        {
            Console.WriteLine($"  step {step.NodeId,-8} {step.Status.ToText(),-10} attempts {step.Attempts}");
        }

        Console.WriteLine($"  output: {view.OutputJson ?? "null"}");
        Console.WriteLine("history (workflow_events):");
        foreach (var e in await store.ReadEventsAsync(runId, CancellationToken.None))
        {
            Console.WriteLine($"  {e.Seq,3} {e.Timestamp:HH:mm:ss.fff} {e.Type,-15} {e.PayloadJson}");
        }

        await app.StopAsync();
        return view.Status == RunStatus.Succeeded ? 0 : 1;
    }
}
