using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using StackExchange.Redis;
using Xunit;
using Xunit.Abstractions;

namespace Hoard.Cli.Tests;

/// <summary>
/// Redis clusters end to end against a real hoard serve and real redis-server processes: the stock
/// `openstack database cluster` commands, every state checked with `redis-cli --cluster check`, and a
/// cluster-aware client (StackExchange.Redis) writing all along to prove that no acknowledged key is lost.
/// </summary>
public sealed class ClusterTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(90);

    private HoardServer _server = null!;
    private HttpClient _http = null!;
    private string _project = null!;
    private string _version = null!;

    private IReadOnlyDictionary<string, string> Env => _server.AdminEnvironment;

    public Task InitializeAsync() => StartServerAsync(null);

    private async Task StartServerAsync(IReadOnlyDictionary<string, string>? settings)
    {
        _server = await HoardServer.StartAsync(settings);
        var (token, project) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        _project = project;
        _http = new HttpClient { BaseAddress = new Uri(_server.BaseUrl), Timeout = Timeouts.Cli };
        _http.DefaultRequestHeaders.Add("X-Auth-Token", token);
        var datastores = (await SendAsync(HttpMethod.Get, "datastores")).Body!["datastores"]!.AsArray();
        _version = datastores.First(d => d!["name"]!.GetValue<string>() == "redis")!["versions"]![0]!["name"]!.GetValue<string>();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    [RequiresBinaryFact("openstack", "redis-server", "redis-cli")]
    public async Task Grow_rebalance_drain_and_shrink_lose_no_key_under_concurrent_writes()
    {
        // Create through the stock client: three members, slots split evenly.
        var created = await OpenStackCli.JsonAsync(
            Env, "database", "cluster", "create", "c1", "redis", _version,
            "--instance", "flavor=1,volume=1", "--instance", "flavor=1,volume=1", "--instance", "flavor=1,volume=1");
        var id = created["id"]!.GetValue<string>();
        var cluster = await SettledAsync(id, members: 3);
        var members = Members(cluster);
        Assert.Equal(["c1-member-1", "c1-member-2", "c1-member-3"], members.Select(m => m.Name));
        Assert.Equal([5462, 5461, 5461], members.Select(m => m.Slots));

        var root = await OpenStackCli.JsonAsync(Env, "database", "root", "enable", "c1");
        var password = root["password"]!.GetValue<string>();
        Assert.True((await SendAsync(HttpMethod.Get, $"clusters/{id}/root")).Body!["rootEnabled"]!.GetValue<bool>());
        await CheckAsync(members[0].Address, password, expectedMasters: 3);

        // A cluster-aware client writes for the whole rest of the test; every acknowledged write is remembered.
        await using var redis = await ConnectAsync(members[0].Address, password);
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var acknowledged = new ConcurrentDictionary<string, string>();
        var writer = WriteAsync(redis.GetDatabase(), acknowledged, stop.Token);

        // Grow through the stock client: the new master joins empty, as the seed says.
        await OpenStackCli.RunOkAsync(Env, "database", "cluster", "grow", "c1", "--instance", "flavor=1,volume=1");
        cluster = await SettledAsync(id, members: 4);
        members = Members(cluster);
        var grown = members.Single(m => m.Name == "c1-member-4");
        Assert.Equal(0, grown.Slots);
        await CheckAsync(grown.Address, password, expectedMasters: 4);

        // Rebalance: every master ends with an even share, keys moving live under the writer.
        await PostActionAsync(id, "{\"rebalance\": {}}");
        cluster = await SettledAsync(id, members: 4);
        Assert.All(Members(cluster), m => Assert.Equal(4096, m.Slots));
        await CheckAsync(grown.Address, password, expectedMasters: 4);

        // Shrinking a member that owns slots is refused (the seed's 403), and changes nothing.
        var victim = members.Single(m => m.Name == "c1-member-2");
        var refused = await OpenStackCli.RunAsync(Env, "database", "cluster", "shrink", "c1", victim.Id);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("currently in use", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(4, Members((await SendAsync(HttpMethod.Get, $"clusters/{id}")).Body!["cluster"]!).Count);

        // Drain it, then the stock shrink accepts it.
        await PostActionAsync(id, $"{{\"rebalance\": {{\"exclude\": [{{\"id\": \"{victim.Id}\"}}]}}}}");
        cluster = await SettledAsync(id, members: 4);
        Assert.Equal(0, Members(cluster).Single(m => m.Id == victim.Id).Slots);
        Assert.All(Members(cluster).Where(m => m.Id != victim.Id), m => Assert.InRange(m.Slots, 5461, 5462));
        await CheckAsync(grown.Address, password, expectedMasters: 4);
        await OpenStackCli.RunOkAsync(Env, "database", "cluster", "shrink", "c1", victim.Id);
        cluster = await SettledAsync(id, members: 3);
        Assert.DoesNotContain(Members(cluster), m => m.Id == victim.Id);
        await CheckAsync(grown.Address, password, expectedMasters: 3);

        await stop.CancelAsync();
        var written = await writer;
        output.WriteLine($"{written} writes acknowledged during grow, rebalance, drain and shrink");
        Assert.True(written > 100, $"the writer made only {written} writes");
        var db = redis.GetDatabase();
        var lost = new List<string>();
        foreach (var (key, value) in acknowledged)
        {
            if (await db.StringGetAsync(key) != value)
            {
                lost.Add(key);
            }
        }

        Assert.True(lost.Count == 0, $"{lost.Count} acknowledged keys lost or wrong, e.g. {string.Join(", ", lost.Take(5))}");

        // Delete through the stock client: the cluster goes and so do its servers.
        await OpenStackCli.RunOkAsync(Env, "database", "cluster", "delete", "c1");
        await Timeouts.EventuallyAsync(async () => (await SendAsync(HttpMethod.Get, $"clusters/{id}")).Status, s => s == HttpStatusCode.NotFound, Settle, "the cluster to be deleted");
        Assert.Empty(_server.DatabasePids());
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task A_control_plane_killed_mid_rebalance_resumes_it_and_leaves_no_slot_open()
    {
        var body = $"{{\"cluster\": {{\"name\": \"rb\", \"datastore\": {{\"type\": \"redis\", \"version\": \"{_version}\"}}, \"instances\": [{{\"flavorRef\": \"1\"}}, {{\"flavorRef\": \"1\"}}]}}}}";
        var id = (await SendAsync(HttpMethod.Post, "clusters", body)).Body!["cluster"]!["id"]!.GetValue<string>();
        var members = Members(await SettledAsync(id, members: 2));
        var password = (await SendAsync(HttpMethod.Post, $"clusters/{id}/root", "{}")).Body!["user"]!["password"]!.GetValue<string>();

        // Enough keys that the rebalance takes several moves of real work.
        const int keys = 150_000;
        await using (var redis = await ConnectAsync(members[0].Address, password))
        {
            var db = redis.GetDatabase();
            for (var start = 0; start < keys; start += 5_000)
            {
                await Task.WhenAll(Enumerable.Range(start, 5_000).Select(n => db.StringSetAsync($"k{n}", $"v{n}")));
            }
        }

        await PostActionAsync(id, "{\"grow\": [{\"flavorRef\": \"1\"}]}");
        await SettledAsync(id, members: 3);
        await PostActionAsync(id, "{\"rebalance\": {}}");

        // Killed once the plan is stored and the first move is made, well before the last (polled tightly, not backing off).
        var deadline = DateTime.UtcNow + Settle;
        JsonNode? progress = null;
        while (DateTime.UtcNow < deadline && progress?["done"]?.GetValue<int>() is null or 0)
        {
            progress = (await SendAsync(HttpMethod.Get, $"clusters/{id}")).Body!["cluster"]!["task"]!["progress"];
            await Task.Delay(10);
        }

        Assert.True(progress?["done"]?.GetValue<int>() is > 0, $"the rebalance made no move in time: {progress?.ToJsonString()}");
        Assert.True(progress!["done"]!.GetValue<int>() < progress["total"]!.GetValue<int>(), "the rebalance finished before the kill");
        await _server.KillAsync();
        await _server.StartProcessAsync();
        var (token, _) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        _http.DefaultRequestHeaders.Remove("X-Auth-Token");
        _http.DefaultRequestHeaders.Add("X-Auth-Token", token);

        var cluster = await SettledAsync(id, members: 3);
        Assert.All(Members(cluster), m => Assert.InRange(m.Slots, 5461, 5462));
        Assert.Contains("Resuming task", _server.ReadLog(), StringComparison.Ordinal);
        await CheckAsync(members[0].Address, password, expectedMasters: 3);
        await using (var redis = await ConnectAsync(members[0].Address, password))
        {
            var db = redis.GetDatabase();
            var values = await Task.WhenAll(Enumerable.Range(0, keys).Select(n => db.StringGetAsync($"k{n}")));
            var lost = Enumerable.Range(0, keys).Where(n => values[n] != $"v{n}").ToList();
            Assert.True(lost.Count == 0, $"{lost.Count} keys lost or wrong after the resumed rebalance, e.g. k{string.Join(", k", lost.Take(5))}");
        }
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task A_create_adopts_warm_members_and_the_server_builds_new_ones()
    {
        await DisposeAsync();
        await StartServerAsync(new Dictionary<string, string> { ["HOARD_REDIS_CLUSTER_WARM_MEMBERS"] = "2" });

        // Two warm members run, belonging to no project, before anyone asks for a cluster.
        await Timeouts.EventuallyAsync(() => Task.FromResult(_server.DatabasePids().Count), n => n == 2, Settle, "two warm members to run");
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Empty((await SendAsync(HttpMethod.Get, "instances?include_clustered=true")).Body!["instances"]!.AsArray());

        var body = $"{{\"cluster\": {{\"name\": \"w\", \"datastore\": {{\"type\": \"redis\", \"version\": \"{_version}\"}}, \"instances\": [{{\"flavorRef\": \"1\"}}, {{\"flavorRef\": \"1\"}}, {{\"flavorRef\": \"1\"}}]}}}}";
        var created = (await SendAsync(HttpMethod.Post, "clusters", body)).Body!["cluster"]!;
        var id = created["id"]!.GetValue<string>();
        var members = Members(await SettledAsync(id, members: 3));
        Assert.Equal(["w-member-1", "w-member-2", "w-member-3"], members.Select(m => m.Name));

        // Two of the three were built before the cluster was asked for: adopted, not started.
        var older = 0;
        foreach (var member in members)
        {
            var shown = (await SendAsync(HttpMethod.Get, $"clusters/{id}/instances/{member.Id}")).Body!["instance"]!;
            older += string.CompareOrdinal(shown["created"]!.GetValue<string>(), created["created"]!.GetValue<string>()) < 0 ? 1 : 0;
        }

        Assert.Equal(2, older);
        var password = (await SendAsync(HttpMethod.Post, $"clusters/{id}/root", "{}")).Body!["user"]!["password"]!.GetValue<string>();
        await CheckAsync(members[0].Address, password, expectedMasters: 3);
        await using (var redis = await ConnectAsync(members[0].Address, password))
        {
            var db = redis.GetDatabase();
            await Task.WhenAll(Enumerable.Range(0, 300).Select(n => db.StringSetAsync($"w{n}", n)));
            Assert.Equal(300, (await Task.WhenAll(Enumerable.Range(0, 300).Select(n => db.StringGetAsync($"w{n}")))).Count(v => v.HasValue));
        }

        // The adopted ones are replaced; deleting the cluster leaves only the warm members running.
        await Timeouts.EventuallyAsync(() => Task.FromResult(_server.DatabasePids().Count), n => n == 5, Settle, "the warm members to be replaced");
        await SendAsync(HttpMethod.Delete, $"clusters/{id}");
        await Timeouts.EventuallyAsync(() => Task.FromResult(_server.DatabasePids().Count), n => n == 2, Settle, "the cluster's servers to stop");

        // Adopted as a replica, a warm member gives back the slot it held while it waited; its master covers all.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        body = $"{{\"cluster\": {{\"name\": \"wr\", \"datastore\": {{\"type\": \"redis\", \"version\": \"{_version}\"}}, \"replicas_per_master\": 1, \"instances\": [{{\"flavorRef\": \"1\"}}, {{\"flavorRef\": \"1\"}}]}}}}";
        id = (await SendAsync(HttpMethod.Post, "clusters", body)).Body!["cluster"]!["id"]!.GetValue<string>();
        members = Members(await SettledAsync(id, members: 2));
        Assert.Equal([("master", 16384), ("replica", 0)], members.Select(m => (m.Role!, m.Slots)));
        password = (await SendAsync(HttpMethod.Post, $"clusters/{id}/root", "{}")).Body!["user"]!["password"]!.GetValue<string>();
        await CheckAsync(members[1].Address, password, expectedMasters: 1);
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task A_replica_takes_over_when_its_master_dies()
    {
        var body = $"{{\"cluster\": {{\"name\": \"ha\", \"datastore\": {{\"type\": \"redis\", \"version\": \"{_version}\"}}, \"replicas_per_master\": 1, \"instances\": [{string.Join(", ", Enumerable.Repeat("{\"flavorRef\": \"1\"}", 6))}]}}}}";
        var (status, created) = await SendAsync(HttpMethod.Post, "clusters", body);
        Assert.Equal(HttpStatusCode.OK, status);
        var id = created!["cluster"]!["id"]!.GetValue<string>();
        var members = Members(await SettledAsync(id, members: 6));
        Assert.Equal(3, members.Count(m => m.Role == "master"));
        Assert.Equal(3, members.Count(m => m.Role == "replica"));
        var root = (await SendAsync(HttpMethod.Post, $"clusters/{id}/root", "{}")).Body!;
        var password = root["user"]!["password"]!.GetValue<string>();
        await CheckAsync(members[0].Address, password, expectedMasters: 3);

        var master = members.First(m => m.Role == "master");
        var replica = members.Single(m => m.MasterId == master.Id);

        // Redis promotes only a replica that has synced with its master.
        await Timeouts.EventuallyAsync(
            async () => (await ProcessRunner.RunAsync("redis-cli", ["-h", replica.Address, "--user", "root", "--pass", password, "--no-auth-warning", "info", "replication"], timeout: Timeouts.Cli)).Stdout,
            info => info.Contains("master_link_status:up", StringComparison.Ordinal),
            Settle,
            "the replica to sync with its master");
        var pid = Assert.Single(ProcessRunner.FindProcesses("redis-server", master.Address + ":"));
        await ProcessRunner.RunAsync("kill", ["-KILL", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

        // Redis promotes the replica; the cluster view shows the new roles (and the old master back as its replica).
        var promoted = await Timeouts.EventuallyAsync(
            async () => (await SendAsync(HttpMethod.Get, $"clusters/{id}")).Body!["cluster"]!.ToJsonString(),
            json => Members(JsonNode.Parse(json)!) is var ms
                && ms.Any(m => m.Id == replica.Id && m.Role == "master") && ms.Any(m => m.Id == master.Id && m.Role == "replica" && m.MasterId == replica.Id),
            Settle,
            "the replica to be promoted and the old master to follow it");
        Assert.Equal(3, Members(JsonNode.Parse(promoted)!).Count(m => m.Role == "master"));
        await Timeouts.EventuallyAsync(async () => (await CheckOutputAsync(replica.Address, password)).ExitCode, code => code == 0, Settle, "redis-cli --cluster check to pass after the failover");
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task Bad_cluster_requests_are_refused_clearly_and_leave_nothing_behind()
    {
        string Body(string instances, string extra = "") =>
            $"{{\"cluster\": {{\"name\": \"bad\", \"datastore\": {{\"type\": \"redis\", \"version\": \"{_version}\"}}, \"instances\": [{instances}]{extra}}}}}";

        await AssertFaultAsync(HttpStatusCode.NotFound, "Resource 99 cannot be found.", HttpMethod.Post, "clusters", Body("{\"flavorRef\": \"99\"}"));
        await AssertFaultAsync(HttpStatusCode.Forbidden, "The flavor for each instance in a cluster must be the same.", HttpMethod.Post, "clusters", Body("{\"flavorRef\": \"1\"}, {\"flavorRef\": \"2\"}"));
        await AssertFaultAsync(HttpStatusCode.Forbidden, "A flavor is required for each instance in the cluster.", HttpMethod.Post, "clusters", Body("{\"flavorRef\": \"1\"}, {}"));
        await AssertFaultAsync(HttpStatusCode.BadRequest, "at least one instance", HttpMethod.Post, "clusters", Body(string.Empty));
        await AssertFaultAsync(HttpStatusCode.BadRequest, "multiple of 2", HttpMethod.Post, "clusters", Body("{\"flavorRef\": \"1\"}, {\"flavorRef\": \"1\"}, {\"flavorRef\": \"1\"}", ", \"replicas_per_master\": 1"));
        await AssertFaultAsync(HttpStatusCode.BadRequest, "'sentinel' is not valid", HttpMethod.Post, "clusters", Body("{\"flavorRef\": \"1\", \"type\": \"sentinel\"}"));
        await AssertFaultAsync(HttpStatusCode.BadRequest, "Clusters not supported for postgresql", HttpMethod.Post, "clusters", Body("{\"flavorRef\": \"1\"}").Replace("\"redis\"", "\"postgresql\"", StringComparison.Ordinal).Replace(_version, "15", StringComparison.Ordinal));
        await AssertFaultAsync(HttpStatusCode.BadRequest, "'instances' is a required property", HttpMethod.Post, "clusters", "{\"cluster\": {\"name\": \"x\", \"datastore\": {\"type\": \"redis\", \"version\": \"7\"}}}");
        Assert.Empty((await SendAsync(HttpMethod.Get, "clusters")).Body!["clusters"]!.AsArray());
        Assert.Empty((await SendAsync(HttpMethod.Get, "instances?include_clustered=true")).Body!["instances"]!.AsArray());

        var (_, created) = await SendAsync(HttpMethod.Post, "clusters", Body("{\"flavorRef\": \"1\"}, {\"flavorRef\": \"1\"}"));
        var id = created!["cluster"]!["id"]!.GetValue<string>();

        // While it builds, every action is a 422 naming the task.
        await AssertFaultAsync((HttpStatusCode)422, "current cluster task is 'BUILDING'", HttpMethod.Post, $"clusters/{id}", "{\"rebalance\": {}}");
        var members = Members(await SettledAsync(id, members: 2));
        var stranger = Guid.NewGuid().ToString();
        await AssertFaultAsync(HttpStatusCode.NotFound, $"Instance '{stranger}' cannot be found in cluster", HttpMethod.Post, $"clusters/{id}", $"{{\"shrink\": [{{\"id\": \"{stranger}\"}}]}}");
        await AssertFaultAsync(HttpStatusCode.NotFound, $"Instance '{stranger}' cannot be found in cluster", HttpMethod.Post, $"clusters/{id}", $"{{\"rebalance\": {{\"exclude\": [{{\"id\": \"{stranger}\"}}]}}}}");
        await AssertFaultAsync(HttpStatusCode.BadRequest, "is not a 'uuid'", HttpMethod.Post, $"clusters/{id}", "{\"shrink\": [{\"id\": \"../etc\"}]}");
        await AssertFaultAsync(HttpStatusCode.BadRequest, "excludes them all", HttpMethod.Post, $"clusters/{id}", $"{{\"rebalance\": {{\"exclude\": [{{\"id\": \"{members[0].Id}\"}}, {{\"id\": \"{members[1].Id}\"}}]}}}}");
        await AssertFaultAsync(HttpStatusCode.BadRequest, "Must leave at least one instance", HttpMethod.Post, $"clusters/{id}", $"{{\"shrink\": [{{\"id\": \"{members[0].Id}\"}}, {{\"id\": \"{members[1].Id}\"}}]}}");
        await AssertFaultAsync(HttpStatusCode.Forbidden, "currently in use", HttpMethod.Post, $"clusters/{id}", $"{{\"shrink\": [{{\"id\": \"{members[0].Id}\"}}]}}");
        await AssertFaultAsync(HttpStatusCode.Forbidden, "The flavor for each instance in a cluster must be the same.", HttpMethod.Post, $"clusters/{id}", "{\"grow\": [{\"flavorRef\": \"2\"}]}");
        await AssertFaultAsync(HttpStatusCode.BadRequest, "exactly one action", HttpMethod.Post, $"clusters/{id}", "{\"grow\": [], \"shrink\": []}");
        await AssertFaultAsync((HttpStatusCode)422, "part of a cluster", HttpMethod.Delete, $"instances/{members[0].Id}");
        await AssertFaultAsync(HttpStatusCode.NotFound, "Cluster 'nope' cannot be found.", HttpMethod.Get, "clusters/nope");

        // Members are shown through their cluster, and only listed among instances when asked for.
        Assert.Empty((await SendAsync(HttpMethod.Get, "instances")).Body!["instances"]!.AsArray());
        Assert.Equal(2, (await SendAsync(HttpMethod.Get, "instances?include_clustered=true")).Body!["instances"]!.AsArray().Count);
        var member = (await SendAsync(HttpMethod.Get, $"clusters/{id}/instances/{members[0].Id}")).Body!["instance"]!;
        Assert.Equal(id, member["cluster_id"]!.GetValue<string>());
        Assert.Equal(2, Members((await SettledAsync(id, members: 2))).Count);
    }

    private sealed record Member(string Id, string Name, string Status, string Address, string? Role, int Slots, string? MasterId);

    private static List<Member> Members(JsonNode cluster) =>
        [.. cluster["instances"]!.AsArray().Select(m => new Member(
            m!["id"]!.GetValue<string>(),
            m["name"]!.GetValue<string>(),
            m["status"]?.GetValue<string>() ?? string.Empty,
            m["ip"]?[0]?.GetValue<string>() ?? string.Empty,
            m["role"]?.GetValue<string>(),
            m["slots"]?.GetValue<int>() ?? -1,
            m["master_id"]?.GetValue<string>()))];

    /// <summary>Waits until the cluster has no task and every member is ACTIVE with a known role.</summary>
    private async Task<JsonNode> SettledAsync(string id, int members) =>
        JsonNode.Parse(await Timeouts.EventuallyAsync(
            async () => (await SendAsync(HttpMethod.Get, $"clusters/{id}")).Body!["cluster"]!.ToJsonString(),
            json => JsonNode.Parse(json)! is var c && c["task"]!["name"]!.GetValue<string>() == "NONE"
                && Members(c) is { } ms && ms.Count == members && ms.All(m => m.Status == "ACTIVE" && m.Role is not null),
            Settle,
            $"cluster {id} to settle with {members} ACTIVE members"))!;

    private static async Task<ConnectionMultiplexer> ConnectAsync(string address, string password) =>
        await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { { address, 6379 } },
            User = "root",
            Password = password,
            ConnectTimeout = 5000,
            SyncTimeout = 5000,
            AbortOnConnectFail = false,
        });

    private async Task PostActionAsync(string id, string json)
    {
        var (status, body) = await SendAsync(HttpMethod.Post, $"clusters/{id}", json);
        Assert.True(status == HttpStatusCode.Accepted, $"{status}: {body?.ToJsonString()}");
    }

    private async Task<ProcessResult> CheckOutputAsync(string address, string password) =>
        await ProcessRunner.RunAsync("redis-cli", ["--user", "root", "--pass", password, "--no-auth-warning", "--cluster", "check", $"{address}:6379"], timeout: Timeouts.Cli);

    /// <summary>redis-cli's own verdict: all slots covered, no open slot, all nodes agree; it counts empty masters as masters.</summary>
    private async Task CheckAsync(string address, string password, int expectedMasters)
    {
        var check = await CheckOutputAsync(address, password);
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains("[OK] All nodes agree about slots configuration.", check.Stdout, StringComparison.Ordinal);
        Assert.Contains("[OK] All 16384 slots covered.", check.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("[WARNING]", check.Stdout, StringComparison.Ordinal);
        Assert.True(check.Stdout.Contains($" in {expectedMasters} masters.", StringComparison.Ordinal), check.Stdout);
    }

    /// <summary>Writes key-i = value-i until stopped; remembers only what Redis acknowledged.</summary>
    private static async Task<int> WriteAsync(IDatabase db, ConcurrentDictionary<string, string> acknowledged, CancellationToken stop)
    {
        var i = 0;
        while (!stop.IsCancellationRequested)
        {
            var batch = Enumerable.Range(i, 50).Select(n => ($"key:{n}", $"value-{n}")).ToList();
            i += batch.Count;
            var results = await Task.WhenAll(batch.Select(async kv =>
            {
                try
                {
                    return await db.StringSetAsync(kv.Item1, kv.Item2) ? kv : default;
                }
                catch (RedisException)
                {
                    return default; // not acknowledged: a write that failed may or may not exist; it is not counted
                }
            }));
            foreach (var (key, value) in results.Where(r => r.Item1 is not null))
            {
                acknowledged[key] = value;
            }

            try
            {
                await Task.Delay(5, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return acknowledged.Count;
    }

    private async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, $"/v1.0/{_project}/{path}");
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
    }

    private async Task AssertFaultAsync(HttpStatusCode expected, string messagePart, HttpMethod method, string path, string? json = null)
    {
        var (status, body) = await SendAsync(method, path, json);
        Assert.True(status == expected, $"{method} {path}: expected {(int)expected}, got {(int)status}: {body?.ToJsonString()}");
        var message = body?.First().Value?["message"]?.GetValue<string>() ?? string.Empty;
        Assert.Contains(messagePart, message, StringComparison.Ordinal);
    }
}
