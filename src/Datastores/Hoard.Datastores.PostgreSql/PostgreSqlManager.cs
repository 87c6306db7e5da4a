using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.Versioning;
using System.Text;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.IO;
using Hoard.Abstractions.Processes;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Hoard.Datastores.PostgreSql;

/// <summary>
/// Runs a guest's PostgreSQL instances: one postgres server per instance, in a session of its own, listening
/// on the instance's address only, with password authentication only, its data directory copied from a
/// per-version template.
/// </summary>
/// <remarks>
/// One manager serves every instance of an agent, up to hundreds, so it keeps nothing per instance in
/// memory: no connection, no pool, no thread, no timer. Each call reads what it needs from the instance's
/// files and /proc and talks to the server over a fresh, short connection as the admin role (os_admin).
/// </remarks>
[SupportedOSPlatform("linux")]
public sealed partial class PostgreSqlManager : IDatastoreManager
{
    private const int LogTailLines = 20;
    private const int LogReadLimit = 64 * 1024;

    // "sh -c SCRIPT sh LOG COMMAND...": the server's stdio goes to the log (opened here, by the agent's user),
    // it runs in the background, and its pid is printed. setsid in the command gives it a session of its own.
    private const string LaunchScript = "log=$1; shift; \"$@\" </dev/null >>\"$log\" 2>&1 & echo $!";

    // Start-up polling: the postmaster marks its lock file "ready" ~100 ms after launch; poll every 1-2 ms at
    // first (reading a small file costs microseconds), then back off for slow starts (crash recovery).
    private static readonly TimeSpan FirstPollDelay = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan FastPollDelayCap = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan FastPollPeriod = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan SlowPollDelayCap = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan LaunchTimeout = TimeSpan.FromSeconds(10);

    private static readonly UnixFileMode SearchableDirectory =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    private readonly PostgreSqlManagerOptions _options;
    private readonly ILogger _logger;
    private readonly Lazy<EngineAccount> _account;
    private readonly Lazy<TemplateStore> _templates;

    public PostgreSqlManager(PostgreSqlManagerOptions options, ILogger<PostgreSqlManager> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        _logger = logger;

        // Who the agent is does not change while it runs; look the engine user up once, when first needed.
        _account = new Lazy<EngineAccount>(() => EngineAccount.Resolve(options.EngineUser), LazyThreadSafetyMode.ExecutionAndPublication);
        _templates = new Lazy<TemplateStore>(() => new TemplateStore(_account.Value, options, logger), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public async Task PrepareAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        EndPointOf(instance);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(instance.RamMb);
        var files = InstanceFiles.For(instance);
        if (!Directory.Exists(files.Directory))
        {
            throw new DirectoryNotFoundException($"the directory of postgresql instance {instance.Id} does not exist: {files.Directory}");
        }

        var binaries = BinariesOf(instance);
        if (LivePid(files) is int running)
        {
            // A retried prepare finds the server running. A resize shows as changed settings: reload what reloads.
            if (await WriteConfigAsync(instance, files, cancellationToken))
            {
                Signals.Send(running, Signals.SigHup);
                _logger.ConfigReloaded(instance.Id);
            }

            await StartAsync(instance, cancellationToken);
            return;
        }

        _logger.Preparing(instance.Id, instance.Address, instance.Port);
        if (await PrivateFile.WriteAsync(files.AdminSecret, Secrets.GeneratePassword() + "\n", overwrite: false, cancellationToken))
        {
            _logger.AdminSecretGenerated(instance.Id);
        }

        string? template = null;
        if (!Directory.Exists(files.DataDirectory))
        {
            template = await CopyTemplateAsync(instance, files, binaries, cancellationToken);
        }

        await WriteConfigAsync(instance, files, cancellationToken);
        await StartAsync(instance, cancellationToken);
        if (template is not null)
        {
            // Now that the instance serves, the spare it took is remade in the background.
            var account = _account.Value;
            SpareCopies.ReplenishInBackground(instance, template, (destination, ct) => TreeCopy.CopyAsync(template, destination, account, ct), e => _logger.SpareCopyFailed(template, e));
        }
    }

    public async Task StartAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        EndPointOf(instance);
        var files = InstanceFiles.For(instance);
        if (!File.Exists(files.Config))
        {
            throw new InvalidOperationException($"postgresql instance {instance.Id} is not prepared: {files.Config} does not exist");
        }

        var binaries = BinariesOf(instance);
        var started = Stopwatch.GetTimestamp();
        int pid;
        if (LivePid(files) is int running)
        {
            // Started earlier, perhaps by an agent that has since restarted: wait for that one (it may still be
            // recovering) rather than start a second server.
            _logger.AlreadyRunning(instance.Id, running);
            pid = await WaitUntilReadyAsync(instance, files, running, LogTail.Offset(files.LogFile), started, mayRetry: false, cancellationToken)
                ?? throw new InvalidOperationException($"postgresql instance {instance.Id} stopped while starting");
        }
        else
        {
            pid = await LaunchUntilReadyAsync(instance, files, binaries, started, cancellationToken);
        }

        await EnsureOwnAdminPasswordAsync(instance, files, binaries, started, cancellationToken);
        _logger.Serving(instance.Id, pid, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    public async Task StopAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var files = InstanceFiles.For(instance);
        if (LivePid(files) is not int pid)
        {
            _logger.AlreadyStopped(instance.Id);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        _logger.Stopping(instance.Id, pid);

        // SIGINT is PostgreSQL's fast shutdown: sessions end, a checkpoint writes everything, the server exits.
        // (SIGTERM, its smart shutdown, would wait for every client to leave.)
        await StopProcessAsync(instance, files, pid, Signals.SigInt, _options.StopTimeout, cancellationToken);
        _logger.Stopped(instance.Id, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    public async Task DestroyAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var files = InstanceFiles.For(instance);
        if (LivePid(files) is int pid)
        {
            // The data goes away: an immediate shutdown (SIGQUIT) skips the checkpoint a clean stop would write.
            await StopProcessAsync(instance, files, pid, Signals.SigQuit, KillTimeout, cancellationToken);
        }

        // The instance's directory is the compute driver's to remove; data kept elsewhere is this manager's.
        if (files.DataOutsideInstance && Directory.Exists(files.DataDirectory))
        {
            Directory.Delete(files.DataDirectory, recursive: true);
        }

        _logger.Destroyed(instance.Id);
    }

    public bool IsProcessAlive(GuestInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        return LivePid(InstanceFiles.For(instance)) is not null;
    }

    public async Task<ServiceStatus> ProbeAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        EndPointOf(instance);
        var files = InstanceFiles.For(instance);
        if (LivePid(files) is null)
        {
            return ServiceStatus.Shutdown;
        }

        try
        {
            var password = await ReadAdminPasswordAsync(instance, files, cancellationToken);
            await using var session = await AdminSession.OpenAsync(instance, password, PostgreSqlSchema.MaintenanceDatabase, _options.ProbeTimeout, cancellationToken);
            return ServiceStatus.Running;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // Alive but not answering: starting, recovering, hung, or its admin role was tampered with.
            _logger.ProbeFailed(instance.Id, e);
            return ServiceStatus.Unknown;
        }
    }

    private PostgreSqlBinaries BinariesOf(GuestInstance instance) => PostgreSqlInstallation.Locate(_options.InstallRoot, instance.Version);

    private static IPEndPoint EndPointOf(GuestInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        if (!IPAddress.TryParse(instance.Address, out var address))
        {
            throw new ArgumentException($"postgresql instance {instance.Id} has address '{instance.Address}', which is not an IP address", nameof(instance));
        }

        if (instance.Port is < IPEndPoint.MinPort + 1 or > IPEndPoint.MaxPort)
        {
            throw new ArgumentException($"postgresql instance {instance.Id} has port {instance.Port}, which is not a TCP port", nameof(instance));
        }

        return new IPEndPoint(address, instance.Port);
    }

    private static int? LivePid(InstanceFiles files) =>
        ServerProcess.TryReadLockFile(files.PidFile) is { } lockFile && ServerProcess.IsInstanceServer(lockFile.Pid, files.DataDirectory)
            ? lockFile.Pid
            : null;

    private static async Task<string> ReadAdminPasswordAsync(GuestInstance instance, InstanceFiles files, CancellationToken cancellationToken) =>
        await PrivateFile.ReadTrimmedAsync(files.AdminSecret, cancellationToken)
        ?? throw new InvalidOperationException($"postgresql instance {instance.Id} has no admin secret ({files.AdminSecret}); prepare it first");

    /// <summary>Copies the version's template (built first if need be) into the instance's data directory.</summary>
    /// <summary>Gives the instance a data directory from the version's template: a ready spare if there is one, else a copy.</summary>
    /// <returns>The template's data directory, whose spare the caller replaces once the instance serves.</returns>
    private async Task<string> CopyTemplateAsync(GuestInstance instance, InstanceFiles files, PostgreSqlBinaries binaries, CancellationToken cancellationToken)
    {
        var account = _account.Value;
        var templates = _templates.Value;
        var template = await templates.EnsureAsync(templates.DirectoryFor(files.Directory), binaries, cancellationToken);

        var started = Stopwatch.GetTimestamp();
        var parent = Path.GetDirectoryName(files.DataDirectory)!;
        if (!files.DataOutsideInstance)
        {
            // The instance's directory is private (0700) to the agent; the engine user must pass through it to
            // its data directory. Execute only: it cannot list it, and every secret in it stays 0600.
            if (account.SwitchesUser && (File.GetUnixFileMode(parent) & UnixFileMode.OtherExecute) == 0)
            {
                File.SetUnixFileMode(parent, SearchableDirectory);
                _logger.DirectoryOpened(instance.Id, account.Name);
            }
        }
        else if (!Directory.Exists(parent))
        {
            Directory.CreateDirectory(parent, SearchableDirectory);
        }

        await account.EnsureCanReachAsync(parent, cancellationToken);

        // Copied beside, then renamed: a crash mid-copy leaves no half data directory that looks prepared.
        var prefix = Path.GetFileName(files.DataDirectory) + ".copying-";
        foreach (var abandoned in Directory.EnumerateDirectories(parent, prefix + "*"))
        {
            Directory.Delete(abandoned, recursive: true);
        }

        if (SpareCopies.TryTake(template.DataDirectory, files.DataDirectory))
        {
            _logger.SpareTaken(instance.Id, binaries.VersionName, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return template.DataDirectory;
        }

        var copying = Path.Combine(parent, prefix + Guid.NewGuid().ToString("N"));
        try
        {
            await TreeCopy.CopyAsync(template.DataDirectory, copying, account, cancellationToken);
        }
        catch
        {
            if (Directory.Exists(copying))
            {
                Directory.Delete(copying, recursive: true);
            }

            throw;
        }

        Directory.Move(copying, files.DataDirectory);
        _logger.DataDirectoryCopied(instance.Id, binaries.VersionName, files.DataDirectory, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return template.DataDirectory;
    }

    /// <summary>Writes the instance's settings and pg_hba.conf when they changed; true when either did.</summary>
    private async Task<bool> WriteConfigAsync(GuestInstance instance, InstanceFiles files, CancellationToken cancellationToken)
    {
        var settings = await WriteIfChangedAsync(files.Config, ServerConfig.Render(instance), cancellationToken);
        var access = await WriteIfChangedAsync(files.HostBasedAuthentication, ServerConfig.RenderHostBasedAuthentication(instance), cancellationToken);
        return settings || access;
    }

    private async Task<bool> WriteIfChangedAsync(string path, string content, CancellationToken cancellationToken)
    {
        if (File.Exists(path) && await File.ReadAllTextAsync(path, cancellationToken) == content)
        {
            return false;
        }

        _account.Value.WritePrivateFile(path, content);
        return true;
    }

    private async Task<int> LaunchUntilReadyAsync(GuestInstance instance, InstanceFiles files, PostgreSqlBinaries binaries, long started, CancellationToken cancellationToken)
    {
        while (true)
        {
            RemoveForeignLockFile(instance, files);
            var logOffset = LogTail.Offset(files.LogFile);
            _logger.Starting(instance.Id, _account.Value.Name);
            var launched = await LaunchAsync(instance, files, binaries, logOffset, cancellationToken);
            if (await WaitUntilReadyAsync(instance, files, launched, logOffset, started, mayRetry: true, cancellationToken) is int pid)
            {
                return pid;
            }

            // Backends of a killed server are still attached to its shared memory; they exit within moments.
            _logger.StartRetried(instance.Id);
            await Task.Delay(RetryDelay, cancellationToken);
        }
    }

    /// <summary>Starts postgres in a session of its own, as the engine user, its stdio to the log; returns its pid.</summary>
    private async Task<int> LaunchAsync(GuestInstance instance, InstanceFiles files, PostgreSqlBinaries binaries, long logOffset, CancellationToken cancellationToken)
    {
        if (!File.Exists(files.LogFile))
        {
            // Created private: the server writes it through the descriptor the agent opened for it.
            using var _ = new FileStream(files.LogFile, new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.Write, UnixCreateMode = PrivateFile.OwnerOnly });
        }

        List<string> args =
        [
            "-c",
            LaunchScript,
            "sh",
            files.LogFile,
            SystemTools.SetSid,
            .. _account.Value.CommandPrefix,
            binaries.Postgres,
            "-D",
            files.DataDirectory,
        ];
        var launcher = await ChildProcess.RunAsync(SystemTools.Shell, args, LaunchTimeout, cancellationToken, workingDirectory: files.DataDirectory);
        if (launcher.ExitCode != 0 || !int.TryParse(launcher.Output.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            throw StartFailure(instance, files, logOffset, $"the launcher exited with code {launcher.ExitCode}: {launcher.Output}");
        }

        return pid;
    }

    /// <summary>
    /// Waits until the postmaster <paramref name="pid"/> marks its lock file ready. Null when it died for a
    /// reason worth another launch (old server processes still exiting) and <paramref name="mayRetry"/>.
    /// </summary>
    private async Task<int?> WaitUntilReadyAsync(
        GuestInstance instance,
        InstanceFiles files,
        int pid,
        long logOffset,
        long started,
        bool mayRetry,
        CancellationToken cancellationToken)
    {
        var delay = FirstPollDelay;
        while (true)
        {
            var lockFile = ServerProcess.TryReadLockFile(files.PidFile);
            if (lockFile is { IsReady: true } && lockFile.Pid == pid)
            {
                return pid;
            }

            // A process in the middle of exec (sh, setsid, setpriv, postgres) has no command line for a moment:
            // only a process that is gone (or a zombie) has died.
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (!ServerProcess.IsInstanceServer(pid, files.DataDirectory) && !ServerProcess.IsAlive(pid))
            {
                if (mayRetry && elapsed < _options.StartTimeout && IsRetryable(LogTail.Since(files.LogFile, logOffset, LogReadLimit, fromEnd: false)))
                {
                    return null;
                }

                throw StartFailure(instance, files, logOffset, $"postgres (pid {pid}) exited during start-up");
            }

            if (elapsed >= _options.StartTimeout)
            {
                var status = lockFile?.Pid == pid && lockFile.Status.Length > 0 ? lockFile.Status : "no lock file yet";
                throw StartFailure(instance, files, logOffset, $"not ready within {_options.StartTimeout.TotalSeconds:F0} s (status: {status})");
            }

            await Task.Delay(delay, cancellationToken);
            var cap = elapsed < FastPollPeriod ? FastPollDelayCap : SlowPollDelayCap;
            delay = delay * 2 < cap ? delay * 2 : cap;
        }
    }

    private static bool IsRetryable(string log) =>
        log.Contains("pre-existing shared memory block", StringComparison.Ordinal)
        || log.Contains("lock file \"postmaster.pid\" already exists", StringComparison.Ordinal);

    /// <summary>
    /// Makes sure the server's admin password is the instance's own: a data directory copied from the template
    /// starts with the template's password, which is replaced right after its first start.
    /// </summary>
    private async Task EnsureOwnAdminPasswordAsync(GuestInstance instance, InstanceFiles files, PostgreSqlBinaries binaries, long started, CancellationToken cancellationToken)
    {
        var password = await ReadAdminPasswordAsync(instance, files, cancellationToken);
        var remaining = _options.StartTimeout - Stopwatch.GetElapsedTime(started);
        var timeout = remaining > _options.CommandTimeout ? remaining : _options.CommandTimeout;
        if (File.Exists(files.AdminRotated))
        {
            // Proves the server is the instance's own and accepts the agent.
            await using var check = await OpenAdminSessionAsync(instance, password, timeout, cancellationToken);
            return;
        }

        var templates = _templates.Value;
        var template = templates.Locate(templates.DirectoryFor(files.Directory), binaries);
        var templatePassword = await PrivateFile.ReadTrimmedAsync(template.SecretFile, cancellationToken);
        var rotated = false;
        if (templatePassword is not null)
        {
            try
            {
                // AdminSession itself, not OpenAdminSessionAsync: that turns the refusal this catch waits for into
                // "no longer matches admin.secret", and a prepare cut between ALTER ROLE and admin.rotated then failed.
                await using var session = await AdminSession.OpenAsync(instance, templatePassword, PostgreSqlSchema.MaintenanceDatabase, timeout, cancellationToken);
                await session.ExecuteAsync($"ALTER ROLE {Sql.Identifier(PostgreSqlSchema.AdminUser)} WITH REPLICATION {Sql.PasswordClause(password)}", cancellationToken);
                rotated = true;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidPassword)
            {
                // Replaced already, by a prepare that crashed before it could say so.
            }
        }

        if (!rotated)
        {
            await using var check = await OpenAdminSessionAsync(instance, password, timeout, cancellationToken);
        }

        PrivateFile.Write(files.AdminRotated, "the admin role has this instance's own password\n");
        _logger.AdminPasswordRotated(instance.Id);
    }

    private static async Task<AdminSession> OpenAdminSessionAsync(
        GuestInstance instance,
        string password,
        TimeSpan timeout,
        CancellationToken cancellationToken,
        string database = PostgreSqlSchema.MaintenanceDatabase)
    {
        try
        {
            return await AdminSession.OpenAsync(instance, password, database, timeout, cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidPassword)
        {
            throw new InvalidOperationException(
                $"postgresql instance {instance.Id} refused the agent's admin role ({e.SqlState}): its data directory no longer matches admin.secret",
                e);
        }
    }

    /// <summary>
    /// postmaster.pid names a pid that now belongs to another process (after a reboot or a crash): PostgreSQL
    /// would refuse to start while that process lives. The file is removed only when its shared memory has
    /// no process attached, PostgreSQL's own proof that no server process of this data directory is left.
    /// </summary>
    private void RemoveForeignLockFile(GuestInstance instance, InstanceFiles files)
    {
        if (ServerProcess.TryReadLockFile(files.PidFile) is { } lockFile
            && ServerProcess.IsAlive(lockFile.Pid)
            && !ServerProcess.IsInstanceServer(lockFile.Pid, files.DataDirectory)
            && !(lockFile.SharedMemoryId is int shmid && ServerProcess.IsSharedMemoryInUse(shmid)))
        {
            File.Delete(files.PidFile);
            _logger.ForeignLockRemoved(instance.Id, lockFile.Pid);
        }
    }

    /// <summary>Signals the postmaster and waits for it to exit; escalates to SIGQUIT (immediate shutdown), then SIGKILL.</summary>
    private async Task StopProcessAsync(GuestInstance instance, InstanceFiles files, int pid, int signal, TimeSpan timeout, CancellationToken cancellationToken)
    {
        SignalIfStillOurs(files, pid, signal);
        if (await WaitForExitAsync(files, pid, timeout, cancellationToken))
        {
            return;
        }

        if (signal != Signals.SigQuit)
        {
            _logger.Escalating(instance.Id, pid, timeout, "SIGQUIT");
            SignalIfStillOurs(files, pid, Signals.SigQuit);
            if (await WaitForExitAsync(files, pid, KillTimeout, cancellationToken))
            {
                return;
            }
        }

        _logger.Escalating(instance.Id, pid, KillTimeout, "SIGKILL");
        SignalIfStillOurs(files, pid, Signals.SigKill);
        if (!await WaitForExitAsync(files, pid, KillTimeout, cancellationToken))
        {
            throw new InvalidOperationException($"postgresql instance {instance.Id} (pid {pid}) is still alive after SIGKILL");
        }
    }

    private static void SignalIfStillOurs(InstanceFiles files, int pid, int signal)
    {
        // Re-checked right before signalling: never signal a process that reused the pid.
        if (ServerProcess.IsInstanceServer(pid, files.DataDirectory))
        {
            Signals.Send(pid, signal);
        }
    }

    private static async Task<bool> WaitForExitAsync(InstanceFiles files, int pid, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var delay = FirstPollDelay;
        while (ServerProcess.IsInstanceServer(pid, files.DataDirectory))
        {
            if (Stopwatch.GetElapsedTime(started) >= timeout)
            {
                return false;
            }

            await Task.Delay(delay, cancellationToken);
            delay = delay * 2 < SlowPollDelayCap ? delay * 2 : SlowPollDelayCap;
        }

        return true;
    }

    private InvalidOperationException StartFailure(GuestInstance instance, InstanceFiles files, long logOffset, string reason)
    {
        _logger.StartFailed(instance.Id, reason);
        var log = LogTail.Since(files.LogFile, logOffset, LogReadLimit, fromEnd: true);
        var tail = log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(LogTailLines);
        var message = new StringBuilder()
            .Append("postgresql instance ").Append(instance.Id).Append(" failed to start: ").Append(reason)
            .Append('\n').Append("--- last lines of ").Append(files.LogFile).Append(" ---\n")
            .AppendJoin('\n', tail.DefaultIfEmpty("(nothing since this start)"));
        return new InvalidOperationException(message.ToString());
    }
}
