using Hoard.Abstractions.Datastores;
using Hoard.Datastores.MariaDb.Tests.Support;

namespace Hoard.Datastores.MariaDb.Tests;

/// <summary>Configuration groups against a real server: rules from SYSTEM_VARIABLES, values through group.cnf.</summary>
public sealed class MariaDbConfigurationTests
{
    [RequiresBinaryFact("mariadbd", "mariadb-install-db")]
    public async Task Discovery_reads_the_rules_from_the_server_and_leaves_out_what_the_manager_owns()
    {
        await using var db = await PreparedAsync();

        var parameters = (await db.Manager.DiscoverParametersAsync(db.Instance, db.Ct).Within(Timeouts.Short)).ToDictionary(p => p.Name);

        var maxConnections = parameters["max_connections"];
        Assert.Equal(ParameterTypes.Integer, maxConnections.Type);
        Assert.Equal(10, maxConnections.Min);
        Assert.Equal(100000, maxConnections.Max);
        Assert.False(maxConnections.RestartRequired);
        Assert.Contains("innodb_buffer_pool_size", parameters.Keys);
        Assert.True(parameters["back_log"].RestartRequired);
        Assert.Equal(ParameterTypes.Boolean, parameters["slow_query_log"].Type);
        Assert.Contains("ROW", parameters["binlog_format"].AllowedValues ?? []);
        foreach (var managed in new[] { "port", "bind_address", "socket", "datadir", "log_error", "ssl_cert", "plugin_dir", "version", "innodb_log_file_size" })
        {
            Assert.DoesNotContain(managed, parameters.Keys);
        }
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db")]
    public async Task A_dynamic_value_changes_the_running_server_at_once_and_survives_a_restart()
    {
        await using var db = await PreparedAsync();

        var restart = await db.Manager.ApplyConfigurationAsync(
            db.Instance, new Dictionary<string, string> { ["max_connections"] = "123", ["sql_mode"] = "STRICT_ALL_TABLES" }, db.Ct).Within(Timeouts.Short);

        Assert.False(restart);
        Assert.Equal("123", await GlobalAsync(db, "max_connections"));
        Assert.Equal("STRICT_ALL_TABLES", await GlobalAsync(db, "sql_mode"));
        var effective = await db.Manager.GetEffectiveConfigurationAsync(db.Instance, db.Ct).Within(Timeouts.Short);
        Assert.Equal("123", effective["max_connections"]);
        Assert.DoesNotContain("port", effective.Keys);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(db.Directory, "group.cnf")));

        await db.Manager.StopAsync(db.Instance, db.Ct).Within(Timeouts.Cli);
        await db.Manager.StartAsync(db.Instance, db.Ct).Within(Timeouts.Cli);
        Assert.Equal("123", await GlobalAsync(db, "max_connections"));
        Assert.Equal(db.Instance.Address, await GlobalAsync(db, "bind_address"));
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db")]
    public async Task A_restart_required_value_takes_effect_after_a_restart_and_an_empty_group_restores_the_defaults()
    {
        await using var db = await PreparedAsync();
        var backLog = await GlobalAsync(db, "back_log");
        var maxConnections = await GlobalAsync(db, "max_connections");

        var restart = await db.Manager.ApplyConfigurationAsync(
            db.Instance, new Dictionary<string, string> { ["back_log"] = "77", ["max_connections"] = "99" }, db.Ct).Within(Timeouts.Short);

        Assert.True(restart);
        Assert.Equal(backLog, await GlobalAsync(db, "back_log"));
        Assert.Equal("99", await GlobalAsync(db, "max_connections"));
        await db.Manager.StopAsync(db.Instance, db.Ct).Within(Timeouts.Cli);
        await db.Manager.StartAsync(db.Instance, db.Ct).Within(Timeouts.Cli);
        Assert.Equal("77", await GlobalAsync(db, "back_log"));

        // The same group again needs no further restart.
        Assert.False(await db.Manager.ApplyConfigurationAsync(
            db.Instance, new Dictionary<string, string> { ["back_log"] = "77", ["max_connections"] = "99" }, db.Ct).Within(Timeouts.Short));

        restart = await db.Manager.ApplyConfigurationAsync(db.Instance, new Dictionary<string, string>(), db.Ct).Within(Timeouts.Short);

        Assert.True(restart);
        Assert.Equal(maxConnections, await GlobalAsync(db, "max_connections"));
        await db.Manager.StopAsync(db.Instance, db.Ct).Within(Timeouts.Cli);
        await db.Manager.StartAsync(db.Instance, db.Ct).Within(Timeouts.Cli);
        Assert.Equal(backLog, await GlobalAsync(db, "back_log"));
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db")]
    public async Task Parameters_the_manager_owns_and_values_the_server_refuses_are_rejected_and_change_nothing()
    {
        await using var db = await PreparedAsync();
        var maxConnections = await GlobalAsync(db, "max_connections");

        var port = await Assert.ThrowsAsync<DatastoreOperationException>(() => db.Manager.ApplyConfigurationAsync(
            db.Instance, new Dictionary<string, string> { ["port"] = "6000" }, db.Ct).Within(Timeouts.Short));
        var bad = await Assert.ThrowsAsync<DatastoreOperationException>(() => db.Manager.ApplyConfigurationAsync(
            db.Instance, new Dictionary<string, string> { ["max_connections"] = "150", ["binlog_format"] = "SOMETIMES" }, db.Ct).Within(Timeouts.Short));

        Assert.Equal(DatastoreOperationException.InvalidCode, port.Code);
        Assert.Equal(DatastoreOperationException.InvalidCode, bad.Code);
        Assert.Equal(maxConnections, await GlobalAsync(db, "max_connections"));
        Assert.DoesNotContain("max_connections", await File.ReadAllTextAsync(Path.Combine(db.Directory, "group.cnf")).Within(Timeouts.Short));
    }

    private static async Task<MariaDbTestInstance> PreparedAsync()
    {
        var db = await MariaDbTestInstance.CreateAsync();
        await db.Manager.PrepareAsync(db.Instance, db.Ct).Within(Timeouts.Cli);
        return db;
    }

    private static async Task<string> GlobalAsync(MariaDbTestInstance db, string name) =>
        (await db.AdminQueryAsync($"SELECT @@GLOBAL.{name}").Within(Timeouts.Short))[0][0];
}
