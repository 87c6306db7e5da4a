using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>The ./hoard user verbs, with the same OS_* variables the stock clients read.</summary>
public sealed class HoardCliTests : IAsyncLifetime
{
    private HoardServer _server = null!;

    public async Task InitializeAsync() => _server = await HoardServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Task<ProcessResult> HoardAsync(params string[] args) =>
        ProcessRunner.RunAsync(HoardServer.Executable, args, new Dictionary<string, string>(_server.AdminEnvironment) { ["COLUMNS"] = "200" });

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task Create_wait_list_root_and_delete()
    {
        var created = await HoardAsync("instance", "create", "cli-db", "--datastore", "redis", "--flavor", "m1.tiny", "--wait");
        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Contains("is ACTIVE after", created.Stdout, StringComparison.Ordinal);

        var list = await HoardAsync("instance", "list");
        Assert.Contains("cli-db", list.Stdout, StringComparison.Ordinal);
        Assert.Contains("ACTIVE", list.Stdout, StringComparison.Ordinal);

        var root = await HoardAsync("root", "enable", "cli-db");
        Assert.True(root.ExitCode == 0, root.ToString());
        var password = root.Stdout.Split('\n').Select(l => l.Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .First(cells => cells.Length == 2 && cells[0] == "password")[1];
        var shown = await HoardAsync("instance", "show", "cli-db");
        var address = shown.Stdout.Split('\n').Select(l => l.Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .First(cells => cells.Length == 2 && cells[0] == "ip")[1];
        var ping = await ProcessRunner.RunAsync("redis-cli", ["-h", address, "--user", "root", "--pass", password, "--no-auth-warning", "PING"]);
        Assert.Equal("PONG", ping.Stdout.Trim());

        var deleted = await HoardAsync("instance", "delete", "cli-db", "--wait");
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        var missing = await HoardAsync("instance", "show", "cli-db");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("no instance with id or name 'cli-db'", missing.Stderr, StringComparison.Ordinal);
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task Backup_create_wait_restore_into_a_new_instance_and_delete()
    {
        Assert.Equal(0, (await HoardAsync("instance", "create", "bk-src", "--datastore", "redis", "--flavor", "m1.tiny", "--wait")).ExitCode);
        var source = await RootLoginAsync("bk-src");
        Assert.Equal("OK", (await ProcessRunner.RunAsync("redis-cli", ["-h", source.Address, "--user", "root", "--pass", source.Password, "--no-auth-warning", "SET", "greeting", "hello"])).Stdout.Trim());

        var backup = await HoardAsync("backup", "create", "bk1", "--instance", "bk-src", "--wait");
        Assert.True(backup.ExitCode == 0, backup.ToString());
        Assert.Contains("is COMPLETED after", backup.Stdout, StringComparison.Ordinal);
        Assert.Contains("bk1", (await HoardAsync("backup", "list", "--instance", "bk-src")).Stdout, StringComparison.Ordinal);

        var restored = await HoardAsync("instance", "create", "bk-dst", "--datastore", "redis", "--flavor", "m1.tiny", "--backup", "bk1", "--wait");
        Assert.True(restored.ExitCode == 0, restored.ToString());
        var target = await RootLoginAsync("bk-dst");
        Assert.Equal("hello", (await ProcessRunner.RunAsync("redis-cli", ["-h", target.Address, "--user", "root", "--pass", target.Password, "--no-auth-warning", "GET", "greeting"])).Stdout.Trim());

        var deleted = await HoardAsync("backup", "delete", "bk1", "--wait");
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.DoesNotContain("bk1", (await HoardAsync("backup", "list")).Stdout, StringComparison.Ordinal);
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task Configuration_create_attach_set_default_and_delete()
    {
        var parameters = await HoardAsync("configuration", "parameters", "--datastore", "redis");
        Assert.True(parameters.ExitCode == 0, parameters.ToString());
        Assert.Contains("maxmemory-policy", parameters.Stdout, StringComparison.Ordinal);

        var bad = await HoardAsync("configuration", "create", "bad", "hz=many", "--datastore", "redis");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("hz is not of type integer", bad.Stderr, StringComparison.Ordinal);

        var created = await HoardAsync("configuration", "create", "cli-g", "maxmemory-policy=allkeys-lru", "hz=25", "--datastore", "redis", "--description", "from the cli");
        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Contains("\"hz\":25", created.Stdout, StringComparison.Ordinal);

        Assert.Equal(0, (await HoardAsync("instance", "create", "cfg-db", "--datastore", "redis", "--flavor", "m1.tiny", "--wait")).ExitCode);
        var attached = await HoardAsync("configuration", "attach", "cfg-db", "cli-g");
        Assert.True(attached.ExitCode == 0, attached.ToString());
        var login = await RootLoginAsync("cfg-db");
        async Task<string> ConfigGetAsync(string name) =>
            (await ProcessRunner.RunAsync("redis-cli", ["-h", login.Address, "--user", "root", "--pass", login.Password, "--no-auth-warning", "CONFIG", "GET", name])).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].Trim();
        await Timeouts.EventuallyAsync(() => ConfigGetAsync("hz"), v => v == "25", Timeouts.Settle, "hz to be applied");

        Assert.True((await HoardAsync("configuration", "set", "cli-g", "hz=35")).ExitCode == 0);
        await Timeouts.EventuallyAsync(() => ConfigGetAsync("hz"), v => v == "35", Timeouts.Settle, "the new hz to be applied");
        var effective = await HoardAsync("configuration", "default", "cfg-db");
        Assert.Contains("allkeys-lru", effective.Stdout, StringComparison.Ordinal);
        Assert.Contains("cfg-db", (await HoardAsync("configuration", "instances", "cli-g")).Stdout, StringComparison.Ordinal);

        var refused = await HoardAsync("configuration", "delete", "cli-g");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("HTTP 400", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, (await HoardAsync("configuration", "detach", "cfg-db")).ExitCode);
        Assert.Equal(0, (await HoardAsync("configuration", "delete", "cli-g")).ExitCode);
        Assert.DoesNotContain("cli-g", (await HoardAsync("configuration", "list")).Stdout, StringComparison.Ordinal);
    }

    /// <summary>Enables root on an instance through the CLI; its address and root password.</summary>
    private async Task<(string Address, string Password)> RootLoginAsync(string instance)
    {
        static string Cell(string table, string field) => table.Split('\n').Select(l => l.Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .First(cells => cells.Length == 2 && cells[0] == field)[1];
        var root = await HoardAsync("root", "enable", instance);
        Assert.True(root.ExitCode == 0, root.ToString());
        return (Cell((await HoardAsync("instance", "show", instance)).Stdout, "ip"), Cell(root.Stdout, "password"));
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task Cluster_create_grow_rebalance_drain_shrink_and_delete()
    {
        var created = await HoardAsync("cluster", "create", "cli-c", "--datastore", "redis", "--flavor", "m1.tiny", "--masters", "2", "--wait");
        Assert.True(created.ExitCode == 0, created.ToString());
        var grown = await HoardAsync("cluster", "grow", "cli-c", "--flavor", "m1.tiny", "--wait");
        Assert.True(grown.ExitCode == 0, grown.ToString());
        Assert.True((await HoardAsync("cluster", "rebalance", "cli-c", "--wait")).ExitCode == 0);

        // Every member shows its role and an even share: 16384 / 3 slots, give or take one.
        var shown = await HoardAsync("cluster", "show", "cli-c");
        Assert.True(shown.ExitCode == 0, shown.ToString());
        foreach (var member in new[] { "cli-c-member-1", "cli-c-member-2", "cli-c-member-3" })
        {
            var row = shown.Stdout.Split('\n').FirstOrDefault(l => l.Contains(member, StringComparison.Ordinal));
            Assert.True(row is not null, $"no row for {member} in:\n{shown.Stdout}");
            Assert.Contains("master", row, StringComparison.Ordinal);
            Assert.True(row.Contains("5461", StringComparison.Ordinal) || row.Contains("5462", StringComparison.Ordinal), row);
        }

        // Shrinking a member that owns slots is refused with the server's reason; drained, it goes.
        var refused = await HoardAsync("cluster", "shrink", "cli-c", "cli-c-member-3");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("currently in use", refused.Stderr, StringComparison.Ordinal);
        Assert.True((await HoardAsync("cluster", "rebalance", "cli-c", "--exclude", "cli-c-member-3", "--wait")).ExitCode == 0);
        var shrunk = await HoardAsync("cluster", "shrink", "cli-c", "cli-c-member-3", "--wait");
        Assert.True(shrunk.ExitCode == 0, shrunk.ToString());
        Assert.DoesNotContain("cli-c-member-3", (await HoardAsync("cluster", "show", "cli-c")).Stdout, StringComparison.Ordinal);

        Assert.Contains("cli-c", (await HoardAsync("cluster", "list")).Stdout, StringComparison.Ordinal);
        var deleted = await HoardAsync("cluster", "delete", "cli-c", "--wait");
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.Empty(_server.DatabasePids());
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task Users_made_with_the_instance_and_afterwards()
    {
        var created = await HoardAsync("instance", "create", "kv", "--datastore", "redis", "--flavor", "1", "--user", "app:App-pass-1", "--wait");
        Assert.True(created.ExitCode == 0, created.ToString());
        var shown = await HoardAsync("instance", "show", "kv");
        var address = shown.Stdout.Split('\n').Select(l => l.Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .First(cells => cells.Length == 2 && cells[0] == "ip")[1];
        Assert.True(await EngineClients.CanLoginAsync("redis", address, 6379, "app", "App-pass-1"));

        var made = await HoardAsync("user", "create", "kv", "reader");
        Assert.True(made.ExitCode == 0, made.ToString());
        var generated = made.Stdout.Split('\n').First(l => l.StartsWith("password: ", StringComparison.Ordinal))["password: ".Length..].Trim();
        Assert.True(generated.Length >= 16);
        Assert.True(await EngineClients.CanLoginAsync("redis", address, 6379, "reader", generated));

        var list = await HoardAsync("user", "list", "kv");
        Assert.Contains("reader", list.Stdout, StringComparison.Ordinal);
        Assert.Contains("app", list.Stdout, StringComparison.Ordinal);

        var deleted = await HoardAsync("user", "delete", "kv", "reader");
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.False(await EngineClients.CanLoginAsync("redis", address, 6379, "reader", generated));

        var database = await HoardAsync("database", "create", "kv", "nope");
        Assert.Equal(1, database.ExitCode);
        Assert.Contains("Operation not supported for datastore redis.", database.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_requests_are_reported_with_the_servers_message()
    {
        var result = await HoardAsync("instance", "create", "x", "--datastore", "nosuch", "--flavor", "2");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("Datastore 'nosuch' cannot be found. (HTTP 404)", result.Stderr, StringComparison.Ordinal);
    }
}
