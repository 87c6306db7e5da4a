using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// Backups of PostgreSQL and MariaDB instances through the stock `openstack database backup` commands, restored with
/// `instance create --backup`, the data read back with the engine's own client as the user the source had.
/// </summary>
public sealed class BackupStockClientTests : IAsyncLifetime
{
    private HoardServer _server = null!;

    public async Task InitializeAsync() => _server = await HoardServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private IReadOnlyDictionary<string, string> Env => _server.AdminEnvironment;

    [RequiresBinaryFact("openstack", "psql", "/usr/lib/postgresql/15/bin/postgres", "/usr/lib/postgresql/15/bin/pg_basebackup")]
    public Task PostgreSql_backup_and_restore_through_the_stock_client() => BackupAndRestoreAsync("postgresql", 5432);

    [RequiresBinaryFact("openstack", "mariadb", "mariadbd", "mariadb-backup", "mbstream")]
    public Task MariaDb_backup_and_restore_through_the_stock_client() => BackupAndRestoreAsync("mariadb", 3306);

    private async Task BackupAndRestoreAsync(string datastore, int port)
    {
        await OpenStackCli.JsonAsync(Env, "database", "instance", "create", "src", "--flavor", "1", "--datastore", datastore, "--databases", "appdb", "--users", "app:App-pass-1");
        var source = await ActiveAddressAsync("src");
        await SqlAsync(datastore, source, port, "CREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(40))");
        await SqlAsync(datastore, source, port, "INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')");

        var backup = await OpenStackCli.JsonAsync(Env, "database", "backup", "create", "nightly", "-i", "src", "--description", "before the upgrade");
        Assert.Equal("nightly", backup["name"]!.GetValue<string>());
        var done = await Timeouts.EventuallyAsync(
            () => OpenStackCli.JsonAsync(Env, "database", "backup", "show", "nightly"),
            b => b["status"]!.GetValue<string>() is "COMPLETED" or "FAILED",
            Timeouts.Settle,
            "the backup to finish");
        Assert.True(done["status"]!.GetValue<string>() == "COMPLETED", done.ToJsonString());
        var listed = await OpenStackCli.JsonAsync(Env, "database", "backup", "list");
        Assert.Contains(listed.AsArray(), b => b!["Name"]!.GetValue<string>() == "nightly");

        // Written after the backup: the restore must not have it.
        await SqlAsync(datastore, source, port, "INSERT INTO items VALUES (4, 'after')");

        await OpenStackCli.JsonAsync(Env, "database", "instance", "create", "restored", "--flavor", "1", "--datastore", datastore, "--backup", "nightly");
        var restored = await ActiveAddressAsync("restored");
        Assert.NotEqual(source, restored);
        Assert.Equal("1 one|2 two|3 three", await SqlAsync(datastore, restored, port, "SELECT id, label FROM items ORDER BY id"));

        var deleted = await OpenStackCli.RunAsync(Env, "database", "backup", "delete", "nightly");
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        await Timeouts.EventuallyAsync(
            async () => (await OpenStackCli.JsonAsync(Env, "database", "backup", "list")).AsArray().Count,
            n => n == 0,
            Timeouts.Settle,
            "the backup to be deleted");
    }

    [RequiresBinaryFact("openstack", "psql", "/usr/lib/postgresql/15/bin/postgres", "/usr/lib/postgresql/15/bin/pg_basebackup")]
    public async Task PostgreSql_incremental_backups_through_the_stock_client()
    {
        const string datastore = "postgresql";
        const int port = 5432;
        await OpenStackCli.JsonAsync(Env, "database", "instance", "create", "src", "--flavor", "1", "--datastore", datastore, "--databases", "appdb", "--users", "app:App-pass-1");
        var source = await ActiveAddressAsync("src");
        await SqlAsync(datastore, source, port, "CREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(40))");
        await SqlAsync(datastore, source, port, "INSERT INTO items VALUES (1, 'base')");
        var full = await CompletedAsync(await OpenStackCli.JsonAsync(Env, "database", "backup", "create", "full", "-i", "src"));

        await SqlAsync(datastore, source, port, "INSERT INTO items VALUES (2, 'first')");
        var first = await CompletedAsync(await OpenStackCli.JsonAsync(Env, "database", "backup", "create", "first", "-i", "src", "--incremental"));
        Assert.Equal(full["id"]!.GetValue<string>(), first["parent_id"]!.GetValue<string>());

        await SqlAsync(datastore, source, port, "INSERT INTO items VALUES (3, 'second')");
        var second = await CompletedAsync(await OpenStackCli.JsonAsync(Env, "database", "backup", "create", "second", "-i", "src", "--parent", first["id"]!.GetValue<string>()));
        Assert.Equal(first["id"]!.GetValue<string>(), second["parent_id"]!.GetValue<string>());

        await OpenStackCli.JsonAsync(Env, "database", "instance", "create", "restored", "--flavor", "1", "--datastore", datastore, "--backup", "second");
        Assert.Equal("1 base|2 first|3 second", await SqlAsync(datastore, await ActiveAddressAsync("restored"), port, "SELECT id, label FROM items ORDER BY id"));

        var refused = await OpenStackCli.RunAsync(Env, "database", "backup", "delete", "full");
        Assert.True(refused.ExitCode != 0, refused.ToString());
        Assert.Contains("builds on it; delete that one first", refused.Stderr + refused.Stdout, StringComparison.Ordinal);
    }

    /// <summary>Waits for the backup the create printed to be COMPLETED; returns it as `backup show` prints it.</summary>
    private async Task<System.Text.Json.Nodes.JsonObject> CompletedAsync(System.Text.Json.Nodes.JsonNode created)
    {
        var id = created["id"]!.GetValue<string>();
        var done = await Timeouts.EventuallyAsync(
            () => OpenStackCli.JsonAsync(Env, "database", "backup", "show", id),
            b => b["status"]!.GetValue<string>() is "COMPLETED" or "FAILED",
            Timeouts.Settle,
            $"backup {created["name"]} to finish");
        Assert.True(done["status"]!.GetValue<string>() == "COMPLETED", done.ToJsonString());
        return done.AsObject();
    }

    /// <summary>Runs SQL as the source's user in its database; rows come back as "a b|c d".</summary>
    private static async Task<string> SqlAsync(string datastore, string address, int port, string sql)
    {
        var result = await EngineClients.RunAsync(datastore, address, port, "app", "App-pass-1", "appdb", sql);
        Assert.True(result.ExitCode == 0, $"{sql}: {result}");
        return string.Join('|', result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(l => l.Replace('\t', ' ').Replace('|', ' ')));
    }

    private async Task<string> ActiveAddressAsync(string name)
    {
        var shown = await Timeouts.EventuallyAsync(
            () => OpenStackCli.JsonAsync(Env, "database", "instance", "show", name),
            s => s["status"]!.GetValue<string>() is "ACTIVE" or "ERROR",
            Timeouts.Settle,
            $"{name} to become ACTIVE");
        Assert.True(shown["status"]!.GetValue<string>() == "ACTIVE", shown.ToJsonString());
        return shown["addresses"]!.AsArray()[0]!["address"]!.GetValue<string>();
    }
}
