using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Hoard.Testing;
using StackExchange.Redis;

namespace Hoard.Bench;

/// <summary>
/// Redis Cluster benchmarks, each beside the same thing done by hand with redis-cli in the same run:
///   create     3 masters, and 3 masters + 3 replicas, -> every node ready
///              (raw: N redis-server + redis-cli --cluster create until every node says cluster_state:ok;
///               Hoard: POST /clusters, then GET every 5 ms until task NONE with every member ACTIVE)
///   rebalance  1,000,000 keys on 3 masters, a 4th empty master added, slots moved live until even;
///              keys moved (keys on the new master after) per second
///              (raw: redis-cli --cluster add-node + rebalance --cluster-use-empty-masters;
///               Hoard: grow by one, then POST rebalance and poll to NONE)
/// Both sides verify afterwards that DBSIZE summed over the masters is still 1,000,000. hoard serve keeps warm
/// cluster-mode members ([redis] cluster_warm_members), and each measured create comes a few seconds after the last
/// delete, once they are rebuilt; the first create, while they are still being built, is reported on its own.
/// </summary>
internal static class ClusterBench
{
    private const int Keys = 1_000_000;
    private const string Flavor = "2";

    // 8 batches of 5,000 SETs in flight keep every master's pipeline full (1M keys: ~3.5-4 s on the 2-core VM while
    // it was busy, against ~6 s for SETs awaited one by one within a batch; with CommandFlags.FireAndForget the same).
    private const int LoadBatches = 8;
    private const int LoadBatch = 5_000;

    // Warm cluster-mode members hoard serve keeps running (enough for the 3 + 3 shape), and how long a round waits
    // after its delete so the server can rebuild them before the next create.
    private const int WarmMembers = 6;
    private static readonly TimeSpan WarmRebuild = TimeSpan.FromSeconds(4);

    // Fine enough for figures in the seconds, light enough not to slow what it measures.
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan Ready = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan Rebalance = TimeSpan.FromMinutes(15);
    private static readonly (int Masters, int ReplicasPerMaster)[] Shapes = [(3, 0), (3, 1)];

    private sealed record RebalanceResult(long Moved, long OnNewBefore, int Slots, double Seconds, double LoadSeconds, long TotalAfter)
    {
        public double KeysPerSecond => Moved / Seconds;
    }

    public static async Task RunAsync(int rounds, int rebalances, bool withHoard, Action<string> line, CancellationToken ct)
    {
        var redis = System.Text.RegularExpressions.Regex.Match((await ProcessRunner.RunAsync("redis-server", ["--version"], timeout: TimeSpan.FromSeconds(10))).Stdout, @"v=([\d.]+)").Groups[1].Value;
        line($"machine: {Environment.ProcessorCount} cores, {File.ReadLines("/proc/meminfo").First().Split(':')[1].Trim()}, {File.ReadAllText("/proc/version").Split(' ')[2]}, redis {redis}");
        line($"temp dirs under {Path.GetTempPath()}; {rounds} rounds of each create, {rebalances} rebalance(s) of {Keys:N0} keys" + (withHoard ? string.Empty : "; raw reference only (bench/run.sh cluster-raw)"));

        foreach (var (shape, index) in Shapes.Select((s, i) => (s, i)))
        {
            var cliOnly = new List<double>();
            var withStart = new List<double>();
            for (var r = 0; r < rounds; r++)
            {
                var (cli, total) = await RawCreateAsync(shape.Masters, shape.ReplicasPerMaster, $"127.252.{(index * 100) + r + 1}", ct);
                cliOnly.Add(cli);
                withStart.Add(total);
            }

            var n = shape.Masters * (shape.ReplicasPerMaster + 1);
            line($"raw {Describe(shape)}: redis-cli --cluster create -> cluster_state:ok on every node: median {Stats.Median(cliOnly):0} ms, p90 {Stats.Percentile(cliOnly, 0.9):0} ms; "
                + $"with the {n} redis-server starts: median {Stats.Median(withStart):0} ms, p90 {Stats.Percentile(withStart, 0.9):0} ms (over {rounds})");
        }

        var raw = new List<RebalanceResult>();
        for (var r = 0; r < rebalances; r++)
        {
            raw.Add(await RawRebalanceAsync($"127.253.{r + 1}", ct));
        }

        line(RebalanceLine("raw redis-cli --cluster rebalance --cluster-use-empty-masters", raw));

        if (withHoard)
        {
            await HoardAsync(rounds, rebalances, line, ct);
        }
    }

    /// <summary>Starts the servers, then runs redis-cli --cluster create; times both until every node is cluster_state:ok.</summary>
    private static async Task<(double CliMs, double TotalMs)> RawCreateAsync(int masters, int replicasPerMaster, string subnet, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        await using var cluster = await RawRedisCluster.StartAsync(subnet, masters * (replicasPerMaster + 1), ct);
        var started = clock.Elapsed;
        await RedisCliAsync(["--cluster", "create", .. cluster.Endpoints, "--cluster-replicas", replicasPerMaster.ToString(CultureInfo.InvariantCulture), "--cluster-yes"], TimeSpan.FromSeconds(60));
        await cluster.WaitStateOkAsync(null, TimeSpan.FromSeconds(30), ct);
        var total = clock.Elapsed;
        return ((total - started).TotalMilliseconds, total.TotalMilliseconds);
    }

    private static async Task<RebalanceResult> RawRebalanceAsync(string subnet, CancellationToken ct)
    {
        await using var cluster = await RawRedisCluster.StartAsync(subnet, 4, ct);
        await RedisCliAsync(["--cluster", "create", .. cluster.Endpoints.Take(3), "--cluster-replicas", "0", "--cluster-yes"], TimeSpan.FromSeconds(60));
        await cluster.WaitStateOkAsync(cluster.Addresses.Take(3), TimeSpan.FromSeconds(30), ct);
        var seed = cluster.Addresses[0];
        var load = await LoadAsync(seed, RawRedisCluster.Port, null, null, ct);

        await RedisCliAsync(["--cluster", "add-node", cluster.Endpoints[3], cluster.Endpoints[0]], TimeSpan.FromSeconds(60));
        await cluster.WaitAgreedAsync(4, TimeSpan.FromSeconds(30), ct);
        var (before, _) = await NodeKeysAsync(cluster.Addresses[3], RawRedisCluster.Port, null, null, ct);
        var clock = Stopwatch.StartNew();
        await RedisCliAsync(["--cluster", "rebalance", cluster.Endpoints[0], "--cluster-use-empty-masters"], Rebalance);
        var seconds = clock.Elapsed.TotalSeconds;

        await cluster.WaitStateOkAsync(null, TimeSpan.FromSeconds(30), ct);
        var (after, slots) = await NodeKeysAsync(cluster.Addresses[3], RawRedisCluster.Port, null, null, ct);
        return new RebalanceResult(after - before, before, slots, seconds, load, await CountKeysAsync(seed, RawRedisCluster.Port, null, null, ct));
    }

    private static async Task HoardAsync(int rounds, int rebalances, Action<string> line, CancellationToken ct)
    {
        // Warm members of the bench's flavor, so that every create may take them.
        await using var server = await HoardServer.StartAsync(new Dictionary<string, string>
        {
            ["HOARD_REDIS_CLUSTER_WARM_MEMBERS"] = WarmMembers.ToString(CultureInfo.InvariantCulture),
            ["HOARD_REDIS_CLUSTER_WARM_FLAVOR"] = Flavor,
        });
        var (token, project) = await server.LoginAsync("admin", server.AdminPassword, "admin");
        using var http = new HttpClient { BaseAddress = new Uri($"{server.BaseUrl}/v1.0/{project}/"), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Add("X-Auth-Token", token);

        var redis = (await SendAsync(http, HttpMethod.Get, "datastores/redis", null, ct))["datastore"]!;
        var versions = redis["versions"]!.AsArray().OfType<JsonObject>().ToList();
        var version = (versions.FirstOrDefault(v => v["id"]?.GetValue<string>() == redis["default_version"]?.GetValue<string>()) ?? versions[0])["name"]!.GetValue<string>();

        // Warm-up: the first cluster comes while the server is still building its warm members (and their pool's
        // agent), which the measured creates then find ready.
        var (firstMs, first) = await CreateAsync(http, version, "warmup", 3, 0, ct);
        await DeleteAsync(http, Id(first), ct);
        line($"hoard first cluster create (3 masters; warm members still building, {WarmMembers} asked for): {firstMs:0} ms");
        await Task.Delay(WarmRebuild, ct);

        foreach (var (shape, index) in Shapes.Select((s, i) => (s, i)))
        {
            var creates = new List<double>();
            for (var r = 0; r < rounds; r++)
            {
                var (ms, view) = await CreateAsync(http, version, $"bench-{index}-{r}", shape.Masters, shape.ReplicasPerMaster, ct);
                creates.Add(ms);
                await DeleteAsync(http, Id(view), ct);
                await Task.Delay(WarmRebuild, ct);
            }

            line($"hoard {Describe(shape)}: POST /clusters -> task NONE, every member ACTIVE (GET every 5 ms), steady state "
                + $"(each create {WarmRebuild.TotalSeconds:0} s after the last delete, warm members rebuilt): median {Stats.Median(creates):0} ms, p90 {Stats.Percentile(creates, 0.9):0} ms (over {rounds})");
        }

        var results = new List<RebalanceResult>();
        for (var r = 0; r < rebalances; r++)
        {
            results.Add(await HoardRebalanceAsync(http, version, $"rebalance-{r}", ct));
        }

        line(RebalanceLine("hoard grow by 1, then POST /clusters/{id} {\"rebalance\": {}} -> task NONE", results));
    }

    private static async Task<RebalanceResult> HoardRebalanceAsync(HttpClient http, string version, string name, CancellationToken ct)
    {
        var (_, view) = await CreateAsync(http, version, name, 3, 0, ct);
        var id = Id(view);
        var (user, password) = await EnableRootAsync(http, id, ct);
        var (seedAddress, seedPort) = Endpoint(Members(view)[0]);
        var load = await LoadAsync(seedAddress, seedPort, user, password, ct);

        var before = Members(view).Select(Id).ToHashSet();
        await SendAsync(http, HttpMethod.Post, $"clusters/{id}", new JsonObject { ["grow"] = new JsonArray(new JsonObject { ["flavorRef"] = Flavor }) }, ct);
        view = await WaitReadyAsync(http, id, v => Members(v).Count == 4, Ready, ct);
        var added = Members(view).Single(m => !before.Contains(Id(m)));
        var (addedAddress, addedPort) = Endpoint(added);

        // Enabled again after the grow, so one password is certain to hold on every member, the new one included.
        (user, password) = await EnableRootAsync(http, id, ct);
        var (onNewBefore, _) = await NodeKeysAsync(addedAddress, addedPort, user, password, ct);

        var sawTask = false;
        var clock = Stopwatch.StartNew();
        await SendAsync(http, HttpMethod.Post, $"clusters/{id}", new JsonObject { ["rebalance"] = new JsonObject() }, ct);
        // Done at task NONE once the rebalance was seen running (or has visibly given the new master slots).
        await WaitReadyAsync(http, id, v => sawTask || Members(v).Any(m => Id(m) == Id(added) && m["slots"]?.GetValue<int>() > 0), Rebalance, ct, v => sawTask |= TaskName(v) != "NONE");
        var seconds = clock.Elapsed.TotalSeconds;

        var (onNewAfter, slots) = await NodeKeysAsync(addedAddress, addedPort, user, password, ct);
        var total = await CountKeysAsync(seedAddress, seedPort, user, password, ct);
        await DeleteAsync(http, id, ct);
        return new RebalanceResult(onNewAfter - onNewBefore, onNewBefore, slots, seconds, load, total);
    }

    private static async Task<(double Ms, JsonObject View)> CreateAsync(HttpClient http, string version, string name, int masters, int replicasPerMaster, CancellationToken ct)
    {
        var count = masters * (replicasPerMaster + 1);
        var cluster = new JsonObject
        {
            ["name"] = name,
            ["datastore"] = new JsonObject { ["type"] = "redis", ["version"] = version },
            ["instances"] = new JsonArray([.. Enumerable.Range(0, count).Select(_ => (JsonNode)new JsonObject { ["flavorRef"] = Flavor })]),
        };
        if (replicasPerMaster > 0)
        {
            cluster["replicas_per_master"] = replicasPerMaster;
        }

        var clock = Stopwatch.StartNew();
        var created = await SendAsync(http, HttpMethod.Post, "clusters", new JsonObject { ["cluster"] = cluster }, ct);
        var view = await WaitReadyAsync(http, Id(created["cluster"]!.AsObject()), v => Members(v).Count == count, Ready, ct);
        return (clock.Elapsed.TotalMilliseconds, view);
    }

    /// <summary>Polls the cluster until its task is NONE, every member ACTIVE and <paramref name="reached"/> holds; a member in ERROR fails it.</summary>
    private static async Task<JsonObject> WaitReadyAsync(HttpClient http, string id, Func<JsonObject, bool> reached, TimeSpan timeout, CancellationToken ct, Action<JsonObject>? observe = null)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var view = (await SendAsync(http, HttpMethod.Get, $"clusters/{id}", null, ct))["cluster"]!.AsObject();
            observe?.Invoke(view);
            var members = Members(view);
            if (members.FirstOrDefault(m => Status(m) == "ERROR") is { } failed)
            {
                throw new InvalidOperationException($"cluster {id}: member {Id(failed)} went to ERROR: {view.ToJsonString()}");
            }

            if (TaskName(view) == "NONE" && members.Count > 0 && members.All(m => Status(m) == "ACTIVE") && reached(view))
            {
                return view;
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"cluster {id} was not ready within {timeout.TotalSeconds:0} s: {view.ToJsonString()}");
            }

            await Task.Delay(Poll, ct);
        }
    }

    private static async Task DeleteAsync(HttpClient http, string id, CancellationToken ct)
    {
        await SendAsync(http, HttpMethod.Delete, $"clusters/{id}", null, ct);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            using var response = await http.GetAsync($"clusters/{id}", ct);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return;
            }

            if (deadline.Elapsed > Ready)
            {
                throw new TimeoutException($"cluster {id} was still there {Ready.TotalSeconds:0} s after its delete");
            }

            await Task.Delay(20, ct);
        }
    }

    private static async Task<(string User, string Password)> EnableRootAsync(HttpClient http, string id, CancellationToken ct)
    {
        var user = (await SendAsync(http, HttpMethod.Post, $"clusters/{id}/root", new JsonObject(), ct))["user"]!;
        return (user["name"]!.GetValue<string>(), user["password"]!.GetValue<string>());
    }

    private static async Task<JsonObject> SendAsync(HttpClient http, HttpMethod method, string path, JsonObject? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{method} {path}: {(int)response.StatusCode} {text}");
        }

        return text.Length == 0 ? [] : JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>
    /// Loads the keys through a cluster-aware client, which sends each to the master owning its slot: SETs in
    /// <see cref="IBatch"/>es of <see cref="LoadBatch"/> (written together to each master), <see cref="LoadBatches"/>
    /// in flight at once, every reply awaited; returns the seconds it took.
    /// </summary>
    private static async Task<double> LoadAsync(string seedAddress, int seedPort, string? user, string? password, CancellationToken ct)
    {
        await using var client = await RedisClients.ConnectAsync(seedAddress, seedPort, user, password);
        var db = client.GetDatabase();
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, LoadBatches).Select(async _ =>
        {
            for (var n = Interlocked.Increment(ref next); n * LoadBatch < Keys; n = Interlocked.Increment(ref next))
            {
                ct.ThrowIfCancellationRequested();
                var first = n * LoadBatch;
                var batch = db.CreateBatch();
                var sets = new Task<bool>[Math.Min(LoadBatch, Keys - first)];
                for (var i = 0; i < sets.Length; i++)
                {
                    sets[i] = batch.StringSetAsync(Key(first + i), $"v{first + i}");
                }

                batch.Execute();
                await Task.WhenAll(sets);
            }
        }));
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>DBSIZE summed over the masters the seed knows.</summary>
    private static async Task<long> CountKeysAsync(string seedAddress, int seedPort, string? user, string? password, CancellationToken ct)
    {
        await using var client = await RedisClients.ConnectAsync(seedAddress, seedPort, user, password);
        var topology = await client.GetServer(seedAddress, seedPort).NodesAsync();
        long total = 0;
        foreach (var master in topology.Nodes.Where(n => !n.IsReplica && !n.IsFailing()))
        {
            ct.ThrowIfCancellationRequested();
            total += await client.GetServer(master.EndPoint).DatabaseSizeAsync();
        }

        return total;
    }

    /// <summary>A node's DBSIZE and the number of slots it owns.</summary>
    private static async Task<(long Keys, int Slots)> NodeKeysAsync(string address, int port, string? user, string? password, CancellationToken ct)
    {
        await using var client = await RedisClients.ConnectAsync(address, port, user, password);
        var server = client.GetServer(address, port);
        var keys = await server.DatabaseSizeAsync();
        var myself = (await server.NodesAsync()).Nodes.Single(n => n.IsMyself);
        return (keys, myself.SlotCount());
    }

    private static async Task RedisCliAsync(string[] args, TimeSpan timeout)
    {
        var result = await ProcessRunner.RunAsync(Binaries.Require("redis-cli"), args, timeout: timeout);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"redis-cli {string.Join(' ', args)} failed: {result}");
        }
    }

    private static string RebalanceLine(string what, List<RebalanceResult> results)
    {
        var r = results.OrderBy(x => x.KeysPerSecond).ElementAt(results.Count / 2);
        var check = results.All(x => x.TotalAfter == Keys) ? "ok" : $"MISMATCH: {string.Join(", ", results.Select(x => x.TotalAfter.ToString("N0", CultureInfo.InvariantCulture)))}";
        var spread = results.Count > 1
            ? $"; median of {results.Count}, range {results.Min(x => x.KeysPerSecond):N0}-{results.Max(x => x.KeysPerSecond):N0} keys/s"
            : string.Empty;
        var preexisting = r.OnNewBefore > 0 ? $" ({r.OnNewBefore:N0} were on it before the rebalance)" : string.Empty;
        return $"{what}: {Keys:N0} keys, 3 -> 4 masters: moved {r.Moved:N0} keys{preexisting} and {r.Slots} slots to the new master in {r.Seconds:0.00} s = {r.KeysPerSecond:N0} keys/s{spread}; "
            + $"DBSIZE over the masters after: {r.TotalAfter:N0} ({check}); load of the keys beforehand: {r.LoadSeconds:0.0} s";
    }

    private static string Describe((int Masters, int ReplicasPerMaster) shape) =>
        shape.ReplicasPerMaster == 0 ? $"{shape.Masters} masters" : $"{shape.Masters} masters + {shape.Masters * shape.ReplicasPerMaster} replicas";

    private static string Key(int i) => $"key:{i}";

    private static (string Address, int Port) Endpoint(JsonObject member) =>
        (member["ip"]![0]!.GetValue<string>(), member["port"]?.GetValue<int>() ?? RawRedisCluster.Port);

    private static List<JsonObject> Members(JsonObject cluster) => cluster["instances"] is JsonArray a ? [.. a.OfType<JsonObject>()] : [];

    private static string Id(JsonObject node) => node["id"]!.GetValue<string>();

    private static string Status(JsonObject member) => member["status"]?.GetValue<string>() ?? "?";

    private static string TaskName(JsonObject cluster) => cluster["task"]?["name"]?.GetValue<string>() ?? "?";
}
