using System.Net;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// Database logs through the stock `openstack database log` commands, per engine: the server log (SYS) and the
/// slow-query log (USER) are listed, the slow-query log is enabled and catches a slow statement, publishing puts
/// its lines into the object store, `log tail` and `log save` read them back through the stock swiftclient, a second
/// publish adds only what is new, discard removes it, and bad names and other projects are refused.
/// </summary>
public sealed class LogStockClientTests : IAsyncLifetime
{
    private HoardServer _server = null!;

    public async Task InitializeAsync() => _server = await HoardServer.StartAsync(new Dictionary<string, string>
    {
        // 100 ms, so the slow statements of the test are short.
        ["HOARD_POSTGRESQL_GUEST_LOG_LONG_QUERY_TIME"] = "100",
        ["HOARD_MARIADB_GUEST_LOG_LONG_QUERY_TIME"] = "100",

        // Small parts, so a published server log spans several and save has to join them.
        ["HOARD_DEFAULT_GUEST_LOG_LIMIT"] = "1024",
    });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private IReadOnlyDictionary<string, string> Env => _server.AdminEnvironment;

    [RequiresBinaryFact("openstack", "redis-cli", "redis-server")]
    public Task Redis_logs_through_the_stock_client() => RunAsync("redis", otherProject: true);

    [RequiresBinaryFact("openstack", "psql", "/usr/lib/postgresql/15/bin/postgres")]
    public Task PostgreSql_logs_through_the_stock_client() => RunAsync("postgresql", otherProject: false);

    [RequiresBinaryFact("openstack", "mariadb", "mariadbd")]
    public Task MariaDb_logs_through_the_stock_client() => RunAsync("mariadb", otherProject: false);

    [Fact]
    public async Task Bad_log_requests_are_refused_naming_what_is_wrong()
    {
        var (token, project) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        using var http = new HttpClient { BaseAddress = new Uri(_server.BaseUrl), Timeout = Timeouts.Short };
        http.DefaultRequestHeaders.Add("X-Auth-Token", token);
        var missing = Guid.NewGuid().ToString();
        async Task<(HttpStatusCode Status, string Body)> PostAsync(string body)
        {
            using var response = await http.PostAsync($"/v1.0/{project}/instances/{missing}/log", new StringContent(body, System.Text.Encoding.UTF8, "application/json")).Within(Timeouts.Short);
            return (response.StatusCode, await response.Content.ReadAsStringAsync().Within(Timeouts.Short));
        }

        foreach (var (body, expected) in new[]
        {
            ("{}", "'name' is a required property"),
            ("{\"name\": \"server\", \"publish\": 2}", "publish 2 is not 0 or 1"),
            ("{\"name\": \"server\", \"tail\": 1}", "'tail' was unexpected"),
            ("{\"name\": \"slow_query\", \"enable\": 1, \"disable\": 1}", "Cannot enable and disable log 'slow_query'."),
            ("not json", "Malformed request body"),
        })
        {
            var (status, text) = await PostAsync(body);
            var message = (JsonNode.Parse(text)?["badRequest"]?["message"])?.GetValue<string>() ?? string.Empty;
            Assert.True(status == HttpStatusCode.BadRequest && message.Contains(expected, StringComparison.Ordinal), $"{body}: {(int)status} {text}");
        }

        var (notFound, notFoundText) = await PostAsync("{\"name\": \"server\"}");
        Assert.True(notFound == HttpStatusCode.NotFound && notFoundText.Contains("itemNotFound", StringComparison.Ordinal), notFoundText);

        // The Swift subset: a missing container is Swift's 404, writes are not the client's to make, other accounts are 403.
        using var container = await http.GetAsync($"/swift/v1/AUTH_{project}/database_logs?format=json").Within(Timeouts.Short);
        Assert.Equal(HttpStatusCode.NotFound, container.StatusCode);
        using var put = await http.PutAsync($"/swift/v1/AUTH_{project}/database_logs/x", new StringContent("x")).Within(Timeouts.Short);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, put.StatusCode);
        using var other = await http.GetAsync($"/swift/v1/AUTH_{Guid.NewGuid():N}/database_logs?format=json").Within(Timeouts.Short);
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        using var account = await http.GetAsync($"/swift/v1/AUTH_{project}?format=json").Within(Timeouts.Short);
        Assert.Equal("[]", (await account.Content.ReadAsStringAsync().Within(Timeouts.Short)).Trim());
    }

    private async Task RunAsync(string ds, bool otherProject)
    {
        string[] users = ds == "redis" ? [] : ["--databases", "appdb", "--users", "app:App-pass-1"];
        var created = await OpenStackCli.JsonAsync(Env, ["database", "instance", "create", "db", "--flavor", "1", "--datastore", ds, .. users]);
        var id = created["id"]!.GetValue<string>();
        var shown = await Timeouts.EventuallyAsync(
            () => OpenStackCli.JsonAsync(Env, "database", "instance", "show", id),
            s => s["status"]!.GetValue<string>() is "ACTIVE" or "ERROR",
            Timeouts.Settle,
            "db to become ACTIVE");
        Assert.True(shown["status"]!.GetValue<string>() == "ACTIVE", shown.ToJsonString());
        var address = shown["addresses"]!.AsArray()[0]!["address"]!.GetValue<string>();
        var password = ds == "redis" ? (await OpenStackCli.JsonAsync(Env, "database", "root", "enable", id))["password"]!.GetValue<string>() : "App-pass-1";
        var instanceDir = Directory.GetDirectories(_server.PoolDir, id, SearchOption.AllDirectories).Single();

        // Both logs, with Trove's types; the server log has lines nobody published yet, the slow-query log is off.
        var logs = (await OpenStackCli.JsonAsync(Env, "database", "log", "list", id)).AsArray();
        var server = logs.Single(l => l!["Name"]!.GetValue<string>() == "server")!;
        var slow = logs.Single(l => l!["Name"]!.GetValue<string>() == "slow_query")!;
        Assert.Equal(("SYS", "Ready"), (server["Type"]!.GetValue<string>(), server["Status"]!.GetValue<string>()));
        Assert.True(server["Pending"]!.GetValue<long>() > 0, server.ToJsonString());
        Assert.Equal(("USER", "Disabled"), (slow["Type"]!.GetValue<string>(), slow["Status"]!.GetValue<string>()));

        // Bad requests: an unknown log, and switching a SYS log.
        var unknown = await OpenStackCli.RunAsync(Env, "database", "log", "show", id, "no_such_log");
        Assert.True(unknown.ExitCode != 0 && unknown.Stderr.Contains("Log 'no_such_log' is not defined", StringComparison.Ordinal) && unknown.Stderr.Contains("(HTTP 404)", StringComparison.Ordinal), unknown.ToString());
        var sys = await OpenStackCli.RunAsync(Env, "database", "log", "set", id, "server", "--disable");
        Assert.True(sys.ExitCode != 0 && sys.Stderr.Contains("Cannot disable a SYSTEM log ('server')", StringComparison.Ordinal) && sys.Stderr.Contains("(HTTP 400)", StringComparison.Ordinal), sys.ToString());

        var enabled = await OpenStackCli.JsonAsync(Env, "database", "log", "set", id, "slow_query", "--enable");
        // Ready when the engine wrote a header into the new file at once (MariaDB does), else Enabled.
        Assert.Contains(enabled["status"]!.GetValue<string>(), new[] { "Enabled", "Ready" });

        await SlowStatementAsync(ds, address, password, "first");
        var published = await OpenStackCli.JsonAsync(Env, "database", "log", "set", id, "slow_query", "--publish");
        Assert.Equal("Published", published["status"]!.GetValue<string>());
        Assert.Equal("database_logs", published["container"]!.GetValue<string>());
        var prefix = $"{id}/{ds}-slow_query/";
        Assert.Equal(prefix, published["prefix"]!.GetValue<string>());
        Assert.Equal(0, published["pending"]!.GetValue<long>());
        var firstSize = published["published"]!.GetValue<long>();
        Assert.True(firstSize > 0, published.ToJsonString());

        // tail goes to the object store through swiftclient, with the same credentials.
        var tail = await OpenStackCli.RunAsync(Env, "database", "log", "tail", id, "slow_query", "--lines", "1");
        var tailLines = tail.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(tail.ExitCode == 0 && tailLines.Length == 1 && tailLines[0].Contains("first", StringComparison.Ordinal), tail.ToString());

        if (ds == "redis")
        {
            // hoard's own verbs read the same logs and parts.
            var hoardEnv = new Dictionary<string, string>(Env) { ["COLUMNS"] = "250" };
            var hoardList = await ProcessRunner.RunAsync(HoardServer.Executable, ["log", "list", "db"], hoardEnv, Timeouts.Cli);
            Assert.True(hoardList.ExitCode == 0 && hoardList.Stdout.Contains("slow_query", StringComparison.Ordinal) && hoardList.Stdout.Contains("Published", StringComparison.Ordinal), hoardList.ToString());
            var hoardTail = await ProcessRunner.RunAsync(HoardServer.Executable, ["log", "tail", "db", "slow_query", "--lines", "1"], hoardEnv, Timeouts.Cli);
            Assert.True(hoardTail.ExitCode == 0 && hoardTail.Stdout.Trim() == tailLines[0].Trim(), hoardTail.ToString());
            var hoardUnknown = await ProcessRunner.RunAsync(HoardServer.Executable, ["log", "show", "db", "no_such_log"], hoardEnv, Timeouts.Cli);
            Assert.True(hoardUnknown.ExitCode != 0 && hoardUnknown.Stderr.Contains("Log 'no_such_log' is not defined", StringComparison.Ordinal), hoardUnknown.ToString());
        }

        // A second publish adds a part with only the new lines.
        await SlowStatementAsync(ds, address, password, "second");
        var again = await OpenStackCli.JsonAsync(Env, "database", "log", "set", id, "slow_query", "--publish");
        Assert.True(again["published"]!.GetValue<long>() > firstSize, again.ToJsonString());
        var (token, projectId) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        var parts = await SwiftListAsync(token, projectId, prefix);
        Assert.Equal(2, parts.Count);
        Assert.Equal(firstSize, parts[0]!["bytes"]!.GetValue<long>());

        var saved = Path.Combine(_server.DataDir, $"{ds}-slow.log");
        var save = await OpenStackCli.RunAsync(Env, "database", "log", "save", id, "slow_query", "--file", saved);
        Assert.True(save.ExitCode == 0, save.ToString());
        var text = await File.ReadAllTextAsync(saved);
        Assert.Equal(again["published"]!.GetValue<long>(), new FileInfo(saved).Length);
        Assert.Equal(1, Count(text, "first"));
        Assert.Equal(1, Count(text, "second"));
        Assert.True(text.IndexOf("first", StringComparison.Ordinal) < text.IndexOf("second", StringComparison.Ordinal), text);

        // The server log, published whole, saves back byte for byte as the guest wrote it.
        var serverPublished = await OpenStackCli.JsonAsync(Env, "database", "log", "set", id, "server", "--publish");
        var serverSize = serverPublished["published"]!.GetValue<long>();
        var serverParts = await SwiftListAsync(token, projectId, $"{id}/{ds}-server/");
        Assert.True(serverParts.Count >= (serverSize + 1023) / 1024 && serverParts.All(p => p!["bytes"]!.GetValue<long>() <= 1024), $"{serverSize} bytes in parts of at most guest_log_limit: {serverParts.ToJsonString()}");
        var serverSaved = Path.Combine(_server.DataDir, $"{ds}-server.log");
        await OpenStackCli.RunOkAsync(Env, "database", "log", "save", id, "server", "--file", serverSaved);
        var guestFile = await File.ReadAllBytesAsync(Path.Combine(instanceDir, ds switch { "redis" => "redis.log", "postgresql" => "postgresql.log", _ => "mariadb.log" }));
        Assert.Equal(guestFile.AsSpan(0, (int)serverSize).ToArray(), await File.ReadAllBytesAsync(serverSaved));

        if (ds == "redis")
        {
            // A rotated log (truncated and started afresh, as logrotate's copytruncate leaves it): its old parts go,
            // and the new content is published from its start.
            var serverFile = Path.Combine(instanceDir, "redis.log");
            await File.WriteAllTextAsync(serverFile, "rotated: a fresh log\n");
            var afterRotation = await OpenStackCli.JsonAsync(Env, "database", "log", "set", id, "server", "--publish");
            var rotatedSize = new FileInfo(serverFile).Length;
            Assert.Equal(("Published", rotatedSize), (afterRotation["status"]!.GetValue<string>(), afterRotation["published"]!.GetValue<long>()));
            var rotatedParts = await SwiftListAsync(token, projectId, $"{id}/{ds}-server/");
            Assert.Equal(rotatedSize, rotatedParts.Sum(p => p!["bytes"]!.GetValue<long>()));
        }
        else
        {
            // The switch survives a restart of the server (Redis' is a file of the agent's own).
            await OpenStackCli.RunOkAsync(Env, "database", "instance", "restart", id);
            await Timeouts.EventuallyAsync(
                () => OpenStackCli.JsonAsync(Env, "database", "instance", "show", id),
                s => s["status"]!.GetValue<string>() is "ACTIVE" or "ERROR",
                Timeouts.Settle,
                "db to be ACTIVE again after the restart");
            var afterRestart = await OpenStackCli.JsonAsync(Env, "database", "log", "show", id, "slow_query");
            Assert.NotEqual("Disabled", afterRestart["status"]!.GetValue<string>());
        }

        // Discard removes the parts and the metafile; tail then finds nothing.
        var discarded = await OpenStackCli.JsonAsync(Env, "database", "log", "set", id, "slow_query", "--discard");
        Assert.Equal((0L, "None"), (discarded["published"]!.GetValue<long>(), discarded["container"]!.GetValue<string>()));
        Assert.Empty(await SwiftListAsync(token, projectId, prefix));
        var none = await OpenStackCli.RunAsync(Env, "database", "log", "tail", id, "slow_query");
        Assert.Contains("No published 'slow_query' log was found", none.Stdout, StringComparison.Ordinal);

        // Disabled, a slow statement no longer reaches the slow-query log.
        var disabled = await OpenStackCli.JsonAsync(Env, "database", "log", "set", id, "slow_query", "--disable");
        Assert.Equal("Disabled", disabled["status"]!.GetValue<string>());
        await SlowStatementAsync(ds, address, password, "third");
        await OpenStackCli.RunOkAsync(Env, "database", "log", "list", id);
        var slowFile = Directory.GetFiles(instanceDir, ds == "redis" ? "slowlog.log" : "slow_query.log", SearchOption.AllDirectories).Single();
        Assert.DoesNotContain("third", await File.ReadAllTextAsync(slowFile), StringComparison.Ordinal);

        if (otherProject)
        {
            await OtherProjectIsRefusedAsync(id, projectId, prefix, token);
        }

        var logText = _server.ReadLog() + _server.ReadAgentLog();
        Assert.DoesNotContain(password, logText, StringComparison.Ordinal);
    }

    /// <summary>Another project's user sees neither the instance's logs (404) nor the admin project's objects (Swift's 403).</summary>
    private async Task OtherProjectIsRefusedAsync(string id, string adminProjectId, string prefix, string adminToken)
    {
        await OpenStackCli.JsonAsync(Env, "project", "create", "tenant2");
        await OpenStackCli.JsonAsync(Env, "user", "create", "--project", "tenant2", "--password", "pw-alice-1", "alice");
        await OpenStackCli.RunOkAsync(Env, "role", "add", "--project", "tenant2", "--user", "alice", "member");
        var (aliceToken, aliceProject) = await _server.LoginAsync("alice", "pw-alice-1", "tenant2");

        using var http = new HttpClient();
        using var list = new HttpRequestMessage(HttpMethod.Get, $"{_server.BaseUrl}/v1.0/{aliceProject}/instances/{id}/log");
        list.Headers.Add("X-Auth-Token", aliceToken);
        using var listed = await http.SendAsync(list).Within(Timeouts.Short);
        Assert.Equal(HttpStatusCode.NotFound, listed.StatusCode);

        using var publish = new HttpRequestMessage(HttpMethod.Post, $"{_server.BaseUrl}/v1.0/{aliceProject}/instances/{id}/log")
        {
            Content = new StringContent("{\"name\": \"server\", \"discard\": 1}", System.Text.Encoding.UTF8, "application/json"),
        };
        publish.Headers.Add("X-Auth-Token", aliceToken);
        using var refused = await http.SendAsync(publish).Within(Timeouts.Short);
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);

        // The admin's server log parts are still there after alice's discard attempt.
        Assert.NotEmpty(await SwiftListAsync(adminToken, adminProjectId, $"{id}/redis-server/"));
        using var swift = new HttpRequestMessage(HttpMethod.Get, $"{_server.BaseUrl}/swift/v1/AUTH_{adminProjectId}/database_logs?format=json&prefix={Uri.EscapeDataString(prefix)}");
        swift.Headers.Add("X-Auth-Token", aliceToken);
        using var forbidden = await http.SendAsync(swift).Within(Timeouts.Short);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        using var anonymous = await http.GetAsync($"{_server.BaseUrl}/swift/v1/AUTH_{adminProjectId}/database_logs").Within(Timeouts.Short);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    private async Task<JsonArray> SwiftListAsync(string token, string projectId, string prefix)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{_server.BaseUrl}/swift/v1/AUTH_{projectId}/database_logs?format=json&prefix={Uri.EscapeDataString(prefix)}");
        request.Headers.Add("X-Auth-Token", token);
        using var response = await http.SendAsync(request).Within(Timeouts.Short);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync().Within(Timeouts.Short))!.AsArray();
    }

    /// <summary>A statement slower than the threshold, carrying <paramref name="marker"/> so the log line can be recognised.</summary>
    private static async Task SlowStatementAsync(string ds, string address, string password, string marker)
    {
        ProcessResult result;
        if (ds == "redis")
        {
            // A Lua loop of some tens of milliseconds: above Redis' default 10 ms slowlog threshold.
            result = await ProcessRunner.RunAsync(
                Binaries.Require("redis-cli"),
                ["-h", address, "-p", "6379", "--user", "root", "EVAL", $"local i = 0 while i < 5000000 do i = i + 1 end return '{marker}'", "0"],
                new Dictionary<string, string> { ["REDISCLI_AUTH"] = password },
                Timeouts.Short);
        }
        else
        {
            result = await EngineClients.RunAsync(ds, address, ds == "postgresql" ? 5432 : 3306, "app", password, "appdb", ds == "postgresql"
                ? $"SELECT pg_sleep(0.3), '{marker}'"
                : $"SELECT SLEEP(0.3), '{marker}'");
        }

        Assert.True(result.ExitCode == 0 && result.Stdout.Contains(marker, StringComparison.Ordinal), result.ToString());
    }

    private static int Count(string text, string word) => (text.Length - text.Replace(word, string.Empty, StringComparison.Ordinal).Length) / word.Length;
}
