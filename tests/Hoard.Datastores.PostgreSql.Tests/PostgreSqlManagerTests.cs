using System.Globalization;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.IO;
using Hoard.Datastores.PostgreSql.Tests.Support;

namespace Hoard.Datastores.PostgreSql.Tests;

/// <summary>The manager's lifecycle against real postgres servers: templates, the engine user, crashes, settings.</summary>
public sealed class PostgreSqlManagerTests
{
    private const int TemplateBuilding = 3240;
    private const int DataDirectoryCopied = 3202;
    private const int SpareTaken = 3250;

    [PostgresFact]
    public async Task Instances_are_copied_from_one_template_built_once_even_by_concurrent_prepares()
    {
        var templates = Path.Combine(PostgreSqlTestInstance.DefaultRoot, "templates-" + Guid.NewGuid().ToString("N"));
        var options = new PostgreSqlManagerOptions { TemplatesDirectory = templates };
        try
        {
            await using var first = await PostgreSqlTestInstance.CreateAsync(options);
            await using var second = await PostgreSqlTestInstance.CreateAsync(options);
            await Task.WhenAll(first.PrepareAsync(), second.PrepareAsync()).Within(Timeouts.Cli);
            Assert.Equal(1, first.Logs.Count(TemplateBuilding) + second.Logs.Count(TemplateBuilding));
            var template = Path.Combine(templates, "postgresql-" + first.Instance.Version);
            var builtAt = File.GetLastWriteTimeUtc(Path.Combine(template, "PG_VERSION"));

            // Once an instance serves, spare copies of the template are made, and the next create takes one with a rename.
            await Timeouts.EventuallyAsync(() => Task.FromResult(SpareCopies.Count(template)), n => n == 2, Timeouts.Cli, "two spare copies of the template (spare_copies' default)");
            await using var third = await PostgreSqlTestInstance.CreateAsync(options);
            await third.PrepareAsync();
            Assert.Equal(0, third.Logs.Count(TemplateBuilding));
            Assert.Equal(1, third.Logs.Count(SpareTaken));
            Assert.Equal(0, third.Logs.Count(DataDirectoryCopied));
            await Timeouts.EventuallyAsync(() => Task.FromResult(SpareCopies.Count(template)), n => n == 2, Timeouts.Cli, "the taken spare to be replaced");
            Assert.Equal(builtAt, File.GetLastWriteTimeUtc(Path.Combine(template, "PG_VERSION")));
            Assert.Equal(PrivateFileMode, File.GetUnixFileMode(template + ".secret"));
            Assert.Equal(PrivateFileMode, File.GetUnixFileMode(Path.Combine(third.DataDirectory, "PG_VERSION")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(third.DataDirectory, "base")));
            Assert.Equal("1", await third.AdminSqlAsync("SELECT 1"));
        }
        finally
        {
            await TemplateFolders.SettleSparesAsync(templates);
            Directory.Delete(templates, recursive: true);
        }
    }

    [PostgresFact]
    public async Task A_retried_prepare_finds_the_server_running_and_copies_nothing()
    {
        await using var instance = await PostgreSqlTestInstance.CreateAsync();
        await instance.PrepareAsync();
        var pid = instance.ServerPid();

        await instance.PrepareAsync();
        Assert.Equal(pid, instance.ServerPid());
        Assert.Equal(1, instance.Logs.Count(DataDirectoryCopied) + instance.Logs.Count(SpareTaken));
    }

    [PostgresFact]
    public async Task The_server_runs_as_the_engine_user_in_a_session_of_its_own_and_secrets_stay_private()
    {
        await using var instance = await PostgreSqlTestInstance.CreateAsync();
        await instance.PrepareAsync();
        var pid = instance.ServerPid()!.Value;

        var asRoot = Environment.UserName == "root";
        var expectedUid = asRoot ? await UidOfAsync("postgres") : await UidOfAsync(Environment.UserName);
        Assert.Equal(expectedUid, RealUidOf(pid));
        Assert.Equal(pid, SessionOf(pid));

        Assert.Equal(PrivateFileMode, File.GetUnixFileMode(Path.Combine(instance.Directory, "admin.secret")));
        Assert.Equal(PrivateFileMode, File.GetUnixFileMode(instance.ServerLog));
        if (asRoot)
        {
            // Searchable, not listable, for the engine user.
            Assert.Equal(
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute,
                File.GetUnixFileMode(instance.Directory));
        }
    }

    [PostgresFact]
    public async Task A_killed_server_starts_again_with_its_data()
    {
        await using var instance = await PostgreSqlTestInstance.CreateAsync();
        await instance.PrepareAsync();
        await instance.Manager.CreateDatabasesAsync(instance.Instance, [new DatabaseSpec("durable")], instance.Ct).Within(Timeouts.Short);
        await instance.Manager.CreateUsersAsync(instance.Instance, [new UserSpec { Name = "owner", Password = "Owner-pass-1", Databases = ["durable"] }], instance.Ct).Within(Timeouts.Short);
        var created = await instance.PsqlAsync("owner", "Owner-pass-1", "durable", "CREATE TABLE t (x int); INSERT INTO t VALUES (42);");
        Assert.True(created.ExitCode == 0, created.ToString());

        await instance.KillServerAsync();
        Assert.Equal(ServiceStatus.Shutdown, await instance.Manager.ProbeAsync(instance.Instance, instance.Ct).Within(Timeouts.Short));

        await instance.Manager.StartAsync(instance.Instance, instance.Ct).Within(Timeouts.Cli);
        Assert.Equal(ServiceStatus.Running, await instance.Manager.ProbeAsync(instance.Instance, instance.Ct).Within(Timeouts.Short));
        var read = await instance.PsqlAsync("owner", "Owner-pass-1", "durable", "SELECT x FROM t");
        Assert.Equal("42", read.Stdout.Trim());
    }

    [PostgresFact]
    public async Task A_user_with_access_keeps_it_across_a_clean_restart()
    {
        // What the conformance suite's stop-and-start test means to check, with the access granted.
        await using var instance = await PostgreSqlTestInstance.CreateAsync();
        await instance.PrepareAsync();
        await instance.Manager.CreateDatabasesAsync(instance.Instance, [new DatabaseSpec("kept")], instance.Ct).Within(Timeouts.Short);
        await instance.Manager.CreateUsersAsync(instance.Instance, [new UserSpec { Name = "keeper", Password = "Keeper-pass-1", Databases = ["kept"] }], instance.Ct).Within(Timeouts.Short);

        await instance.Manager.StopAsync(instance.Instance, instance.Ct).Within(Timeouts.Cli);
        Assert.False(File.Exists(Path.Combine(instance.DataDirectory, "postmaster.pid")), "a fast shutdown is a clean one: postgres removes its lock file");
        await instance.Manager.StartAsync(instance.Instance, instance.Ct).Within(Timeouts.Cli);

        Assert.True(await Psql.CanLoginAsync(instance.Instance, "keeper", "Keeper-pass-1", "kept").Within(Timeouts.Cli));
        Assert.Equal(["kept"], Assert.Single(await instance.Manager.ListUsersAsync(instance.Instance, instance.Ct).Within(Timeouts.Short)).Databases);
    }

    [PostgresFact]
    public async Task The_templates_admin_password_does_not_open_an_instance()
    {
        await using var instance = await PostgreSqlTestInstance.CreateAsync();
        await instance.PrepareAsync();
        var templateSecret = Path.Combine(Path.GetDirectoryName(instance.Directory)!, ".templates", $"postgresql-{instance.Instance.Version}.secret");
        var templatePassword = (await File.ReadAllTextAsync(templateSecret).Within(Timeouts.Short)).Trim();

        Assert.False(await Psql.CanLoginAsync(instance.Instance, "os_admin", templatePassword, null).Within(Timeouts.Cli));
        Assert.True(await Psql.CanLoginAsync(instance.Instance, "os_admin", await instance.AdminPasswordAsync(), null).Within(Timeouts.Cli));
    }

    [PostgresFact]
    public async Task Settings_follow_the_flavor_and_allow_password_logins_over_tcp_only()
    {
        await using var instance = await PostgreSqlTestInstance.CreateAsync(ramMb: 1024);
        await instance.PrepareAsync();

        Assert.Equal("256MB", await instance.AdminSqlAsync("SHOW shared_buffers"));
        Assert.Equal("768MB", await instance.AdminSqlAsync("SHOW effective_cache_size"));
        Assert.Equal("64MB", await instance.AdminSqlAsync("SHOW maintenance_work_mem"));
        Assert.Equal(instance.Instance.Address, await instance.AdminSqlAsync("SHOW listen_addresses"));
        Assert.Equal(string.Empty, await instance.AdminSqlAsync("SHOW unix_socket_directories"));
        Assert.Equal("host|{all}|{all}|scram-sha-256\nhost|{all}|{all}|scram-sha-256", await instance.AdminSqlAsync("SELECT type, database, user_name, auth_method FROM pg_hba_file_rules WHERE database <> '{replication}' ORDER BY line_number"));

        // Replication (base backups) for the admin alone, from the instance's address and loopback.
        Assert.Equal(
            $"{{os_admin}}|127.0.0.1|scram-sha-256\n{{os_admin}}|{instance.Instance.Address}|scram-sha-256",
            await instance.AdminSqlAsync("SELECT user_name, address, auth_method FROM pg_hba_file_rules WHERE database = '{replication}' ORDER BY address"));
    }

    [PostgresFact]
    public async Task Data_under_a_mount_point_is_kept_there_and_removed_by_destroy()
    {
        var mountPoint = Path.Combine(PostgreSqlTestInstance.DefaultRoot, "mnt-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var instance = await PostgreSqlTestInstance.CreateAsync(guestOptions: new Dictionary<string, string> { ["mount_point"] = mountPoint });
            await instance.PrepareAsync();
            var data = Path.Combine(mountPoint, instance.Instance.Id);
            Assert.True(File.Exists(Path.Combine(data, "PG_VERSION")));
            Assert.False(Directory.Exists(Path.Combine(instance.Directory, "data")));
            Assert.Equal("1", await instance.AdminSqlAsync("SELECT 1"));

            await instance.Manager.DestroyAsync(instance.Instance, instance.Ct).Within(Timeouts.Cli);
            Assert.False(Directory.Exists(data));
            Assert.False(instance.Manager.IsProcessAlive(instance.Instance));
            await instance.Manager.DestroyAsync(instance.Instance, instance.Ct).Within(Timeouts.Cli);
        }
        finally
        {
            Directory.Delete(mountPoint, recursive: true);
        }
    }

    [RootFact]
    public async Task A_directory_the_engine_user_cannot_enter_is_named_in_the_error()
    {
        var locked = Path.Combine(PostgreSqlTestInstance.DefaultRoot, "locked-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            await using var instance = await PostgreSqlTestInstance.CreateAsync(parent: locked);
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => instance.PrepareAsync());
            Assert.Contains(locked, refused.Message, StringComparison.Ordinal);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(locked));
        }
        finally
        {
            Directory.Delete(locked, recursive: true);
        }
    }

    private const UnixFileMode PrivateFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private static async Task<int> UidOfAsync(string user)
    {
        var result = await ProcessRunner.RunAsync("id", ["-u", user], timeout: Timeouts.Short);
        return int.Parse(result.Stdout.Trim(), CultureInfo.InvariantCulture);
    }

    private static int RealUidOf(int pid) =>
        int.Parse(
            File.ReadAllLines($"/proc/{pid}/status").Single(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1],
            CultureInfo.InvariantCulture);

    private static int SessionOf(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

        // After "pid (comm)": state, ppid, pgrp, session.
        return int.Parse(fields[3], CultureInfo.InvariantCulture);
    }
}
