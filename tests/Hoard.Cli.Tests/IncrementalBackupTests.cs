using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// Incremental backups through Trove's API against real PostgreSQL and MariaDB instances: a full backup, two
/// increments taken while a writer commits, the last restored into a new instance and read with the engine's own
/// client; and the refusals (an engine without incrementals, another instance's parent, deleting a parent).
/// </summary>
public sealed class IncrementalBackupTests : IAsyncLifetime
{
    private const string User = "app";
    private const string Password = "App-pass-1";
    private const string Database = "appdb";

    private HoardServer _server = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _server = await HoardServer.StartAsync();
        var (token, project) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        _http = new HttpClient { BaseAddress = new Uri($"{_server.BaseUrl}/v1.0/{project}/"), Timeout = Timeouts.Short };
        _http.DefaultRequestHeaders.Add("X-Auth-Token", token);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    [RequiresBinaryFact("psql", "/usr/lib/postgresql/15/bin/postgres", "/usr/lib/postgresql/15/bin/pg_basebackup")]
    public Task A_PostgreSql_chain_of_two_increments_restores_through_the_api() => ChainAsync("postgresql", 5432);

    [RequiresBinaryFact("mariadb", "mariadbd", "mariadb-backup", "mbstream")]
    public Task A_MariaDb_chain_of_two_increments_restores_through_the_api() => ChainAsync("mariadb", 3306);

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task An_incremental_backup_of_Redis_is_refused_naming_the_datastore()
    {
        var instance = await CreateInstanceAsync("cache", "redis");
        var full = await BackupAsync(instance.Id, "full");
        foreach (var body in new[] { new JsonObject { ["incremental"] = 1 }, new JsonObject { ["parent_id"] = full["id"]!.GetValue<string>() } })
        {
            body["name"] = "inc";
            body["instance"] = instance.Id;
            var refused = await SendAsync(HttpMethod.Post, "backups", new JsonObject { ["backup"] = body });
            Assert.True(refused.Status == HttpStatusCode.UnprocessableEntity, refused.Body?.ToJsonString());
            Assert.Equal("Incremental backups are not supported for datastore redis; take a full backup.", refused.Body!["unprocessableEntity"]!["message"]!.GetValue<string>());
        }

        Assert.Single((await SendAsync(HttpMethod.Get, $"instances/{instance.Id}/backups")).Body!["backups"]!.AsArray());
    }

    private async Task ChainAsync(string datastore, int port)
    {
        var source = await CreateInstanceAsync("src", datastore);
        await SqlAsync(datastore, source.Address, port, "CREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(40))");
        await SqlAsync(datastore, source.Address, port, "INSERT INTO items VALUES (1, 'base'), (2, 'base')");

        // incremental=1 with no completed backup yet is a full backup, as in Trove.
        var full = await BackupAsync(source.Id, "full", new JsonObject { ["incremental"] = 1 });
        Assert.Null(full["parent_id"]);

        await SqlAsync(datastore, source.Address, port, "INSERT INTO items VALUES (3, 'first'), (4, 'first')");
        var first = await BackupAsync(source.Id, "first", new JsonObject { ["incremental"] = 1 });
        Assert.Equal(full["id"]!.GetValue<string>(), first["parent_id"]!.GetValue<string>());

        // The second increment is taken while a writer commits rows 1000, 1001, ... one statement at a time.
        await SqlAsync(datastore, source.Address, port, "INSERT INTO items VALUES (5, 'second'), (6, 'second')");
        using var stop = new CancellationTokenSource();
        var committed = 0;
        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < 100_000 && !stop.IsCancellationRequested; i++)
            {
                await SqlAsync(datastore, source.Address, port, $"INSERT INTO items VALUES ({1000 + i}, 'load')");
                Interlocked.Increment(ref committed);
            }
        });
        JsonObject second;
        int before, after;
        try
        {
            await Timeouts.EventuallyAsync(() => Task.FromResult(Volatile.Read(ref committed)), n => n >= 5, Timeouts.Short, "the writer to commit");
            before = Volatile.Read(ref committed);
            second = await BackupAsync(source.Id, "second", new JsonObject { ["parent_id"] = first["id"]!.GetValue<string>() });
        }
        finally
        {
            await stop.CancelAsync();
            await writer.Within(Timeouts.Short);
        }

        after = Volatile.Read(ref committed);
        Assert.Equal(first["id"]!.GetValue<string>(), second["parent_id"]!.GetValue<string>());

        // Another instance's backup is no parent; nor is a backup that does not exist.
        var other = await CreateInstanceAsync("other", datastore);
        var foreign = await SendAsync(HttpMethod.Post, "backups", Body("stray", other.Id, new JsonObject { ["parent_id"] = full["id"]!.GetValue<string>() }));
        Assert.True(foreign.Status == HttpStatusCode.BadRequest, foreign.Body?.ToJsonString());
        Assert.Contains($"is a backup of instance {source.Id}, not of instance {other.Id}", foreign.Body!["badRequest"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        var missing = await SendAsync(HttpMethod.Post, "backups", Body("stray", other.Id, new JsonObject { ["parent_id"] = Guid.NewGuid().ToString() }));
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);

        // The last increment restores its whole chain into a new instance.
        var restored = await CreateInstanceAsync("restored", datastore, second["id"]!.GetValue<string>());
        Assert.Equal(
            "1 base|2 base|3 first|4 first|5 second|6 second",
            await SqlAsync(datastore, restored.Address, port, "SELECT id, label FROM items WHERE id < 1000 ORDER BY id"));

        // The writer's rows are those of one instant during the second backup: no gaps, at least those committed before it.
        var load = (await SqlAsync(datastore, restored.Address, port, "SELECT count(*), coalesce(max(id), 999) - 999 FROM items WHERE id >= 1000")).Split(' ');
        var (count, span) = (int.Parse(load[0], CultureInfo.InvariantCulture), int.Parse(load[1], CultureInfo.InvariantCulture));
        Assert.Equal(count, span);
        Assert.InRange(count, before, after + 1);

        // PostgreSQL keeps WAL only from the latest backup on: an increment on an older parent fails, saying why.
        var chain = new List<JsonObject> { second, first, full };
        if (datastore == "postgresql")
        {
            var stale = await BackupAsync(source.Id, "stale", new JsonObject { ["parent_id"] = full["id"]!.GetValue<string>() }, expect: "FAILED");
            Assert.Contains("Take a full backup", stale["fail_reason"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal("ACTIVE", (await SendAsync(HttpMethod.Get, $"instances/{source.Id}")).Body!["instance"]!["status"]!.GetValue<string>());
            chain.Insert(0, stale);
        }

        // A parent a live increment builds on cannot be deleted; the chain is deleted from its end.
        var fullRefused = await SendAsync(HttpMethod.Delete, $"backups/{full["id"]}");
        Assert.True(fullRefused.Status == HttpStatusCode.Conflict, fullRefused.Body?.ToJsonString());
        Assert.StartsWith($"Backup {full["id"]} cannot be deleted: incremental backup ", fullRefused.Body!["conflict"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        foreach (var (parent, child) in new[] { (first, second) })
        {
            var refused = await SendAsync(HttpMethod.Delete, $"backups/{parent["id"]}");
            Assert.True(refused.Status == HttpStatusCode.Conflict, refused.Body?.ToJsonString());
            Assert.Equal(
                $"Backup {parent["id"]} cannot be deleted: incremental backup {child["id"]} builds on it; delete that one first.",
                refused.Body!["conflict"]!["message"]!.GetValue<string>());
        }

        foreach (var backup in chain)
        {
            var deleted = await SendAsync(HttpMethod.Delete, $"backups/{backup["id"]}");
            Assert.True(deleted.Status == HttpStatusCode.Accepted, deleted.Body?.ToJsonString());
            await Timeouts.EventuallyAsync(() => SendAsync(HttpMethod.Get, $"backups/{backup["id"]}"), r => r.Status == HttpStatusCode.NotFound, Timeouts.Settle, "the backup to be deleted");
        }
    }

    private static JsonObject Body(string name, string instanceId, JsonObject? extra = null)
    {
        var backup = extra ?? new JsonObject();
        backup["name"] = name;
        backup["instance"] = instanceId;
        return new JsonObject { ["backup"] = backup };
    }

    private async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpMethod method, string path, JsonNode? body = null)
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

    /// <summary>An ACTIVE instance with the database and user the SQL runs as (a restored one has them from its backup).</summary>
    private async Task<(string Id, string Address)> CreateInstanceAsync(string name, string datastore, string? backupId = null)
    {
        var instance = new JsonObject { ["name"] = name, ["flavorRef"] = "1", ["datastore"] = new JsonObject { ["type"] = datastore } };
        if (backupId is not null)
        {
            instance["restorePoint"] = new JsonObject { ["backupRef"] = backupId };
        }
        else if (datastore != "redis")
        {
            instance["databases"] = new JsonArray(new JsonObject { ["name"] = Database });
            instance["users"] = new JsonArray(new JsonObject { ["name"] = User, ["password"] = Password, ["databases"] = new JsonArray(new JsonObject { ["name"] = Database }) });
        }

        var created = await SendAsync(HttpMethod.Post, "instances", new JsonObject { ["instance"] = instance });
        Assert.True(created.Status == HttpStatusCode.OK, created.Body?.ToJsonString());
        var id = created.Body!["instance"]!["id"]!.GetValue<string>();
        var settled = await Timeouts.EventuallyAsync(
            () => SendAsync(HttpMethod.Get, $"instances/{id}"),
            r => r.Body?["instance"]?["status"]?.GetValue<string>() is "ACTIVE" or "ERROR",
            Timeouts.Settle,
            $"{name} to settle");
        var shown = settled.Body!["instance"]!.AsObject();
        Assert.True(shown["status"]!.GetValue<string>() == "ACTIVE", shown.ToJsonString());
        return (id, shown["ip"]![0]!.GetValue<string>());
    }

    private async Task<JsonObject> BackupAsync(string instanceId, string name, JsonObject? extra = null, string expect = "COMPLETED")
    {
        var created = await SendAsync(HttpMethod.Post, "backups", Body(name, instanceId, extra));
        Assert.True(created.Status == HttpStatusCode.Accepted, created.Body?.ToJsonString());
        var id = created.Body!["backup"]!["id"]!.GetValue<string>();
        var done = await Timeouts.EventuallyAsync(
            () => SendAsync(HttpMethod.Get, $"backups/{id}"),
            r => r.Body?["backup"]?["status"]?.GetValue<string>() is "COMPLETED" or "FAILED",
            Timeouts.Settle,
            $"backup {name} to finish");
        var backup = done.Body!["backup"]!.AsObject();
        Assert.True(backup["status"]!.GetValue<string>() == expect, backup.ToJsonString());
        return backup;
    }

    /// <summary>Runs SQL as the app user in its database with the engine's own client; rows come back as "a b|c d".</summary>
    private static async Task<string> SqlAsync(string datastore, string address, int port, string sql)
    {
        var result = await EngineClients.RunAsync(datastore, address, port, User, Password, Database, sql);
        Assert.True(result.ExitCode == 0, $"{sql}: {result}");
        return string.Join('|', result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(l => l.Replace('\t', ' ').Replace('|', ' ')));
    }
}
