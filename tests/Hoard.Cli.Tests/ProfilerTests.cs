using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Hoard.Testing;
using StackExchange.Redis;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// Profiling as an OpenStack operator does it: the stock `openstack --os-profile KEY` against a real hoard serve whose
/// trace backend is a real redis-server (given with --profiler-connection-string and --profiler-hmac-keys), read
/// back with the stock `osprofiler` CLI. Store calls are traced too ([profiler] trace_store from the environment).
/// </summary>
public sealed partial class ProfilerTests : IAsyncLifetime
{
    private const string Key = "profiling-key";
    private readonly RedisTestServer _redis = new();
    private HoardServer _server = null!;
    private string _connection = string.Empty;
    private int _database;

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        _database = await _redis.FreshDatabaseAsync();
        _connection = _redis.ConnectionString(_database).ToString();
        var settings = new Dictionary<string, string> { ["HOARD_PROFILER_TRACE_STORE"] = "true" };
        _server = await HoardServer.StartAsync(settings, ["--profiler-connection-string", _connection, "--profiler-hmac-keys", "another-key," + Key]);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [RequiresBinaryFact("openstack", "osprofiler", "redis-server")]
    public async Task A_profiled_create_is_one_tree_from_the_request_through_the_task_and_guest_to_redis_commands()
    {
        var env = _server.AdminEnvironment;
        var created = await OpenStackCli.RunAsync(env, "--os-profile", Key, "database", "instance", "create", "traced", "--flavor", "2", "--datastore", "redis", "-f", "json");
        Assert.True(created.ExitCode == 0, created.ToString());
        var traceId = TraceIdOf(created.Stderr);
        await Timeouts.EventuallyAsync(
            () => OpenStackCli.JsonAsync(env, "database", "instance", "show", "traced"),
            s => s["status"]!.GetValue<string>() is "ACTIVE" or "ERROR",
            Timeouts.Settle,
            "the traced instance to become ACTIVE");

        // The guest's points come back with its reply and are written in the background: wait for the deepest one.
        var trace = await Timeouts.EventuallyAsync(
            () => ShowAsync(traceId),
            t => t is not null && Find(t, n => Name(n) == "datastore").Any(),
            Timeouts.Settle,
            "the trace to hold the guest's Redis commands");

        var post = Assert.Single(Find(trace!, n => Name(n) == "wsgi" && Request(n, "method") == "POST" && Request(n, "path")!.EndsWith("/instances", StringComparison.Ordinal)));
        Assert.Equal("api", post["info"]!["service"]!.GetValue<string>());
        var task = Assert.Single(Children(post), n => Name(n) == "task");
        Assert.Equal("instance.create", StartInfo(task)["task"]!["kind"]!.GetValue<string>());
        var steps = Children(task).Where(n => Name(n) == "step").Select(n => StartInfo(n)["task"]!["steps"]!.GetValue<string>()).ToList();
        Assert.Contains("0", steps); // each recorded step of the create is a point of its own
        var prepare = Assert.Single(Children(task), n => Name(n) == "rpc" && StartInfo(n)["function"]!["name"]!.GetValue<string>() == "prepare");
        var guest = Assert.Single(Children(prepare), n => Name(n) == "guest");
        Assert.Equal("guestagent", guest["info"]!["service"]!.GetValue<string>());
        var commands = Children(guest).Where(n => Name(n) == "datastore").Select(n => StartInfo(n)["command"]!.GetValue<string>()).ToList();
        Assert.Contains("PING", commands);

        // trace_store: the task's own store calls are points of it, named by call.
        var storeCalls = Find(task, n => Name(n) == "db").Select(n => StartInfo(n)["function"]!["name"]!.GetValue<string>()).ToList();
        Assert.Contains("tasks.AdvanceAsync", storeCalls);

        // Every point of the trace hangs from the one tree: the request's parent is the client's own trace root.
        Assert.All(trace!["children"]!.AsArray(), n => Assert.Equal(traceId, n!["parent_id"]!.GetValue<string>()));
        Assert.Equal(1, (await ListAsync()).Count(id => id == traceId));

        // hoard trace show reads the same tree through the driver: every point in the same place with the same
        // timings, and the same stats.
        var ours = await HoardAsync("trace", "show", traceId, "--json", "--connection-string", _connection);
        Assert.True(ours.ExitCode == 0, ours.ToString());
        var hoardTree = JsonNode.Parse(ours.Stdout)!;
        Assert.Equal(Shape(trace!), Shape(hoardTree));
        Assert.True(JsonNode.DeepEquals(trace!["stats"], hoardTree["stats"]), $"{trace!["stats"]} vs {hoardTree["stats"]}");
        var text = await HoardAsync("trace", "show", traceId, "--connection-string", _connection);
        Assert.Contains("taskmanager:task", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("guestagent:guest", text.Stdout, StringComparison.Ordinal);
        var listed = await HoardAsync("trace", "list", "--connection-string", _connection);
        Assert.Contains(traceId, listed.Stdout, StringComparison.Ordinal);
        var missing = await HoardAsync("trace", "show", Guid.NewGuid().ToString(), "--connection-string", _connection);
        Assert.Equal(1, missing.ExitCode);

        // No secret in any trace point: not the HMAC key, not a password, not the trace backend's.
        var stored = string.Join('\n', await _redis.Admin.GetDatabase(_database).ListRangeAsync("osprofiler_opt:" + traceId).Within(Timeouts.Short));
        Assert.Contains("prepare", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, stored, StringComparison.Ordinal);
        Assert.DoesNotContain(_server.AdminPassword, stored, StringComparison.Ordinal);
        Assert.DoesNotContain(_redis.Password, stored, StringComparison.Ordinal);
        Assert.DoesNotContain("X-Auth-Token", stored, StringComparison.OrdinalIgnoreCase);
    }

    [RequiresBinaryFact("openstack", "osprofiler", "redis-server", "psql", "/usr/lib/postgresql/15/bin/postgres")]
    public async Task A_profiled_user_create_on_postgresql_traces_its_statements_but_never_the_password()
    {
        var env = _server.AdminEnvironment;
        await OpenStackCli.RunOkAsync(env, "database", "instance", "create", "pg", "--flavor", "2", "--datastore", "postgresql");
        await Timeouts.EventuallyAsync(
            () => OpenStackCli.JsonAsync(env, "database", "instance", "show", "pg"),
            s => s["status"]!.GetValue<string>() is "ACTIVE" or "ERROR",
            Timeouts.Settle,
            "pg to become ACTIVE");

        const string password = "Traced-pass-42";
        var created = await OpenStackCli.RunAsync(env, "--os-profile", Key, "database", "user", "create", "pg", "alice", password);
        Assert.True(created.ExitCode == 0, created.ToString());
        var traceId = TraceIdOf(created.Stderr);

        // A schema call goes to the guest while the request waits: rpc under the request itself, not under a task.
        var trace = await Timeouts.EventuallyAsync(
            () => ShowAsync(traceId),
            t => t is not null && Find(t, n => Name(n) == "datastore").Any(),
            Timeouts.Settle,
            "the trace to hold the guest's SQL");
        var post = Assert.Single(Find(trace!, n => Name(n) == "wsgi" && Request(n, "method") == "POST" && Request(n, "path")!.EndsWith("/users", StringComparison.Ordinal)));
        var rpc = Assert.Single(Children(post), n => Name(n) == "rpc" && StartInfo(n)["function"]!["name"]!.GetValue<string>() == "create_user");
        var statements = Find(rpc, n => Name(n) == "datastore").Select(n => StartInfo(n)["command"]!.GetValue<string>()).ToList();
        Assert.Contains("CREATE ROLE", statements);
        Assert.All(Find(rpc, n => Name(n) == "datastore"), n => Assert.Equal("postgresql", StartInfo(n)["datastore"]!.GetValue<string>()));

        var stored = string.Join('\n', await _redis.Admin.GetDatabase(_database).ListRangeAsync("osprofiler_opt:" + traceId).Within(Timeouts.Short));
        Assert.DoesNotContain(password, stored, StringComparison.Ordinal);
    }

    [RequiresBinaryFact("trove", "openstack", "osprofiler", "redis-server", "mariadb", "mariadbd")]
    public async Task A_mariadb_create_profiled_with_the_trove_client_keeps_its_trace_when_the_control_plane_dies_mid_task()
    {
        // The agent is frozen below; the supervisor must not replace it, and a dead owner's lease lapses quickly.
        await _server.RestartWithAsync(new Dictionary<string, string> { ["HOARD_DEFAULT_AGENT_RESTART_AFTER"] = "600", ["HOARD_DEFAULT_TASK_LEASE"] = "3" });
        var env = _server.AdminEnvironment;
        await OpenStackCli.RunOkAsync(env, "database", "instance", "create", "warm", "--flavor", "1", "--datastore", "redis");
        await Timeouts.EventuallyAsync(
            () => OpenStackCli.JsonAsync(env, "database", "instance", "show", "warm"),
            s => s["status"]!.GetValue<string>() is "ACTIVE" or "ERROR",
            Timeouts.Settle,
            "the first instance (which starts the pool's agent) to settle");

        // With the agent stopped, the create runs its first steps (address, provision) and then waits for the guest:
        // a crash there is a crash mid-task, every time.
        var agent = _server.AgentPid() ?? throw new InvalidOperationException("no agent runs");
        ProcessRunner.Kill(agent, 19); // SIGSTOP
        string traceId;
        try
        {
            var created = await ProcessRunner.RunAsync(
                Binaries.Require("trove"), ["--profile", Key, "create", "traced-maria", "1", "--datastore", "mariadb"], new Dictionary<string, string>(env) { ["PYTHONWARNINGS"] = "ignore" }, Timeouts.Cli);
            Assert.True(created.ExitCode == 0, created.ToString());
            traceId = TraceIdOf(created.Stdout + created.Stderr);

            var events = _redis.Admin.GetDatabase(_database);
            await Timeouts.EventuallyAsync(
                async () => (await events.ListRangeAsync("osprofiler_opt:" + traceId).Within(Timeouts.Short)).Select(e => JsonNode.Parse(e.ToString())!).ToList(),
                list => list.Any(e => e["name"]!.GetValue<string>() == "step-start" && e["info"]?["task"]?["steps"]?.GetValue<string>() == "1"),
                Timeouts.Settle,
                "the create's provision step to be stored");
            await _server.KillAsync();
        }
        finally
        {
            ProcessRunner.Kill(agent, 18); // SIGCONT
        }

        await _server.StartProcessAsync();
        await Timeouts.EventuallyAsync(
            () => OpenStackCli.JsonAsync(env, "database", "instance", "show", "traced-maria"),
            s => s["status"]!.GetValue<string>() is "ACTIVE" or "ERROR",
            Timeouts.Settle,
            "the resumed create to settle");
        Assert.Equal("ACTIVE", (await OpenStackCli.JsonAsync(env, "database", "instance", "show", "traced-maria"))["status"]!.GetValue<string>());

        // Read back with the stock osprofiler CLI: the run that took the task over hangs under the same request, from
        // the step it resumed at, down to MariaDB's statements; the first run's finished steps are in the same trace.
        var trace = await Timeouts.EventuallyAsync(
            () => ShowAsync(traceId),
            t => t is not null && Find(t, n => Name(n) == "datastore").Any(),
            Timeouts.Settle,
            "the resumed run's points to be stored");
        var post = Assert.Single(Find(trace!, n => Name(n) == "wsgi" && Request(n, "method") == "POST" && Request(n, "path")!.EndsWith("/instances", StringComparison.Ordinal)));
        var resumed = Assert.Single(Children(post), n => Name(n) == "task");
        Assert.Equal("instance.create", StartInfo(resumed)["task"]!["kind"]!.GetValue<string>());
        Assert.Equal("2", StartInfo(resumed)["task"]!["step"]!.ToString());
        var prepare = Assert.Single(Children(resumed), n => Name(n) == "rpc" && StartInfo(n)["function"]!["name"]!.GetValue<string>() == "prepare");
        var statements = Find(prepare, n => Name(n) == "datastore").ToList();
        Assert.NotEmpty(statements);
        Assert.All(statements, n => Assert.Equal("mariadb", StartInfo(n)["datastore"]!.GetValue<string>()));
        var steps = Find(trace!, n => Name(n) == "step").Select(n => StartInfo(n)["task"]!["steps"]!.GetValue<string>()).ToList();
        Assert.Contains("0", steps);
        Assert.Contains("1", steps);

        var ours = await HoardAsync("trace", "show", traceId, "--json", "--connection-string", _connection);
        Assert.True(ours.ExitCode == 0, ours.ToString());
        Assert.Equal(Shape(trace!), Shape(JsonNode.Parse(ours.Stdout)!));
    }

    [RequiresBinaryFact("openstack", "osprofiler", "redis-server")]
    public async Task A_request_signed_with_another_key_is_served_but_leaves_no_trace()
    {
        var env = _server.AdminEnvironment;
        var forged = await OpenStackCli.RunAsync(env, "--os-profile", "not-a-configured-key", "database", "flavor", "list");
        Assert.True(forged.ExitCode == 0, forged.ToString());
        var forgedId = TraceIdOf(forged.Stderr);

        // Points are written in order by one writer: once a later, rightly signed request's trace is stored, the
        // forged one would have been too.
        var signed = await OpenStackCli.RunAsync(env, "--os-profile", Key, "database", "flavor", "list");
        Assert.True(signed.ExitCode == 0, signed.ToString());
        var signedId = TraceIdOf(signed.Stderr);
        await Timeouts.EventuallyAsync(() => ListAsync(), ids => ids.Contains(signedId), Timeouts.Settle, "the signed request's trace");

        Assert.DoesNotContain(forgedId, await ListAsync());
        Assert.False(await _redis.Admin.GetDatabase(_database).KeyExistsAsync("osprofiler_opt:" + forgedId).Within(Timeouts.Short));
    }

    [RequiresBinaryFact("redis-server")]
    public async Task Only_a_rightly_signed_request_is_answered_with_its_trace_id()
    {
        using var http = new HttpClient { BaseAddress = new Uri(_server.BaseUrl), Timeout = Timeouts.Cli };
        var baseId = Guid.NewGuid().ToString();
        foreach (var (key, traced) in new[] { (Key, true), ("wrong-key", false) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            var (info, hmac) = Sign(baseId, key);
            request.Headers.Add("X-Trace-Info", info);
            request.Headers.Add("X-Trace-HMAC", hmac);
            using var response = await http.SendAsync(request).Within(Timeouts.Cli);
            Assert.True(response.IsSuccessStatusCode, $"{response.StatusCode}");
            Assert.Equal(traced ? [baseId] : null, response.Headers.TryGetValues("X-Trace-ID", out var v) ? v.ToArray() : null);
        }

        // A malformed header is no error either.
        using var malformed = new HttpRequestMessage(HttpMethod.Get, "/");
        malformed.Headers.Add("X-Trace-Info", "%%%");
        malformed.Headers.Add("X-Trace-HMAC", "00");
        using var answer = await http.SendAsync(malformed).Within(Timeouts.Cli);
        Assert.True(answer.IsSuccessStatusCode, $"{answer.StatusCode}");
        Assert.False(answer.Headers.Contains("X-Trace-ID"));
    }

    /// <summary>OSProfiler's signing, written out here independently of Hoard's: base64url of the JSON, HMAC-SHA1 hex of that.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5350", Justification = "OSProfiler's header format is HMAC-SHA1.")]
    internal static (string Info, string Hmac) Sign(string baseId, string key)
    {
        var info = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{{\"base_id\": \"{baseId}\", \"parent_id\": \"{baseId}\"}}")).Replace('+', '-').Replace('/', '_');
        return (info, Convert.ToHexStringLower(HMACSHA1.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(info))));
    }

    private static string TraceIdOf(string stderr) =>
        TraceIdLine().Match(stderr) is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException("openstack printed no Trace ID: " + stderr);

    private async Task<JsonNode?> ShowAsync(string traceId)
    {
        var shown = await ProcessRunner.RunAsync(Binaries.Require("osprofiler"), ["trace", "show", "--json", traceId, "--connection-string", _connection], timeout: Timeouts.Cli);
        return shown.ExitCode == 0 && shown.Stdout.TrimStart().StartsWith('{') ? JsonNode.Parse(shown.Stdout) : null;
    }

    private async Task<List<string>> ListAsync()
    {
        var listed = await ProcessRunner.RunAsync(Binaries.Require("osprofiler"), ["trace", "list", "--connection-string", _connection], timeout: Timeouts.Cli);
        Assert.True(listed.ExitCode == 0, listed.ToString());
        return [.. UuidCell().Matches(listed.Stdout).Select(m => m.Groups[1].Value)];
    }

    private static Task<ProcessResult> HoardAsync(params string[] args) => ProcessRunner.RunAsync(HoardServer.Executable, args, timeout: Timeouts.Cli);

    /// <summary>Each point as "depth name trace_id parent_id started finished exception", in tree order.</summary>
    private static List<string> Shape(JsonNode root)
    {
        var lines = new List<string>();
        void Walk(JsonNode n, int depth)
        {
            foreach (var c in Children(n))
            {
                var i = c["info"]!;
                lines.Add($"{depth} {Name(c)} {c["trace_id"]} {c["parent_id"]} {i["started"]} {i["finished"]} {i["exception"]}");
                Walk(c, depth + 1);
            }
        }

        Walk(root, 0);
        return lines;
    }

    private static IEnumerable<JsonNode> Children(JsonNode node) => node["children"]!.AsArray().Select(c => c!);

    private static IEnumerable<JsonNode> Find(JsonNode node, Func<JsonNode, bool> match) =>
        Children(node).SelectMany(c => (match(c) ? [c] : Array.Empty<JsonNode>()).Concat(Find(c, match)));

    private static string Name(JsonNode node) => node["info"]!["name"]!.GetValue<string>();

    private static JsonNode StartInfo(JsonNode node) => node["info"]![$"meta.raw_payload.{Name(node)}-start"]!["info"]!;

    private static string? Request(JsonNode node, string field) => StartInfo(node)["request"]?[field]?.GetValue<string>();

    [GeneratedRegex(@"Trace ID: ([0-9a-f-]{36})")]
    private static partial Regex TraceIdLine();

    [GeneratedRegex(@"\|\s*([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\s*\|")]
    private static partial Regex UuidCell();
}
