using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// Two `hoard serve` replicas over one shared store and one local pool: SIGKILL one in the middle of a burst of
/// creates, and the other finishes its tasks; every acknowledged create ends ACTIVE, one database process each.
/// </summary>
public sealed class ReplicaTests
{
    private const int Creates = 10;
    private const int AcknowledgedByABeforeTheKill = 3;

    [RequiresBinaryFact(PostgreSqlTestServer.PostgresBinary, PostgreSqlTestServer.InitDbBinary, "redis-server")]
    public async Task Killing_one_of_two_replicas_on_a_postgresql_store_mid_burst_loses_no_acknowledged_create()
    {
        var postgres = new PostgreSqlTestServer();
        try
        {
            await postgres.InitializeAsync();
            await BurstAcrossTwoReplicasKillingOneAsync(await postgres.CreateDatabaseAsync());
        }
        finally
        {
            await postgres.DisposeAsync();
        }
    }

    [RequiresBinaryFact("redis-server")]
    public async Task Killing_one_of_two_replicas_on_a_redis_store_mid_burst_loses_no_acknowledged_create()
    {
        var redis = new RedisTestServer();
        try
        {
            await redis.InitializeAsync();
            await BurstAcrossTwoReplicasKillingOneAsync(redis.ConnectionString(await redis.FreshDatabaseAsync()));
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }

    [RequiresBinaryFact("redis-server")]
    public async Task A_store_that_stops_answering_gets_503s_and_the_control_plane_carries_on_when_it_returns()
    {
        var redis = new RedisTestServer();
        try
        {
            await redis.InitializeAsync();
            await using var server = await HoardServer.StartAsync(new Dictionary<string, string>
            {
                ["HOARD_DATABASE_CONNECTION"] = redis.ConnectionString(await redis.FreshDatabaseAsync()).AbsoluteUri,
            });
            using var api = await Api.LoginAsync(server);
            var before = await api.CreateAsync("before");
            await api.WaitForAsync(before, "ACTIVE", TimeSpan.FromSeconds(60));

            // Frozen, the store answers nothing: requests get Trove's error shape with a 503 that says why, no 500.
            await ProcessRunner.RunAsync("kill", ["-STOP", redis.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            try
            {
                var (status, body) = await api.SendAsync(HttpMethod.Get, "/instances");
                Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
                Assert.Contains("management store is unreachable", body!["serviceUnavailable"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
            }
            finally
            {
                await ProcessRunner.RunAsync("kill", ["-CONT", redis.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            }

            // Back: the same server carries on without a restart, and nothing was lost.
            await api.WaitForAsync(before, "ACTIVE", TimeSpan.FromSeconds(30));
            var after = await api.CreateAsync("after");
            await api.WaitForAsync(after, "ACTIVE", TimeSpan.FromSeconds(60));
            Assert.Equal(new[] { before, after }.Order(StringComparer.Ordinal), (await api.ListAsync()).Order(StringComparer.Ordinal));
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }

    [RequiresBinaryFact("redis-server")]
    public async Task A_pool_and_flavor_made_through_one_replica_place_creates_made_through_the_other()
    {
        var redis = new RedisTestServer();
        try
        {
            await redis.InitializeAsync();
            var replicas = await HoardServer.StartReplicasAsync(2, new Dictionary<string, string>
            {
                ["HOARD_DATABASE_CONNECTION"] = redis.ConnectionString(await redis.FreshDatabaseAsync()).AbsoluteUri,
            });
            await using var a = replicas[0];
            await using var b = replicas[1];
            using var apiA = await Api.LoginAsync(a);
            using var apiB = await Api.LoginAsync(b);
            var range = a.NewPoolRange();
            Assert.Equal(HttpStatusCode.Created, (await apiA.SendAsync(HttpMethod.Post, "/mgmt/flavors", "{\"flavor\": {\"id\": \"rf\", \"name\": \"r.flavor\", \"ram\": 256, \"vcpus\": 1}}")).Status);
            var pool = new JsonObject
            {
                ["pool"] = new JsonObject
                {
                    ["name"] = "rp",
                    ["uri"] = "local://" + Path.Combine(a.DataDir, "pools", "rp"),
                    ["weight"] = 1,
                    ["flavor"] = "rf",
                    ["options"] = new JsonObject { ["address_range"] = range },
                },
            };
            Assert.Equal(HttpStatusCode.Created, (await apiA.SendAsync(HttpMethod.Post, "/mgmt/pools", pool.ToJsonString())).Status);

            // B learns of them within its refresh period (3 s): its flavor view lists the pool.
            await Timeouts.EventuallyAsync(
                async () => (await apiB.SendAsync(HttpMethod.Get, "/mgmt/flavors/rf")).Body?["flavor"]?["pools"]?.ToJsonString(),
                pools => pools == "[\"rp\"]",
                Timeouts.Short,
                "replica B to see pool rp in flavor rf");
            var created = await apiB.SendAsync(HttpMethod.Post, "/instances", "{\"instance\":{\"name\":\"placed\",\"flavorRef\":\"r.flavor\",\"datastore\":{\"type\":\"redis\"}}}");
            Assert.True(created.Status == HttpStatusCode.OK, created.Body?.ToJsonString());
            var id = created.Body!["instance"]!["id"]!.GetValue<string>();
            var active = await apiB.WaitForAsync(id, "ACTIVE", Timeouts.Settle);
            Assert.StartsWith(range[..range.LastIndexOf('.')], active["ip"]![0]!.GetValue<string>(), StringComparison.Ordinal);
            var catalogue = (await apiA.SendAsync(HttpMethod.Get, "/mgmt/catalogue")).Body!["catalogue"]!.AsArray();
            Assert.Contains(catalogue, e => e!["instance"]!.GetValue<string>() == id && e["pool"]!.GetValue<string>() == "rp");
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }

    private static async Task BurstAcrossTwoReplicasKillingOneAsync(Uri store)
    {
        var replicas = await HoardServer.StartReplicasAsync(2, new Dictionary<string, string>
        {
            ["HOARD_DATABASE_CONNECTION"] = store.AbsoluteUri,
            ["HOARD_DEFAULT_TASK_LEASE"] = "3",
        });
        await using var a = replicas[0];
        await using var b = replicas[1];
        using var apiA = await Api.LoginAsync(a);
        using var apiB = await Api.LoginAsync(b);

        // Alternate between the replicas; once A has acknowledged a few, kill it with one more create in flight.
        var acknowledged = new List<string>();
        var aOwner = $":{a.ServePid}:"; // the lease owner id is host:pid:start-time
        var killed = false;
        var acknowledgedByBBeforeTheKill = 0;
        for (var i = 0; i < Creates; i++)
        {
            if (killed || i % 2 == 1)
            {
                acknowledged.Add(await apiB.CreateAsync($"b{i}"));
                continue;
            }

            acknowledged.Add(await apiA.CreateAsync($"a{i}"));
            if (apiA.Acknowledged == AcknowledgedByABeforeTheKill)
            {
                acknowledgedByBBeforeTheKill = apiB.Acknowledged;
                var inFlight = apiA.CreateAsync($"a{i}-in-flight");
                await a.KillAsync();
                killed = true;
                try
                {
                    acknowledged.Add(await inFlight);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or Xunit.Sdk.XunitException)
                {
                    // not acknowledged: A died first; it may still have been committed, the listing below decides
                }
            }
        }

        // Both replicas served before the kill (A's acknowledgements are what triggered it).
        Assert.True(killed);
        Assert.True(acknowledgedByBBeforeTheKill > 0, "B acknowledged no create before the kill");
        var settle = Stopwatch.StartNew();

        // Every acknowledged create, and any create whose answer was lost in the kill, ends ACTIVE as seen through B.
        var listed = await apiB.ListAsync();
        Assert.Empty(acknowledged.Except(listed));
        var addresses = new List<string>();
        foreach (var id in listed)
        {
            addresses.Add((await apiB.WaitForAsync(id, "ACTIVE", Timeouts.Settle - settle.Elapsed))["ip"]![0]!.GetValue<string>());
        }

        // One redis-server per instance: none orphaned by the kill, none started twice by the takeover.
        Assert.Equal(addresses.Count, addresses.Distinct().Count());
        Assert.Equal(listed.Count, b.DatabasePids().Count);
        foreach (var address in addresses)
        {
            Assert.Single(ProcessRunner.FindProcesses("redis-server", address + ":"));
        }

        var dirs = Directory.GetDirectories(Path.Combine(b.PoolDir, "instances")).Select(d => Path.GetFileName(d)!).Order().ToList();
        Assert.Equal(listed.Order().ToList(), dirs);

        // B took over the tasks A was running when it died.
        var takeovers = b.ReadLog().Split('\n').Where(l => l.Contains("Resuming task", StringComparison.Ordinal) && l.Contains(aOwner, StringComparison.Ordinal)).ToList();
        Assert.True(takeovers.Count > 0, $"B resumed none of A's tasks; B's log:\n{b.ReadLog()}");
    }

    /// <summary>A logged-in client of one replica that counts the creates it acknowledged.</summary>
    private sealed class Api(HoardServer server, string token, string project) : IDisposable
    {
        private readonly HttpClient _http = new() { BaseAddress = new Uri(server.BaseUrl), Timeout = Timeouts.Short };

        public int Acknowledged { get; private set; }

        public static async Task<Api> LoginAsync(HoardServer server)
        {
            var (token, project) = await server.LoginAsync("admin", server.AdminPassword, "admin");
            return new Api(server, token, project);
        }

        public async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpMethod method, string path, string? json = null)
        {
            using var request = new HttpRequestMessage(method, $"/v1.0/{project}{path}");
            request.Headers.Add("X-Auth-Token", token);
            if (json is not null)
            {
                request.Content = new StringContent(json, Encoding.UTF8, "application/json");
            }

            using var response = await _http.SendAsync(request).Within(Timeouts.Short);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
        }

        public async Task<string> CreateAsync(string name)
        {
            var created = await SendAsync(HttpMethod.Post, "/instances", $"{{\"instance\":{{\"name\":\"{name}\",\"flavorRef\":\"1\",\"datastore\":{{\"type\":\"redis\"}}}}}}");
            Assert.Equal(HttpStatusCode.OK, created.Status);
            Acknowledged++;
            return created.Body!["instance"]!["id"]!.GetValue<string>();
        }

        public async Task<string?> StatusAsync(string id)
        {
            var shown = await SendAsync(HttpMethod.Get, $"/instances/{id}");
            return shown.Status == HttpStatusCode.NotFound ? null : shown.Body!["instance"]!["status"]!.GetValue<string>();
        }

        public async Task<JsonObject> WaitForAsync(string id, string status, TimeSpan timeout)
        {
            var bounded = timeout > TimeSpan.FromSeconds(1) ? timeout : TimeSpan.FromSeconds(1);
            await Timeouts.EventuallyAsync(() => StatusAsync(id), s => s == status, bounded, $"{id} to be {status} through {server.BaseUrl}");
            return (await SendAsync(HttpMethod.Get, $"/instances/{id}")).Body!["instance"]!.AsObject();
        }

        /// <summary>Every instance id of the project, page by page (at most 100 pages).</summary>
        public async Task<List<string>> ListAsync()
        {
            var listed = new List<string>();
            string? marker = null;
            for (var page = 0; page < 100; page++)
            {
                var body = (await SendAsync(HttpMethod.Get, "/instances" + (marker is null ? string.Empty : $"?marker={marker}"))).Body!;
                listed.AddRange(body["instances"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()));
                marker = body["links"]?[0]?["href"]?.GetValue<string>().Split("marker=")[1];
                if (marker is null)
                {
                    return listed;
                }
            }

            throw new InvalidOperationException("the instance list did not end within 100 pages");
        }

        public void Dispose() => _http.Dispose();
    }
}
