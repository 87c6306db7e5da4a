using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// Configuration groups through the stock `openstack database configuration` commands, per engine: the parameters come
/// from the engine, bad values are refused naming the parameter, a dynamic value applies live at attach, a
/// restart-only one puts the instance in RESTART_REQUIRED until a restart, and detach brings the default back — each
/// read back with the engine's own client.
/// </summary>
public sealed class ConfigurationStockClientTests : IAsyncLifetime
{
    private HoardServer _server = null!;

    public async Task InitializeAsync() => _server = await HoardServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private IReadOnlyDictionary<string, string> Env => _server.AdminEnvironment;

    /// <summary>One engine's case: a dynamic parameter, a restart-only one, and values each should refuse.</summary>
    private sealed record Case(
        string Datastore,
        int Port,
        string Dynamic,
        JsonNode DynamicValue,
        string DynamicShown,
        string Restart,
        JsonNode RestartValue,
        string RestartShown,
        string OutOfRange);

    [RequiresBinaryFact("openstack", "redis-cli", "redis-server")]
    public Task Redis_configuration_groups_through_the_stock_client() => RunAsync(new Case(
        "redis", 6379, "maxmemory-policy", "allkeys-lru", "allkeys-lru", "databases", 32, "32", "{\"hz\": -1}"));

    [RequiresBinaryFact("openstack", "psql", "/usr/lib/postgresql/15/bin/postgres")]
    public Task PostgreSql_configuration_groups_through_the_stock_client() => RunAsync(new Case(
        "postgresql", 5432, "work_mem", 8192, "8MB", "max_connections", 120, "120", "{\"work_mem\": 1}"));

    [RequiresBinaryFact("openstack", "mariadb", "mariadbd")]
    public Task MariaDb_configuration_groups_through_the_stock_client() => RunAsync(new Case(
        "mariadb", 3306, "max_connections", 175, "175", "back_log", 120, "120", "{\"max_connections\": 0}"));

    private async Task RunAsync(Case c)
    {
        var ds = c.Datastore;
        string[] users = ds == "redis" ? [] : ["--databases", "appdb", "--users", "app:App-pass-1"];
        await OpenStackCli.JsonAsync(Env, ["database", "instance", "create", "db", "--flavor", "1", "--datastore", ds, .. users]);
        var shown = await StatusAsync("db", "ACTIVE");
        var address = shown["addresses"]!.AsArray()[0]!["address"]!.GetValue<string>();
        var version = shown["datastore_version"]?.GetValue<string>() ?? (await OpenStackCli.JsonAsync(Env, "database", "instance", "show", "db"))["datastore_version"]!.GetValue<string>();
        var (user, password) = ds == "redis"
            ? ("root", (await OpenStackCli.JsonAsync(Env, "database", "root", "enable", "db"))["password"]!.GetValue<string>())
            : ("app", "App-pass-1");
        async Task<string> ReadAsync(string parameter)
        {
            var command = ds switch { "redis" => $"CONFIG GET {parameter}", "postgresql" => $"SHOW {parameter}", _ => $"SELECT @@{parameter}" };
            var result = await EngineClients.RunAsync(ds, address, c.Port, user, password, ds == "redis" ? null : "appdb", command);
            Assert.True(result.ExitCode == 0, $"{command}: {result}");
            return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
        }

        var dynamicBefore = await ReadAsync(c.Dynamic);
        var restartBefore = await ReadAsync(c.Restart);
        Assert.NotEqual(c.DynamicShown, dynamicBefore);
        Assert.NotEqual(c.RestartShown, restartBefore);

        // The parameters, as the engine of this version describes them.
        var parameters = (await OpenStackCli.JsonAsync(Env, "database", "configuration", "parameter", "list", version, "--datastore", ds)).AsArray();
        Assert.Contains(parameters, p => p!["Name"]!.GetValue<string>() == c.Dynamic && !p["Restart Required"]!.GetValue<bool>());
        Assert.Contains(parameters, p => p!["Name"]!.GetValue<string>() == c.Restart && p["Restart Required"]!.GetValue<bool>());
        var one = await OpenStackCli.JsonAsync(Env, "database", "configuration", "parameter", "show", version, c.Restart, "--datastore", ds);
        Assert.Equal(c.Restart, one["name"]!.GetValue<string>());
        Assert.Equal("integer", one["type"]!.GetValue<string>());

        // Bad values: 422s that name the parameter; nothing is created.
        foreach (var (values, expected) in new[]
        {
            ("{\"no_such_parameter\": 1}", "no_such_parameter is not supported"),
            ($"{{\"{c.Restart}\": \"many\"}}", $"{c.Restart} is not of type integer"),
            (c.OutOfRange, "allowed"),
        })
        {
            var refused = await OpenStackCli.RunAsync(Env, "database", "configuration", "create", "bad", values, "--datastore", ds, "--datastore-version", version);
            Assert.True(refused.ExitCode != 0, refused.ToString());
            Assert.Contains(expected, refused.Stderr, StringComparison.Ordinal);
            Assert.Contains("(HTTP 422)", refused.Stderr, StringComparison.Ordinal);
        }

        Assert.Empty((await OpenStackCli.JsonAsync(Env, "database", "configuration", "list")).AsArray());

        var group = await OpenStackCli.JsonAsync(
            Env, "database", "configuration", "create", "tuned", new JsonObject { [c.Dynamic] = c.DynamicValue.DeepClone() }.ToJsonString(),
            "--datastore", ds, "--datastore-version", version, "--description", "for the test");
        var groupId = group["id"]!.GetValue<string>();
        Assert.Equal(ds, group["datastore_name"]!.GetValue<string>());

        // Attach: the dynamic value is live at once, and the instance stays ACTIVE.
        await OpenStackCli.RunOkAsync(Env, "database", "configuration", "attach", "db", "tuned");
        await Timeouts.EventuallyAsync(() => ReadAsync(c.Dynamic), v => v == c.DynamicShown, Timeouts.Settle, $"{c.Dynamic} to be applied live");
        Assert.Equal("ACTIVE", (await OpenStackCli.JsonAsync(Env, "database", "instance", "show", "db"))["status"]!.GetValue<string>());
        var attached = (await OpenStackCli.JsonAsync(Env, "database", "configuration", "instances", "tuned")).AsArray();
        Assert.Contains(attached, i => i!["Name"]!.GetValue<string>() == "db");

        // A restart-only value (PATCH: merged into the group): RESTART_REQUIRED until the restart, then in effect.
        await OpenStackCli.RunOkAsync(Env, "database", "configuration", "parameter", "set", groupId, new JsonObject { [c.Restart] = c.RestartValue.DeepClone() }.ToJsonString());
        await StatusAsync("db", "RESTART_REQUIRED");
        Assert.Equal(restartBefore, await ReadAsync(c.Restart));
        Assert.Equal(c.DynamicShown, await ReadAsync(c.Dynamic));
        var defaults = await OpenStackCli.JsonAsync(Env, "database", "configuration", "default", "db");
        Assert.Equal(c.DynamicValue.ToString(), defaults[c.Dynamic]!.ToString(), ignoreCase: true); // in the engine's unit, as the group has it

        // An instance waiting for a restart takes no attach or detach (Trove's rule), and an attached group no delete.
        var early = await OpenStackCli.RunAsync(Env, "database", "configuration", "detach", "db");
        Assert.True(early.ExitCode != 0 && early.Stderr.Contains("RESTART_REQUIRED", StringComparison.Ordinal), early.ToString());
        var inUse = await OpenStackCli.RunAsync(Env, "database", "configuration", "delete", "tuned");
        Assert.True(inUse.ExitCode != 0 && inUse.Stderr.Contains("cannot be deleted", StringComparison.Ordinal), inUse.ToString());

        await OpenStackCli.RunOkAsync(Env, "database", "instance", "restart", "db");
        await StatusAsync("db", "ACTIVE");
        Assert.Equal(c.RestartShown, await ReadAsync(c.Restart));
        Assert.Equal(c.DynamicShown, await ReadAsync(c.Dynamic));
        var show = await OpenStackCli.JsonAsync(Env, "database", "configuration", "show", "tuned");
        Assert.Contains(c.Restart, show["values"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(1, show["instance_count"]!.GetValue<int>());

        // Detach: the dynamic value goes back at once; the restart-only one needs a restart again.
        await OpenStackCli.RunOkAsync(Env, "database", "configuration", "detach", "db");
        await Timeouts.EventuallyAsync(() => ReadAsync(c.Dynamic), v => v == dynamicBefore, Timeouts.Settle, $"{c.Dynamic} to be back to its default");
        await StatusAsync("db", "RESTART_REQUIRED");
        await OpenStackCli.RunOkAsync(Env, "database", "instance", "restart", "db");
        await StatusAsync("db", "ACTIVE");
        Assert.Equal(restartBefore, await ReadAsync(c.Restart));

        await OpenStackCli.RunOkAsync(Env, "database", "configuration", "delete", "tuned");
        Assert.Empty((await OpenStackCli.JsonAsync(Env, "database", "configuration", "list")).AsArray());
    }

    private async Task<JsonNode> StatusAsync(string name, string status)
    {
        var shown = await Timeouts.EventuallyAsync(
            () => OpenStackCli.JsonAsync(Env, "database", "instance", "show", name),
            s => s["status"]!.GetValue<string>() is var now && (now == status || now == "ERROR"),
            Timeouts.Settle,
            $"{name} to become {status}");
        Assert.True(shown["status"]!.GetValue<string>() == status, shown.ToJsonString());
        return shown;
    }
}
