using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>Pools, flavors and the catalogue through the admin API and `hoard pool|flavor|catalogue`, with real instances.</summary>
public sealed class PlacementTests : IAsyncLifetime
{
    private HoardServer _server = null!;
    private HttpClient _admin = null!;
    private string _project = null!;

    public async Task InitializeAsync()
    {
        _server = await HoardServer.StartAsync();
        (_admin, _project) = await ClientAsync("admin", _server.AdminPassword, "admin");
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<(HttpClient Client, string Project)> ClientAsync(string user, string password, string project)
    {
        var (token, projectId) = await _server.LoginAsync(user, password, project);
        var http = new HttpClient { BaseAddress = new Uri(_server.BaseUrl), Timeout = Timeouts.Short };
        http.DefaultRequestHeaders.Add("X-Auth-Token", token);
        return (http, projectId);
    }

    private static async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpClient http, HttpMethod method, string path, JsonNode? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request).Within(Timeouts.Short);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
    }

    private Task<(HttpStatusCode Status, JsonObject? Body)> AdminAsync(HttpMethod method, string path, JsonNode? body = null) =>
        SendAsync(_admin, method, $"/v1.0/{_project}{path}", body);

    private static void AssertRefused(HttpStatusCode status, string messagePart, (HttpStatusCode Status, JsonObject? Body) actual)
    {
        Assert.True(actual.Status == status, $"expected {(int)status}, got {(int)actual.Status}: {actual.Body?.ToJsonString()}");
        var message = actual.Body?.FirstOrDefault().Value?["message"]?.GetValue<string>() ?? string.Empty;
        Assert.True(message.Contains(messagePart, StringComparison.Ordinal), $"expected '{messagePart}' in: {actual.Body?.ToJsonString()}");
    }

    private Task<ProcessResult> HoardAsync(params string[] args) =>
        ProcessRunner.RunAsync(HoardServer.Executable, args, new Dictionary<string, string>(_server.AdminEnvironment) { ["COLUMNS"] = "250" });

    private async Task<JsonObject> CreateInstanceAsync(string name, string flavor)
    {
        var created = await AdminAsync(HttpMethod.Post, "/instances", new JsonObject { ["instance"] = new JsonObject { ["name"] = name, ["flavorRef"] = flavor, ["datastore"] = new JsonObject { ["type"] = "redis" } } });
        Assert.True(created.Status == HttpStatusCode.OK, created.Body?.ToJsonString());
        var id = created.Body!["instance"]!["id"]!.GetValue<string>();
        var active = await Timeouts.EventuallyAsync(
            () => AdminAsync(HttpMethod.Get, $"/instances/{id}"),
            r => r.Body?["instance"]?["status"]?.GetValue<string>() is "ACTIVE" or "ERROR",
            Timeouts.Settle,
            $"{name} to settle");
        Assert.True(active.Body!["instance"]!["status"]!.GetValue<string>() == "ACTIVE", active.Body.ToJsonString());
        return active.Body["instance"]!.AsObject();
    }

    private async Task<Dictionary<string, string>> CatalogueAsync()
    {
        var listed = await AdminAsync(HttpMethod.Get, $"/mgmt/catalogue?project={_project}");
        Assert.Equal(HttpStatusCode.OK, listed.Status);
        return listed.Body!["catalogue"]!.AsArray().ToDictionary(e => e!["instance"]!.GetValue<string>(), e => e!["pool"]!.GetValue<string>());
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task A_flavor_with_its_own_pool_is_placed_there_and_what_would_strand_instances_is_refused()
    {
        var defaults = await AdminAsync(HttpMethod.Get, "/mgmt/pools");
        var defaultPool = Assert.Single(defaults.Body!["pools"]!.AsArray())!;
        Assert.Equal("default", defaultPool["name"]!.GetValue<string>());
        Assert.Equal(_server.AddressRange, defaultPool["options"]!["address_range"]!.GetValue<string>());

        Assert.Equal(HttpStatusCode.Created, (await AdminAsync(HttpMethod.Post, "/mgmt/flavors", JsonNode.Parse("""{"flavor": {"id": "big", "name": "x.big", "ram": 1024, "vcpus": 1, "disk": 1, "capabilities": {"tier": "fast"}}}"""))).Status);
        var range = _server.NewPoolRange();
        var fastDir = Path.Combine(_server.DataDir, "pools", "fast");
        JsonNode Pool(string name, string dir, object weight, string? flavor = "big", string? addressRange = null, int capacity = 1) => new JsonObject
        {
            ["pool"] = new JsonObject
            {
                ["name"] = name,
                ["uri"] = "local://" + dir,
                ["weight"] = JsonValue.Create(weight),
                ["flavor"] = flavor,
                ["options"] = new JsonObject { ["capacity"] = capacity, ["address_range"] = addressRange ?? range },
            },
        };

        // Bad bodies: 400 naming the field, and nothing written.
        AssertRefused(HttpStatusCode.BadRequest, "pool['weight']", await AdminAsync(HttpMethod.Post, "/mgmt/pools", Pool("fast", fastDir, 0)));
        AssertRefused(HttpStatusCode.BadRequest, "pool['weight']", await AdminAsync(HttpMethod.Post, "/mgmt/pools", Pool("fast", fastDir, "5")));
        AssertRefused(HttpStatusCode.BadRequest, "pool['name']", await AdminAsync(HttpMethod.Post, "/mgmt/pools", Pool(string.Empty, fastDir, 5)));
        AssertRefused(HttpStatusCode.BadRequest, "pool['flavor']", await AdminAsync(HttpMethod.Post, "/mgmt/pools", Pool("fast", fastDir, 5, flavor: "nope")));
        AssertRefused(HttpStatusCode.BadRequest, "overlaps pool default", await AdminAsync(HttpMethod.Post, "/mgmt/pools", Pool("fast", fastDir, 5, addressRange: _server.AddressRange)));
        var ftp = Pool("fast", fastDir, 5);
        ftp["pool"]!["uri"] = "ftp://example/x";
        AssertRefused(HttpStatusCode.BadRequest, "unknown scheme 'ftp'", await AdminAsync(HttpMethod.Post, "/mgmt/pools", ftp));
        AssertRefused(HttpStatusCode.BadRequest, "pool['options']['capacity']", await AdminAsync(HttpMethod.Post, "/mgmt/pools", Pool("fast", fastDir, 5, capacity: -1)));
        Assert.Single((await AdminAsync(HttpMethod.Get, "/mgmt/pools")).Body!["pools"]!.AsArray());

        var fast = await AdminAsync(HttpMethod.Post, "/mgmt/pools", Pool("fast", fastDir, 5));
        Assert.True(fast.Status == HttpStatusCode.Created, fast.Body?.ToJsonString());
        AssertRefused(HttpStatusCode.Conflict, "A pool named fast exists", await AdminAsync(HttpMethod.Post, "/mgmt/pools", Pool("fast", fastDir, 5)));

        // The flavor with a pool of its own goes there (its address from the pool's range); others go to the pool without a flavor.
        var big = await CreateInstanceAsync("big-1", "x.big");
        var bigAddress = big["ip"]![0]!.GetValue<string>();
        Assert.StartsWith(range[..range.LastIndexOf('.')], bigAddress, StringComparison.Ordinal);
        var ping = await ProcessRunner.RunAsync("redis-cli", ["-h", bigAddress, "PING"]);
        Assert.Contains("NOAUTH", ping.Stdout + ping.Stderr, StringComparison.Ordinal); // it runs, and wants a password
        var tiny = await CreateInstanceAsync("tiny-1", "m1.tiny");
        var catalogue = await CatalogueAsync();
        Assert.Equal("fast", catalogue[big["id"]!.GetValue<string>()]);
        Assert.Equal("default", catalogue[tiny["id"]!.GetValue<string>()]);

        // Full: the only pool of the flavor has capacity 1.
        AssertRefused(HttpStatusCode.ServiceUnavailable, "fast is full", await AdminAsync(HttpMethod.Post, "/instances", JsonNode.Parse("""{"instance": {"name": "big-2", "flavorRef": "big", "datastore": {"type": "redis"}}}""")));

        // Pools that host instances, and a flavor's last pool, stay.
        AssertRefused(HttpStatusCode.Conflict, "hosts 1 instance", await AdminAsync(HttpMethod.Delete, "/mgmt/pools/fast"));
        AssertRefused(HttpStatusCode.Conflict, "last pool without a flavor", await AdminAsync(HttpMethod.Delete, "/mgmt/pools/default"));
        var fast2Dir = Path.Combine(_server.DataDir, "pools", "fast2");
        Assert.Equal(HttpStatusCode.Created, (await AdminAsync(HttpMethod.Post, "/mgmt/pools", Pool("fast2", fast2Dir, 5, addressRange: _server.NewPoolRange()))).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await AdminAsync(HttpMethod.Delete, $"/instances/{big["id"]}")).Status);
        await Timeouts.EventuallyAsync(() => AdminAsync(HttpMethod.Get, $"/instances/{big["id"]}"), r => r.Status == HttpStatusCode.NotFound, Timeouts.Settle, "big-1 to be deleted");
        Assert.False((await CatalogueAsync()).ContainsKey(big["id"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.NoContent, (await AdminAsync(HttpMethod.Delete, "/mgmt/pools/fast")).Status);
        AssertRefused(HttpStatusCode.Conflict, "last pool of flavor big", await AdminAsync(HttpMethod.Delete, "/mgmt/pools/fast2"));
        AssertRefused(HttpStatusCode.Conflict, "last pool of flavor big", await AdminAsync(HttpMethod.Patch, "/mgmt/pools/fast2", JsonNode.Parse("""{"pool": {"flavor": ""}}""")));
        var reweighed = await AdminAsync(HttpMethod.Patch, "/mgmt/pools/fast2", JsonNode.Parse("""{"pool": {"weight": 7}}"""));
        Assert.True(reweighed.Status == HttpStatusCode.OK, reweighed.Body?.ToJsonString());
        Assert.Equal(7, reweighed.Body!["pool"]!["weight"]!.GetValue<int>());
        Assert.Equal("big", reweighed.Body["pool"]!["flavor"]!.GetValue<string>());

        // The CLI shows the same.
        var pools = await HoardAsync("pool", "list");
        Assert.True(pools.ExitCode == 0, pools.ToString());
        Assert.Contains("fast2", pools.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("fast ", pools.Stdout, StringComparison.Ordinal);
        var flavors = await HoardAsync("flavor", "list");
        Assert.Contains("x.big", flavors.Stdout, StringComparison.Ordinal);
        Assert.Contains("fast2", flavors.Stdout, StringComparison.Ordinal);
        var entries = await HoardAsync("catalogue", "list", "--project", _project);
        Assert.Contains(tiny["id"]!.GetValue<string>(), entries.Stdout, StringComparison.Ordinal);
        var refused = await HoardAsync("pool", "delete", "fast2");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("last pool of flavor big", refused.Stderr, StringComparison.Ordinal);

        // Deleting the flavor frees its pool, which can then go.
        Assert.Equal(0, (await HoardAsync("flavor", "delete", "x.big")).ExitCode);
        var deleted = await HoardAsync("pool", "delete", "fast2");
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.Single((await AdminAsync(HttpMethod.Get, "/mgmt/pools")).Body!["pools"]!.AsArray());
    }

    [Fact]
    public async Task Only_admins_reach_mgmt_and_private_flavors_are_seen_by_their_project_only()
    {
        var made = await SendAsync(_admin, HttpMethod.Post, "/identity/v3/projects", JsonNode.Parse("""{"project": {"name": "tenant-p", "domain_id": "default"}}"""));
        Assert.True(made.Status == HttpStatusCode.Created, made.Body?.ToJsonString());
        var projectId = made.Body!["project"]!["id"]!.GetValue<string>();
        var user = await SendAsync(_admin, HttpMethod.Post, "/identity/v3/users", new JsonObject { ["user"] = new JsonObject { ["name"] = "pat", ["password"] = "pw-pat-1", ["default_project_id"] = projectId, ["domain_id"] = "default" } });
        Assert.True(user.Status == HttpStatusCode.Created, user.Body?.ToJsonString());
        var roles = await SendAsync(_admin, HttpMethod.Get, "/identity/v3/roles?name=member");
        var member = roles.Body!["roles"]![0]!["id"]!.GetValue<string>();
        var granted = await SendAsync(_admin, HttpMethod.Put, $"/identity/v3/projects/{projectId}/users/{user.Body!["user"]!["id"]}/roles/{member}");
        Assert.True(granted.Status is HttpStatusCode.NoContent or HttpStatusCode.OK, granted.Body?.ToJsonString());
        var (pat, patProject) = await ClientAsync("pat", "pw-pat-1", "tenant-p");
        using var _ = pat;

        foreach (var (method, path) in new[] { (HttpMethod.Get, "/mgmt/pools"), (HttpMethod.Post, "/mgmt/pools"), (HttpMethod.Delete, "/mgmt/pools/default"), (HttpMethod.Get, "/mgmt/flavors"), (HttpMethod.Post, "/mgmt/flavors"), (HttpMethod.Get, "/mgmt/catalogue") })
        {
            AssertRefused(HttpStatusCode.Forbidden, "admin role is required", await SendAsync(pat, method, $"/v1.0/{patProject}{path}", method == HttpMethod.Post ? JsonNode.Parse("{}") : null));
        }

        Assert.Single((await AdminAsync(HttpMethod.Get, "/mgmt/pools")).Body!["pools"]!.AsArray()); // nothing changed

        var secret = await AdminAsync(HttpMethod.Post, "/mgmt/flavors", JsonNode.Parse("""{"flavor": {"id": "p1", "name": "tenant-p.special", "ram": 256, "vcpus": 1, "project": "tenant-p"}}"""));
        Assert.True(secret.Status == HttpStatusCode.Created, secret.Body?.ToJsonString());
        Assert.Equal(projectId, secret.Body!["flavor"]!["project"]!.GetValue<string>());
        var patFlavors = (await SendAsync(pat, HttpMethod.Get, $"/v1.0/{patProject}/flavors")).Body!["flavors"]!.AsArray();
        Assert.Contains(patFlavors, f => f!["str_id"]!.GetValue<string>() == "p1");
        var adminFlavors = (await AdminAsync(HttpMethod.Get, "/flavors")).Body!["flavors"]!.AsArray();
        Assert.DoesNotContain(adminFlavors, f => f!["str_id"]!.GetValue<string>() == "p1");
        Assert.Equal(HttpStatusCode.NotFound, (await AdminAsync(HttpMethod.Get, "/flavors/p1")).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(pat, HttpMethod.Get, $"/v1.0/{patProject}/flavors/p1")).Status);

        // Flavor bodies: 400 naming the field; a duplicate name: 409.
        AssertRefused(HttpStatusCode.BadRequest, "flavor['ram']", await AdminAsync(HttpMethod.Post, "/mgmt/flavors", JsonNode.Parse("""{"flavor": {"name": "n", "ram": 0, "vcpus": 1}}""")));
        AssertRefused(HttpStatusCode.BadRequest, "flavor['name']", await AdminAsync(HttpMethod.Post, "/mgmt/flavors", JsonNode.Parse("""{"flavor": {"name": "", "ram": 1, "vcpus": 1}}""")));
        AssertRefused(HttpStatusCode.BadRequest, "flavor['project']", await AdminAsync(HttpMethod.Post, "/mgmt/flavors", JsonNode.Parse("""{"flavor": {"name": "n", "ram": 1, "vcpus": 1, "project": "no-such-project"}}""")));
        AssertRefused(HttpStatusCode.Conflict, "A flavor named m1.tiny exists", await AdminAsync(HttpMethod.Post, "/mgmt/flavors", JsonNode.Parse("""{"flavor": {"name": "m1.tiny", "ram": 1, "vcpus": 1}}""")));
        var patched = await AdminAsync(HttpMethod.Patch, "/mgmt/flavors/p1", JsonNode.Parse("""{"flavor": {"ram": 512, "project": ""}}"""));
        Assert.True(patched.Status == HttpStatusCode.OK, patched.Body?.ToJsonString());
        Assert.Equal(512, patched.Body!["flavor"]!["ram"]!.GetValue<int>());
        Assert.Contains((await AdminAsync(HttpMethod.Get, "/flavors")).Body!["flavors"]!.AsArray(), f => f!["str_id"]!.GetValue<string>() == "p1");
        AssertRefused(HttpStatusCode.NotFound, "Pool nope cannot be found", await AdminAsync(HttpMethod.Get, "/mgmt/pools/nope"));
    }
}
