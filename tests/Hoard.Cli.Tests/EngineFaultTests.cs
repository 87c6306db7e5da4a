using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Hoard.Cli.Tests;

/// <summary>
/// SIGKILL of a PostgreSQL or MariaDB server, and of the guest agent in the middle of a create and of a backup,
/// against a real hoard serve: the crash shows in the API, the server comes back by itself with the rows written
/// before the kill, a task the agent was running finishes or fails saying why once a new agent is up, and every
/// instance ends with exactly one server process. (Redis is covered by ResilienceTests.)
/// </summary>
public sealed class EngineFaultTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Suite = "engine faults";
    private const string User = "app";
    private const string Password = "App-pass-1";
    private const string Database = "appdb";
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(120);

    private HoardServer _server = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        // A frozen or dead agent is replaced after 2 s, as an operator would tune it for a test.
        _server = await HoardServer.StartAsync(new Dictionary<string, string> { ["HOARD_DEFAULT_AGENT_RESTART_AFTER"] = "2" });
        var (token, project) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        _http = new HttpClient { BaseAddress = new Uri($"{_server.BaseUrl}/v1.0/{project}/"), Timeout = Timeouts.Short };
        _http.DefaultRequestHeaders.Add("X-Auth-Token", token);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    [RequiresBinaryFact("psql", "/usr/lib/postgresql/15/bin/postgres")]
    public Task A_killed_PostgreSql_server_and_a_killed_agent_are_detected_reported_and_recovered() => FaultsAsync("postgresql", 5432);

    [RequiresBinaryFact("mariadb", "mariadbd", "mariadb-backup", "mbstream")]
    public Task A_killed_MariaDb_server_and_a_killed_agent_are_detected_reported_and_recovered() => FaultsAsync("mariadb", 3306);

    private async Task FaultsAsync(string datastore, int port)
    {
        var seed = CrashSeed.Pick();
        var random = new Random(seed);
        output.WriteLine($"{datastore}: seed {seed} (HOARD_CRASH_SEED={seed} repeats it)");
        Figures.Record(Suite, $"{datastore} seed", seed);
        var first = await CreateAsync("first", datastore);
        var (_, address) = await SettleAsync(first, "ACTIVE", seed);
        await SqlAsync(datastore, address, port, "CREATE TABLE kept (id INT PRIMARY KEY)", seed);
        await SqlAsync(datastore, address, port, "INSERT INTO kept VALUES " + string.Join(", ", Enumerable.Range(1, 100).Select(i => $"({i})")), seed);

        // 1. SIGKILL of the database server: the API shows it down, then ACTIVE again by itself, the rows kept.
        var server = Assert.Single(ServerPids(datastore, first));
        var clock = Stopwatch.StartNew();
        ProcessRunner.Kill(server);
        var seen = new List<string>();
        double? detected = null;
        var deadline = DateTime.UtcNow + Settle;
        while (DateTime.UtcNow < deadline)
        {
            var shown = await ShowAsync(first);
            var state = $"{shown?["status"]}/{shown?["operating_status"]}";
            if (seen.Count == 0 || seen[^1] != state)
            {
                seen.Add(state);
            }

            if (detected is null && shown?["status"]?.GetValue<string>() != "ACTIVE")
            {
                detected = clock.Elapsed.TotalSeconds;
            }

            if (detected is not null && shown?["status"]?.GetValue<string>() == "ACTIVE")
            {
                break;
            }

            await Task.Delay(15);
        }

        var recovered = clock.Elapsed.TotalSeconds;
        output.WriteLine($"{datastore} server SIGKILL: states {string.Join(" -> ", seen)}; detected after {detected:0.00} s, ACTIVE again after {recovered:0.00} s");
        Assert.True(detected is not null, $"seed {seed}: the SIGKILL of the {datastore} server never showed in the API (states seen: {string.Join(" -> ", seen)})");
        Assert.Contains("SHUTDOWN/SHUTDOWN", seen);
        Assert.Equal("ACTIVE/HEALTHY", seen[^1]);
        Assert.Equal("100", await SqlAsync(datastore, address, port, "SELECT count(*) FROM kept", seed));
        Assert.NotEqual(server, Assert.Single(ServerPids(datastore, first)));
        Figures.Record(Suite, $"{datastore} server kill: seconds to show it in the API", Math.Round(detected!.Value, 2));
        Figures.Record(Suite, $"{datastore} server kill: seconds to ACTIVE again", Math.Round(recovered, 2));
        Figures.Record(Suite, $"{datastore} server kills", 1);

        // 2. The agent frozen (SIGSTOP) as a create is accepted, so its task waits on the agent, then SIGKILLed: the
        //    create finishes through a new agent, or fails saying why; it never stays BUILD.
        var agentKills = 0;
        var agent = _server.AgentPid() ?? throw new InvalidOperationException("no agent runs");
        ProcessRunner.Kill(agent, 19);
        var second = await CreateAsync("second", datastore);
        await Task.Delay(random.Next(100, 1500));
        Assert.Equal("BUILD", (await ShowAsync(second))!["status"]!.GetValue<string>());
        ProcessRunner.Kill(agent);
        agentKills++;
        clock.Restart();
        var (status, secondAddress) = await SettleAsync(second, null, seed);
        Figures.Record(Suite, $"{datastore} agent kill mid-create: seconds to settle", Math.Round(clock.Elapsed.TotalSeconds, 2));
        output.WriteLine($"{datastore} create with its agent killed: {status} after {clock.Elapsed.TotalSeconds:0.0} s");
        if (status == "ERROR")
        {
            var fault = (await ShowAsync(second))!["fault"]?["message"]?.GetValue<string>();
            Assert.False(string.IsNullOrWhiteSpace(fault), $"seed {seed}: {second} is ERROR with no fault saying why");
        }
        else
        {
            Assert.Equal(1, await SelectOneAsync(datastore, secondAddress, port, seed));
        }

        // 2b. The agent SIGKILLed, unfrozen, at a random moment of a create (mostly while the engine initializes or
        //     starts): the same, and the server the dead agent was starting is not started twice.
        var killedCreates = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            agent = await NewAgentAsync(agent);
            killedCreates.Add(await CreateAsync($"killed{i}", datastore));
            await Task.Delay(random.Next(0, 1200));
            ProcessRunner.Kill(agent);
            agentKills++;
        }

        clock.Restart();
        foreach (var id in killedCreates)
        {
            var (settled, settledAddress) = await SettleAsync(id, null, seed);
            var fault = settled == "ERROR" ? (await ShowAsync(id))!["fault"]?["message"]?.GetValue<string>() : null;
            output.WriteLine($"{datastore} create {id} with its agent killed unfrozen: {settled}{(fault is null ? string.Empty : $" ({fault})")}");
            if (fault is not null)
            {
                // The fault a user sees is short; the control plane's log says what failed.
                foreach (var line in _server.ReadLog().Split('\n').Where(l => l.Contains(id, StringComparison.Ordinal)).TakeLast(8))
                {
                    output.WriteLine("  serve: " + line);
                }

                foreach (var line in _server.ReadAgentLog().Split('\n').Where(l => l.Contains(id, StringComparison.Ordinal)).TakeLast(30))
                {
                    output.WriteLine("  agent: " + line);
                }
            }
            if (settled == "ERROR")
            {
                Assert.False(string.IsNullOrWhiteSpace(fault), $"seed {seed}: {id} is ERROR with no fault saying why");
            }
            else
            {
                Assert.Equal(1, await SelectOneAsync(datastore, settledAddress, port, seed));
            }
        }

        Figures.Record(Suite, $"{datastore} agent kills mid-create unfrozen: seconds to settle both", Math.Round(clock.Elapsed.TotalSeconds, 2));

        // 3. The agent SIGKILLed while a backup runs: the backup completes or fails with a reason, the instance is
        //    ACTIVE again with its rows, and never has a second server.
        agent = await NewAgentAsync(agent);
        ProcessRunner.Kill(agent, 19);
        var backup = (await SendAsync(HttpMethod.Post, "backups", new JsonObject { ["backup"] = new JsonObject { ["name"] = "b", ["instance"] = first } })).Body!["backup"]!["id"]!.GetValue<string>();
        await Task.Delay(random.Next(100, 1500));
        Assert.Equal("BACKUP", (await ShowAsync(first))!["status"]!.GetValue<string>());
        ProcessRunner.Kill(agent);
        agentKills++;
        clock.Restart();
        var done = await Timeouts.EventuallyAsync(
            async () => (await SendAsync(HttpMethod.Get, $"backups/{backup}")).Body!["backup"]!.AsObject(),
            b => b["status"]!.GetValue<string>() is "COMPLETED" or "FAILED",
            Settle,
            $"seed {seed}: the backup whose agent was killed to finish");
        Figures.Record(Suite, $"{datastore} agent kill mid-backup: seconds to settle", Math.Round(clock.Elapsed.TotalSeconds, 2));
        output.WriteLine($"{datastore} backup with its agent killed: {done.ToJsonString()}");
        if (done["status"]!.GetValue<string>() == "FAILED")
        {
            Assert.False(string.IsNullOrWhiteSpace(done["fail_reason"]?.GetValue<string>()), $"seed {seed}: a FAILED backup with no reason: {done.ToJsonString()}");
        }

        Assert.Equal("ACTIVE", (await SettleAsync(first, "ACTIVE", seed)).Status);
        Assert.Equal("100", await SqlAsync(datastore, address, port, "SELECT count(*) FROM kept", seed));
        Figures.Record(Suite, $"{datastore} agent kills", agentKills);

        // One server per instance, none for an instance that is not ACTIVE, no directory the API does not know.
        await NewAgentAsync(agent);
        await Task.Delay(TimeSpan.FromSeconds(1)); // a server the killed agent was launching has daemonized by now
        foreach (var id in killedCreates.Prepend(second).Prepend(first))
        {
            var shown = (await ShowAsync(id))!["status"]!.GetValue<string>();
            Assert.True(ServerPids(datastore, id).Count == (shown == "ACTIVE" ? 1 : 0), $"seed {seed}: {id} is {shown} with {ServerPids(datastore, id).Count} server processes");
        }

        var directories = Directory.GetDirectories(Path.Combine(_server.PoolDir, "instances")).Select(Path.GetFileName).Where(d => !d!.StartsWith('.')).Order().ToList();
        var known = (await SendAsync(HttpMethod.Get, "instances")).Body!["instances"]!.AsArray().Select(i => i!["id"]!.GetValue<string>());
        Assert.Empty(directories.Except(known));
    }

    /// <summary>The engine's server process for an instance (the postmaster, or mariadbd), by its data or option path.</summary>
    private IReadOnlyList<int> ServerPids(string datastore, string instance)
    {
        var directory = Path.Combine(_server.PoolDir, "instances", instance);
        var program = datastore == "postgresql" ? "/postgres" : "/mariadbd";

        // By the program itself, not a setsid or setpriv still on its way to exec it.
        return [.. ProcessRunner.FindProcesses(program, directory).Where(pid => ProgramOf(pid).EndsWith(program, StringComparison.Ordinal))];
    }

    private static string ProgramOf(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0')[0];
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    private async Task<int> NewAgentAsync(int old) =>
        await Timeouts.EventuallyAsync(() => Task.FromResult(_server.AgentPid()), p => p is not null && p != old, Settle, "a new agent") ?? 0;

    private async Task<string> CreateAsync(string name, string datastore)
    {
        var instance = new JsonObject
        {
            ["name"] = name,
            ["flavorRef"] = "1",
            ["datastore"] = new JsonObject { ["type"] = datastore },
            ["databases"] = new JsonArray(new JsonObject { ["name"] = Database }),
            ["users"] = new JsonArray(new JsonObject { ["name"] = User, ["password"] = Password, ["databases"] = new JsonArray(new JsonObject { ["name"] = Database }) }),
        };
        var created = await SendAsync(HttpMethod.Post, "instances", new JsonObject { ["instance"] = instance });
        Assert.True(created.Status == HttpStatusCode.OK, created.Body?.ToJsonString());
        return created.Body!["instance"]!["id"]!.GetValue<string>();
    }

    private async Task<JsonObject?> ShowAsync(string id)
    {
        var shown = await SendAsync(HttpMethod.Get, $"instances/{id}");
        return shown.Body?["instance"]?.AsObject();
    }

    /// <summary>Waits until the instance is ACTIVE or ERROR (and, when given, asserts which).</summary>
    private async Task<(string Status, string Address)> SettleAsync(string id, string? expect, int seed)
    {
        var shown = await Timeouts.EventuallyAsync(() => ShowAsync(id), s => s?["status"]?.GetValue<string>() is "ACTIVE" or "ERROR", Settle, $"seed {seed}: {id} to settle");
        var status = shown!["status"]!.GetValue<string>();
        Assert.True(expect is null || status == expect, $"seed {seed}: {shown.ToJsonString()}");
        return (status, shown["ip"]?[0]?.GetValue<string>() ?? string.Empty);
    }

    private static async Task<int> SelectOneAsync(string datastore, string address, int port, int seed) =>
        int.Parse(await SqlAsync(datastore, address, port, "SELECT 1", seed), CultureInfo.InvariantCulture);

    private static async Task<string> SqlAsync(string datastore, string address, int port, string sql, int seed)
    {
        var result = await EngineClients.RunAsync(datastore, address, port, User, Password, Database, sql);
        Assert.True(result.ExitCode == 0, $"seed {seed}: {sql}: {result}");
        return result.Stdout.Trim();
    }

    private async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpMethod method, string path, JsonObject? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request).Within(Timeouts.Short);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
    }
}

/// <summary>The seed of a randomized crash test: HOARD_CRASH_SEED when set (to repeat a run), else a fresh one.</summary>
internal static class CrashSeed
{
    public static int Pick() =>
        int.TryParse(Environment.GetEnvironmentVariable("HOARD_CRASH_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed)
            ? seed
            : Random.Shared.Next(1, int.MaxValue);
}
