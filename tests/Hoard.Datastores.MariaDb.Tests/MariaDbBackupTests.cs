using System.Globalization;
using Hoard.Abstractions.Datastores;
using Hoard.Datastores.MariaDb.Tests.Support;
using MySqlConnector;
using Xunit.Abstractions;

namespace Hoard.Datastores.MariaDb.Tests;

/// <summary>The mariadb-backup strategy against real servers: a hot backup of a busy instance restored into another.</summary>
public sealed class MariaDbBackupTests(ITestOutputHelper output)
{
    private const string ClerkPassword = "Clerk-pass-1";

    [RequiresBinaryFact("mariadbd", "mariadb-install-db", "mariadb-backup", "mbstream")]
    public async Task A_backup_taken_under_writes_restores_one_consistent_instant_into_another_instance()
    {
        await using var source = await MariaDbTestInstance.CreateAsync();
        await using var target = await MariaDbTestInstance.CreateAsync();
        await Task.WhenAll(
            source.Manager.PrepareAsync(source.Instance, source.Ct),
            target.Manager.PrepareAsync(target.Instance, target.Ct)).Within(Timeouts.Cli);
        Assert.Equal("mariadb-backup", source.Manager.BackupStrategy);

        await source.Manager.CreateDatabasesAsync(source.Instance, [new DatabaseSpec("shop")], source.Ct).Within(Timeouts.Short);
        await source.Manager.CreateUsersAsync(source.Instance, [new UserSpec { Name = "clerk", Host = "%", Password = ClerkPassword, Databases = ["shop"] }], source.Ct).Within(Timeouts.Short);
        await using (var clerk = await source.ConnectAsync("clerk", ClerkPassword, "shop"))
        {
            await Execute(clerk, """
                CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(64) NOT NULL) ENGINE=InnoDB;
                CREATE TABLE tally (id INT PRIMARY KEY, orders BIGINT NOT NULL) ENGINE=InnoDB;
                INSERT INTO tally VALUES (1, 0);
                """, source.Ct);
        }

        // The writer: every transaction adds an order and counts it, so a copy of one instant has tally = COUNT(*).
        using var stopWriting = new CancellationTokenSource();
        long committed = 0;
        var writer = Task.Run(async () =>
        {
            await using var clerk = await source.ConnectAsync("clerk", ClerkPassword, "shop");
            while (!stopWriting.IsCancellationRequested)
            {
                await Execute(clerk, "START TRANSACTION; INSERT INTO orders (item) VALUES (REPEAT('x', 60)); UPDATE tally SET orders = orders + 1 WHERE id = 1; COMMIT", source.Ct);
                Interlocked.Increment(ref committed);
            }
        });
        await Timeouts.EventuallyAsync(() => Task.FromResult(Interlocked.Read(ref committed)), n => n >= 200, Timeouts.Short, "the writer to commit 200 orders");

        var before = await CountOrdersAsync(source);
        var backupFile = Path.Combine(MariaDbTestInstance.DefaultParent, $"backup-{Guid.NewGuid():N}.xbstream");
        try
        {
            var committedBefore = Interlocked.Read(ref committed);
            long written;
            await using (var file = File.Create(backupFile))
            {
                written = await source.Manager.BackupAsync(source.Instance, file, source.Ct).Within(Timeouts.Cli);
                Assert.Equal(file.Length, written);
            }

            var atEnd = await CountOrdersAsync(source);
            var committedDuring = Interlocked.Read(ref committed) - committedBefore;
            await stopWriting.CancelAsync();
            await writer.Within(Timeouts.Short);
            output.WriteLine($"backup: {written} bytes; orders before {before}, at its end {atEnd}; {committedDuring} committed while it ran");
            Assert.True(committedDuring > 0, "the writer committed nothing while the backup ran");

            await using (var file = File.OpenRead(backupFile))
            {
                await target.Manager.RestoreAsync(target.Instance, file, target.Ct).Within(Timeouts.Cli);
            }

            foreach (var line in (await File.ReadAllLinesAsync(target.ServerLog, target.Ct).Within(Timeouts.Short)).Where(l => l.Contains("[ERROR]", StringComparison.Ordinal) || l.Contains("[Warning]", StringComparison.Ordinal)))
            {
                output.WriteLine("target log: " + line);
            }

            // One instant, between the start of the backup and its end.
            var (orders, tally) = await OrdersAndTallyAsync(target);
            output.WriteLine($"restored: {orders} orders, tally {tally}");
            Assert.Equal(orders, tally);
            Assert.InRange(orders, before, atEnd);

            // The target keeps its own address and admin password; the source's accounts came with the data.
            Assert.Equal(ServiceStatus.Running, await target.Manager.ProbeAsync(target.Instance, target.Ct).Within(Timeouts.Short));
            Assert.NotEqual(await source.AdminPasswordAsync(), await target.AdminPasswordAsync());
            Assert.False(await MariaDbClient.CanLoginAsync(target.Instance.Address, target.Instance.Port, "os_admin", await source.AdminPasswordAsync(), null));
            Assert.True(await MariaDbClient.CanLoginAsync(target.Instance.Address, target.Instance.Port, "clerk", ClerkPassword, "shop"));
            await target.Manager.CreateDatabasesAsync(target.Instance, [new DatabaseSpec("ledger")], target.Ct).Within(Timeouts.Short);
            var databases = (await target.Manager.ListDatabasesAsync(target.Instance, target.Ct).Within(Timeouts.Short)).Select(d => d.Name).ToList();
            Assert.Contains("shop", databases);
            Assert.Contains("ledger", databases);
            Assert.Contains(
                (await target.Manager.ListUsersAsync(target.Instance, target.Ct).Within(Timeouts.Short)),
                u => u.Name == "clerk");
            Assert.Empty(Directory.EnumerateDirectories(target.Directory, "restore-*"));
            Assert.False(Directory.Exists(target.DataDirectory + ".replaced"));

            // The restored data is the server's own now: a restart keeps it.
            await target.Manager.StopAsync(target.Instance, target.Ct).Within(Timeouts.Cli);
            await target.Manager.StartAsync(target.Instance, target.Ct).Within(Timeouts.Cli);
            Assert.Equal((orders, tally), await OrdersAndTallyAsync(target));
        }
        finally
        {
            await stopWriting.CancelAsync();
            await writer.WaitAsync(Timeouts.Short).ContinueWith(_ => { }, TaskScheduler.Default);
            File.Delete(backupFile);
        }
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db", "mariadb-backup", "mbstream")]
    public async Task A_restore_of_garbage_fails_and_the_instance_keeps_serving_its_data()
    {
        await using var target = await MariaDbTestInstance.CreateAsync();
        await target.Manager.PrepareAsync(target.Instance, target.Ct).Within(Timeouts.Cli);
        await target.Manager.CreateDatabasesAsync(target.Instance, [new DatabaseSpec("shop")], target.Ct).Within(Timeouts.Short);
        await using (var admin = await target.ConnectAsAdminAsync())
        {
            await Execute(admin, "CREATE TABLE shop.orders (id INT PRIMARY KEY, item TEXT) ENGINE=InnoDB; INSERT INTO shop.orders VALUES (1, 'tea'), (2, 'cake')", target.Ct);
        }

        var pid = target.ServerPid();
        var garbage = new byte[256 * 1024];
        new Random(7).NextBytes(garbage);
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(
            () => target.Manager.RestoreAsync(target.Instance, new MemoryStream(garbage), target.Ct)).Within(Timeouts.Cli);
        output.WriteLine(failure.Message);

        Assert.Equal(pid, target.ServerPid());
        Assert.Equal(ServiceStatus.Running, await target.Manager.ProbeAsync(target.Instance, target.Ct).Within(Timeouts.Short));
        Assert.Equal([["1", "tea"], ["2", "cake"]], await target.AdminQueryAsync("SELECT id, item FROM shop.orders ORDER BY id"));
        Assert.Empty(Directory.EnumerateDirectories(target.Directory, "restore-*"));
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db", "mariadb-backup", "mbstream")]
    public async Task A_restore_whose_server_cannot_start_puts_the_previous_data_back()
    {
        await using var source = await MariaDbTestInstance.CreateAsync();
        await using var target = await MariaDbTestInstance.CreateAsync();
        await Task.WhenAll(
            source.Manager.PrepareAsync(source.Instance, source.Ct),
            target.Manager.PrepareAsync(target.Instance, target.Ct)).Within(Timeouts.Cli);
        await target.Manager.CreateDatabasesAsync(target.Instance, [new DatabaseSpec("keep")], target.Ct).Within(Timeouts.Short);
        await using (var admin = await target.ConnectAsAdminAsync())
        {
            await Execute(admin, "CREATE TABLE keep.notes (id INT PRIMARY KEY, note TEXT) ENGINE=InnoDB; INSERT INTO keep.notes VALUES (1, 'still here')", target.Ct);
        }

        // A well-formed backup that prepares, but whose server cannot start: its grant tables are gone.
        var work = Path.Combine(MariaDbTestInstance.DefaultParent, $"broken-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        try
        {
            var backupFile = Path.Combine(work, "good.xbstream");
            await using (var file = File.Create(backupFile))
            {
                await source.Manager.BackupAsync(source.Instance, file, source.Ct).Within(Timeouts.Cli);
            }

            var extracted = Path.Combine(work, "extracted");
            var brokenFile = Path.Combine(work, "broken.xbstream");
            var rebuilt = await ProcessRunner.RunAsync("/bin/sh", ["-c", "mkdir \"$2\" && mbstream -x -C \"$2\" < \"$1\" && rm \"$2\"/mysql/global_priv.* && cd \"$2\" && find . -type f | sed 's|^\\./||' | xargs mbstream -c > \"$3\"", "sh", backupFile, extracted, brokenFile], timeout: Timeouts.Cli);
            Assert.True(rebuilt.ExitCode == 0, rebuilt.ToString());

            var pid = target.ServerPid();
            await using (var file = File.OpenRead(brokenFile))
            {
                var failure = await Assert.ThrowsAsync<InvalidOperationException>(
                    () => target.Manager.RestoreAsync(target.Instance, file, target.Ct)).Within(Timeouts.Cli);
                output.WriteLine(failure.Message);
            }

            // Stopped for the swap, then started again on the data it had.
            Assert.NotEqual(pid, target.ServerPid());
            Assert.Equal(ServiceStatus.Running, await target.Manager.ProbeAsync(target.Instance, target.Ct).Within(Timeouts.Short));
            Assert.Equal([["1", "still here"]], await target.AdminQueryAsync("SELECT id, note FROM keep.notes"));
            Assert.False(Directory.Exists(target.DataDirectory + ".replaced"));
            Assert.Empty(Directory.EnumerateDirectories(target.Directory, "restore-*"));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [RequiresBinaryFact("mariadbd", "mariadb-install-db", "mariadb-backup", "mbstream")]
    public async Task Incremental_backups_taken_under_writes_restore_as_a_chain_to_the_instant_of_the_last_one()
    {
        await using var source = await MariaDbTestInstance.CreateAsync();
        await using var target = await MariaDbTestInstance.CreateAsync();
        await Task.WhenAll(
            source.Manager.PrepareAsync(source.Instance, source.Ct),
            target.Manager.PrepareAsync(target.Instance, target.Ct)).Within(Timeouts.Cli);
        await source.Manager.CreateDatabasesAsync(source.Instance, [new DatabaseSpec("shop")], source.Ct).Within(Timeouts.Short);
        await using var admin = await source.ConnectAsAdminAsync();
        await Execute(admin, """
            CREATE TABLE shop.orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(64) NOT NULL) ENGINE=InnoDB;
            CREATE TABLE shop.tally (id INT PRIMARY KEY, orders BIGINT NOT NULL) ENGINE=InnoDB;
            INSERT INTO shop.tally VALUES (1, 0);
            """, source.Ct);
        const string order = "START TRANSACTION; INSERT INTO shop.orders (item) VALUES (REPEAT('x', 60)); UPDATE shop.tally SET orders = orders + 1 WHERE id = 1; COMMIT";
        var work = Path.Combine(MariaDbTestInstance.DefaultParent, $"chain-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        using var stopWriting = new CancellationTokenSource();
        Task writer = Task.CompletedTask;
        try
        {
            for (var i = 0; i < 100; i++)
            {
                await Execute(admin, order, source.Ct);
            }

            var full = await BackupToFileAsync(source, null, Path.Combine(work, "full.xbstream"));
            Assert.Matches("^[0-9]+$", full.ResumePoint);
            for (var i = 0; i < 100; i++)
            {
                await Execute(admin, order, source.Ct);
            }

            var first = await BackupToFileAsync(source, full.ResumePoint, Path.Combine(work, "first.xbstream"));
            output.WriteLine($"to_lsn: full {full.ResumePoint}, first increment {first.ResumePoint}");
            Assert.True(ulong.Parse(first.ResumePoint, CultureInfo.InvariantCulture) >= ulong.Parse(full.ResumePoint, CultureInfo.InvariantCulture));

            // The second increment is taken while a writer commits.
            long committed = 0;
            writer = Task.Run(async () =>
            {
                await using var clerk = await source.ConnectAsAdminAsync();
                for (var i = 0; i < 1_000_000 && !stopWriting.IsCancellationRequested; i++)
                {
                    await Execute(clerk, order, source.Ct);
                    Interlocked.Increment(ref committed);
                }
            });
            await Timeouts.EventuallyAsync(() => Task.FromResult(Interlocked.Read(ref committed)), n => n >= 100, Timeouts.Short, "the writer to commit 100 orders");
            var before = await CountOrdersAsync(source);
            var second = await BackupToFileAsync(source, first.ResumePoint, Path.Combine(work, "second.xbstream"));
            var atEnd = await CountOrdersAsync(source);
            await stopWriting.CancelAsync();
            await writer.Within(Timeouts.Short);
            Assert.True(new FileInfo(Path.Combine(work, "second.xbstream")).Length < new FileInfo(Path.Combine(work, "full.xbstream")).Length, "the increment is smaller than the full backup");

            // Out of order, the increments are refused by mariadb-backup itself, and the target keeps its data. (Which
            // one it refuses depends on checkpoints: to_lsn is the checkpoint a backup began from, so two backups with no
            // checkpoint between them share it, and an increment on either is the same pages.)
            await target.Manager.CreateDatabasesAsync(target.Instance, [new DatabaseSpec("mine")], target.Ct).Within(Timeouts.Short);
            var disorder = await Assert.ThrowsAsync<InvalidOperationException>(() => RestoreFilesAsync(target, work, "full", "second", "first"));
            output.WriteLine(disorder.Message);
            Assert.Contains("mariadb-backup --prepare --incremental-dir (backup ", disorder.Message, StringComparison.Ordinal);
            Assert.Contains("mine", (await target.Manager.ListDatabasesAsync(target.Instance, target.Ct).Within(Timeouts.Short)).Select(d => d.Name));

            await RestoreFilesAsync(target, work, "full", "first", "second");
            var (orders, tally) = await OrdersAndTallyAsync(target);
            output.WriteLine($"restored: {orders} orders, tally {tally}; the source had {before} when the second increment began, {atEnd} at its end");
            Assert.Equal(orders, tally);
            Assert.InRange(orders, before, atEnd);
            Assert.Empty(Directory.EnumerateDirectories(target.Directory, "restore-*"));

            // The first increment alone on the full backup: its 200 orders.
            await using var third = await MariaDbTestInstance.CreateAsync();
            await third.Manager.PrepareAsync(third.Instance, third.Ct).Within(Timeouts.Cli);
            await RestoreFilesAsync(third, work, "full", "first");
            Assert.Equal((200L, 200L), await OrdersAndTallyAsync(third));
        }
        finally
        {
            await stopWriting.CancelAsync();
            await writer.WaitAsync(Timeouts.Short).ContinueWith(_ => { }, TaskScheduler.Default);
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<BackupOutput> BackupToFileAsync(MariaDbTestInstance instance, string? since, string path)
    {
        await using var file = File.Create(path);
        var written = await instance.Manager.BackupAsync(instance.Instance, since, file, instance.Ct).Within(Timeouts.Cli);
        Assert.Equal(file.Length, written.Bytes);
        return written;
    }

    private static async Task RestoreFilesAsync(MariaDbTestInstance instance, string folder, params string[] names)
    {
        var streams = names.Select(n => (Stream)File.OpenRead(Path.Combine(folder, n + ".xbstream"))).ToList();
        try
        {
            await instance.Manager.RestoreChainAsync(instance.Instance, streams, instance.Ct).Within(Timeouts.Cli);
        }
        finally
        {
            foreach (var stream in streams)
            {
                await stream.DisposeAsync();
            }
        }
    }

    [Fact]
    public void The_admin_reset_after_a_restore_sends_only_the_password_hash()
    {
        var sql = MariaDbManager.AdminResetSql("Secret-1");
        Assert.DoesNotContain("Secret-1", sql, StringComparison.Ordinal);
        Assert.Contains("`os_admin`@`127.0.0.1`", sql, StringComparison.Ordinal);
        Assert.Contains("GRANT ALL PRIVILEGES ON *.*", sql, StringComparison.Ordinal);
    }

    private static async Task Execute(MySqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).Within(Timeouts.Short);
    }

    private static async Task<long> CountOrdersAsync(MariaDbTestInstance instance) =>
        long.Parse((await instance.AdminQueryAsync("SELECT COUNT(*) FROM shop.orders"))[0][0], CultureInfo.InvariantCulture);

    /// <summary>The order count and the tally, read in one transaction (one snapshot).</summary>
    private static async Task<(long Orders, long Tally)> OrdersAndTallyAsync(MariaDbTestInstance instance)
    {
        var row = (await instance.AdminQueryAsync("SELECT (SELECT COUNT(*) FROM shop.orders), (SELECT orders FROM shop.tally WHERE id = 1)"))[0];
        return (long.Parse(row[0], CultureInfo.InvariantCulture), long.Parse(row[1], CultureInfo.InvariantCulture));
    }
}
