using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// Configuration groups of real Redis instances through Trove's API: the shapes and codes the stock clients rely on, bad
/// input refused naming what is wrong, a group given at create applied before the instance is ACTIVE, and a value the
/// engine itself refuses reported as the instance's fault without breaking it.
/// </summary>
public sealed class ConfigurationTests : IAsyncLifetime
{
    private HoardServer _server = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _server = await HoardServer.StartAsync();
        var (token, project) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        _http = new HttpClient { BaseAddress = new Uri($"{_server.BaseUrl}/v1.0/{project}/"), Timeout = Timeouts.Cli };
        _http.DefaultRequestHeaders.Add("X-Auth-Token", token);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpMethod method, string path, JsonNode? body = null, string? raw = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null || raw is not null)
        {
            request.Content = new StringContent(raw ?? body!.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request).Within(Timeouts.Cli);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
    }

    private static JsonObject Group(string name, JsonObject values) =>
        new() { ["configuration"] = new JsonObject { ["name"] = name, ["values"] = values, ["datastore"] = new JsonObject { ["type"] = "redis" } } };

    [RequiresBinaryFact("redis-server")]
    public async Task Groups_are_validated_against_the_engines_rules_and_edited_as_Trove_does()
    {
        // The rules come from the engine: an enumeration with its values, a number with its range.
        var parameters = await SendAsync(HttpMethod.Get, "datastores/redis/versions/7.0/parameters");
        Assert.True(parameters.Status == HttpStatusCode.OK, parameters.Body?.ToJsonString());
        var policy = parameters.Body!["configuration-parameters"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "maxmemory-policy")!;
        Assert.Equal("string", policy["type"]!.GetValue<string>());
        Assert.False(policy["restart_required"]!.GetValue<bool>());
        Assert.Contains("allkeys-lru", policy["allowed_values"]!.AsArray().Select(v => v!.GetValue<string>()));
        var hz = await SendAsync(HttpMethod.Get, "datastores/redis/versions/7.0/parameters/hz");
        Assert.Equal("integer", hz.Body!["type"]!.GetValue<string>());
        Assert.NotNull(hz.Body["max"]);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, "datastores/redis/versions/7.0/parameters/no-such")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(HttpMethod.Get, "datastores/redis/versions/0.1/parameters")).Status);

        // Bad bodies are 400s; bad values are 422s naming the parameter; never a 500.
        foreach (var (raw, expected) in new[]
        {
            ("{\"name\": \"x\"}", "configuration"),
            ("{\"configuration\": {\"name\": \"x\", \"values\": []}}", "values"),
            ("{\"configuration\": {\"name\": \"\", \"values\": {}}}", "name"),
            ("{\"configuration\": {\"name\": \"x\", \"values\": {}, \"datastore\": {\"type\": \"redis\", \"version\": \"0.1\"}}}", "0.1"),
        })
        {
            var refused = await SendAsync(HttpMethod.Post, "configurations", raw: raw);
            Assert.True(refused.Status == HttpStatusCode.BadRequest, $"{raw}: {refused.Status} {refused.Body?.ToJsonString()}");
            Assert.Contains(expected, refused.Body!["badRequest"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        foreach (var (values, expected) in new[]
        {
            (new JsonObject { ["no-such-thing"] = 1 }, "The configuration parameter no-such-thing is not supported for this datastore: redis 7.0."),
            (new JsonObject { ["hz"] = "10" }, "The value provided for the configuration parameter hz is not of type integer."),
            (new JsonObject { ["hz"] = true }, "The value provided for the configuration parameter hz is not of type integer."),
            (new JsonObject { ["hz"] = 1e30 }, "hz"),
            (new JsonObject { ["hz"] = -1 }, "The value for the configuration parameter hz is less than the minimum allowed: "),
            (new JsonObject { ["maxmemory-policy"] = "sometimes" }, "The value for the configuration parameter maxmemory-policy is not allowed: 'sometimes'"),
        })
        {
            var refused = await SendAsync(HttpMethod.Post, "configurations", Group("bad", values));
            Assert.True(refused.Status == HttpStatusCode.UnprocessableEntity, $"{values.ToJsonString()}: {refused.Status} {refused.Body?.ToJsonString()}");
            Assert.Contains(expected, refused.Body!["unprocessableEntity"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        Assert.Empty((await SendAsync(HttpMethod.Get, "configurations")).Body!["configurations"]!.AsArray());

        // Create (200, the detail view), PATCH merges (200), PUT replaces (202; without values it empties the group).
        var created = await SendAsync(HttpMethod.Post, "configurations", Group("g1", new JsonObject { ["MAXMEMORY-POLICY"] = "allkeys-lru", ["hz"] = 20 }));
        Assert.True(created.Status == HttpStatusCode.OK, created.Body?.ToJsonString());
        var group = created.Body!["configuration"]!;
        var id = group["id"]!.GetValue<string>();
        Assert.Equal("allkeys-lru", group["values"]!["maxmemory-policy"]!.GetValue<string>()); // the engine's name for it
        Assert.Equal(0, group["instance_count"]!.GetValue<int>());
        Assert.Equal("redis", group["datastore_name"]!.GetValue<string>());
        Assert.NotNull(group["datastore_version_number"]);

        var listed = (await SendAsync(HttpMethod.Get, "configurations")).Body!["configurations"]!.AsArray().Single()!;
        Assert.Equal(id, listed["id"]!.GetValue<string>());
        Assert.Null(listed["values"]);

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Patch, $"configurations/{id}", new JsonObject { ["configuration"] = new JsonObject { ["values"] = new JsonObject { ["hz"] = 30 } } })).Status);
        var stored = (await SendAsync(HttpMethod.Get, $"configurations/{id}")).Body!["configuration"]!["values"]!;
        Assert.Equal(30, stored["hz"]!.GetValue<int>());
        Assert.Equal("allkeys-lru", stored["maxmemory-policy"]!.GetValue<string>());

        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(HttpMethod.Put, $"configurations/{id}", new JsonObject { ["configuration"] = new JsonObject { ["values"] = new JsonObject { ["hz"] = 40 } } })).Status);
        stored = (await SendAsync(HttpMethod.Get, $"configurations/{id}")).Body!["configuration"]!["values"]!;
        Assert.Equal("{\"hz\":40}", stored.ToJsonString());
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(HttpMethod.Put, $"configurations/{id}", new JsonObject { ["configuration"] = new JsonObject { ["name"] = "g1-renamed" } })).Status);
        var renamed = (await SendAsync(HttpMethod.Get, $"configurations/{id}")).Body!["configuration"]!;
        Assert.Equal("g1-renamed", renamed["name"]!.GetValue<string>());
        Assert.Equal("{}", renamed["values"]!.ToJsonString());

        var missing = await SendAsync(HttpMethod.Get, $"configurations/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Contains("could not be found", missing.Body!["itemNotFound"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(HttpMethod.Delete, $"configurations/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"configurations/{id}")).Status);
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task A_group_given_at_create_is_in_effect_when_the_instance_is_ACTIVE_and_an_engine_refusal_becomes_a_fault()
    {
        // databases needs a restart: the build restarts the server rather than leaving the new instance RESTART_REQUIRED.
        var created = await SendAsync(HttpMethod.Post, "configurations", Group("at-create", new JsonObject { ["maxmemory-policy"] = "allkeys-lfu", ["databases"] = 24 }));
        var groupId = created.Body!["configuration"]!["id"]!.GetValue<string>();
        var instance = new JsonObject
        {
            ["name"] = "tuned",
            ["flavorRef"] = "1",
            ["datastore"] = new JsonObject { ["type"] = "redis" },
            ["configuration"] = groupId,
        };
        var response = await SendAsync(HttpMethod.Post, "instances", new JsonObject { ["instance"] = instance });
        Assert.True(response.Status == HttpStatusCode.OK, response.Body?.ToJsonString());
        var id = response.Body!["instance"]!["id"]!.GetValue<string>();
        Assert.Equal(groupId, response.Body["instance"]!["configuration"]!["id"]!.GetValue<string>());
        var shown = await SettleAsync(id, "ACTIVE");
        Assert.Equal("at-create", shown["configuration"]!["name"]!.GetValue<string>());

        var root = await SendAsync(HttpMethod.Post, $"instances/{id}/root");
        var login = (Address: shown["ip"]![0]!.GetValue<string>(), Password: root.Body!["user"]!["password"]!.GetValue<string>());
        Assert.Equal("allkeys-lfu", await ConfigGetAsync(login, "maxmemory-policy"));
        Assert.Equal("24", await ConfigGetAsync(login, "databases"));
        Assert.Equal(1, (await SendAsync(HttpMethod.Get, $"configurations/{groupId}")).Body!["configuration"]!["instance_count"]!.GetValue<int>());
        var attached = (await SendAsync(HttpMethod.Get, $"configurations/{groupId}/instances")).Body!["instances"]!.AsArray();
        Assert.Equal(id, attached.Single()!["id"]!.GetValue<string>());

        // Attach rules: not a uuid, or a second group while one is attached: 400s that say so.
        var notUuid = await SendAsync(HttpMethod.Put, $"instances/{id}", new JsonObject { ["instance"] = new JsonObject { ["configuration"] = "nonsense" } });
        Assert.Equal(HttpStatusCode.BadRequest, notUuid.Status);
        var other = await SendAsync(HttpMethod.Post, "configurations", Group("other", new JsonObject { ["hz"] = 15 }));
        var otherId = other.Body!["configuration"]!["id"]!.GetValue<string>();
        var second = await SendAsync(HttpMethod.Put, $"instances/{id}", new JsonObject { ["instance"] = new JsonObject { ["configuration"] = otherId } });
        Assert.Equal(HttpStatusCode.BadRequest, second.Status);
        Assert.Contains("already has a Configuration Group attached", second.Body!["badRequest"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        var inUse = await SendAsync(HttpMethod.Delete, $"configurations/{groupId}");
        Assert.Equal(HttpStatusCode.BadRequest, inUse.Status);

        // A value the rules allow but the engine refuses: the instance keeps serving, with a fault that says what happened.
        var refusedByEngine = await SendAsync(HttpMethod.Patch, $"configurations/{groupId}", new JsonObject { ["configuration"] = new JsonObject { ["values"] = new JsonObject { ["notify-keyspace-events"] = "Q!" } } });
        Assert.Equal(HttpStatusCode.OK, refusedByEngine.Status);
        var faulted = await Timeouts.EventuallyAsync(
            () => SendAsync(HttpMethod.Get, $"instances/{id}"),
            r => r.Body?["instance"]?["fault"] is not null,
            Timeouts.Settle,
            "the refusal to be reported");
        Assert.Contains("configuration group was not applied", faulted.Body!["instance"]!["fault"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("ACTIVE", faulted.Body["instance"]!["status"]!.GetValue<string>());
        Assert.Equal("allkeys-lfu", await ConfigGetAsync(login, "maxmemory-policy"));

        // Detach (configuration: null): the group's values leave; the instance can then go.
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(HttpMethod.Put, $"instances/{id}", new JsonObject { ["instance"] = new JsonObject { ["configuration"] = null } })).Status);
        await Timeouts.EventuallyAsync(() => ConfigGetAsync(login, "maxmemory-policy"), v => v == "noeviction", Timeouts.Settle, "the default policy to come back");
        Assert.Null((await SendAsync(HttpMethod.Get, $"instances/{id}")).Body!["instance"]!["configuration"]);
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(HttpMethod.Delete, $"configurations/{groupId}")).Status);
    }

    private async Task<JsonObject> SettleAsync(string id, string expect)
    {
        var settled = await Timeouts.EventuallyAsync(
            () => SendAsync(HttpMethod.Get, $"instances/{id}"),
            r => r.Body?["instance"]?["status"]?.GetValue<string>() is "ACTIVE" or "ERROR",
            Timeouts.Settle,
            $"{id} to settle");
        var shown = settled.Body!["instance"]!.AsObject();
        Assert.True(shown["status"]!.GetValue<string>() == expect, shown.ToJsonString());
        return shown;
    }

    private static async Task<string> ConfigGetAsync((string Address, string Password) to, string parameter)
    {
        var result = await ProcessRunner.RunAsync("redis-cli", ["-h", to.Address, "--user", "root", "--pass", to.Password, "--no-auth-warning", "CONFIG", "GET", parameter]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
    }
}
