using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using StackExchange.Redis;
using Xunit;
using Xunit.Abstractions;

namespace Hoard.Cli.Tests;

/// <summary>
/// Randomized, reproducible crash rounds for Redis cluster operations: a burst of cluster creates, grows, shrinks and
/// deletes (one action per cluster, different clusters at once) and plain instance creates and deletes, the control plane
/// (in some rounds with the guest agent, in some the agent alone) SIGKILLed at a random point of it, restarted, then checked: every acknowledged operation carried out, every
/// unacknowledged one whole or not at all, `redis-cli --cluster check` clean on every cluster, every key written before
/// the round read back, and at the end one redis-server per ACTIVE instance and nothing else.
/// The seed comes from HOARD_CRASH_SEED when set, else is drawn and printed.
/// </summary>
public sealed class ClusterCrashTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Suite = "cluster crash rounds";
    private const int Rounds = 5;
    private const int KeysPerCluster = 200;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(120);

    private HoardServer _server = null!;
    private HttpClient _http = null!;
    private string _project = null!;
    private string _version = null!;
    private int _seed;

    /// <summary>A cluster the test knows: its root password and the keys written to it.</summary>
    private sealed class Known(string id, string name)
    {
        public string Id { get; } = id;

        public string Name { get; } = name;

        public string? Password { get; set; }

        public List<string> Members { get; set; } = [];

        public List<string> Keys { get; } = [];
    }

    public async Task InitializeAsync()
    {
        _server = await HoardServer.StartAsync(new Dictionary<string, string> { ["HOARD_DEFAULT_TASK_LEASE"] = "3" });
        await LoginAsync();
        var datastores = (await SendAsync(HttpMethod.Get, "datastores")).Body!["datastores"]!.AsArray();
        _version = datastores.First(d => d!["name"]!.GetValue<string>() == "redis")!["versions"]![0]!["name"]!.GetValue<string>();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task Killing_the_control_plane_amid_cluster_creates_grows_shrinks_and_deletes_honours_every_acknowledged_one()
    {
        _seed = CrashSeed.Pick();
        var random = new Random(_seed);
        output.WriteLine($"seed {_seed} (HOARD_CRASH_SEED={_seed} repeats it)");
        var total = Stopwatch.StartNew();
        var known = new Dictionary<string, Known>(StringComparer.Ordinal);
        var plain = new List<string>();
        int acknowledged = 0, unacknowledgedDone = 0, unacknowledgedNotDone = 0, keysChecked = 0, controlPlaneKills = 0, agentKills = 0;
        var recoveries = new List<double>();

        // Two clusters to start from, each with keys.
        foreach (var (name, size) in new[] { ("a", 3), ("b", 2) })
        {
            var (status, body) = await SendAsync(HttpMethod.Post, "clusters", CreateBody(name, size));
            Assert.True(status == HttpStatusCode.OK, $"seed {_seed}: {status} {body?.ToJsonString()}");
            var id = body!["cluster"]!["id"]!.GetValue<string>();
            known[id] = new Known(id, name);
        }

        foreach (var cluster in known.Values)
        {
            await AdoptAsync(cluster, await SettledAsync(cluster.Id), random);
        }

        for (var round = 0; round < Rounds; round++)
        {
            // One action per cluster (a second would get Trove's 422), a new cluster and a plain instance.
            var ops = new List<Operation>();
            foreach (var cluster in known.Values.ToList())
            {
                var members = Members(await SettledAsync(cluster.Id));
                var empty = members.Where(m => m.Slots == 0).ToList();
                var choice = random.Next(empty.Count > 0 ? 4 : 3);
                ops.Add(choice switch
                {
                    0 when known.Count > 1 => new Operation("delete", cluster, null, () => SendAsync(HttpMethod.Delete, $"clusters/{cluster.Id}")),
                    3 => Shrink(cluster, empty[random.Next(empty.Count)].Id),
                    _ => new Operation("grow", cluster, null, () => SendAsync(HttpMethod.Post, $"clusters/{cluster.Id}", "{\"grow\": [{\"flavorRef\": \"1\"}]}")),
                });
            }

            var newName = $"r{round}n{random.Next(2, 4)}";
            ops.Add(new Operation("create", null, newName, () => SendAsync(HttpMethod.Post, "clusters", CreateBody(newName, newName[^1] - '0'))));
            var plainName = $"r{round}plain";
            ops.Add(new Operation("plain", null, plainName, () => SendAsync(HttpMethod.Post, "instances", $"{{\"instance\": {{\"name\": \"{plainName}\", \"flavorRef\": \"1\", \"datastore\": {{\"type\": \"redis\"}}}}}}")));
            if (plain.Count > 0 && random.Next(2) == 0)
            {
                var victim = plain[random.Next(plain.Count)];
                ops.Add(new Operation("plain-delete", null, "instance", () => SendAsync(HttpMethod.Delete, $"instances/{victim}")) { Detail = " " + victim });
            }

            var before = known.Values.ToDictionary(c => c.Id, c => c.Members.ToList());

            // The burst, and the kill somewhere in it: half the rounds among the requests, half while their tasks run.
            var delay = random.Next(2) == 0 ? random.Next(0, 150) : random.Next(150, 2000);
            foreach (var op in ops.OrderBy(_ => random.Next()).ToList())
            {
                op.Start();
            }

            await Task.Delay(delay);

            // A quarter of the rounds kill only the pool's guest agent: the control plane lives on and carries its tasks
            // through the agent that replaces it. The others kill the control plane, some with the agent too.
            var agentOnly = random.Next(4) == 0;
            var agentKilled = false;
            if (!agentOnly)
            {
                await _server.KillAsync();
                controlPlaneKills++;
            }

            if ((agentOnly || random.Next(3) == 0) && _server.AgentPid() is { } agent)
            {
                ProcessRunner.Kill(agent);
                agentKills++;
                agentKilled = true;
            }

            var clock = Stopwatch.StartNew();
            foreach (var op in ops)
            {
                await op.FinishAsync();
            }

            var acked = ops.Where(o => o.Acknowledged).ToList();
            acknowledged += acked.Count;
            var killed = agentOnly ? "the agent alone" : agentKilled ? "the control plane and the agent" : "the control plane";
            output.WriteLine($"round {round}: {killed} killed {delay} ms into the burst; " + string.Join(", ", ops.Select(o => $"{o.Kind} {o.Cluster?.Name ?? o.Name}{o.Detail}: {(o.Acknowledged ? "acknowledged" : o.Status?.ToString() ?? "no answer")}")));
            if (!agentOnly)
            {
                await _server.StartProcessAsync();

                // Some rounds kill the restarted control plane again while it resumes the tasks.
                if (random.Next(2) == 0)
                {
                    var again = random.Next(50, 1500);
                    await Task.Delay(again);
                    await _server.KillAsync();
                    controlPlaneKills++;
                    output.WriteLine($"round {round}: killed again {again} ms after the restart");
                    await _server.StartProcessAsync();
                }
            }

            await LoginAsync();

            // Every cluster the server lists settles; one it lists that the test did not hear of is an unacknowledged create.
            var listed = await ListAsync("clusters", "clusters");
            foreach (var cluster in listed.Where(c => !known.ContainsKey(c["id"]!.GetValue<string>())))
            {
                var id = cluster["id"]!.GetValue<string>();
                var name = cluster["name"]!.GetValue<string>();
                var create = ops.Single(o => o.Kind == "create" && o.Name == name);
                Assert.True(create.Id is null || create.Id == id, $"seed {_seed}: {name} was created as {create.Id} and shows as {id}");
                known[id] = new Known(id, name);
                Count(create, done: true, ref unacknowledgedDone, ref unacknowledgedNotDone);
            }

            foreach (var op in ops.Where(o => o.Kind == "create" && o.Acknowledged))
            {
                Assert.True(known.ContainsKey(op.Id!), $"seed {_seed}: the acknowledged create of {op.Name} ({op.Id}) is not listed after the restart");
            }

            var newCreate = ops.Single(o => o.Kind == "create");
            if (!known.Values.Any(c => c.Name == newCreate.Name))
            {
                Count(newCreate, done: false, ref unacknowledgedDone, ref unacknowledgedNotDone);
            }

            foreach (var cluster in known.Values.ToList())
            {
                var op = ops.SingleOrDefault(o => o.Cluster == cluster);
                var settled = await SettledOrGoneAsync(cluster.Id);
                if (settled is null)
                {
                    Assert.True(op is { Kind: "delete" }, $"seed {_seed}: cluster {cluster.Name} vanished, though no delete of it was sent");
                    Count(op, done: true, ref unacknowledgedDone, ref unacknowledgedNotDone);
                    foreach (var member in cluster.Members)
                    {
                        await Timeouts.EventuallyAsync(async () => (await SendAsync(HttpMethod.Get, $"instances/{member}")).Status, s => s == HttpStatusCode.NotFound, Settle, $"seed {_seed}: member {member} of the deleted {cluster.Name} to be gone");
                    }

                    known.Remove(cluster.Id);
                    continue;
                }

                Assert.False(op is { Kind: "delete", Acknowledged: true }, $"seed {_seed}: the acknowledged delete of {cluster.Name} was not carried out");
                var members = Members(settled);
                var now = members.Select(m => m.Id).ToList();
                if (!before.TryGetValue(cluster.Id, out var was))
                {
                    // A new cluster: whole, with the size its name asked for.
                    Assert.True(now.Count == cluster.Name[^1] - '0', $"seed {_seed}: the new cluster {cluster.Name} has {now.Count} members");
                    await AdoptAsync(cluster, settled, random);
                }
                else if (op?.Kind == "grow")
                {
                    var grown = now.Count == was.Count + 1 && was.All(now.Contains);
                    Assert.True(grown || (!op.Acknowledged && now.SequenceEqual(was)), $"seed {_seed}: {cluster.Name} {(op.Acknowledged ? "acknowledged" : "unacknowledged")} grow left members {string.Join(",", now)} (were {string.Join(",", was)})");
                    Count(op, grown, ref unacknowledgedDone, ref unacknowledgedNotDone);
                }
                else if (op?.Kind == "shrink")
                {
                    var shrunk = now.Count == was.Count - 1 && !now.Contains(op.Detail![1..]) && now.All(was.Contains);
                    Assert.True(shrunk || (!op.Acknowledged && now.SequenceEqual(was)), $"seed {_seed}: {cluster.Name} {(op.Acknowledged ? "acknowledged" : "unacknowledged")} shrink of {op.Detail} left members {string.Join(",", now)} (were {string.Join(",", was)})");
                    if (shrunk)
                    {
                        await Timeouts.EventuallyAsync(async () => (await SendAsync(HttpMethod.Get, $"instances/{op.Detail![1..]}")).Status, s => s == HttpStatusCode.NotFound, Settle, $"seed {_seed}: the removed member {op.Detail} to be gone");
                    }

                    Count(op, shrunk, ref unacknowledgedDone, ref unacknowledgedNotDone);
                }
                else
                {
                    Assert.True(now.SequenceEqual(was), $"seed {_seed}: {cluster.Name} changed members without a request ({string.Join(",", was)} -> {string.Join(",", now)})");
                    if (op is { Kind: "delete" })
                    {
                        Count(op, done: false, ref unacknowledgedDone, ref unacknowledgedNotDone);
                    }
                }

                cluster.Members = now;
                await CheckAsync(cluster, members);
                keysChecked += await ReadKeysAsync(cluster);
            }

            // The plain instance: acknowledged → ACTIVE; otherwise either ACTIVE or never made.
            var plainOp = ops.Single(o => o.Kind == "plain");
            var plainListed = (await ListAsync("instances", "instances")).Where(i => i["name"]!.GetValue<string>() == plainName).ToList();
            Assert.True(plainListed.Count <= 1, $"seed {_seed}: {plainListed.Count} instances named {plainName}");
            Assert.True(!plainOp.Acknowledged || plainListed.Count == 1, $"seed {_seed}: the acknowledged create of {plainName} is not listed");
            if (plainListed.Count == 1)
            {
                var id = plainListed[0]["id"]!.GetValue<string>();
                await Timeouts.EventuallyAsync(async () => (await SendAsync(HttpMethod.Get, $"instances/{id}")).Body?["instance"]?["status"]?.GetValue<string>(), s => s == "ACTIVE", Settle, $"seed {_seed}: {plainName} to be ACTIVE");
                plain.Add(id);
            }

            Count(plainOp, plainListed.Count == 1, ref unacknowledgedDone, ref unacknowledgedNotDone);
            if (ops.SingleOrDefault(o => o.Kind == "plain-delete") is { } plainDelete)
            {
                var victim = plainDelete.Detail![1..];
                var status = await Timeouts.EventuallyAsync(
                    async () => await SendAsync(HttpMethod.Get, $"instances/{victim}") is var (code, body) && code == HttpStatusCode.NotFound ? "gone" : body!["instance"]!["status"]!.GetValue<string>(),
                    s => s is "gone" or "ACTIVE",
                    Settle,
                    $"seed {_seed}: the plain instance {victim} to be gone or ACTIVE");
                Assert.True(status == "gone" || !plainDelete.Acknowledged, $"seed {_seed}: the acknowledged delete of {victim} was not carried out");
                Count(plainDelete, status == "gone", ref unacknowledgedDone, ref unacknowledgedNotDone);
                if (status == "gone")
                {
                    plain.Remove(victim);
                }
            }

            recoveries.Add(clock.Elapsed.TotalSeconds);
            output.WriteLine($"round {round}: settled and checked {clock.Elapsed.TotalSeconds:0.0} s after the kill; {known.Count} clusters, {plain.Count} plain instances");
        }

        // At the end: exactly one redis-server per ACTIVE instance (members and plain ones), one directory each, nothing else.
        var instances = await ListAsync("instances?include_clustered=true", "instances");
        Assert.All(instances, i => Assert.True(i["status"]!.GetValue<string>() == "ACTIVE", $"seed {_seed}: {i.ToJsonString()}"));
        var expected = known.Values.SelectMany(c => c.Members).Concat(plain).Order().ToList();
        Assert.Equal(expected, instances.Select(i => i["id"]!.GetValue<string>()).Order().ToList());
        var addresses = new List<string>();
        foreach (var id in expected)
        {
            addresses.Add((await SendAsync(HttpMethod.Get, $"instances/{id}")).Body!["instance"]!["ip"]![0]!.GetValue<string>());
        }

        Assert.Equal(addresses.Count, addresses.Distinct().Count());
        foreach (var address in addresses)
        {
            Assert.True(ProcessRunner.FindProcesses("redis-server", address + ":").Count == 1, $"seed {_seed}: not exactly one redis-server on {address}");
        }

        Assert.True(_server.DatabasePids().Count == expected.Count, $"seed {_seed}: {_server.DatabasePids().Count} redis-servers for {expected.Count} ACTIVE instances");
        var dirs = Directory.GetDirectories(Path.Combine(_server.PoolDir, "instances")).Select(d => Path.GetFileName(d)!).Order().ToList();
        Assert.Equal(expected, dirs);

        output.WriteLine($"seed {_seed}: {Rounds} rounds, {controlPlaneKills} control-plane kills, {agentKills} agent kills, {acknowledged} operations acknowledged, {unacknowledgedDone} unacknowledged carried out whole, {unacknowledgedNotDone} not at all, {keysChecked} keys read back, {total.Elapsed.TotalSeconds:0} s");
        Figures.Record(Suite, "seed", _seed);
        Figures.Record(Suite, "rounds", Rounds);
        Figures.Record(Suite, "control-plane kills", controlPlaneKills);
        Figures.Record(Suite, "agent kills", agentKills);
        Figures.Record(Suite, "operations acknowledged", acknowledged);
        Figures.Record(Suite, "unacknowledged operations carried out whole", unacknowledgedDone);
        Figures.Record(Suite, "unacknowledged operations not carried out", unacknowledgedNotDone);
        Figures.Record(Suite, "keys read back", keysChecked);
        Figures.Record(Suite, "seconds from kill to all settled and checked (mean)", Math.Round(recoveries.Average(), 1));
        Figures.Record(Suite, "seconds in all", Math.Round(total.Elapsed.TotalSeconds));
    }

    private static void Count(Operation op, bool done, ref int unacknowledgedDone, ref int unacknowledgedNotDone)
    {
        if (op.Acknowledged)
        {
            return;
        }

        if (done)
        {
            unacknowledgedDone++;
        }
        else
        {
            unacknowledgedNotDone++;
        }
    }

    private Operation Shrink(Known cluster, string member) =>
        new("shrink", cluster, null, () => SendAsync(HttpMethod.Post, $"clusters/{cluster.Id}", $"{{\"shrink\": [{{\"id\": \"{member}\"}}]}}")) { Detail = " " + member };

    /// <summary>One request of a burst; acknowledged when the control plane answered it with success before it died.</summary>
    private sealed class Operation(string kind, Known? cluster, string? name, Func<Task<(HttpStatusCode Status, JsonObject? Body)>> send)
    {
        private Task<(HttpStatusCode Status, JsonObject? Body)>? _sent;

        public string Kind { get; } = kind;

        public Known? Cluster { get; } = cluster;

        public string? Name { get; } = name;

        public string? Detail { get; init; }

        public HttpStatusCode? Status { get; private set; }

        public string? Id { get; private set; }

        public bool Acknowledged => Status is HttpStatusCode.OK or HttpStatusCode.Accepted;

        public void Start() => _sent = Task.Run(send);

        public async Task FinishAsync()
        {
            try
            {
                var (status, body) = await _sent!;
                Status = status;
                Id = (body?["cluster"] ?? body?["instance"])?["id"]?.GetValue<string>();
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or TimeoutException)
            {
                // no answer: the control plane died first
            }
        }
    }

    /// <summary>Root on the cluster (once) and keys written across its slots.</summary>
    private async Task AdoptAsync(Known cluster, JsonNode settled, Random random)
    {
        cluster.Members = [.. Members(settled).Select(m => m.Id)];
        var (status, body) = await SendAsync(HttpMethod.Post, $"clusters/{cluster.Id}/root", "{}");
        Assert.True(status == HttpStatusCode.OK, $"seed {_seed}: root on {cluster.Name}: {status} {body?.ToJsonString()}");
        cluster.Password = body!["user"]!["password"]!.GetValue<string>();
        await using var redis = await ConnectAsync(Members(settled)[0].Address, cluster.Password);
        var db = redis.GetDatabase();
        var keys = Enumerable.Range(0, KeysPerCluster).Select(_ => $"{cluster.Name}:{random.Next():x8}").Distinct().ToList();
        var written = await Task.WhenAll(keys.Select(k => db.StringSetAsync(k, "v-" + k)));
        Assert.True(written.All(w => w), $"seed {_seed}: writes to {cluster.Name} refused");
        cluster.Keys.AddRange(keys);
    }

    private async Task<int> ReadKeysAsync(Known cluster)
    {
        await using var redis = await ConnectAsync(Members(await SettledAsync(cluster.Id))[0].Address, cluster.Password!);
        var db = redis.GetDatabase();
        var values = await Task.WhenAll(cluster.Keys.Select(k => db.StringGetAsync(k)));
        var lost = cluster.Keys.Where((k, i) => values[i] != "v-" + k).ToList();
        Assert.True(lost.Count == 0, $"seed {_seed}: {lost.Count} keys of {cluster.Name} lost or wrong, e.g. {string.Join(", ", lost.Take(5))}");
        return cluster.Keys.Count;
    }

    /// <summary>redis-cli's verdict on the cluster: every slot covered, no open slot, all nodes agree, one master per member.</summary>
    private async Task CheckAsync(Known cluster, List<Member> members)
    {
        var check = await ProcessRunner.RunAsync("redis-cli", ["--user", "root", "--pass", cluster.Password!, "--no-auth-warning", "--cluster", "check", $"{members[0].Address}:6379"], timeout: Timeouts.Cli);
        var what = $"seed {_seed}: redis-cli --cluster check of {cluster.Name}: {check}";
        Assert.True(check.ExitCode == 0, what);
        Assert.True(check.Stdout.Contains("[OK] All nodes agree about slots configuration.", StringComparison.Ordinal), what);
        Assert.True(check.Stdout.Contains("[OK] All 16384 slots covered.", StringComparison.Ordinal), what);
        Assert.False(check.Stdout.Contains("[WARNING]", StringComparison.Ordinal), what);
        Assert.True(check.Stdout.Contains($" in {members.Count} masters.", StringComparison.Ordinal), what);
    }

    private string CreateBody(string name, int size) =>
        $"{{\"cluster\": {{\"name\": \"{name}\", \"datastore\": {{\"type\": \"redis\", \"version\": \"{_version}\"}}, \"instances\": [{string.Join(", ", Enumerable.Repeat("{\"flavorRef\": \"1\"}", size))}]}}}}";

    private sealed record Member(string Id, string Status, string Address, string? Role, int Slots);

    private static List<Member> Members(JsonNode cluster) =>
        [.. cluster["instances"]!.AsArray().Select(m => new Member(
            m!["id"]!.GetValue<string>(),
            m["status"]?.GetValue<string>() ?? string.Empty,
            m["ip"]?[0]?.GetValue<string>() ?? string.Empty,
            m["role"]?.GetValue<string>(),
            m["slots"]?.GetValue<int>() ?? -1))];

    private static bool IsSettled(JsonNode c) =>
        c["task"]!["name"]!.GetValue<string>() == "NONE" && Members(c).All(m => m.Status == "ACTIVE" && m.Role is not null);

    private async Task<JsonNode> SettledAsync(string id) =>
        await SettledOrGoneAsync(id) ?? throw new Xunit.Sdk.XunitException($"seed {_seed}: cluster {id} is gone");

    /// <summary>The cluster once it has no task and every member is ACTIVE with a role; null once it is gone.</summary>
    private async Task<JsonNode?> SettledOrGoneAsync(string id)
    {
        var json = await Timeouts.EventuallyAsync(
            async () => await SendAsync(HttpMethod.Get, $"clusters/{id}") is var (status, body) && status == HttpStatusCode.NotFound ? "gone" : body!["cluster"]!.ToJsonString(),
            json => json == "gone" || IsSettled(JsonNode.Parse(json)!),
            Settle,
            $"seed {_seed}: cluster {id} to settle or be gone");
        return json == "gone" ? null : JsonNode.Parse(json);
    }

    /// <summary>Every item of a listing, following its next links.</summary>
    private async Task<List<JsonNode>> ListAsync(string path, string key)
    {
        var items = new List<JsonNode>();
        string? next = path;
        while (next is not null)
        {
            var page = (await SendAsync(HttpMethod.Get, next)).Body!;
            items.AddRange(page[key]!.AsArray().Select(i => i!));
            var href = page["links"]?.AsArray().FirstOrDefault(l => l!["rel"]?.GetValue<string>() == "next")?["href"]?.GetValue<string>();
            next = href is null ? null : href[(href.IndexOf($"/v1.0/{_project}/", StringComparison.Ordinal) + $"/v1.0/{_project}/".Length)..];
        }

        return items;
    }

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

    private async Task LoginAsync()
    {
        var (token, project) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        _project = project;
        _http?.Dispose();
        _http = new HttpClient { BaseAddress = new Uri(_server.BaseUrl), Timeout = Timeouts.Short };
        _http.DefaultRequestHeaders.Add("X-Auth-Token", token);
    }

    private async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, $"/v1.0/{_project}/{path}");
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request).Within(Timeouts.Short);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
    }
}
