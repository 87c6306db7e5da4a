using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>Published log parts expire after guest_log_expiry, as Trove's X-Delete-After makes Swift expire them.</summary>
public sealed class LogExpiryTests : IAsyncLifetime
{
    private HoardServer _server = null!;
    private HttpClient _http = null!;
    private string _project = null!;

    public async Task InitializeAsync()
    {
        _server = await HoardServer.StartAsync(new Dictionary<string, string> { ["HOARD_DEFAULT_GUEST_LOG_EXPIRY"] = "2" });
        var (token, project) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        _project = project;
        _http = new HttpClient { BaseAddress = new Uri(_server.BaseUrl), Timeout = Timeouts.Short };
        _http.DefaultRequestHeaders.Add("X-Auth-Token", token);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    [RequiresBinaryFact("redis-server")]
    public async Task Published_parts_and_the_metafile_expire()
    {
        var created = await PostAsync($"/v1.0/{_project}/instances", "{\"instance\": {\"name\": \"expiring\", \"flavorRef\": \"1\", \"datastore\": {\"type\": \"redis\"}}}");
        var id = created["instance"]!["id"]!.GetValue<string>();
        await Timeouts.EventuallyAsync(
            async () => JsonNode.Parse(await _http.GetStringAsync($"/v1.0/{_project}/instances/{id}").Within(Timeouts.Short))!,
            s => s["instance"]!["status"]!.GetValue<string>() is "ACTIVE" or "ERROR",
            Timeouts.Settle,
            "the instance to become ACTIVE");

        var published = (await PostAsync($"/v1.0/{_project}/instances/{id}/log", "{\"name\": \"server\", \"publish\": 1}"))["log"]!;
        Assert.Equal("Published", published["status"]!.GetValue<string>());
        var prefix = Uri.EscapeDataString(published["prefix"]!.GetValue<string>());
        var listing = JsonNode.Parse(await _http.GetStringAsync($"/swift/v1/AUTH_{_project}/database_logs?format=json&prefix={prefix}").Within(Timeouts.Short))!.AsArray();
        var part = Assert.Single(listing)!["name"]!.GetValue<string>();
        using (var head = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/swift/v1/AUTH_{_project}/database_logs/{part}")).Within(Timeouts.Short))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.True(head.Headers.Contains("X-Delete-At"), head.ToString());
        }

        // Gone after the expiry: not listed, not readable, and the log counts as never published.
        await Timeouts.EventuallyAsync(
            async () => JsonNode.Parse(await _http.GetStringAsync($"/swift/v1/AUTH_{_project}/database_logs?format=json&prefix={prefix}").Within(Timeouts.Short))!.AsArray().Count,
            n => n == 0,
            Timeouts.Short,
            "the published part to expire");
        using (var gone = await _http.GetAsync($"/swift/v1/AUTH_{_project}/database_logs/{part}").Within(Timeouts.Short))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        var shown = (await PostAsync($"/v1.0/{_project}/instances/{id}/log", "{\"name\": \"server\"}"))["log"]!;
        Assert.Equal(("Ready", 0L), (shown["status"]!.GetValue<string>(), shown["published"]!.GetValue<long>()));
    }

    private async Task<JsonNode> PostAsync(string path, string json)
    {
        using var response = await _http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json")).Within(Timeouts.Short);
        var text = await response.Content.ReadAsStringAsync().Within(Timeouts.Short);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }
}
