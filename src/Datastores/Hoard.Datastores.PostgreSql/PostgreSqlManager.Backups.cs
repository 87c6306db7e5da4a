using System.Buffers;
using System.Diagnostics;
using System.Text;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Processes;

namespace Hoard.Datastores.PostgreSql;

/// <summary>
/// Backups as base backups: pg_basebackup copies the running server's data directory as one tar, with the WAL
/// written meanwhile (-X fetch), which is what makes the copy consistent; it is streamed from the tool's stdout.
/// A restore unpacks such a tar into a fresh data directory beside the instance's, keeps the instance's own
/// configuration, swaps the directories while the server is stopped, and starts it: the server replays the WAL
/// to the backup's end. The old data directory is removed only once the restored server serves.
/// </summary>
public sealed partial class PostgreSqlManager : IIncrementalBackups
{
    private const int CopyBufferSize = 1 << 20;
    private const string RestoringMarker = ".restoring-";
    private const string ReplacedMarker = ".replaced-";

    private static readonly UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private static readonly TimeSpan ReloadPoll = TimeSpan.FromMilliseconds(10);

    public string BackupStrategy => "base-backup";

    public async Task<long> BackupAsync(GuestInstance instance, Stream destination, CancellationToken cancellationToken) =>
        (await BackupAsync(instance, since: null, destination, cancellationToken)).Bytes;

    public async Task<BackupOutput> BackupAsync(GuestInstance instance, string? since, Stream destination, CancellationToken cancellationToken)
    {
        EndPointOf(instance);
        ArgumentNullException.ThrowIfNull(destination);
        var files = InstanceFiles.For(instance);
        var binaries = BinariesOf(instance);
        if (!Executables.IsExecutable(binaries.BaseBackup))
        {
            throw new InvalidOperationException($"PostgreSQL {binaries.VersionName} has no {binaries.BaseBackup}; install its client programs");
        }

        if (LivePid(files) is null)
        {
            throw new InvalidOperationException($"postgresql instance {instance.Id} is not running; a base backup copies a running server");
        }

        var password = await ReadAdminPasswordAsync(instance, files, cancellationToken);
        await EnsureReplicationAccessAsync(instance, files, password, cancellationToken);
        if (since is not null)
        {
            return await IncrementAsync(instance, files, password, WalPosition.Parse(since), destination, cancellationToken);
        }

        // From before the base backup begins, the slot keeps the WAL an increment on this backup will need.
        await KeepWalAsync(instance, files, password, cancellationToken);

        // The password reaches the tool in a pass file the engine user owns, never on a command line or in the
        // environment of a process others can list. Beside the data directory: the engine user can reach it, and
        // it is not in the backup.
        var started = Stopwatch.GetTimestamp();
        var account = _account.Value;
        var passFile = Path.Combine(Path.GetDirectoryName(files.DataDirectory)!, $".{Path.GetFileName(files.DataDirectory)}.backup-{Guid.NewGuid():N}.pgpass");
        account.WritePrivateFile(passFile, $"*:*:*:{PassFileField(PostgreSqlSchema.AdminUser)}:{PassFileField(password)}\n");
        try
        {
            var connection = string.Join(
                ' ',
                $"host={ConnectionValue(instance.Address)}",
                $"port={instance.Port}",
                $"user={ConnectionValue(PostgreSqlSchema.AdminUser)}",
                $"passfile={ConnectionValue(passFile)}",
                "sslmode=disable",
                "gssencmode=disable",
                "application_name=hoard-backup");
            List<string> command =
            [
                .. account.CommandPrefix,
                binaries.BaseBackup,
                "--dbname=" + connection,
                "--pgdata=-",
                "--format=tar",

                // Streamed WAL cannot share stdout with the tar; fetched WAL is appended to it at the end.
                "--wal-method=fetch",

                // Start now, not after a spread checkpoint (minutes on an idle server).
                "--checkpoint=fast",
                "--no-password",

                // It names the WAL positions where the backup starts and ends, on stderr: an increment starts at the end.
                "--verbose",
            ];
            using var tool = PipedProcess.Start(command, "/");
            tool.Input.Dispose();
            var written = await CopyAsync(tool.Output, destination, cancellationToken);
            var (exitCode, errors) = await tool.WaitAsync(cancellationToken);
            if (exitCode != 0)
            {
                throw new InvalidOperationException($"pg_basebackup of postgresql instance {instance.Id} failed (exit {exitCode}): {errors}");
            }

            var end = WalPosition.FromBaseBackupLog(errors)
                ?? throw new InvalidOperationException($"pg_basebackup of postgresql instance {instance.Id} did not say where its WAL ends: {errors}");
            await destination.FlushAsync(cancellationToken);
            await ReleaseWalBeforeAsync(instance, password, end, cancellationToken);
            _logger.BackedUp(instance.Id, written, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return new BackupOutput(written, end.ToString());
        }
        finally
        {
            File.Delete(passFile);
        }
    }

    public Task RestoreAsync(GuestInstance instance, Stream source, CancellationToken cancellationToken) =>
        RestoreChainAsync(instance, [source], cancellationToken);

    public async Task RestoreChainAsync(GuestInstance instance, IReadOnlyList<Stream> chain, CancellationToken cancellationToken)
    {
        EndPointOf(instance);
        ArgumentNullException.ThrowIfNull(chain);
        if (chain.Count == 0)
        {
            throw new ArgumentException("a restore needs at least a full backup", nameof(chain));
        }
        var files = InstanceFiles.For(instance);
        var binaries = BinariesOf(instance);
        if (!File.Exists(files.Config))
        {
            throw new InvalidOperationException($"postgresql instance {instance.Id} is not prepared: {files.Config} does not exist");
        }

        var password = await ReadAdminPasswordAsync(instance, files, cancellationToken);
        var started = Stopwatch.GetTimestamp();
        _logger.Restoring(instance.Id);
        var account = _account.Value;
        var parent = Path.GetDirectoryName(files.DataDirectory)!;
        var name = Path.GetFileName(files.DataDirectory);
        foreach (var abandoned in Directory.EnumerateDirectories(parent, name + RestoringMarker + "*"))
        {
            Directory.Delete(abandoned, recursive: true);
        }

        var suffix = Guid.NewGuid().ToString("N");
        var restoring = Path.Combine(parent, name + RestoringMarker + suffix);
        var replaced = Path.Combine(parent, name + ReplacedMarker + suffix);
        var stopped = false;
        var swapped = false;
        try
        {
            // Unpacked while the old data still serves: a backup that cannot be read costs no downtime.
            Directory.CreateDirectory(restoring, PrivateDirectory);
            account.Own(restoring);
            await ExtractAsync(instance, chain[0], restoring, cancellationToken);
            CheckBaseBackup(instance, binaries, restoring);

            // Each increment's WAL segments go into the base's pg_wal, a later copy of a segment over an earlier one;
            // the recovery below replays them all, to the end of the last increment.
            var reachedEnd = await AddIncrementsAsync(instance, chain, restoring, cancellationToken);

            stopped = true;
            await StopAsync(instance, cancellationToken);
            KeepOwnConfiguration(files.DataDirectory, restoring, account);
            Directory.Move(files.DataDirectory, replaced);
            swapped = true;
            Directory.Move(restoring, files.DataDirectory);

            // The backup's admin role has its source's password; give it this instance's before the server listens.
            await ResetAdminRoleAsync(instance, files, binaries, password, cancellationToken);
            await StartAsync(instance, cancellationToken);
            if (reachedEnd is { } end)
            {
                await CheckReplayedToAsync(instance, password, end, cancellationToken);
            }
        }
        catch (Exception e)
        {
            _logger.RestoreFailed(instance.Id, e);
            try
            {
                // Even when the restore was cancelled: the instance goes back to serving what it had.
                await PutBackAsync(instance, files, restoring, replaced, stopped, swapped);
            }
            catch (Exception putBack)
            {
                throw new InvalidOperationException(
                    $"the restore into postgresql instance {instance.Id} failed ({e.Message}), and so did putting its previous data back ({putBack.Message}); that data is in {(swapped ? replaced : files.DataDirectory)}",
                    new AggregateException(e, putBack));
            }

            throw;
        }

        TryDeleteDirectory(instance, replaced);
        _logger.Restored(instance.Id, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>
    /// Base backups connect as the admin role for replication, which takes the REPLICATION attribute and a
    /// replication line in pg_hba.conf. Instances prepared since get both then; older ones get them here, once.
    /// </summary>
    private async Task EnsureReplicationAccessAsync(GuestInstance instance, InstanceFiles files, string password, CancellationToken cancellationToken)
    {
        var accessChanged = await WriteIfChangedAsync(files.HostBasedAuthentication, ServerConfig.RenderHostBasedAuthentication(instance), cancellationToken);
        await using var session = await OpenAdminSessionAsync(instance, password, _options.CommandTimeout, cancellationToken);
        var roleChanged = false;
        var replication = await session.QueryAsync("SELECT rolreplication FROM pg_roles WHERE rolname = $1", r => r.GetBoolean(0), cancellationToken, PostgreSqlSchema.AdminUser);
        if (replication is not [true])
        {
            await session.ExecuteAsync($"ALTER ROLE {Sql.Identifier(PostgreSqlSchema.AdminUser)} WITH REPLICATION", cancellationToken);
            roleChanged = true;
        }

        if (accessChanged)
        {
            // The postmaster rereads pg_hba.conf on a reload, a moment after it is asked; a new session carries the
            // time of the postmaster's last load, so the first one showing a later time proves the new lines apply.
            var loaded = await ConfigLoadTimeAsync(session, cancellationToken);
            await session.ExecuteAsync("SELECT pg_reload_conf()", cancellationToken);
            var deadline = Stopwatch.GetTimestamp();
            while (true)
            {
                await using (var check = await OpenAdminSessionAsync(instance, password, _options.CommandTimeout, cancellationToken))
                {
                    if (await ConfigLoadTimeAsync(check, cancellationToken) != loaded)
                    {
                        break;
                    }
                }

                if (Stopwatch.GetElapsedTime(deadline) >= _options.CommandTimeout)
                {
                    throw new TimeoutException($"postgresql instance {instance.Id} did not reload pg_hba.conf within {_options.CommandTimeout.TotalSeconds:F0} s");
                }

                await Task.Delay(ReloadPoll, cancellationToken);
            }
        }

        if (accessChanged || roleChanged)
        {
            _logger.ReplicationAccessAdded(instance.Id);
        }
    }

    private static async Task<string> ConfigLoadTimeAsync(AdminSession session, CancellationToken cancellationToken) =>
        (await session.QueryAsync("SELECT pg_conf_load_time()::text", r => r.GetString(0), cancellationToken)).Single();

    /// <summary>Unpacks the tar read from <paramref name="source"/> into <paramref name="directory"/>, as the engine user.</summary>
    private async Task ExtractAsync(GuestInstance instance, Stream source, string directory, CancellationToken cancellationToken)
    {
        List<string> command =
        [
            .. _account.Value.CommandPrefix,
            SystemTools.Tar,
            "--extract",
            "--file=-",
            "--directory=" + directory,
            "--no-same-owner",
        ];
        using var tool = PipedProcess.Start(command, "/");
        var output = tool.Output.CopyToAsync(Stream.Null, cancellationToken);
        IOException? feedFailure = null;
        try
        {
            await using (tool.Input)
            {
                await CopyAsync(source, tool.Input, cancellationToken);
            }
        }
        catch (IOException e)
        {
            // Mostly tar having stopped reading (it exits on an archive it cannot read): its exit code and stderr tell why.
            feedFailure = e;
        }

        var (exitCode, errors) = await tool.WaitAsync(cancellationToken);
        await output;
        if (exitCode != 0 || feedFailure is not null)
        {
            throw new InvalidOperationException($"the backup for postgresql instance {instance.Id} could not be unpacked (tar exit {exitCode}): {errors}", feedFailure);
        }
    }

    /// <summary>Throws unless <paramref name="directory"/> holds a base backup of the instance's PostgreSQL version.</summary>
    private static void CheckBaseBackup(GuestInstance instance, PostgreSqlBinaries binaries, string directory)
    {
        var versionFile = Path.Combine(directory, "PG_VERSION");
        if (!File.Exists(versionFile) || !File.Exists(Path.Combine(directory, "backup_label")))
        {
            throw new InvalidOperationException($"the backup for postgresql instance {instance.Id} is not a PostgreSQL base backup (no PG_VERSION or backup_label at its top)");
        }

        var version = File.ReadAllText(versionFile).Trim();
        if (version != binaries.VersionName)
        {
            throw new InvalidOperationException($"the backup is of PostgreSQL {version}; postgresql instance {instance.Id} runs PostgreSQL {binaries.VersionName}");
        }
    }

    /// <summary>
    /// The restored data keeps the instance's configuration, not its source's: every top-level *.conf (postgresql.conf,
    /// the included hoard.conf with its address and port, pg_hba.conf, pg_ident.conf, postgresql.auto.conf) comes
    /// from the instance's current data directory. The source's lock file and options file go.
    /// </summary>
    private static void KeepOwnConfiguration(string current, string restored, EngineAccount account)
    {
        foreach (var leftover in new[] { "postmaster.pid", "postmaster.opts" })
        {
            File.Delete(Path.Combine(restored, leftover));
        }

        foreach (var sourceConfig in Directory.EnumerateFiles(restored, "*.conf"))
        {
            File.Delete(sourceConfig);
        }

        foreach (var ownConfig in Directory.EnumerateFiles(current, "*.conf"))
        {
            var target = Path.Combine(restored, Path.GetFileName(ownConfig));
            File.Copy(ownConfig, target);
            account.Own(target);
        }
    }

    /// <summary>
    /// Gives the restored admin role this instance's password (and the attributes the agent relies on) in single-user
    /// mode: no connection, so no password is needed, and nothing listens yet. It replays the backup's WAL first.
    /// </summary>
    private async Task ResetAdminRoleAsync(GuestInstance instance, InstanceFiles files, PostgreSqlBinaries binaries, string password, CancellationToken cancellationToken)
    {
        List<string> command =
        [
            .. _account.Value.CommandPrefix,
            binaries.Postgres,
            "--single",
            "-D",
            files.DataDirectory,
            "-c",
            "exit_on_error=on",
            "-c",
            "log_min_error_statement=panic",
            "-c",
            "log_statement=none",
            "template1",
        ];
        using var tool = PipedProcess.Start(command, files.DataDirectory);
        var output = tool.Output.CopyToAsync(Stream.Null, cancellationToken);
        var statement = $"ALTER ROLE {Sql.Identifier(PostgreSqlSchema.AdminUser)} WITH SUPERUSER LOGIN REPLICATION {Sql.PasswordClause(password)}\n";
        await using (tool.Input)
        {
            await tool.Input.WriteAsync(Encoding.UTF8.GetBytes(statement), cancellationToken);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.StartTimeout);
        int exitCode;
        string errors;
        try
        {
            (exitCode, errors) = await tool.WaitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"postgresql instance {instance.Id} did not recover its restored data within {_options.StartTimeout.TotalSeconds:F0} s");
        }

        await output;
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"postgresql instance {instance.Id} could not open its restored data (postgres --single exit {exitCode}): {errors}");
        }
    }

    /// <summary>Undoes a failed restore: the previous data directory goes back in place and serves again.</summary>
    private async Task PutBackAsync(GuestInstance instance, InstanceFiles files, string restoring, string replaced, bool stopped, bool swapped)
    {
        using var timeout = new CancellationTokenSource(_options.StopTimeout + _options.StartTimeout + KillTimeout);
        if (swapped)
        {
            // A server may be running on the restored data (it started, then refused the agent).
            await StopAsync(instance, timeout.Token);
            if (Directory.Exists(files.DataDirectory))
            {
                Directory.Move(files.DataDirectory, restoring + ".failed");
                TryDeleteDirectory(instance, restoring + ".failed");
            }

            Directory.Move(replaced, files.DataDirectory);
        }

        TryDeleteDirectory(instance, restoring);
        if (stopped)
        {
            await StartAsync(instance, timeout.Token);
        }
    }

    private void TryDeleteDirectory(GuestInstance instance, string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.RestoreLeftover(instance.Id, path, e);
        }
    }

    private static async Task<long> CopyAsync(Stream from, Stream to, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            long copied = 0;
            int read;
            while ((read = await from.ReadAsync(buffer, cancellationToken)) > 0)
            {
                await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                copied += read;
            }

            return copied;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A field of a pass file line: ':' and '\' escaped with '\'.</summary>
    private static string PassFileField(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(":", "\\:", StringComparison.Ordinal);

    /// <summary>A libpq connection string value, single-quoted, with '\' and '\'' escaped.</summary>
    private static string ConnectionValue(string value) =>
        "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
}
