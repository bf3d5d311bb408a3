using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace MeshHook.Tests.Gateway.Infrastructure;

/// <summary>Small helpers for calling the gateway as the SvelteKit API would.</summary>
public static class Api
{
    public const string TransformWorkflow = """
        {"nodes": [{"id": "hook", "type": "webhook"}, {"id": "double", "type": "transform", "data": {"expression": "{n: trigger.body.n, who: trigger.headers.\"x-custom\"}"}}],
         "edges": [{"source": "hook", "target": "double"}]}
        """;

    public const string SlowWorkflow = """
        {"nodes": [{"id": "hook", "type": "webhook"}, {"id": "wait", "type": "delay", "data": {"ms": 600000}}],
         "edges": [{"source": "hook", "target": "wait"}]}
        """;

    public static string NewSlug(string prefix = "wf") => $"{prefix}-{Guid.NewGuid():N}"[..20];

    public static StringContent Json(string json, string contentType = "application/json")
    {
        var content = new StringContent(json, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    public static async Task<HttpResponseMessage> PublishAsync(this HttpClient http, string slug, string definition, string? secret = null, string name = "test workflow")
    {
        var secretJson = secret is null ? "" : $", \"secret\": {JsonSerializer.Serialize(secret)}";
        return await http.PutAsync($"/api/workflows/{slug}", Json($$"""{"name": {{JsonSerializer.Serialize(name)}}, "definition": {{definition}}{{secretJson}}}"""));
    }

    public static async Task<string> PublishOkAsync(this HttpClient http, string definition, string? secret = null)
    {
        var slug = NewSlug();
        var response = await http.PublishAsync(slug, definition, secret);
        if (response.StatusCode != System.Net.HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"publish answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        return slug;
    }

    public static string Sign(string secret, string body) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body)));

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    public static async Task<Guid> RunIdOfAsync(this HttpResponseMessage response) =>
        (await response.ReadJsonAsync()).GetProperty("runId").GetGuid();

    /// <summary>Polls GET /api/runs/{id} until the run is finished; returns the last answer.</summary>
    public static async Task<JsonElement> WaitFinishedAsync(this HttpClient http, Guid runId, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        var last = "never answered";
        while (DateTime.UtcNow < deadline)
        {
            var response = await http.GetAsync($"/api/runs/{runId}");
            if (response.IsSuccessStatusCode)
            {
                var view = await response.ReadJsonAsync();
                last = view.GetProperty("status").GetString()!;
                if (last is "succeeded" or "failed" or "canceled")
                {
                    return view;
                }
            }
            else
            {
                last = $"HTTP {(int)response.StatusCode}";
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"run {runId} did not finish through the gateway in time; last seen: {last}");
    }
}
