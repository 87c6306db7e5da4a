using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// Trove's per-project quotas against a real hoard serve (default SQLite store) and real Redis instances: the stock
/// client's quota show and update, a quota of 3 held against 50 concurrent creates, the volume quota, a delete freeing
/// its place, and the refusals (a member's PUT, bad bodies) with Trove's error shapes.
/// </summary>
public sealed class QuotaTests : IAsyncLifetime
{
    private const string Exceeded = "Quota exceeded for resources: ['instances'].";

    private HoardServer _server = null!;
    private HttpClient _admin = null!;
    private string _project = null!;

    public async Task InitializeAsync()
    {
        // Trove's defaults back (the fixture lifts them for other suites); volumes on, so volume.size is accepted.
        _server = await HoardServer.StartAsync(new Dictionary<string, string>
        {
            ["HOARD_DEFAULT_MAX_INSTANCES_PER_TENANT"] = "10",
            ["HOARD_DEFAULT_MAX_VOLUMES_PER_TENANT"] = "40",
            ["HOARD_REDIS_VOLUME_SUPPORT"] = "true",
        });
        var (token, project) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        _project = project;
        _admin = Client(token, project);
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    private HttpClient Client(string token, string project)
    {
        var http = new HttpClient { BaseAddress = new Uri($"{_server.BaseUrl}/v1.0/{project}/"), Timeout = Timeouts.Settle };
        http.DefaultRequestHeaders.Add("X-Auth-Token", token);
        return http;
    }

    private static async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpClient http, HttpMethod method, string path, JsonNode? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request).Within(Timeouts.Settle);
        var text = await response.Content.ReadAsStringAsync().Within(Timeouts.Short);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
    }

    private static JsonObject CreateBody(string name, int? volume = null)
    {
        var instance = new JsonObject { ["name"] = name, ["flavorRef"] = "1", ["datastore"] = new JsonObject { ["type"] = "redis" } };
        if (volume is { } size)
        {
            instance["volume"] = new JsonObject { ["size"] = size };
        }

        return new JsonObject { ["instance"] = instance };
    }

    private Task<(HttpStatusCode Status, JsonObject? Body)> CreateAsync(string name, int? volume = null) =>
        SendAsync(_admin, HttpMethod.Post, "instances", CreateBody(name, volume));

    private async Task SetQuotaAsync(string resource, int limit)
    {
        var set = await SendAsync(_admin, HttpMethod.Put, $"mgmt/quotas/{_project}", new JsonObject { ["quotas"] = new JsonObject { [resource] = limit } });
        Assert.True(set.Status == HttpStatusCode.OK, set.Body?.ToJsonString());
    }

    private static void AssertOverLimit(string message, (HttpStatusCode Status, JsonObject? Body) response)
    {
        Assert.True(response.Status == HttpStatusCode.RequestEntityTooLarge, $"{response.Status} {response.Body?.ToJsonString()}");
        Assert.Equal(413, response.Body!["overLimit"]!["code"]!.GetValue<int>());
        Assert.Equal(message, response.Body["overLimit"]!["message"]!.GetValue<string>());
    }

    private static void AssertFault(HttpStatusCode status, string fault, string message, (HttpStatusCode Status, JsonObject? Body) response)
    {
        Assert.True(response.Status == status, $"{response.Status} {response.Body?.ToJsonString()}");
        Assert.Equal((int)status, response.Body![fault]!["code"]!.GetValue<int>());
        Assert.Contains(message, response.Body[fault]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private async Task<List<string>> InstanceIdsAsync()
    {
        var listed = await SendAsync(_admin, HttpMethod.Get, "instances");
        return [.. listed.Body!["instances"]!.AsArray().Select(i => i!["id"]!.GetValue<string>())];
    }

    private async Task<JsonObject> QuotaLineAsync(string resource)
    {
        var shown = await SendAsync(_admin, HttpMethod.Get, $"mgmt/quotas/{_project}");
        Assert.True(shown.Status == HttpStatusCode.OK, shown.Body?.ToJsonString());
        return shown.Body!["quotas"]!.AsArray().Single(q => q!["resource"]!.GetValue<string>() == resource)!.AsObject();
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task Fifty_concurrent_creates_against_a_quota_of_three_make_exactly_three_and_a_delete_frees_a_place()
    {
        await SetQuotaAsync("instances", 3);
        var creates = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(() => CreateAsync($"race-{i}")))).Within(Timeouts.Settle);
        Figures.Record("quotas", "concurrent creates against an instance quota of 3", creates.Length);
        Figures.Record("quotas", "of them accepted", creates.Count(c => c.Status == HttpStatusCode.OK));
        Figures.Record("quotas", "of them refused with Trove's 413", creates.Count(c => c.Status == HttpStatusCode.RequestEntityTooLarge));

        Assert.Equal(3, creates.Count(c => c.Status == HttpStatusCode.OK));
        Assert.All(creates.Where(c => c.Status != HttpStatusCode.OK), c => AssertOverLimit(Exceeded, c));
        var ids = await InstanceIdsAsync();
        Assert.Equal(3, ids.Count);
        var line = await QuotaLineAsync("instances");
        Assert.Equal((3, 0, 3), (line["in_use"]!.GetValue<int>(), line["reserved"]!.GetValue<int>(), line["limit"]!.GetValue<int>()));
        var limits = await SendAsync(_admin, HttpMethod.Get, "limits");
        Assert.Equal(3, limits.Body!["limits"]![0]!["max_instances"]!.GetValue<int>());

        // A delete frees the place as soon as it is accepted (Trove frees the quota then), not when the instance is gone.
        foreach (var id in ids)
        {
            await Timeouts.EventuallyAsync(
                () => SendAsync(_admin, HttpMethod.Get, $"instances/{id}"),
                r => r.Body?["instance"]?["status"]?.GetValue<string>() is "ACTIVE" or "ERROR",
                Timeouts.Settle,
                $"{id} to settle");
        }

        AssertOverLimit(Exceeded, await CreateAsync("one-too-many"));

        // The project's own backup limit replaces max_backups_per_tenant (50) too.
        await SetQuotaAsync("backups", 0);
        AssertOverLimit(
            "Quota exceeded for resources: ['backups'].",
            await SendAsync(_admin, HttpMethod.Post, "backups", new JsonObject { ["backup"] = new JsonObject { ["name"] = "b1", ["instance"] = ids[1] } }));
        Assert.Empty((await SendAsync(_admin, HttpMethod.Get, "backups")).Body!["backups"]!.AsArray());
        Assert.Equal(0, (await SendAsync(_admin, HttpMethod.Get, "limits")).Body!["limits"]![0]!["max_backups"]!.GetValue<int>());

        var deleted = await SendAsync(_admin, HttpMethod.Delete, $"instances/{ids[0]}");
        Assert.True(deleted.Status == HttpStatusCode.Accepted, $"{deleted.Status} {deleted.Body?.ToJsonString()}");
        var replacement = await CreateAsync("replacement");
        Assert.True(replacement.Status == HttpStatusCode.OK, replacement.Body?.ToJsonString());
        AssertOverLimit(Exceeded, await CreateAsync("still-too-many"));
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task Creates_over_the_volume_instance_or_cluster_quota_are_refused_naming_each_and_nothing_is_made()
    {
        await SetQuotaAsync("volumes", 5);
        var first = await CreateAsync("vol-a", volume: 3);
        Assert.True(first.Status == HttpStatusCode.OK, first.Body?.ToJsonString());
        AssertOverLimit("Quota exceeded for resources: ['volumes'].", await CreateAsync("vol-b", volume: 3));
        await SetQuotaAsync("instances", 1);
        AssertOverLimit("Quota exceeded for resources: ['instances', 'volumes'].", await CreateAsync("vol-c", volume: 3));

        Assert.Single(await InstanceIdsAsync());
        var line = await QuotaLineAsync("volumes");
        Assert.Equal((3, 5), (line["in_use"]!.GetValue<int>(), line["limit"]!.GetValue<int>()));

        // A cluster counts itself and its members, and is refused whole.
        await SetQuotaAsync("clusters", 0);
        var datastores = (await SendAsync(_admin, HttpMethod.Get, "datastores")).Body!["datastores"]!.AsArray();
        var version = datastores.First(d => d!["name"]!.GetValue<string>() == "redis")!["versions"]![0]!["name"]!.GetValue<string>();
        var member = new JsonObject { ["flavorRef"] = "1", ["volume"] = new JsonObject { ["size"] = 1 } };
        var cluster = new JsonObject
        {
            ["cluster"] = new JsonObject
            {
                ["name"] = "c1",
                ["datastore"] = new JsonObject { ["type"] = "redis", ["version"] = version },
                ["instances"] = new JsonArray(member.DeepClone(), member.DeepClone()),
            },
        };
        AssertOverLimit("Quota exceeded for resources: ['clusters', 'instances'].", await SendAsync(_admin, HttpMethod.Post, "clusters", cluster));
        Assert.Empty((await SendAsync(_admin, HttpMethod.Get, "clusters")).Body!["clusters"]!.AsArray());
        Assert.Single((await SendAsync(_admin, HttpMethod.Get, "instances?include_clustered=true")).Body!["instances"]!.AsArray());
    }

    [RequiresBinaryFact("openstack")]
    public async Task The_stock_client_shows_and_updates_a_projects_quota_by_name_or_id()
    {
        var env = _server.AdminEnvironment;
        var updated = await OpenStackCli.JsonAsync(env, "database", "quota", "update", "admin", "instances", "3");
        Assert.Equal(3, updated["instances"]!.GetValue<int>());

        var shown = (await OpenStackCli.JsonAsync(env, "database", "quota", "show", _project)).AsArray();
        var rows = shown.ToDictionary(r => r!["Resource"]!.GetValue<string>(), r => (r!["In Use"]!.GetValue<int>(), r["Reserved"]!.GetValue<int>(), r["Limit"]!.GetValue<int>()));
        Assert.Equal((0, 0, 3), rows["instances"]);
        Assert.Equal((0, 0, 40), rows["volumes"]);
        Assert.Equal((0, 0, -1), rows["ram"]);
        Assert.Equal((0, 0, 50), rows["backups"]);
        Assert.Contains("clusters", rows.Keys);

        var unknown = await OpenStackCli.RunAsync(env, "database", "quota", "update", _project, "widgets", "3");
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("Unknown quota resources widgets.", unknown.Stdout + unknown.Stderr, StringComparison.Ordinal);
    }

    [RequiresBinaryFact("openstack")]
    public async Task Members_read_only_their_own_quota_and_bad_updates_are_refused_naming_the_problem()
    {
        var otherId = await MemberOfOtherAsync();
        var (token, project) = await _server.LoginAsync("mona", "pw-mona-1", "other");
        using var mona = Client(token, project);

        var own = await SendAsync(mona, HttpMethod.Get, "mgmt/quotas/other");
        Assert.True(own.Status == HttpStatusCode.OK, own.Body?.ToJsonString());
        Assert.Equal(5, own.Body!["quotas"]!.AsArray().Count);

        // The stock client resolves the name through identity, which shows a member their own project.
        var monaEnv = new Dictionary<string, string>(_server.AdminEnvironment) { ["OS_USERNAME"] = "mona", ["OS_PASSWORD"] = "pw-mona-1", ["OS_PROJECT_NAME"] = "other" };
        var shown = (await OpenStackCli.JsonAsync(monaEnv, "database", "quota", "show", "other")).AsArray();
        Assert.Equal(10, shown.Single(r => r!["Resource"]!.GetValue<string>() == "instances")!["Limit"]!.GetValue<int>());
        AssertFault(HttpStatusCode.Forbidden, "forbidden", $"Operation not allowed for tenant {otherId}.", await SendAsync(mona, HttpMethod.Get, $"mgmt/quotas/{_project}"));
        var put = await SendAsync(mona, HttpMethod.Put, $"mgmt/quotas/{otherId}", JsonNode.Parse("""{"quotas": {"instances": 100}}"""));
        AssertFault(HttpStatusCode.Forbidden, "forbidden", "admin role is required", put);
        Assert.Equal(10, (await QuotaLineFor(otherId))["limit"]!.GetValue<int>());

        // The admin sets another project's quota by name; the member's own creates then meet it.
        var set = await SendAsync(_admin, HttpMethod.Put, "mgmt/quotas/other", JsonNode.Parse("""{"quotas": {"instances": 0, "ram": null}}"""));
        Assert.True(set.Status == HttpStatusCode.OK, set.Body?.ToJsonString());
        Assert.Equal("""{"instances":0}""", set.Body!["quotas"]!.ToJsonString());
        AssertOverLimit(Exceeded, await SendAsync(mona, HttpMethod.Post, "instances", CreateBody("nope")));

        async Task<(HttpStatusCode Status, JsonObject? Body)> PutAsync(string body) =>
            await SendAsync(_admin, HttpMethod.Put, $"mgmt/quotas/{otherId}", JsonNode.Parse(body));
        AssertFault(HttpStatusCode.BadRequest, "badRequest", "Quota limit '-2' for 'instances' is too small - must be at least '-1'.", await PutAsync("""{"quotas": {"instances": -2}}"""));
        AssertFault(HttpStatusCode.NotFound, "itemNotFound", "Unknown quota resources widgets.", await PutAsync("""{"quotas": {"widgets": 1}}"""));
        AssertFault(HttpStatusCode.BadRequest, "badRequest", "quotas['instances'] 'lots' is not of type 'integer'", await PutAsync("""{"quotas": {"instances": "lots"}}"""));
        AssertFault(HttpStatusCode.BadRequest, "badRequest", "quotas['volumes'] 1.5 is not of type 'integer'", await PutAsync("""{"quotas": {"volumes": 1.5}}"""));
        AssertFault(HttpStatusCode.BadRequest, "badRequest", "quotas['ram'] 1e20 is greater than the maximum of 2147483647", await PutAsync("""{"quotas": {"ram": 1e20}}"""));
        AssertFault(HttpStatusCode.BadRequest, "badRequest", "'quotas' is a required property", await PutAsync("""{"quota": {"instances": 1}}"""));
        AssertFault(HttpStatusCode.BadRequest, "badRequest", "quotas [1] is not of type 'object'", await PutAsync("""{"quotas": [1]}"""));
        AssertFault(HttpStatusCode.NotFound, "itemNotFound", "Could not find project: nowhere.", await SendAsync(_admin, HttpMethod.Put, "mgmt/quotas/nowhere", JsonNode.Parse("""{"quotas": {"instances": 1}}""")));

        // Nothing refused was written: a bad body sets nothing, not even its good parts.
        AssertFault(HttpStatusCode.BadRequest, "badRequest", "too small", await PutAsync("""{"quotas": {"backups": 7, "clusters": -5}}"""));
        Assert.Equal(50, (await QuotaLineFor(otherId, "backups"))["limit"]!.GetValue<int>());
        Assert.Equal(0, (await QuotaLineFor(otherId))["limit"]!.GetValue<int>());
    }

    [Fact]
    public async Task The_hoard_quota_verb_shows_and_updates_a_limit_and_prints_the_refusals_of_a_member_and_a_bad_resource()
    {
        var otherId = await MemberOfOtherAsync();
        var adminEnv = new Dictionary<string, string>(_server.AdminEnvironment) { ["COLUMNS"] = "200" };
        var monaEnv = new Dictionary<string, string>(adminEnv) { ["OS_USERNAME"] = "mona", ["OS_PASSWORD"] = "pw-mona-1", ["OS_PROJECT_NAME"] = "other" };
        Task<ProcessResult> HoardAsync(IReadOnlyDictionary<string, string> env, params string[] args) => ProcessRunner.RunAsync(HoardServer.Executable, args, env);
        static string[] Row(ProcessResult result, string resource) =>
            result.Stdout.Split('\n').Select(l => l.Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                .Single(cells => cells.Length > 0 && cells[0] == resource);

        // The admin sets a limit of another project, by name, and sees it by id; the member sees their own by default.
        var updated = await HoardAsync(adminEnv, "quota", "update", "other", "instances", "3");
        Assert.True(updated.ExitCode == 0, updated.ToString());
        Assert.Equal(["instances", "3"], Row(updated, "instances"));
        var shown = await HoardAsync(adminEnv, "quota", "show", otherId);
        Assert.True(shown.ExitCode == 0, shown.ToString());
        Assert.Equal(["instances", "0", "0", "3"], Row(shown, "instances"));
        Assert.Equal(["clusters", "0", "0", "-1"], Row(shown, "clusters"));
        var own = await HoardAsync(monaEnv, "quota", "show");
        Assert.True(own.ExitCode == 0, own.ToString());
        Assert.Equal(["instances", "0", "0", "3"], Row(own, "instances"));

        // A member may not change even their own project's limit, nor read another's; nothing is written.
        var refused = await HoardAsync(monaEnv, "quota", "update", "other", "instances", "100");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("hoard: You are not authorized to perform the requested action: the admin role is required. (HTTP 403)", refused.Stderr, StringComparison.Ordinal);
        var peek = await HoardAsync(monaEnv, "quota", "show", "admin");
        Assert.Equal(1, peek.ExitCode);
        Assert.Contains($"hoard: Operation not allowed for tenant {otherId}. (HTTP 403)", peek.Stderr, StringComparison.Ordinal);
        Assert.Equal(3, (await QuotaLineFor(otherId))["limit"]!.GetValue<int>());

        // A resource there is no such quota for, a limit too small, a project that does not exist, a limit not a number.
        var unknown = await HoardAsync(adminEnv, "quota", "update", "other", "widgets", "1");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("hoard: Unknown quota resources widgets. (HTTP 404)", unknown.Stderr, StringComparison.Ordinal);
        var small = await HoardAsync(adminEnv, "quota", "update", "other", "ram", "-2");
        Assert.Equal(1, small.ExitCode);
        Assert.Contains("Quota limit '-2' for 'ram' is too small - must be at least '-1'. (HTTP 400)", small.Stderr, StringComparison.Ordinal);
        var nowhere = await HoardAsync(adminEnv, "quota", "show", "nowhere");
        Assert.Equal(1, nowhere.ExitCode);
        Assert.Contains("hoard: Could not find project: nowhere. (HTTP 404)", nowhere.Stderr, StringComparison.Ordinal);
        var words = await HoardAsync(adminEnv, "quota", "update", "other", "ram", "lots");
        Assert.NotEqual(0, words.ExitCode);
        Assert.Contains("lots", words.Stderr, StringComparison.Ordinal);
        Assert.Equal(3, (await QuotaLineFor(otherId))["limit"]!.GetValue<int>());
    }

    /// <summary>A second project, "other", with a member (no admin role) "mona"; its id.</summary>
    private async Task<string> MemberOfOtherAsync()
    {
        var made = await SendAsync(_admin, HttpMethod.Post, $"{_server.BaseUrl}/identity/v3/projects", JsonNode.Parse("""{"project": {"name": "other", "domain_id": "default"}}"""));
        Assert.True(made.Status == HttpStatusCode.Created, made.Body?.ToJsonString());
        var otherId = made.Body!["project"]!["id"]!.GetValue<string>();
        var user = await SendAsync(_admin, HttpMethod.Post, $"{_server.BaseUrl}/identity/v3/users", new JsonObject { ["user"] = new JsonObject { ["name"] = "mona", ["password"] = "pw-mona-1", ["default_project_id"] = otherId, ["domain_id"] = "default" } });
        Assert.True(user.Status == HttpStatusCode.Created, user.Body?.ToJsonString());
        var member = (await SendAsync(_admin, HttpMethod.Get, $"{_server.BaseUrl}/identity/v3/roles?name=member")).Body!["roles"]![0]!["id"]!.GetValue<string>();
        await SendAsync(_admin, HttpMethod.Put, $"{_server.BaseUrl}/identity/v3/projects/{otherId}/users/{user.Body!["user"]!["id"]!.GetValue<string>()}/roles/{member}");
        return otherId;
    }

    private async Task<JsonObject> QuotaLineFor(string project, string resource = "instances")
    {
        var shown = await SendAsync(_admin, HttpMethod.Get, $"mgmt/quotas/{project}");
        Assert.True(shown.Status == HttpStatusCode.OK, shown.Body?.ToJsonString());
        return shown.Body!["quotas"]!.AsArray().Single(q => q!["resource"]!.GetValue<string>() == resource)!.AsObject();
    }
}
