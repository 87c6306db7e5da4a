using System.Globalization;
using Hoard.Abstractions.Datastores;
using Hoard.Datastores.PostgreSql.Tests.Support;
using Npgsql;

namespace Hoard.Datastores.PostgreSql.Tests;

/// <summary>Base backups of a running server while it takes writes, and restores of them into other instances.</summary>
public sealed class PostgreSqlBackupTests
{
    private const string Database = "shop";

    [PostgresFact]
    public async Task A_backup_taken_during_writes_restores_one_consistent_instant_into_another_instance()
    {
        await using var source = await PostgreSqlTestInstance.CreateAsync();
        await using var target = await PostgreSqlTestInstance.CreateAsync();
        await Task.WhenAll(source.PrepareAsync(), target.PrepareAsync()).Within(Timeouts.Cli);
        Assert.Equal("base-backup", source.Manager.BackupStrategy);
        await source.Manager.CreateDatabasesAsync(source.Instance, [new DatabaseSpec(Database)], source.Ct).Within(Timeouts.Short);
        await source.AdminSqlAsync("CREATE TABLE items (id bigserial PRIMARY KEY, payload text NOT NULL); CREATE TABLE counter (n bigint NOT NULL); INSERT INTO counter VALUES (0);", Database);

        // Every transaction adds a row and sets the counter to the number of rows: counter = count(*) at every instant.
        await using var writer = new Writer(source.Instance, await source.AdminPasswordAsync());
        await writer.OpenAsync().Within(Timeouts.Short);
        for (var i = 0; i < 100; i++)
        {
            await writer.WriteOneAsync(CancellationToken.None).Within(Timeouts.Short);
        }

        using var stopWriting = new CancellationTokenSource();
        var writing = writer.RunAsync(stopWriting.Token);
        await Timeouts.EventuallyAsync(() => Task.FromResult(writer.Committed), n => n >= 150, Timeouts.Short, "the writer to be writing");
        var committedBefore = writer.Committed;

        var backupFile = Path.Combine(source.Directory, "backup.tar");
        long written;
        await using (var destination = new FileStream(backupFile, FileMode.CreateNew, FileAccess.Write))
        {
            written = await source.Manager.BackupAsync(source.Instance, destination, source.Ct).Within(Timeouts.Cli);
        }

        // A transaction the backup holds had begun by the time the backup returned.
        var begunByEnd = writer.Begun;
        await stopWriting.CancelAsync();
        await writing.Within(Timeouts.Short);
        Assert.True(writer.Committed > committedBefore, "the writer kept committing during the backup");
        Assert.Equal(new FileInfo(backupFile).Length, written);

        await using (var backup = new FileStream(backupFile, FileMode.Open, FileAccess.Read))
        {
            await target.Manager.RestoreAsync(target.Instance, backup, target.Ct).Within(Timeouts.Cli);
        }

        Assert.Equal(ServiceStatus.Running, await target.Manager.ProbeAsync(target.Instance, target.Ct).Within(Timeouts.Short));
        Assert.Contains(Database, (await target.Manager.ListDatabasesAsync(target.Instance, target.Ct).Within(Timeouts.Short)).Select(d => d.Name));

        // One statement, one snapshot: the counter and the rows agree, and the rows are those of one instant of the backup.
        var restored = await CountsAsync(target);
        Assert.Equal(restored.Rows, restored.Counter);
        Assert.InRange(restored.Rows, committedBefore, begunByEnd);

        // The target kept its own settings (address, port, access), and its own admin secret opens it.
        Assert.Equal(target.Instance.Address, await target.AdminSqlAsync("SHOW listen_addresses"));
        Assert.False(await Psql.CanLoginAsync(target.Instance, "os_admin", await source.AdminPasswordAsync(), null).Within(Timeouts.Cli));
        Assert.Empty(RestoreLeftovers(target));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(target.DataDirectory));
        if (Environment.UserName == "root")
        {
            var owners = await ProcessRunner.RunAsync("find", [target.DataDirectory, "!", "-user", "postgres"], timeout: Timeouts.Short);
            Assert.Equal(string.Empty, owners.Stdout.Trim());
        }

        // The restored instance can itself be backed up, and its data outlives a restart.
        await using (var again = new FileStream(Path.Combine(target.Directory, "again.tar"), FileMode.CreateNew, FileAccess.Write))
        {
            Assert.True(await target.Manager.BackupAsync(target.Instance, again, target.Ct).Within(Timeouts.Cli) > 0);
        }

        await target.Manager.StopAsync(target.Instance, target.Ct).Within(Timeouts.Cli);
        await target.Manager.StartAsync(target.Instance, target.Ct).Within(Timeouts.Cli);
        Assert.Equal(restored, await CountsAsync(target));
    }

    [PostgresFact]
    public async Task A_restore_of_garbage_fails_and_leaves_the_instance_serving_its_data()
    {
        await using var target = await PostgreSqlTestInstance.CreateAsync();
        await target.PrepareAsync();
        await target.Manager.CreateDatabasesAsync(target.Instance, [new DatabaseSpec("mine")], target.Ct).Within(Timeouts.Short);
        await target.AdminSqlAsync("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7);", "mine");

        var garbage = new byte[256 * 1024];
        new Random(42).NextBytes(garbage);
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => target.Manager.RestoreAsync(target.Instance, new MemoryStream(garbage), target.Ct).Within(Timeouts.Cli));
        Assert.Contains("could not be unpacked", failure.Message, StringComparison.Ordinal);

        Assert.Equal(ServiceStatus.Running, await target.Manager.ProbeAsync(target.Instance, target.Ct).Within(Timeouts.Short));
        Assert.Equal("7", await target.AdminSqlAsync("SELECT x FROM kept", "mine"));
        Assert.Empty(RestoreLeftovers(target));
    }

    [PostgresFact]
    public async Task A_tar_that_is_no_base_backup_is_refused_and_the_instance_keeps_its_data()
    {
        await using var target = await PostgreSqlTestInstance.CreateAsync();
        await target.PrepareAsync();
        await target.Manager.CreateDatabasesAsync(target.Instance, [new DatabaseSpec("mine")], target.Ct).Within(Timeouts.Short);

        var archive = new MemoryStream();
        await using (var tar = new System.Formats.Tar.TarWriter(archive, leaveOpen: true))
        {
            var entry = new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, "notes.txt") { DataStream = new MemoryStream("not a database"u8.ToArray()) };
            await tar.WriteEntryAsync(entry);
        }

        archive.Position = 0;
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => target.Manager.RestoreAsync(target.Instance, archive, target.Ct).Within(Timeouts.Cli));
        Assert.Contains("not a PostgreSQL base backup", failure.Message, StringComparison.Ordinal);
        Assert.Contains("mine", (await target.Manager.ListDatabasesAsync(target.Instance, target.Ct).Within(Timeouts.Short)).Select(d => d.Name));
    }

    [PostgresFact]
    public async Task A_backup_the_server_cannot_open_is_undone_after_the_swap_and_the_old_data_serves_again()
    {
        await using var target = await PostgreSqlTestInstance.CreateAsync();
        await target.PrepareAsync();
        await target.Manager.CreateDatabasesAsync(target.Instance, [new DatabaseSpec("mine")], target.Ct).Within(Timeouts.Short);
        await target.AdminSqlAsync("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7);", "mine");
        var pidBefore = target.ServerPid();

        // Looks like a base backup of the right version, so it is swapped in; postgres finds no pg_control in it.
        var archive = new MemoryStream();
        await using (var tar = new System.Formats.Tar.TarWriter(archive, leaveOpen: true))
        {
            foreach (var (name, text) in new[] { ("PG_VERSION", target.Instance.Version + "\n"), ("backup_label", "START WAL LOCATION: 0/2000028\n") })
            {
                await tar.WriteEntryAsync(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, name) { DataStream = new MemoryStream(System.Text.Encoding.ASCII.GetBytes(text)) });
            }
        }

        archive.Position = 0;
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => target.Manager.RestoreAsync(target.Instance, archive, target.Ct).Within(Timeouts.Cli));
        Assert.Contains("could not open its restored data", failure.Message, StringComparison.Ordinal);

        Assert.NotEqual(pidBefore, target.ServerPid());
        Assert.Equal(ServiceStatus.Running, await target.Manager.ProbeAsync(target.Instance, target.Ct).Within(Timeouts.Short));
        Assert.Equal("7", await target.AdminSqlAsync("SELECT x FROM kept", "mine"));
        Assert.Empty(RestoreLeftovers(target));
    }

    [PostgresFact]
    public async Task An_instance_prepared_before_backups_existed_gets_replication_access_when_first_backed_up()
    {
        await using var source = await PostgreSqlTestInstance.CreateAsync();
        await source.PrepareAsync();

        // As prepares used to leave it: the template's pg_hba.conf, no REPLICATION.
        var hba = Path.Combine(source.DataDirectory, "pg_hba.conf");
        await File.WriteAllTextAsync(hba, ServerConfig.HostBasedAuthentication).Within(Timeouts.Short);
        await source.AdminSqlAsync("ALTER ROLE os_admin NOREPLICATION; SELECT pg_reload_conf();");
        Assert.Equal("0", await source.AdminSqlAsync("SELECT count(*) FROM pg_hba_file_rules WHERE database = '{replication}'"));

        await using var destination = new MemoryStream();
        Assert.True(await source.Manager.BackupAsync(source.Instance, destination, source.Ct).Within(Timeouts.Cli) > 0);
        Assert.Equal("t", await source.AdminSqlAsync("SELECT rolreplication FROM pg_roles WHERE rolname = 'os_admin'"));
        Assert.Equal(ServerConfig.RenderHostBasedAuthentication(source.Instance), await File.ReadAllTextAsync(hba).Within(Timeouts.Short));
    }

    [PostgresFact]
    public async Task Incremental_backups_taken_during_writes_restore_as_a_chain_to_the_instant_of_the_last_one()
    {
        await using var source = await PostgreSqlTestInstance.CreateAsync();
        await using var target = await PostgreSqlTestInstance.CreateAsync();
        await Task.WhenAll(source.PrepareAsync(), target.PrepareAsync()).Within(Timeouts.Cli);
        await source.Manager.CreateDatabasesAsync(source.Instance, [new DatabaseSpec(Database)], source.Ct).Within(Timeouts.Short);
        await source.AdminSqlAsync("CREATE TABLE items (id bigserial PRIMARY KEY, payload text NOT NULL); CREATE TABLE counter (n bigint NOT NULL); INSERT INTO counter VALUES (0);", Database);
        await using var writer = new Writer(source.Instance, await source.AdminPasswordAsync());
        await writer.OpenAsync().Within(Timeouts.Short);
        for (var i = 0; i < 100; i++)
        {
            await writer.WriteOneAsync(CancellationToken.None).Within(Timeouts.Short);
        }

        // As prepares used to write it: no bound on the WAL a slot keeps. The full backup brings it up to date.
        var settings = Path.Combine(source.DataDirectory, ServerConfig.IncludedFileName);
        await File.WriteAllTextAsync(settings, (await File.ReadAllTextAsync(settings)).Replace("max_slot_wal_keep_size", "#max_slot_wal_keep_size", StringComparison.Ordinal)).Within(Timeouts.Short);
        await source.AdminSqlAsync("SELECT pg_reload_conf()");
        await Timeouts.EventuallyAsync(() => source.AdminSqlAsync("SHOW max_slot_wal_keep_size"), v => v == "-1", Timeouts.Short, "the bound to be gone");

        var full = await BackupToFileAsync(source, since: null, "full.tar");
        Assert.Matches("^1:[0-9A-F]+/[0-9A-F]+$", full.Output.ResumePoint);
        Assert.Equal("reserved", await source.AdminSqlAsync($"SELECT wal_status FROM pg_replication_slots WHERE slot_name = '{PostgreSqlManager.WalSlot}'"));
        await Timeouts.EventuallyAsync(() => source.AdminSqlAsync("SHOW max_slot_wal_keep_size"), v => v == "1GB", Timeouts.Short, "the bound to be back");

        // Rows only the first increment has, then the second taken while the writer commits.
        for (var i = 0; i < 100; i++)
        {
            await writer.WriteOneAsync(CancellationToken.None).Within(Timeouts.Short);
        }

        var first = await BackupToFileAsync(source, full.Output.ResumePoint, "first.tar");
        for (var i = 0; i < 100; i++)
        {
            await writer.WriteOneAsync(CancellationToken.None).Within(Timeouts.Short);
        }

        using var stopWriting = new CancellationTokenSource();
        var writing = writer.RunAsync(stopWriting.Token);
        await Timeouts.EventuallyAsync(() => Task.FromResult(writer.Committed), n => n >= 350, Timeouts.Short, "the writer to be writing");
        var committedBefore = writer.Committed;
        var second = await BackupToFileAsync(source, first.Output.ResumePoint, "second.tar");
        var begunByEnd = writer.Begun;
        await stopWriting.CancelAsync();
        await writing.Within(Timeouts.Short);
        Assert.True(second.Output.Bytes < full.Output.Bytes, $"the increment ({second.Output.Bytes} bytes) is smaller than the full backup ({full.Output.Bytes})");

        // The WAL since the full backup is no longer kept (the slot moved on with the increments): a clear refusal.
        var stale = await Assert.ThrowsAsync<InvalidOperationException>(() => BackupToFileAsync(source, full.Output.ResumePoint, "stale.tar"));
        Assert.Contains("no longer has the WAL", stale.Message, StringComparison.Ordinal);
        Assert.Contains("Take a full backup", stale.Message, StringComparison.Ordinal);

        // Increments out of order are no chain: refused, and the target keeps serving what it had.
        await target.Manager.CreateDatabasesAsync(target.Instance, [new DatabaseSpec("mine")], target.Ct).Within(Timeouts.Short);
        var disorder = await Assert.ThrowsAsync<InvalidOperationException>(() => RestoreFilesAsync(target, full.Path, second.Path, first.Path));
        Assert.Contains("they are not one chain", disorder.Message, StringComparison.Ordinal);
        Assert.Contains("mine", (await target.Manager.ListDatabasesAsync(target.Instance, target.Ct).Within(Timeouts.Short)).Select(d => d.Name));

        await RestoreFilesAsync(target, full.Path, first.Path, second.Path);
        var restored = await CountsAsync(target);
        Assert.Equal(restored.Rows, restored.Counter);
        Assert.InRange(restored.Rows, committedBefore, begunByEnd);
        Assert.Empty(RestoreLeftovers(target));
        Assert.False(File.Exists(Path.Combine(target.DataDirectory, PostgreSqlManager.IncrementManifest)));

        // Restored to the first increment only: its 200 rows, none of the later ones.
        await using var third = await PostgreSqlTestInstance.CreateAsync();
        await third.PrepareAsync().Within(Timeouts.Cli);
        await RestoreFilesAsync(third, full.Path, first.Path);
        Assert.Equal((200L, 200L), await CountsAsync(third));

        // The restored instance takes backups of its own, incremental ones too.
        var again = await BackupToFileAsync(target, since: null, "again.tar");
        await target.AdminSqlAsync("INSERT INTO items (payload) VALUES ('after the restore')", Database);
        Assert.True((await BackupToFileAsync(target, again.Output.ResumePoint, "again-inc.tar")).Output.Bytes > 0);
    }

    private static async Task<(BackupOutput Output, string Path)> BackupToFileAsync(PostgreSqlTestInstance instance, string? since, string name)
    {
        var path = Path.Combine(instance.Directory, name);
        await using var destination = new FileStream(path, FileMode.Create, FileAccess.Write);
        var output = await ((IIncrementalBackups)instance.Manager).BackupAsync(instance.Instance, since, destination, instance.Ct).Within(Timeouts.Cli);
        Assert.Equal(destination.Length, output.Bytes);
        return (output, path);
    }

    private static async Task RestoreFilesAsync(PostgreSqlTestInstance instance, params string[] paths)
    {
        var streams = paths.Select(p => (Stream)new FileStream(p, FileMode.Open, FileAccess.Read)).ToList();
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

    /// <summary>Directories a restore makes beside the data directory (data.restoring-*, data.replaced-*), which it must not leave.</summary>
    private static IEnumerable<string> RestoreLeftovers(PostgreSqlTestInstance instance) =>
        Directory.EnumerateFileSystemEntries(Path.GetDirectoryName(instance.DataDirectory)!)
            .Where(p => Path.GetFileName(p).StartsWith(Path.GetFileName(instance.DataDirectory) + ".", StringComparison.Ordinal));

    private static async Task<(long Rows, long Counter)> CountsAsync(PostgreSqlTestInstance instance)
    {
        var line = await instance.AdminSqlAsync("SELECT count(*), (SELECT n FROM counter) FROM items", Database);
        var fields = line.Split('|');
        return (long.Parse(fields[0], CultureInfo.InvariantCulture), long.Parse(fields[1], CultureInfo.InvariantCulture));
    }

    /// <summary>Inserts rows one transaction at a time, each setting the counter to the new row count.</summary>
    private sealed class Writer(GuestInstance instance, string password) : IAsyncDisposable
    {
        private readonly NpgsqlConnection _connection = new(new NpgsqlConnectionStringBuilder
        {
            Host = instance.Address,
            Port = instance.Port,
            Username = "os_admin",
            Password = password,
            Database = Database,
            Pooling = false,
            SslMode = SslMode.Disable,
        }.ConnectionString);

        private long _begun;
        private long _committed;

        public long Begun => Interlocked.Read(ref _begun);

        public long Committed => Interlocked.Read(ref _committed);

        public Task OpenAsync() => _connection.OpenAsync();

        public async Task WriteOneAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _begun);
            await using var transaction = await _connection.BeginTransactionAsync(cancellationToken);
            await using (var insert = new NpgsqlCommand("INSERT INTO items (payload) VALUES (repeat('x', 200)); UPDATE counter SET n = (SELECT count(*) FROM items);", _connection, transaction))
            {
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            Interlocked.Increment(ref _committed);
        }

        public async Task RunAsync(CancellationToken stop)
        {
            await Task.Yield();
            for (var i = 0; i < 1_000_000 && !stop.IsCancellationRequested; i++)
            {
                // Not cancelled mid-transaction: the count of commits stays exact.
                await WriteOneAsync(CancellationToken.None);
            }
        }

        public ValueTask DisposeAsync() => _connection.DisposeAsync();
    }
}
