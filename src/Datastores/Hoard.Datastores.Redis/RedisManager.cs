using Hoard.Abstractions.IO;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using System.Text.RegularExpressions;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Processes;
using Hoard.Datastores.Redis.Resp;
using Microsoft.Extensions.Logging;

namespace Hoard.Datastores.Redis;

/// <summary>
/// Runs a guest's Redis instances: one daemonized redis-server per instance, with its config, ACL
/// file, admin secret, pidfile, log and data under the instance's directory.
/// </summary>
/// <remarks>
/// One manager serves every instance of an agent, up to hundreds, so it keeps nothing per instance
/// in memory: no connection, no thread, no timer. Each call reads what it needs from the instance's
/// files and /proc, and talks to the server over a fresh, short-lived connection.
/// </remarks>
[SupportedOSPlatform("linux")]
public sealed partial class RedisManager : IDatastoreManager
{
    private const int LogTailLines = 20;
    private const int LogReadLimit = 64 * 1024;

    // Start-up polling: redis-server answers ~15-20 ms after launch, so poll every 1-2 ms at first
    // (a refused loopback connect costs microseconds), then back off for slow starts (a big AOF).
    private static readonly TimeSpan FirstPollDelay = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan FastPollDelayCap = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan FastPollPeriod = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan SlowPollDelayCap = TimeSpan.FromMilliseconds(50);

    // One start-up attempt waits this long for an answer before trying again.
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan LauncherOutputTimeout = TimeSpan.FromSeconds(1);

    private readonly RedisManagerOptions _options;
    private readonly ILogger _logger;

    public RedisManager(RedisManagerOptions options, ILogger<RedisManager> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        _logger = logger;
    }

    public async Task PrepareAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        EndPointOf(instance);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(instance.RamMb);
        var files = InstanceFiles.For(instance);
        if (!Directory.Exists(files.Directory))
        {
            throw new DirectoryNotFoundException($"the directory of redis instance {instance.Id} does not exist: {files.Directory}");
        }

        _logger.Preparing(instance.Id, instance.Address, instance.Port);
        Directory.CreateDirectory(files.DataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        if (await PrivateFile.WriteAsync(files.AdminSecret, Secrets.GeneratePassword() + "\n", overwrite: false, cancellationToken))
        {
            _logger.AdminSecretGenerated(instance.Id);
        }

        var password = await ReadAdminPasswordAsync(instance, files, cancellationToken);
        var cluster = await PrepareClusterSecretAsync(instance, files, cancellationToken);

        // redis.conf includes it, so it must exist before the server starts; a configuration group fills it.
        await PrivateFile.WriteAsync(files.GroupConfig, string.Empty, overwrite: false, cancellationToken);

        // Rewritten on every prepare (a resize changes maxmemory), but only when it changed.
        var config = RedisConfig.Render(instance, files, cluster);
        if (!File.Exists(files.Config) || await File.ReadAllTextAsync(files.Config, cancellationToken) != config)
        {
            await PrivateFile.WriteAsync(files.Config, config, overwrite: true, cancellationToken);
        }

        // Written once: from then on Redis owns it (ACL SAVE), so root's user survives a prepare.
        if (await PrivateFile.WriteAsync(files.AclFile, RedisConfig.RenderInitialAcl(password, cluster?.Secret), overwrite: false, cancellationToken))
        {
            _logger.AclFileWritten(instance.Id);
        }

        await StartAsync(instance, cancellationToken);
        if (cluster is not null)
        {
            await EnsureClusterUserAsync(instance, cluster, cancellationToken);
            await SettlePlaceholderSlotAsync(instance, cancellationToken);
        }
    }

    public async Task StartAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        var endPoint = EndPointOf(instance);
        var files = InstanceFiles.For(instance);
        if (!File.Exists(files.Config))
        {
            throw new InvalidOperationException($"redis instance {instance.Id} is not prepared: {files.Config} does not exist");
        }

        var password = await ReadAdminPasswordAsync(instance, files, cancellationToken);
        var started = Stopwatch.GetTimestamp();
        var logOffset = LogTail.Offset(files.LogFile);
        var pid = LivePid(instance, files);
        if (pid is int running)
        {
            // Started earlier, perhaps by an agent that has since restarted: wait for that one
            // (it may still be loading its data) rather than start a second server.
            _logger.AlreadyRunning(instance.Id, running);
        }
        else
        {
            RemoveStalePidFile(instance, files);
            _logger.Starting(instance.Id);
            await LaunchAsync(instance, files, logOffset, cancellationToken);
        }

        pid = await WaitUntilServingAsync(instance, files, endPoint, password, pid, logOffset, started, cancellationToken);
        _logger.Serving(instance.Id, pid, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    public async Task StopAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        var endPoint = EndPointOf(instance);
        var files = InstanceFiles.For(instance);
        if (LivePid(instance, files) is not int pid)
        {
            RemoveStalePidFile(instance, files);
            _logger.AlreadyStopped(instance.Id);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        _logger.Stopping(instance.Id, pid);
        try
        {
            var password = await ReadAdminPasswordAsync(instance, files, cancellationToken);
            await RequestShutdownAsync(endPoint, password, started, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // Hung, or the admin user is gone: SIGTERM makes Redis flush the AOF and exit all the same.
            _logger.ShutdownCommandFailed(instance.Id, pid, e);
            SignalIfStillOurs(instance, files, pid, Signals.SigTerm);
        }

        var remaining = _options.StopTimeout - Stopwatch.GetElapsedTime(started);
        if (!await WaitForExitAsync(instance, files, pid, remaining, cancellationToken))
        {
            _logger.Killing(instance.Id, pid, _options.StopTimeout);
            SignalIfStillOurs(instance, files, pid, Signals.SigKill);
            if (!await WaitForExitAsync(instance, files, pid, KillTimeout, cancellationToken))
            {
                throw new InvalidOperationException($"redis instance {instance.Id} (pid {pid}) is still alive after SIGKILL");
            }
        }

        // Redis removes its pidfile on a clean exit; after SIGKILL the file stays behind.
        RemoveStalePidFile(instance, files);
        _logger.Stopped(instance.Id, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    public bool IsProcessAlive(GuestInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        return LivePid(instance, InstanceFiles.For(instance)) is not null;
    }

    public async Task<ServiceStatus> ProbeAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        var endPoint = EndPointOf(instance);
        var files = InstanceFiles.For(instance);
        if (LivePid(instance, files) is null)
        {
            return ServiceStatus.Shutdown;
        }

        try
        {
            var password = await ReadAdminPasswordAsync(instance, files, cancellationToken);
            await PingAsync(endPoint, password, _options.ProbeTimeout, cancellationToken);
            return ServiceStatus.Running;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // Alive but not answering: loading, hung, or its admin user was tampered with.
            _logger.ProbeFailed(instance.Id, e);
            return ServiceStatus.Unknown;
        }
    }

    public async Task<RootCredentials> EnableRootAsync(GuestInstance instance, string? password, CancellationToken cancellationToken)
    {
        if (password is not null)
        {
            ArgumentException.ThrowIfNullOrEmpty(password);
        }

        var rootPassword = password ?? Secrets.GeneratePassword();

        // "reset" makes the result independent of what root was before; the password goes over as
        // its hash, so it never appears in a command Redis could echo back or log.
        await RunAdminCommandsAsync(
            instance,
            [
                ["ACL", "SETUSER", RedisConfig.RootUser, "reset", "on", "#" + RedisConfig.PasswordHash(rootPassword), "~*", "&*", "+@all"],
                ["ACL", "SAVE"],
            ],
            cancellationToken);
        _logger.RootEnabled(instance.Id);
        return new RootCredentials(RedisConfig.RootUser, rootPassword);
    }

    public async Task DisableRootAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        // ACL DELUSER also disconnects root's open connections; deleting an absent user is fine.
        await RunAdminCommandsAsync(instance, [["ACL", "DELUSER", RedisConfig.RootUser], ["ACL", "SAVE"]], cancellationToken);
        _logger.RootDisabled(instance.Id);
    }

    public async Task DestroyAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        // Everything else of a Redis instance lives in its directory, which the agent removes.
        if (IsProcessAlive(instance))
        {
            await StopAsync(instance, cancellationToken);
        }
    }

    public Task<IReadOnlyList<DatabaseSpec>> ListDatabasesAsync(GuestInstance instance, CancellationToken cancellationToken) =>
        throw NoDatabases();

    public Task CreateDatabasesAsync(GuestInstance instance, IReadOnlyList<DatabaseSpec> databases, CancellationToken cancellationToken) =>
        throw NoDatabases();

    public Task DeleteDatabaseAsync(GuestInstance instance, string name, CancellationToken cancellationToken) =>
        throw NoDatabases();

    public Task GrantAccessAsync(GuestInstance instance, UserRef user, IReadOnlyList<string> databases, CancellationToken cancellationToken) =>
        throw NoDatabases();

    public Task RevokeAccessAsync(GuestInstance instance, UserRef user, string database, CancellationToken cancellationToken) =>
        throw NoDatabases();

    public async Task<IReadOnlyList<UserInfo>> ListUsersAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        var replies = await RunAdminCommandsAsync(instance, [["ACL", "USERS"]], cancellationToken);
        return [.. (replies[0].Items ?? [])
            .Select(r => r.Text ?? string.Empty)
            .Where(name => name.Length > 0 && !RedisPlugin.ReservedUsers.Contains(name))
            .Order(StringComparer.Ordinal)
            .Select(name => new UserInfo(name, null, []))];
    }

    public async Task CreateUsersAsync(GuestInstance instance, IReadOnlyList<UserSpec> users, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(users);
        if (users.FirstOrDefault(u => u.Databases.Count > 0) is { } withDatabases)
        {
            throw DatastoreOperationException.NotSupported($"Redis has no databases to give {withDatabases.Name} access to.");
        }

        // All or nothing: every name is checked before any user is made.
        var existing = await ExistingUsersAsync(instance, users.Select(u => u.Name), cancellationToken);
        if (existing.Count > 0)
        {
            throw DatastoreOperationException.Conflict($"A user with the name {existing[0]} already exists.");
        }

        var commands = users.Select(u => UserCommand(u.Name, u.Password)).Append(["ACL", "SAVE"]).ToList();
        await RunAdminCommandsAsync(instance, commands, cancellationToken);
        _logger.UsersCreated(instance.Id, users.Count);
    }

    public async Task DeleteUserAsync(GuestInstance instance, UserRef user, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        var replies = await RunAdminCommandsAsync(instance, [["ACL", "DELUSER", user.Name], ["ACL", "SAVE"]], cancellationToken);
        if (replies[0].Integer == 0)
        {
            throw DatastoreOperationException.NotFound($"User {user.Name} cannot be found on the instance.");
        }

        _logger.UserDeleted(instance.Id);
    }

    public async Task UpdateUserAsync(GuestInstance instance, UserRef user, UserChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(change);
        if ((change.NewName is not null && change.NewName != user.Name) || change.NewHost is not null)
        {
            throw DatastoreOperationException.NotSupported("Redis ACL users have no host and cannot be renamed; delete the user and create it anew.");
        }

        if (change.NewPassword is { } password)
        {
            await ChangePasswordsAsync(instance, [new PasswordChange(user, password)], cancellationToken);
        }
    }

    public async Task ChangePasswordsAsync(GuestInstance instance, IReadOnlyList<PasswordChange> changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var names = changes.Select(c => c.User.Name).ToList();
        var existing = await ExistingUsersAsync(instance, names, cancellationToken);
        if (names.FirstOrDefault(n => !existing.Contains(n)) is { } missing)
        {
            throw DatastoreOperationException.NotFound($"User {missing} cannot be found on the instance.");
        }

        // "resetpass" drops the old password: a change replaces it rather than adding a second one.
        var commands = changes.Select(c => new[] { "ACL", "SETUSER", c.User.Name, "resetpass", "#" + RedisConfig.PasswordHash(c.Password) })
            .Append(["ACL", "SAVE"]).ToList();
        await RunAdminCommandsAsync(instance, commands, cancellationToken);
        _logger.PasswordsChanged(instance.Id, changes.Count);
    }

    private async Task<List<string>> ExistingUsersAsync(GuestInstance instance, IEnumerable<string> names, CancellationToken cancellationToken)
    {
        var wanted = names.ToList();
        var replies = await RunAdminCommandsAsync(instance, [.. wanted.Select(n => new[] { "ACL", "GETUSER", n })], cancellationToken);
        return [.. wanted.Where((_, i) => replies[i].Kind != RespKind.Null)];
    }

    /// <summary>
    /// A user of the instance's owner: every key and channel, every command but the administrative ones
    /// (ACL, CONFIG, SHUTDOWN, …), which stay root's. The password goes over as its hash.
    /// </summary>
    private static string[] UserCommand(string name, string password) =>
        ["ACL", "SETUSER", name, "reset", "on", "#" + RedisConfig.PasswordHash(password), "~*", "&*", "+@all", "-@admin"];

    private static DatastoreOperationException NoDatabases() =>
        DatastoreOperationException.NotSupported("Redis instances have no databases: the operation is not supported by the redis datastore.");

    private static IPEndPoint EndPointOf(GuestInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        if (!IPAddress.TryParse(instance.Address, out var address))
        {
            throw new ArgumentException($"redis instance {instance.Id} has address '{instance.Address}', which is not an IP address", nameof(instance));
        }

        if (instance.Port is < IPEndPoint.MinPort + 1 or > IPEndPoint.MaxPort)
        {
            throw new ArgumentException($"redis instance {instance.Id} has port {instance.Port}, which is not a TCP port", nameof(instance));
        }

        return new IPEndPoint(address, instance.Port);
    }

    private static int? LivePid(GuestInstance instance, InstanceFiles files) =>
        PidFile.TryRead(files.PidFile) is int pid && ServerProcess.IsInstanceServer(pid, instance.Address, instance.Port, files.Config)
            ? pid
            : null;

    private static async Task<string> ReadAdminPasswordAsync(GuestInstance instance, InstanceFiles files, CancellationToken cancellationToken) =>
        await PrivateFile.ReadTrimmedAsync(files.AdminSecret, cancellationToken)
        ?? throw new InvalidOperationException($"redis instance {instance.Id} has no admin secret ({files.AdminSecret}); prepare it first");

    private void RemoveStalePidFile(GuestInstance instance, InstanceFiles files)
    {
        if (File.Exists(files.PidFile))
        {
            var pid = PidFile.TryRead(files.PidFile);
            File.Delete(files.PidFile);
            _logger.StalePidFileRemoved(instance.Id, pid);
        }
    }

    private static void SignalIfStillOurs(GuestInstance instance, InstanceFiles files, int pid, int signal)
    {
        // Re-checked right before signalling: never signal a process that reused the pid.
        if (ServerProcess.IsInstanceServer(pid, instance.Address, instance.Port, files.Config))
        {
            Signals.Send(pid, signal);
        }
    }

    private async Task LaunchAsync(GuestInstance instance, InstanceFiles files, long logOffset, CancellationToken cancellationToken)
    {
        var serverPath = _options.ServerPath
            ?? throw new InvalidOperationException($"redis-server is not installed: found none on PATH nor at {RedisServerBinary.DefaultPath} (set {RedisServerBinary.OverrideVariable})");
        var start = new ProcessStartInfo(serverPath)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = files.Directory,
        };
        start.ArgumentList.Add(files.Config);

        Process launcher;
        try
        {
            launcher = Process.Start(start) ?? throw new InvalidOperationException($"could not start {serverPath}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"could not start {serverPath} for redis instance {instance.Id}: {e.Message}", e);
        }

        using (launcher)
        {
            // The launcher reads the config (errors go to its stderr), forks the daemon and exits;
            // the daemon calls setsid() and points its stdio at /dev/null, which closes our pipes.
            var output = launcher.StandardOutput.ReadToEndAsync(cancellationToken);
            var errors = launcher.StandardError.ReadToEndAsync(cancellationToken);
            await launcher.WaitForExitAsync(cancellationToken);
            var said = await CollectOutputAsync(output, errors);
            if (launcher.ExitCode != 0)
            {
                throw StartFailure(instance, files, logOffset, $"redis-server exited with code {launcher.ExitCode}: {said}");
            }
        }
    }

    private static async Task<string> CollectOutputAsync(Task<string> output, Task<string> errors)
    {
        try
        {
            await Task.WhenAll(output, errors).WaitAsync(LauncherOutputTimeout);
        }
        catch (Exception)
        {
            // Whatever arrived is enough for an error message. (Normally both pipes close at once:
            // the launcher has exited and the daemon has pointed its stdio at /dev/null.)
        }

        var text = string.Join(
            '\n',
            new[] { errors, output }.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result.Trim()).Where(t => t.Length > 0));
        return text.Length == 0 ? "(no output)" : text;
    }

    private async Task<int?> WaitUntilServingAsync(
        GuestInstance instance,
        InstanceFiles files,
        IPEndPoint endPoint,
        string password,
        int? pid,
        long logOffset,
        long started,
        CancellationToken cancellationToken)
    {
        var delay = FirstPollDelay;
        var lastProblem = "no answer yet";
        while (true)
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            var remaining = _options.StartTimeout - elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                throw StartFailure(instance, files, logOffset, $"no answer from {endPoint} within {_options.StartTimeout.TotalSeconds:F0} s (last: {lastProblem})");
            }

            try
            {
                await PingAsync(endPoint, password, remaining < AttemptTimeout ? remaining : AttemptTimeout, cancellationToken);
                return pid ?? PidFile.TryRead(files.PidFile);
            }
            catch (RedisErrorException e) when (e.Code is "WRONGPASS" or "NOAUTH" or "NOPERM")
            {
                // Redis loads its ACL before it answers anyone, so this will not change by waiting.
                throw StartFailure(
                    instance,
                    files,
                    logOffset,
                    $"the server at {endPoint} refused the agent's admin user ({e.Code}): another server holds this address, or users.acl no longer matches admin.secret");
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is SocketException or IOException or TimeoutException or RedisErrorException)
            {
                // Refused (not listening yet), LOADING, or no reply within the attempt.
                lastProblem = e.Message;
            }

            pid ??= FindDaemonPid(files, logOffset);
            if (pid is int daemon && !ServerProcess.IsInstanceServer(daemon, instance.Address, instance.Port, files.Config))
            {
                throw StartFailure(instance, files, logOffset, $"redis-server (pid {daemon}) exited during start-up");
            }

            await Task.Delay(delay, cancellationToken);
            var cap = elapsed < FastPollPeriod ? FastPollDelayCap : SlowPollDelayCap;
            delay = delay * 2 < cap ? delay * 2 : cap;
        }
    }

    /// <summary>The daemon's pid: from its pidfile, or before that exists, from its first log line.</summary>
    /// <remarks>
    /// A server that fails to bind exits before it writes its pidfile; its log lines, prefixed
    /// "PID:ROLE", still tell which process to watch, so start-up fails at once, not at the deadline.
    /// </remarks>
    private static int? FindDaemonPid(InstanceFiles files, long logOffset)
    {
        if (PidFile.TryRead(files.PidFile) is int pid)
        {
            return pid;
        }

        var match = LogLinePid().Match(LogTail.Since(files.LogFile, logOffset, LogReadLimit, fromEnd: false));
        return match.Success && int.TryParse(match.Groups["pid"].ValueSpan, out pid) ? pid : null;
    }

    private InvalidOperationException StartFailure(GuestInstance instance, InstanceFiles files, long logOffset, string reason)
    {
        _logger.StartFailed(instance.Id, reason);
        var log = LogTail.Since(files.LogFile, logOffset, LogReadLimit, fromEnd: true);
        var tail = log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(LogTailLines);
        var message = new StringBuilder()
            .Append("redis instance ").Append(instance.Id).Append(" failed to start: ").Append(reason)
            .Append('\n').Append("--- last lines of ").Append(files.LogFile).Append(" ---\n")
            .AppendJoin('\n', tail.DefaultIfEmpty("(nothing since this start)"));
        return new InvalidOperationException(message.ToString());
    }

    private static async Task PingAsync(IPEndPoint endPoint, string password, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await using var connection = await RespConnection.ConnectAsync(endPoint, deadline.Token);
            await connection.AuthAsync(RedisConfig.AdminUser, password, deadline.Token);
            var reply = await connection.ExecuteAsync(["PING"], deadline.Token);
            if (reply.Text != "PONG")
            {
                throw new RespProtocolException($"PING answered '{reply}'");
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer from {endPoint} within {timeout.TotalMilliseconds:F0} ms");
        }
    }

    /// <summary>Sends SHUTDOWN SAVE and waits until the server closes the connection, as it does once it stops.</summary>
    private async Task RequestShutdownAsync(IPEndPoint endPoint, string password, long started, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.CommandTimeout);
        try
        {
            await using var connection = await RespConnection.ConnectAsync(endPoint, deadline.Token);
            await connection.AuthAsync(RedisConfig.AdminUser, password, deadline.Token);
            await connection.WriteCommandAsync(["SHUTDOWN", "SAVE"], deadline.Token);

            // Saving a big dataset takes a while: allow the rest of the stop timeout for it.
            var rest = _options.StopTimeout - Stopwatch.GetElapsedTime(started);
            deadline.CancelAfter(rest > TimeSpan.Zero ? rest : TimeSpan.Zero);
            RespReply reply;
            try
            {
                reply = await connection.ReadReplyAsync(deadline.Token);
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                return;
            }

            // Any answer means it refused to stop.
            throw reply.Kind == RespKind.Error
                ? new RedisErrorException(reply.Text ?? "ERR")
                : new RespProtocolException($"SHUTDOWN answered '{reply}'");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"SHUTDOWN got no answer from {endPoint} in time");
        }
    }

    private static async Task<bool> WaitForExitAsync(GuestInstance instance, InstanceFiles files, int pid, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var delay = FirstPollDelay;
        while (ServerProcess.IsInstanceServer(pid, instance.Address, instance.Port, files.Config))
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

    private async Task<IReadOnlyList<RespReply>> RunAdminCommandsAsync(GuestInstance instance, IReadOnlyList<string[]> commands, CancellationToken cancellationToken)
    {
        var endPoint = EndPointOf(instance);
        var files = InstanceFiles.For(instance);
        var password = await ReadAdminPasswordAsync(instance, files, cancellationToken);
        var replies = new List<RespReply>(commands.Count);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.CommandTimeout);
        try
        {
            await using var connection = await RespConnection.ConnectAsync(endPoint, deadline.Token);
            await connection.AuthAsync(RedisConfig.AdminUser, password, deadline.Token);
            foreach (var command in commands)
            {
                replies.Add(await connection.ExecuteAsync(command, deadline.Token));
            }
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException($"redis instance {instance.Id} is not reachable at {endPoint}: {e.Message}", e);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"redis instance {instance.Id} at {endPoint} did not answer within {_options.CommandTimeout.TotalSeconds:F0} s");
        }

        // ACL SAVE writes a new file with mode 0644; it holds password hashes, so keep it to the owner.
        if (File.Exists(files.AclFile))
        {
            File.SetUnixFileMode(files.AclFile, PrivateFile.OwnerOnly);
        }

        return replies;
    }

    [GeneratedRegex(@"^(?<pid>\d+):[A-Z] ", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex LogLinePid();
}
