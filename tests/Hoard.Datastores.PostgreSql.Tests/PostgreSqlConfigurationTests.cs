using Hoard.Abstractions.Datastores;
using Hoard.Datastores.PostgreSql.Tests.Support;

namespace Hoard.Datastores.PostgreSql.Tests;

/// <summary>Configuration groups against a real server: rules from pg_settings, values through group.conf.</summary>
public sealed class PostgreSqlConfigurationTests
{
    [PostgresFact]
    public async Task Discovery_reads_the_rules_from_pg_settings_and_leaves_out_what_the_manager_owns()
    {
        await using var pg = await PreparedAsync();

        var parameters = (await pg.Manager.DiscoverParametersAsync(pg.Instance, pg.Ct).Within(Timeouts.Short)).ToDictionary(p => p.Name);

        var workMem = parameters["work_mem"];
        Assert.Equal(ParameterTypes.Integer, workMem.Type);
        Assert.Equal(64, workMem.Min);
        Assert.NotNull(workMem.Max);
        Assert.False(workMem.RestartRequired);
        Assert.True(parameters["shared_buffers"].RestartRequired);
        Assert.Equal(ParameterTypes.Float, parameters["random_page_cost"].Type);
        Assert.Equal(ParameterTypes.Boolean, parameters["autovacuum"].Type);
        Assert.Contains("remote_apply", parameters["synchronous_commit"].AllowedValues ?? []);
        foreach (var managed in new[] { "listen_addresses", "port", "data_directory", "hba_file", "ssl", "unix_socket_directories", "archive_command", "shared_preload_libraries", "log_destination", "server_version" })
        {
            Assert.DoesNotContain(managed, parameters.Keys);
        }
    }

    [PostgresFact]
    public async Task A_dynamic_value_changes_the_running_server_at_once_and_survives_a_restart()
    {
        await using var pg = await PreparedAsync();

        var restart = await pg.Manager.ApplyConfigurationAsync(
            pg.Instance, new Dictionary<string, string> { ["work_mem"] = "12345kB", ["random_page_cost"] = "1.5" }, pg.Ct).Within(Timeouts.Short);

        Assert.False(restart);
        Assert.Equal("12345kB", await pg.AdminSqlAsync("SHOW work_mem"));
        Assert.Equal("1.5", await pg.AdminSqlAsync("SHOW random_page_cost"));
        var effective = await pg.Manager.GetEffectiveConfigurationAsync(pg.Instance, pg.Ct).Within(Timeouts.Short);
        Assert.Equal("12345", effective["work_mem"]);
        Assert.DoesNotContain("port", effective.Keys);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(pg.DataDirectory, "group.conf")));

        await pg.Manager.StopAsync(pg.Instance, pg.Ct).Within(Timeouts.Cli);
        await pg.Manager.StartAsync(pg.Instance, pg.Ct).Within(Timeouts.Cli);
        Assert.Equal("12345kB", await pg.AdminSqlAsync("SHOW work_mem"));
        Assert.Equal(pg.Instance.Address, await pg.AdminSqlAsync("SHOW listen_addresses"));
    }

    [PostgresFact]
    public async Task A_restart_required_value_takes_effect_after_a_restart_and_an_empty_group_restores_the_defaults()
    {
        await using var pg = await PreparedAsync();
        var initialBuffers = await pg.AdminSqlAsync("SHOW shared_buffers");
        var initialWorkMem = await pg.AdminSqlAsync("SHOW work_mem");

        var restart = await pg.Manager.ApplyConfigurationAsync(
            pg.Instance, new Dictionary<string, string> { ["shared_buffers"] = "48MB", ["work_mem"] = "3MB" }, pg.Ct).Within(Timeouts.Short);

        Assert.True(restart);
        Assert.Equal(initialBuffers, await pg.AdminSqlAsync("SHOW shared_buffers"));
        Assert.Equal("3MB", await pg.AdminSqlAsync("SHOW work_mem"));
        await pg.Manager.StopAsync(pg.Instance, pg.Ct).Within(Timeouts.Cli);
        await pg.Manager.StartAsync(pg.Instance, pg.Ct).Within(Timeouts.Cli);
        Assert.Equal("48MB", await pg.AdminSqlAsync("SHOW shared_buffers"));

        // Applying the same group again needs no further restart.
        Assert.False(await pg.Manager.ApplyConfigurationAsync(
            pg.Instance, new Dictionary<string, string> { ["shared_buffers"] = "48MB", ["work_mem"] = "3MB" }, pg.Ct).Within(Timeouts.Short));

        restart = await pg.Manager.ApplyConfigurationAsync(pg.Instance, new Dictionary<string, string>(), pg.Ct).Within(Timeouts.Short);

        Assert.True(restart);
        Assert.Equal(initialWorkMem, await pg.AdminSqlAsync("SHOW work_mem"));
        await pg.Manager.StopAsync(pg.Instance, pg.Ct).Within(Timeouts.Cli);
        await pg.Manager.StartAsync(pg.Instance, pg.Ct).Within(Timeouts.Cli);
        Assert.Equal(initialBuffers, await pg.AdminSqlAsync("SHOW shared_buffers"));
    }

    [PostgresFact]
    public async Task Parameters_the_manager_owns_and_values_the_server_refuses_are_rejected_and_change_nothing()
    {
        await using var pg = await PreparedAsync();
        var workMem = await pg.AdminSqlAsync("SHOW work_mem");

        var port = await Assert.ThrowsAsync<DatastoreOperationException>(() => pg.Manager.ApplyConfigurationAsync(
            pg.Instance, new Dictionary<string, string> { ["port"] = "6000" }, pg.Ct).Within(Timeouts.Short));
        var bad = await Assert.ThrowsAsync<DatastoreOperationException>(() => pg.Manager.ApplyConfigurationAsync(
            pg.Instance, new Dictionary<string, string> { ["work_mem"] = "9MB", ["random_page_cost"] = "cheap" }, pg.Ct).Within(Timeouts.Short));

        Assert.Equal(DatastoreOperationException.InvalidCode, port.Code);
        Assert.Contains("random_page_cost", bad.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(pg.DataDirectory, "group.conf")));
        Assert.Equal(workMem, await pg.AdminSqlAsync("SHOW work_mem"));
    }

    private static async Task<PostgreSqlTestInstance> PreparedAsync()
    {
        var pg = await PostgreSqlTestInstance.CreateAsync();
        await pg.PrepareAsync();
        return pg;
    }
}
