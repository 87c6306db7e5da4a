using System.Diagnostics;
using System.Globalization;
using Hoard.Abstractions.Datastores;
using Hoard.Datastores.MariaDb.Tests.Support;
using MySqlConnector;
using Xunit.Abstractions;

namespace Hoard.Datastores.MariaDb.Tests;

/// <summary>What the MariaDB manager does beyond the shared contract, against the real mariadbd.</summary>
public sealed class MariaDbManagerTests(ITestOutputHelper output)
{
    private const int TemplateBuilding = 3130;
    private const int TemplateBuilt = 3131;
    private const int DataCopied = 3102;
    private const int SpareTaken = 3150;

    [RequiresBinaryFact("mariadbd", "mariadb-install-db")]
    public async Task The_template_is_built_once_and_copied_into_each_instance()
    {
        var templates = Path.Combine(MariaDbTestInstance.DefaultParent, "templates-" + Guid.NewGuid().ToString("N"));
        var options = new MariaDbManagerOptions { TemplatesDirectory = templates };
        try
        {
            await using (var first = await MariaDbTestInstance.CreateAsync(options))
            await using (var second = await MariaDbTestInstance.CreateAsync(options))
            {
                await first.Manager.PrepareAsync(first.Instance, first.Ct).Within(Timeouts.Cli);
                Assert.Equal(1, first.Logs.Count(TemplateBuilding));
                var template = Assert.Single(Templates(templates));
                var secret = await File.ReadAllTextAsync(template + ".secret").Within(Timeouts.Short);
                output.WriteLine(first.Logs.Lines.Single(l => l.EventId == TemplateBuilt).Line);

                var started = Stopwatch.GetTimestamp();
                await second.Manager.PrepareAsync(second.Instance, second.Ct).Within(Timeouts.Cli);
                output.WriteLine($"prepare with the template present: {Stopwatch.GetElapsedTime(started).TotalMilliseconds:F0} ms");

                // The second instance copied the first one's template: no bootstrap tool ran for it.
                Assert.Equal(0, second.Logs.Count(TemplateBuilding));
                Assert.Equal(1, second.Logs.Count(DataCopied) + second.Logs.Count(SpareTaken));
                Assert.Equal([template], Templates(templates));
                Assert.Equal(secret, await File.ReadAllTextAsync(template + ".secret").Within(Timeouts.Short));
                Assert.Equal(PrivateFileMode, File.GetUnixFileMode(template + ".secret"));

                // Each copy has its own admin password; the template's lets no one in.
                Assert.NotEqual(await first.AdminPasswordAsync(), await second.AdminPasswordAsync());
                Assert.False(await MariaDbClient.CanLoginAsync(second.Instance.Address, second.Instance.Port, "os_admin", secret.Trim(), null));
            }
        }
        finally
        {
            await TemplateFolders.SettleSparesAsync(templates);
            Directory.Delete(templates, recursive: true);
        }
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db")]
    public async Task Instances_prepared_at_once_share_one_template_build()
    {
        var templates = Path.Combine(MariaDbTestInstance.DefaultParent, "templates-" + Guid.NewGuid().ToString("N"));
        var options = new MariaDbManagerOptions { TemplatesDirectory = templates };
        try
        {
            var instances = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => MariaDbTestInstance.CreateAsync(options)));
            try
            {
                await Task.WhenAll(instances.Select(i => i.Manager.PrepareAsync(i.Instance, i.Ct))).Within(Timeouts.Cli);
                Assert.Equal(1, instances.Sum(i => i.Logs.Count(TemplateBuilding)));
                Assert.All(instances, i => Assert.True(i.Manager.IsProcessAlive(i.Instance)));
            }
            finally
            {
                foreach (var instance in instances)
                {
                    await instance.DisposeAsync();
                }
            }
        }
        finally
        {
            await TemplateFolders.SettleSparesAsync(templates);
            Directory.Delete(templates, recursive: true);
        }
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db")]
    public async Task Prepare_time_with_the_template_present()
    {
        // A measurement for the report, not an assertion: speed is a benchmark's business. One plugin for all,
        // as an agent has it: the installed versions are discovered once.
        var plugin = new MariaDbPlugin();
        await using (var warm = await MariaDbTestInstance.CreateAsync(plugin: plugin))
        {
            await warm.Manager.PrepareAsync(warm.Instance, warm.Ct).Within(Timeouts.Cli);
        }

        var times = new List<double>();
        for (var i = 0; i < 7; i++)
        {
            await using var instance = await MariaDbTestInstance.CreateAsync(plugin: plugin);
            var started = Stopwatch.GetTimestamp();
            await instance.Manager.PrepareAsync(instance.Instance, instance.Ct).Within(Timeouts.Cli);
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            Assert.Equal(ServiceStatus.Running, await instance.Manager.ProbeAsync(instance.Instance, instance.Ct).Within(Timeouts.Short));
            output.WriteLine(string.Join(" | ", instance.Logs.Lines.Where(l => l.EventId is DataCopied or 3104).Select(l => l.Line)));
        }

        output.WriteLine($"prepare (template present), {times.Count} fresh instances: {string.Join(", ", times.Select(t => t.ToString("F0", CultureInfo.InvariantCulture)))} ms; median {times.Order().ElementAt(times.Count / 2):F0} ms");
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db")]
    public async Task The_server_runs_as_the_engine_user_with_password_accounts_only()
    {
        await using var mariadb = await MariaDbTestInstance.CreateAsync();
        await mariadb.Manager.PrepareAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);

        var uid = ProcessUid(mariadb.ServerPid()!.Value);
        if (Environment.IsPrivilegedProcess)
        {
            Assert.Equal(EngineAccount.Lookup("mysql")!.Uid, uid);
            Assert.Equal(
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute,
                File.GetUnixFileMode(mariadb.Directory));
        }
        else
        {
            Assert.Equal(ProcessUid(Environment.ProcessId), uid);
        }

        foreach (var file in new[] { "admin.secret", "my.cnf", "mariadb.log", "admin.rotated" })
        {
            Assert.Equal(PrivateFileMode, File.GetUnixFileMode(Path.Combine(mariadb.Directory, file)));
        }

        // Only the agent's admin (a password account) and the engine's locked mariadb.sys: no unix_socket
        // root or mysql, no anonymous user, and no socket to reach them through.
        var accounts = await mariadb.AdminQueryAsync(
            "SELECT User, Host, JSON_VALUE(Priv, '$.plugin'), IFNULL(JSON_VALUE(Priv, '$.account_locked'), '0') FROM mysql.global_priv ORDER BY User");
        Assert.Equal(
            [["mariadb.sys", "localhost", "mysql_native_password", "1"], ["os_admin", "127.0.0.1", "mysql_native_password", "0"]],
            accounts);
        Assert.Equal([[string.Empty, "0"]], await mariadb.AdminQueryAsync("SELECT @@socket, @@local_infile"));
        Assert.Equal([[mariadb.Instance.Address]], await mariadb.AdminQueryAsync("SELECT @@bind_address"));
        Assert.Equal([["268435456"]], await mariadb.AdminQueryAsync("SELECT @@innodb_buffer_pool_size"));
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db")]
    public async Task Databases_keep_their_character_set_and_collation()
    {
        await using var mariadb = await MariaDbTestInstance.CreateAsync();
        await mariadb.Manager.PrepareAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);

        await mariadb.Manager.CreateDatabasesAsync(
            mariadb.Instance,
            [
                new DatabaseSpec("plain"),
                new DatabaseSpec("legacy", "latin1"),
                new DatabaseSpec("german", null, "latin1_german2_ci"),
                new DatabaseSpec("trove", "utf8", "utf8_general_ci"),
                new DatabaseSpec("unicode", "utf8mb4", "utf8mb4_uca1400_ai_ci"),
            ],
            mariadb.Ct).Within(Timeouts.Short);

        Assert.Equal(
            [
                new DatabaseSpec("german", "latin1", "latin1_german2_ci"),
                new DatabaseSpec("legacy", "latin1", "latin1_swedish_ci"),
                new DatabaseSpec("plain", "utf8mb4", "utf8mb4_general_ci"),
                new DatabaseSpec("trove", "utf8mb3", "utf8mb3_general_ci"),
                new DatabaseSpec("unicode", "utf8mb4", "utf8mb4_uca1400_ai_ci"),
            ],
            await mariadb.Manager.ListDatabasesAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Short));

        var mismatch = await Assert.ThrowsAsync<DatastoreOperationException>(
            () => mariadb.Manager.CreateDatabasesAsync(mariadb.Instance, [new DatabaseSpec("bad", "latin1", "utf8mb4_bin")], mariadb.Ct)).Within(Timeouts.Short);
        Assert.Equal(DatastoreOperationException.InvalidCode, mismatch.Code);
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db")]
    public async Task The_collation_table_is_the_servers()
    {
        await using var mariadb = await MariaDbTestInstance.CreateAsync();
        await mariadb.Manager.PrepareAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);

        var server = (await mariadb.AdminQueryAsync("SELECT FULL_COLLATION_NAME, CHARACTER_SET_NAME FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY"))
            .ToDictionary(r => r[0], r => r[1]);
        Assert.Equal(server.OrderBy(p => p.Key, StringComparer.Ordinal), MariaDbCollations.CharacterSetOf.OrderBy(p => p.Key, StringComparer.Ordinal));
        var defaults = await mariadb.AdminQueryAsync("SELECT CHARACTER_SET_NAME, DEFAULT_COLLATE_NAME FROM information_schema.CHARACTER_SETS");
        Assert.All(defaults, d => Assert.Equal(d[1], MariaDbCollations.ByCharacterSet[d[0]][0]));
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db")]
    public async Task Start_after_a_kill_brings_the_server_back_with_its_data()
    {
        await using var mariadb = await MariaDbTestInstance.CreateAsync();
        await mariadb.Manager.PrepareAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);
        await mariadb.Manager.CreateDatabasesAsync(mariadb.Instance, [new DatabaseSpec("shop")], mariadb.Ct).Within(Timeouts.Short);
        await mariadb.Manager.CreateUsersAsync(mariadb.Instance, [new UserSpec { Name = "clerk", Host = "%", Password = "Clerk-pass-1", Databases = ["shop"] }], mariadb.Ct).Within(Timeouts.Short);
        await using (var clerk = await mariadb.ConnectAsync("clerk", "Clerk-pass-1", "shop"))
        {
            await new MySqlCommand("CREATE TABLE orders (id INT PRIMARY KEY, item TEXT); INSERT INTO orders VALUES (1, 'tea'), (2, 'cake')", clerk).ExecuteNonQueryAsync(mariadb.Ct).Within(Timeouts.Short);
        }

        var killed = mariadb.ServerPid();
        await mariadb.KillServerAsync();
        Assert.Equal(ServiceStatus.Shutdown, await mariadb.Manager.ProbeAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Short));

        await mariadb.Manager.StartAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);

        Assert.NotEqual(killed, mariadb.ServerPid());
        Assert.Equal(ServiceStatus.Running, await mariadb.Manager.ProbeAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Short));
        await using (var clerk = await mariadb.ConnectAsync("clerk", "Clerk-pass-1", "shop"))
        {
            Assert.Equal("tea,cake", await new MySqlCommand("SELECT GROUP_CONCAT(item ORDER BY id) FROM orders", clerk).ExecuteScalarAsync(mariadb.Ct).Within(Timeouts.Short));
        }
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db", "mariadb")]
    public async Task Stop_and_start_keep_users_databases_and_access()
    {
        // The conformance suite's stop/start test, with the access a MariaDB user needs to use a database.
        await using var mariadb = await MariaDbTestInstance.CreateAsync();
        await mariadb.Manager.PrepareAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);
        await mariadb.Manager.CreateDatabasesAsync(mariadb.Instance, [new DatabaseSpec("kept")], mariadb.Ct).Within(Timeouts.Short);
        await mariadb.Manager.CreateUsersAsync(mariadb.Instance, [new UserSpec { Name = "keeper", Host = "%", Password = "Keeper-pass-1", Databases = ["kept"] }], mariadb.Ct).Within(Timeouts.Short);

        await mariadb.Manager.StopAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);
        Assert.False(mariadb.Manager.IsProcessAlive(mariadb.Instance));
        Assert.False(File.Exists(Path.Combine(mariadb.DataDirectory, "mariadbd.pid")), "a clean shutdown removes mariadbd's own pid file");
        await mariadb.Manager.StartAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);

        Assert.True(await MariaDbClient.CanLoginAsync(mariadb.Instance.Address, mariadb.Instance.Port, "keeper", "Keeper-pass-1", "kept"));
        Assert.Equal(["kept"], (await mariadb.Manager.ListDatabasesAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Short)).Select(d => d.Name));
        Assert.Equal(["kept"], (await mariadb.Manager.ListUsersAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Short)).Single(u => u.Name == "keeper").Databases);
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db", "mariadb")]
    public async Task Names_with_every_character_the_rules_allow_are_quoted()
    {
        await using var mariadb = await MariaDbTestInstance.CreateAsync();
        var rules = new MariaDbPlugin().Schema;
        const string database = "we-ird#@db_1";
        const string user = "o.k-$#@x";
        const string host = "127.0.0.%";
        Assert.Null(rules.DatabaseName!.Check(database));
        Assert.Null(rules.UserName.Check(user));
        Assert.Null(rules.CheckHost(host));
        await mariadb.Manager.PrepareAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);

        await mariadb.Manager.CreateDatabasesAsync(mariadb.Instance, [new DatabaseSpec(database)], mariadb.Ct).Within(Timeouts.Short);
        await mariadb.Manager.CreateUsersAsync(mariadb.Instance, [new UserSpec { Name = user, Host = host, Password = "it's \"quoted\" \\ `too`", Databases = [database] }], mariadb.Ct).Within(Timeouts.Short);

        Assert.Equal([database], (await mariadb.Manager.ListDatabasesAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Short)).Select(d => d.Name));
        Assert.Equal([new UserInfo(user, host, [database])], await mariadb.Manager.ListUsersAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Short), new UserInfoComparer());
        Assert.True(await MariaDbClient.CanLoginAsync(mariadb.Instance.Address, mariadb.Instance.Port, user, "it's \"quoted\" \\ `too`", database));

        await mariadb.Manager.UpdateUserAsync(mariadb.Instance, new UserRef(user, host), new UserChange { NewName = "o.k-$#@y", NewHost = "%" }, mariadb.Ct).Within(Timeouts.Short);
        Assert.True(await MariaDbClient.CanLoginAsync(mariadb.Instance.Address, mariadb.Instance.Port, "o.k-$#@y", "it's \"quoted\" \\ `too`", database), "grants move with a rename");
        await mariadb.Manager.RevokeAccessAsync(mariadb.Instance, new UserRef("o.k-$#@y", "%"), database, mariadb.Ct).Within(Timeouts.Short);
        await mariadb.Manager.DeleteDatabaseAsync(mariadb.Instance, database, mariadb.Ct).Within(Timeouts.Short);
        await mariadb.Manager.DeleteUserAsync(mariadb.Instance, new UserRef("o.k-$#@y", "%"), mariadb.Ct).Within(Timeouts.Short);
        Assert.Empty(await mariadb.Manager.ListUsersAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Short));
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db", "mariadb")]
    public async Task Access_to_a_database_with_an_underscore_is_not_a_wildcard()
    {
        await using var mariadb = await MariaDbTestInstance.CreateAsync();
        await mariadb.Manager.PrepareAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);
        await mariadb.Manager.CreateDatabasesAsync(mariadb.Instance, [new DatabaseSpec("app_db"), new DatabaseSpec("appXdb")], mariadb.Ct).Within(Timeouts.Short);
        await mariadb.Manager.CreateUsersAsync(mariadb.Instance, [new UserSpec { Name = "app", Host = "%", Password = "App-pass-1", Databases = ["app_db"] }], mariadb.Ct).Within(Timeouts.Short);

        Assert.True(await MariaDbClient.CanLoginAsync(mariadb.Instance.Address, mariadb.Instance.Port, "app", "App-pass-1", "app_db"));
        Assert.False(await MariaDbClient.CanLoginAsync(mariadb.Instance.Address, mariadb.Instance.Port, "app", "App-pass-1", "appXdb"), "app_db's '_' matched another database");
        Assert.Equal(["app_db"], (await mariadb.Manager.ListUsersAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Short)).Single().Databases);
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db", "mariadb")]
    public async Task A_dropped_database_takes_its_grants_along()
    {
        await using var mariadb = await MariaDbTestInstance.CreateAsync();
        await mariadb.Manager.PrepareAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);
        await mariadb.Manager.CreateDatabasesAsync(mariadb.Instance, [new DatabaseSpec("temp")], mariadb.Ct).Within(Timeouts.Short);
        await mariadb.Manager.CreateUsersAsync(mariadb.Instance, [new UserSpec { Name = "former", Host = "%", Password = "Former-pass-1", Databases = ["temp"] }], mariadb.Ct).Within(Timeouts.Short);

        await mariadb.Manager.DeleteDatabaseAsync(mariadb.Instance, "temp", mariadb.Ct).Within(Timeouts.Short);
        Assert.Empty((await mariadb.Manager.ListUsersAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Short)).Single().Databases);

        // A new database of the same name is not open to whoever could use the old one.
        await mariadb.Manager.CreateDatabasesAsync(mariadb.Instance, [new DatabaseSpec("temp")], mariadb.Ct).Within(Timeouts.Short);
        Assert.False(await MariaDbClient.CanLoginAsync(mariadb.Instance.Address, mariadb.Instance.Port, "former", "Former-pass-1", "temp"));
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db", "mariadb")]
    public async Task Root_is_locked_when_disabled_and_unlocked_when_enabled_again()
    {
        await using var mariadb = await MariaDbTestInstance.CreateAsync();
        await mariadb.Manager.PrepareAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);
        await mariadb.Manager.DisableRootAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Short); // never enabled: nothing to do
        Assert.Empty(await mariadb.AdminQueryAsync("SELECT 1 FROM mysql.user WHERE User = 'root'"));

        var root = await mariadb.Manager.EnableRootAsync(mariadb.Instance, null, mariadb.Ct).Within(Timeouts.Short);
        Assert.Equal("root", root.Name);
        Assert.Equal([["%", "Y", "0"]], await mariadb.AdminQueryAsync(RootQuery));
        await mariadb.Manager.DisableRootAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Short);
        Assert.Equal([["%", "Y", "1"]], await mariadb.AdminQueryAsync(RootQuery));
        Assert.False(await MariaDbClient.CanLoginAsync(mariadb.Instance.Address, mariadb.Instance.Port, "root", root.Password, null));

        var again = await mariadb.Manager.EnableRootAsync(mariadb.Instance, "Root-pass-again-1", mariadb.Ct).Within(Timeouts.Short);
        Assert.True(await MariaDbClient.CanLoginAsync(mariadb.Instance.Address, mariadb.Instance.Port, "root", again.Password, null));
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db", "mariadb")]
    public async Task No_password_reaches_the_agents_log_or_the_servers()
    {
        await using var mariadb = await MariaDbTestInstance.CreateAsync();
        await mariadb.Manager.PrepareAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);
        await mariadb.Manager.CreateDatabasesAsync(mariadb.Instance, [new DatabaseSpec("secret_db")], mariadb.Ct).Within(Timeouts.Short);
        await mariadb.Manager.CreateUsersAsync(mariadb.Instance, [new UserSpec { Name = "spy", Host = "%", Password = "Spy-password-1", Databases = ["secret_db"] }], mariadb.Ct).Within(Timeouts.Short);
        await mariadb.Manager.ChangePasswordsAsync(mariadb.Instance, [new PasswordChange(new UserRef("spy", "%"), "Spy-password-2")], mariadb.Ct).Within(Timeouts.Short);
        await mariadb.Manager.UpdateUserAsync(mariadb.Instance, new UserRef("spy", "%"), new UserChange { NewPassword = "Spy-password-3" }, mariadb.Ct).Within(Timeouts.Short);
        var root = await mariadb.Manager.EnableRootAsync(mariadb.Instance, null, mariadb.Ct).Within(Timeouts.Short);
        await mariadb.Manager.DisableRootAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Short);
        Assert.False(await MariaDbClient.CanLoginAsync(mariadb.Instance.Address, mariadb.Instance.Port, "spy", "wrong-password-9", null));
        await mariadb.Manager.StopAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);

        var template = Directory.GetFiles(Path.Combine(MariaDbTestInstance.DefaultParent, ".templates"), "*.secret").Single();
        string[] secrets =
        [
            "Spy-password-1", "Spy-password-2", "Spy-password-3", root.Password,
            await mariadb.AdminPasswordAsync(), (await File.ReadAllTextAsync(template).Within(Timeouts.Short)).Trim(),
        ];
        var serverLog = await File.ReadAllTextAsync(mariadb.ServerLog).Within(Timeouts.Short);
        Assert.NotEmpty(mariadb.Logs.Lines);
        Assert.Contains("Access denied for user 'spy'", serverLog, StringComparison.Ordinal);
        foreach (var secret in secrets)
        {
            Assert.All(mariadb.Logs.Lines, l => Assert.DoesNotContain(secret, l.Line, StringComparison.Ordinal));
            Assert.DoesNotContain(secret, serverLog, StringComparison.Ordinal);
        }
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db")]
    public async Task A_start_that_fails_says_what_the_server_said()
    {
        await using var mariadb = await MariaDbTestInstance.CreateAsync();
        await mariadb.Manager.PrepareAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);
        await mariadb.Manager.StopAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);
        await File.AppendAllTextAsync(Path.Combine(mariadb.Directory, "my.cnf"), "no-such-option = 1\n").Within(Timeouts.Short);

        var started = Stopwatch.GetTimestamp();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => mariadb.Manager.StartAsync(mariadb.Instance, mariadb.Ct)).Within(Timeouts.Cli);

        Assert.Contains("no-such-option", error.Message, StringComparison.Ordinal);
        Assert.Contains("exited during start-up", error.Message, StringComparison.Ordinal);
        Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(30), "a dead server is noticed, not waited for until the deadline");
        Assert.False(mariadb.Manager.IsProcessAlive(mariadb.Instance));
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db")]
    public async Task A_stale_pid_file_naming_another_process_is_not_taken_for_the_server()
    {
        await using var mariadb = await MariaDbTestInstance.CreateAsync();
        await mariadb.Manager.PrepareAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);
        await mariadb.KillServerAsync();

        // After a crash the pid may be reused; here it names the test process itself.
        await File.WriteAllTextAsync(Path.Combine(mariadb.Directory, "mariadbd.pid"), $"{Environment.ProcessId}\n").Within(Timeouts.Short);

        Assert.False(mariadb.Manager.IsProcessAlive(mariadb.Instance));
        await mariadb.Manager.StopAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);
        await mariadb.Manager.StartAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);
        Assert.True(mariadb.Manager.IsProcessAlive(mariadb.Instance));
        Assert.NotEqual(Environment.ProcessId, mariadb.ServerPid());
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db")]
    public async Task Data_under_a_mount_point_is_removed_by_destroy()
    {
        var mountPoint = Path.Combine(MariaDbTestInstance.DefaultParent, "mnt-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var mariadb = await MariaDbTestInstance.CreateAsync(guestOptions: new Dictionary<string, string> { ["mount_point"] = mountPoint });
            await mariadb.Manager.PrepareAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);
            var data = Path.Combine(mountPoint, mariadb.Instance.Id);
            Assert.Equal(data, mariadb.DataDirectory);
            Assert.True(Directory.Exists(Path.Combine(data, "mysql")));
            Assert.False(Directory.Exists(Path.Combine(mariadb.Directory, "data")));

            await mariadb.Manager.DestroyAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);
            Assert.False(Directory.Exists(data));
            await mariadb.Manager.DestroyAsync(mariadb.Instance, mariadb.Ct).Within(Timeouts.Cli);
        }
        finally
        {
            Directory.Delete(mountPoint, recursive: true);
        }
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db")]
    public async Task An_instance_the_engine_user_cannot_reach_is_refused_by_name()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            // Only root hands the server to another user; as anyone else the server runs as the agent's user.
            return;
        }

        var hidden = Path.Combine(MariaDbTestInstance.DefaultParent, "private-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(hidden, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            await using var mariadb = await MariaDbTestInstance.CreateAsync(parent: hidden);
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => mariadb.Manager.PrepareAsync(mariadb.Instance, mariadb.Ct)).Within(Timeouts.Cli);
            Assert.Contains(hidden + " is not searchable", error.Message, StringComparison.Ordinal);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(hidden));
        }
        finally
        {
            Directory.Delete(hidden, recursive: true);
        }
    }

    private const string RootQuery =
        "SELECT u.Host, u.Grant_priv, IFNULL(JSON_VALUE(p.Priv, '$.account_locked'), '0') FROM mysql.user u JOIN mysql.global_priv p USING (User, Host) WHERE u.User = 'root'";

    private const UnixFileMode PrivateFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private static uint ProcessUid(int pid) =>
        uint.Parse(
            File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1],
            CultureInfo.InvariantCulture);

    private sealed class UserInfoComparer : IEqualityComparer<UserInfo>
    {
        public bool Equals(UserInfo? x, UserInfo? y) =>
            x is not null && y is not null && x.Name == y.Name && x.Host == y.Host && x.Databases.SequenceEqual(y.Databases);

        public int GetHashCode(UserInfo obj) => HashCode.Combine(obj.Name, obj.Host);
    }

    /// <summary>The template data directories, without the spare copies made beside them in the background.</summary>
    private static string[] Templates(string folder) =>
        [.. Directory.GetDirectories(folder).Where(d => !d.Contains(".spare-", StringComparison.Ordinal) && !d.Contains(".making-", StringComparison.Ordinal))];
}
