using System.Diagnostics;
using System.Globalization;
using System.Text;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.IO;
using Hoard.Abstractions.Processes;

namespace Hoard.Datastores.MariaDb;

/// <summary>
/// Backups with mariadb-backup: a hot copy streamed as xbstream while the server keeps serving. InnoDB's pages are
/// copied while its redo log is followed, and the copy ends under BACKUP STAGE BLOCK_COMMIT, so a prepared backup is
/// the data at that one instant. A restore extracts and prepares the stream beside the running server (a bad stream
/// fails there, the server untouched), then swaps data directories while it is stopped.
/// </summary>
/// <remarks>
/// The tools run as the engine user, as mariadbd does: they read and write its data without any change of
/// ownership. The agent's admin user has ALL PRIVILEGES (the template grants them), which covers what
/// mariadb-backup asks for (RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR), so no grant is needed first.
/// </remarks>
public sealed partial class MariaDbManager : IIncrementalBackups
{
    private const string BackupTool = "mariadb-backup";
    private const string StreamTool = "mbstream";
    private const string RestorePrefix = "restore-";
    private const int ToolBufferSize = 1 << 20;
    private const int ToolErrorLines = 30;

    public string BackupStrategy => "mariadb-backup";

    public async Task<long> BackupAsync(GuestInstance instance, Stream destination, CancellationToken cancellationToken) =>
        (await BackupAsync(instance, since: null, destination, cancellationToken)).Bytes;

    /// <summary>
    /// A full backup, or with <paramref name="since"/> (an earlier backup's to_lsn) an incremental one: mariadb-backup
    /// copies only the InnoDB pages changed after that LSN (and the non-InnoDB files whole). Either way the resume point
    /// is this backup's to_lsn, from the xtrabackup_checkpoints it writes beside the stream.
    /// </summary>
    public async Task<BackupOutput> BackupAsync(GuestInstance instance, string? since, Stream destination, CancellationToken cancellationToken)
    {
        if (since is not null && (!ulong.TryParse(since, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            throw new FormatException($"'{since}' is not a MariaDB backup's resume point (an LSN)");
        }

        var endPoint = EndPointOf(instance);
        ArgumentNullException.ThrowIfNull(destination);
        var files = InstanceFiles.For(instance);
        if (LivePid(files) is null)
        {
            throw new InvalidOperationException($"mariadb instance {instance.Id} is not running; mariadb-backup copies a running server");
        }

        var installation = InstallationFor(instance);
        var tool = ToolPath(installation, BackupTool);
        var engine = EngineAccount.ForCurrentProcess(_options.EngineUser);
        var password = await ReadAdminPasswordAsync(instance, files, cancellationToken);
        var started = Stopwatch.GetTimestamp();
        _logger.BackingUp(instance.Id);

        var work = CreateWorkDirectory(files, "backup-", engine);
        try
        {
            // With --stream the target directory only holds a few small files for a moment (its checkpoints).
            var target = CreateEngineDirectory(Path.Combine(work, "target"), engine);

            // The password goes in an option file of the tool's own, never on its command line (visible in /proc).
            var options = Path.Combine(work, "backup.cnf");
            PrivateFile.Write(options, new StringBuilder()
                .AppendLine("[mariadb-backup]")
                .AppendLine(CultureInfo.InvariantCulture, $"user = {ServerConfig.Quote(MariaDbSchema.AdminUser)}")
                .AppendLine(CultureInfo.InvariantCulture, $"password = {ServerConfig.Quote(password)}")
                .AppendLine(CultureInfo.InvariantCulture, $"host = {endPoint.Address}")
                .AppendLine(CultureInfo.InvariantCulture, $"port = {endPoint.Port}")
                .AppendLine("protocol = tcp")
                .ToString());
            engine?.Own(options);

            // xtrabackup_checkpoints goes into the stream and, with --extra-lsndir, here too, where its to_lsn is read.
            var lsnDirectory = CreateEngineDirectory(Path.Combine(work, "lsn"), engine);
            List<string> command = [tool, "--defaults-file=" + options, "--backup", "--stream=xbstream", "--target-dir=" + target, "--datadir=" + files.DataDirectory, "--extra-lsndir=" + lsnDirectory];
            if (since is not null)
            {
                command.Add("--incremental-lsn=" + since);
            }

            var written = await RunToolAsync(since is null ? "mariadb-backup --backup" : "mariadb-backup --backup --incremental-lsn", command, engine, input: null, output: destination, cancellationToken);
            await destination.FlushAsync(cancellationToken);
            var toLsn = await ReadToLsnAsync(Path.Combine(lsnDirectory, "xtrabackup_checkpoints"), cancellationToken)
                ?? throw new InvalidOperationException($"mariadb-backup of mariadb instance {instance.Id} wrote no to_lsn in its xtrabackup_checkpoints");
            _logger.BackedUp(instance.Id, written, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return new BackupOutput(written, toLsn);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    public Task RestoreAsync(GuestInstance instance, Stream source, CancellationToken cancellationToken) =>
        RestoreChainAsync(instance, [source], cancellationToken);

    /// <summary>
    /// Restores a full backup and the increments on it: the full one is prepared, then each increment applied to it in
    /// order (<c>--prepare --incremental-dir</c>, which refuses an increment whose from_lsn is not where the data
    /// is), then the result moved in as a full restore does.
    /// </summary>
    public async Task RestoreChainAsync(GuestInstance instance, IReadOnlyList<Stream> chain, CancellationToken cancellationToken)
    {
        EndPointOf(instance);
        ArgumentNullException.ThrowIfNull(chain);
        if (chain.Count == 0)
        {
            throw new ArgumentException("a restore needs at least a full backup", nameof(chain));
        }

        var files = InstanceFiles.For(instance);
        if (!File.Exists(files.Config) || !Directory.Exists(files.DataDirectory))
        {
            throw new InvalidOperationException($"mariadb instance {instance.Id} is not prepared: {files.Config} or {files.DataDirectory} does not exist");
        }

        var aside = files.DataDirectory + ".replaced";
        if (Directory.Exists(aside))
        {
            // Only an interrupted restore leaves it, and it may hold the only good copy of the instance's data.
            throw new InvalidOperationException($"mariadb instance {instance.Id} has the data of an interrupted restore in {aside}; put it back or remove it first");
        }

        var installation = InstallationFor(instance);
        var backupTool = ToolPath(installation, BackupTool);
        var streamTool = ToolPath(installation, StreamTool);
        var engine = EngineAccount.ForCurrentProcess(_options.EngineUser);
        var own = await ReadAdminPasswordAsync(instance, files, cancellationToken);
        var started = Stopwatch.GetTimestamp();
        _logger.Restoring(instance.Id);

        // Restores of an instance run one at a time; what an interrupted one extracted is of no use.
        foreach (var leftover in Directory.EnumerateDirectories(files.Directory, RestorePrefix + "*"))
        {
            Directory.Delete(leftover, recursive: true);
        }

        var work = CreateWorkDirectory(files, RestorePrefix, engine);
        try
        {
            // Extracted and prepared while the instance still serves its old data: a bad stream fails here.
            var backup = CreateEngineDirectory(Path.Combine(work, "backup"), engine);
            await RunToolAsync("mbstream -x", [streamTool, "-x", "-C", backup], engine, chain[0], output: null, cancellationToken);
            await RunToolAsync("mariadb-backup --prepare", [backupTool, "--no-defaults", "--prepare", "--target-dir=" + backup], engine, input: null, output: null, cancellationToken);
            for (var i = 1; i < chain.Count; i++)
            {
                var increment = CreateEngineDirectory(Path.Combine(work, string.Create(CultureInfo.InvariantCulture, $"increment-{i}")), engine);
                await RunToolAsync("mbstream -x", [streamTool, "-x", "-C", increment], engine, chain[i], output: null, cancellationToken);
                if (!File.Exists(Path.Combine(increment, "xtrabackup_checkpoints")))
                {
                    throw new InvalidOperationException($"backup {i + 1} of the chain for mariadb instance {instance.Id} is not a mariadb-backup backup (no xtrabackup_checkpoints)");
                }

                await RunToolAsync(
                    string.Create(CultureInfo.InvariantCulture, $"mariadb-backup --prepare --incremental-dir (backup {i + 1} of the chain)"),
                    [backupTool, "--no-defaults", "--prepare", "--target-dir=" + backup, "--incremental-dir=" + increment],
                    engine,
                    input: null,
                    output: null,
                    cancellationToken);
                Directory.Delete(increment, recursive: true);
            }

            // The backup holds the source's accounts, its admin user with the source's password among them. The first
            // start gives the admin user this instance's password (as a hash) before it accepts any connection.
            var initFile = Path.Combine(work, "admin.sql");
            PrivateFile.Write(initFile, AdminResetSql(own));
            engine?.Own(initFile);

            await StopAsync(instance, cancellationToken);
            try
            {
                Directory.Move(files.DataDirectory, aside);
                CreateEngineDirectory(files.DataDirectory, engine);
                await RunToolAsync(
                    "mariadb-backup --move-back",
                    [backupTool, "--no-defaults", "--move-back", "--target-dir=" + backup, "--datadir=" + files.DataDirectory],
                    engine,
                    input: null,
                    output: null,
                    cancellationToken);
                await PrivateFile.WriteAsync(files.AdminRotated, "The admin password is this instance's own (admin.secret).\n", overwrite: true, cancellationToken);
                await StartAsync(instance, ["--init-file=" + initFile], cancellationToken);
            }
            catch (Exception e)
            {
                _logger.RestoreFailed(instance.Id, e);
                await PutBackAsync(instance, files, aside);
                throw;
            }

            Directory.Delete(aside, recursive: true);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }

        _logger.Restored(instance.Id, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>The to_lsn of an xtrabackup_checkpoints file ("to_lsn = 12345"); null when it has none.</summary>
    internal static async Task<string?> ReadToLsnAsync(string checkpoints, CancellationToken cancellationToken)
    {
        foreach (var line in await File.ReadAllLinesAsync(checkpoints, cancellationToken))
        {
            var parts = line.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts is ["to_lsn", var value] && ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                return value;
            }
        }

        return null;
    }

    /// <summary>
    /// After a failed swap: the restored data goes, the data from before comes back and serves again. Runs on its
    /// own deadline, since the restore may have failed because it was cancelled.
    /// </summary>
    private async Task PutBackAsync(GuestInstance instance, InstanceFiles files, string aside)
    {
        try
        {
            using var deadline = new CancellationTokenSource(_options.StopTimeout + KillTimeout + _options.StartTimeout);
            await StopAsync(instance, deadline.Token);

            // No directory aside means the swap never began: the instance's own data is still in place.
            if (Directory.Exists(aside))
            {
                if (Directory.Exists(files.DataDirectory))
                {
                    Directory.Delete(files.DataDirectory, recursive: true);
                }

                Directory.Move(aside, files.DataDirectory);
            }

            await StartAsync(instance, deadline.Token);
        }
        catch (Exception e)
        {
            _logger.RestoreRollbackFailed(instance.Id, Directory.Exists(aside) ? aside : files.DataDirectory, e);
        }
    }

    /// <summary>
    /// Run once by the first server start after a restore (its --init-file, as a bootstrap statement with every
    /// privilege): the agent's admin user exists, may do everything, and has this instance's password.
    /// </summary>
    internal static string AdminResetSql(string adminPassword)
    {
        var admin = Sql.Account(MariaDbSchema.AdminUser, MariaDbSchema.AdminHost);
        var identified = Sql.IdentifiedBy(adminPassword);
        return $"""
            CREATE USER IF NOT EXISTS {admin} {identified};
            ALTER USER {admin} {identified} ACCOUNT UNLOCK;
            GRANT ALL PRIVILEGES ON *.* TO {admin} WITH GRANT OPTION;

            """;
    }

    /// <summary>mariadb-backup and mbstream must match the server, so the installation's own come first.</summary>
    private static string ToolPath(MariaDbInstallation installation, string name) =>
        (Path.Combine(installation.Prefix, "bin", name) is var own && Executables.IsExecutable(own) ? own : ServerProcess.Locate(name))
        ?? throw new InvalidOperationException($"{name} is not installed (Debian's mariadb-backup package provides it); the mariadb-backup backup strategy needs it");

    /// <summary>A private folder in the instance's directory for one operation, the engine user's when there is one.</summary>
    private static string CreateWorkDirectory(InstanceFiles files, string prefix, EngineAccount? engine) =>
        CreateEngineDirectory(Path.Combine(files.Directory, prefix + Guid.NewGuid().ToString("N")), engine);

    private static string CreateEngineDirectory(string path, EngineAccount? engine)
    {
        Directory.CreateDirectory(path, PrivateDirectory);
        engine?.Own(path);
        return path;
    }

    /// <summary>
    /// Runs one of the backup tools (as the engine user when there is one) with <paramref name="input"/> on its stdin
    /// and its stdout into <paramref name="output"/>, both streamed; its stderr is drained, its last lines kept for
    /// the error. Returns the bytes written to <paramref name="output"/>.
    /// </summary>
    private static async Task<long> RunToolAsync(string what, IReadOnlyList<string> command, EngineAccount? engine, Stream? input, Stream? output, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> argv = engine is null
            ? command
            : [
                ServerProcess.Locate("setpriv") ?? throw new InvalidOperationException("setpriv (util-linux) is not installed; it runs the backup tools as the engine user"),
                $"--reuid={engine.Uid}",
                $"--regid={engine.Gid}",
                "--init-groups",
                "--",
                .. command,
            ];
        var start = new ProcessStartInfo(argv[0])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        foreach (var argument in argv.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {argv[0]}");
        var errors = new Queue<string>();
        var errorsDrained = DrainErrorsAsync(process.StandardError, errors);
        try
        {
            var feeding = FeedAsync(input, process.StandardInput.BaseStream, cancellationToken);
            var written = output is null
                ? await CopyCountingAsync(process.StandardOutput.BaseStream, Stream.Null, cancellationToken)
                : await CopyCountingAsync(process.StandardOutput.BaseStream, output, cancellationToken);
            await feeding;
            await process.WaitForExitAsync(cancellationToken);
            await errorsDrained;
            if (process.ExitCode != 0)
            {
                string said;
                lock (errors)
                {
                    said = string.Join('\n', errors);
                }

                throw new InvalidOperationException($"{what} failed (exit {process.ExitCode}):\n{said}");
            }

            return written;
        }
        catch
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            throw;
        }
    }

    /// <summary>Writes <paramref name="input"/> to the tool's stdin and closes it; a tool that stops reading ends the feed, its exit code tells why.</summary>
    private static async Task FeedAsync(Stream? input, Stream stdin, CancellationToken cancellationToken)
    {
        try
        {
            if (input is null)
            {
                return;
            }

            var buffer = new byte[ToolBufferSize];
            int read;
            while ((read = await input.ReadAsync(buffer, cancellationToken)) > 0)
            {
                try
                {
                    await stdin.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
                catch (IOException)
                {
                    return; // a broken pipe: the tool exited; its exit code and stderr say why
                }
            }
        }
        finally
        {
            try
            {
                await stdin.DisposeAsync();
            }
            catch (IOException)
            {
                // The tool is gone already.
            }
        }
    }

    private static async Task<long> CopyCountingAsync(Stream from, Stream to, CancellationToken cancellationToken)
    {
        var buffer = new byte[ToolBufferSize];
        long total = 0;
        int read;
        while ((read = await from.ReadAsync(buffer, cancellationToken)) > 0)
        {
            await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            total += read;
        }

        return total;
    }

    private static async Task DrainErrorsAsync(StreamReader stderr, Queue<string> lastLines)
    {
        while (await stderr.ReadLineAsync() is { } line)
        {
            lock (lastLines)
            {
                lastLines.Enqueue(line);
                if (lastLines.Count > ToolErrorLines)
                {
                    lastLines.Dequeue();
                }
            }
        }
    }
}
