using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.IO;
using Hoard.Abstractions.Processes;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace Hoard.Datastores.MariaDb;

/// <summary>
/// Runs a guest's MariaDB instances: one mariadbd per instance, in a session of its own, with its option file,
/// admin secret, pid file and log in the instance's directory and its data copied from a per-version template.
/// </summary>
/// <remarks>
/// One manager serves every instance of an agent, up to hundreds, so it keeps nothing per instance in memory:
/// no connection, no pool, no thread. Each call reads what it needs from the instance's files and /proc, and
/// talks to the server over one fresh connection as the agent's admin user (os_admin@127.0.0.1).
/// When the agent is root, mariadbd runs as the package's mysql user (--user), and the instance directory is
/// opened to it for traversal only (0711); every file of the agent's in it stays 0600.
/// </remarks>
[SupportedOSPlatform("linux")]
public sealed partial class MariaDbManager : IDatastoreManager
{
    private const int LogTailLines = 20;
    private const int LogReadLimit = 64 * 1024;

    // mariadbd answers ~110-150 ms after launch; poll every 1-2 ms at first (a refused loopback connect costs
    // microseconds), then back off for slow starts (crash recovery of a big redo log).
    private static readonly TimeSpan FirstPollDelay = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan FastPollDelayCap = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan FastPollPeriod = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan SlowPollDelayCap = TimeSpan.FromMilliseconds(50);

    // One start-up attempt waits this long for the handshake before trying again.
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(10);

    private const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    // The instance directory as the engine user sees it: it may pass through to its data, not list or read.
    private const UnixFileMode TraversableDirectory = PrivateDirectory | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    private readonly MariaDbManagerOptions _options;
    private readonly Lazy<IReadOnlyList<MariaDbInstallation>> _installations;
    private readonly TemplateStore _templates;
    private readonly ILogger _logger;

    public MariaDbManager(MariaDbManagerOptions options, ILogger<MariaDbManager> logger)
        : this(options, null, logger)
    {
    }

    internal MariaDbManager(MariaDbManagerOptions options, Lazy<IReadOnlyList<MariaDbInstallation>>? installations, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        _installations = installations
            ?? new Lazy<IReadOnlyList<MariaDbInstallation>>(() => MariaDbInstallation.Discover(options.Prefixes), LazyThreadSafetyMode.ExecutionAndPublication);
        _templates = new TemplateStore(options, logger);
        _logger = logger;
    }

    public async Task PrepareAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        EndPointOf(instance);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(instance.RamMb);
        var files = InstanceFiles.For(instance);
        if (!Directory.Exists(files.Directory))
        {
            throw new DirectoryNotFoundException($"the directory of mariadb instance {instance.Id} does not exist: {files.Directory}");
        }

        var installation = InstallationFor(instance);
        _logger.Preparing(instance.Id, installation.Version.Version, instance.Address, instance.Port);

        // my.cnf includes it, so it must exist before the server starts; a configuration group fills it.
        await PrivateFile.WriteAsync(files.GroupConfig, ServerConfig.RenderGroup(instance, new Dictionary<string, string>()), overwrite: false, cancellationToken);

        await PrivateFile.WriteAsync(files.LogsConfig, ServerConfig.RenderLogs(instance, null), overwrite: false, cancellationToken);

        // Rewritten on every prepare (a resize changes the buffer pool), but only when it changed.
        var config = ServerConfig.Render(instance, files);
        if (!File.Exists(files.Config) || await File.ReadAllTextAsync(files.Config, cancellationToken) != config)
        {
            await PrivateFile.WriteAsync(files.Config, config, overwrite: true, cancellationToken);
        }

        string? template = null;
        if (LivePid(files) is null)
        {
            var engine = EngineAccount.ForCurrentProcess(_options.EngineUser);
            OpenToEngine(files, engine);
            if (await PrivateFile.WriteAsync(files.AdminSecret, Secrets.GeneratePassword() + "\n", overwrite: false, cancellationToken))
            {
                _logger.AdminSecretGenerated(instance.Id);
            }

            if (!Directory.Exists(files.DataDirectory))
            {
                template = await CopyTemplateAsync(instance, files, installation, engine, cancellationToken);
            }
        }

        await StartAsync(instance, cancellationToken);
        _logger.Prepared(instance.Id, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        if (template is not null)
        {
            // Now that the instance serves, the spare it took is remade in the background.
            SpareCopies.ReplenishInBackground(instance, template, (destination, ct) => CopyTemplateTreeAsync(template, destination, ct), e => _logger.SpareCopyFailed(template, e));
        }
    }

    /// <summary>Copies a template: cp -a keeps the engine user's ownership and modes; --reflink shares blocks where the file system can.</summary>
    private async Task CopyTemplateTreeAsync(string template, string destination, CancellationToken cancellationToken)
    {
        var (exitCode, said) = await RunAsync("cp", ["-a", "--reflink=auto", "--", template, destination], _options.TemplateTimeout, cancellationToken);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"could not copy the template {template}: {said}");
        }
    }

    public Task StartAsync(GuestInstance instance, CancellationToken cancellationToken) => StartAsync(instance, [], cancellationToken);

    /// <summary>Starts the server, with <paramref name="serverArguments"/> after its own when it is launched here.</summary>
    private async Task StartAsync(GuestInstance instance, IReadOnlyList<string> serverArguments, CancellationToken cancellationToken)
    {
        var endPoint = EndPointOf(instance);
        var files = InstanceFiles.For(instance);
        if (!File.Exists(files.Config) || !Directory.Exists(files.DataDirectory))
        {
            throw new InvalidOperationException($"mariadb instance {instance.Id} is not prepared: {files.Config} or {files.DataDirectory} does not exist");
        }

        var installation = InstallationFor(instance);
        var started = Stopwatch.GetTimestamp();
        var logOffset = LogTail.Offset(files.LogFile);
        var pid = LivePid(files);
        if (pid is int running)
        {
            // Started earlier, perhaps by an agent that has since restarted: wait for that one (it may still be
            // recovering) rather than start a second server.
            _logger.AlreadyRunning(instance.Id, running);
        }
        else
        {
            RemoveStalePidFile(instance, files);
            _logger.Starting(instance.Id);
            pid = await LaunchAsync(instance, files, installation, serverArguments, cancellationToken);
        }

        var admin = await WaitUntilServingAsync(instance, files, installation, endPoint, pid.Value, logOffset, started, cancellationToken);
        if (!File.Exists(files.AdminRotated))
        {
            await RotateAdminPasswordAsync(instance, files, endPoint, admin, cancellationToken);
        }

        _logger.Serving(instance.Id, pid.Value, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    public async Task StopAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var files = InstanceFiles.For(instance);
        if (LivePid(files) is not int pid)
        {
            RemoveStalePidFile(instance, files);
            _logger.AlreadyStopped(instance.Id);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        _logger.Stopping(instance.Id, pid);

        // SIGTERM is mariadbd's clean shutdown: it closes connections, flushes InnoDB and removes its pid file.
        SignalIfStillOurs(files, pid, Signals.SigTerm);
        if (!await WaitForExitAsync(files, pid, _options.StopTimeout, cancellationToken))
        {
            _logger.Killing(instance.Id, pid, _options.StopTimeout);
            SignalIfStillOurs(files, pid, Signals.SigKill);
            if (!await WaitForExitAsync(files, pid, KillTimeout, cancellationToken))
            {
                throw new InvalidOperationException($"mariadb instance {instance.Id} (pid {pid}) is still alive after SIGKILL");
            }
        }

        RemoveStalePidFile(instance, files);
        _logger.Stopped(instance.Id, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    public async Task DestroyAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        await StopAsync(instance, cancellationToken);

        // Data in the instance's directory goes with it (the agent removes the directory); data under a
        // mount_point is the manager's to remove.
        var files = InstanceFiles.For(instance);
        if (files.DataOutsideInstance)
        {
            foreach (var path in new[] { files.DataDirectory, CopyDirectory(files) })
            {
                if (Directory.Exists(path))
                {
                    Directory.Delete(path, recursive: true);
                    _logger.DataRemoved(instance.Id, path);
                }
            }
        }
    }

    public bool IsProcessAlive(GuestInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        return LivePid(InstanceFiles.For(instance)) is not null;
    }

    public async Task<ServiceStatus> ProbeAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        var endPoint = EndPointOf(instance);
        var files = InstanceFiles.For(instance);
        if (LivePid(files) is null)
        {
            return ServiceStatus.Shutdown;
        }

        try
        {
            var password = await ReadAdminPasswordAsync(instance, files, cancellationToken);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(_options.ProbeTimeout);
            await using var connection = await OpenAsync(endPoint, password, deadline.Token);
            return await connection.PingAsync(deadline.Token) ? ServiceStatus.Running : ServiceStatus.Unknown;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // Alive but not answering: recovering, hung, or its admin user was tampered with.
            _logger.ProbeFailed(instance.Id, e);
            return ServiceStatus.Unknown;
        }
    }

    private MariaDbInstallation InstallationFor(GuestInstance instance)
    {
        var installations = _installations.Value;
        return installations.FirstOrDefault(i => i.Version.Name == instance.Version)
            ?? throw new InvalidOperationException(
                $"MariaDB {instance.Version} (of instance {instance.Id}) is not installed here; found "
                + (installations.Count == 0
                    ? $"none under {string.Join(", ", _options.Prefixes)} (set {MariaDbInstallation.PrefixesVariable})"
                    : string.Join(", ", installations.Select(i => $"{i.Version.Version} in {i.Prefix}"))));
    }

    /// <summary>
    /// As root: lets the engine user through the instance directory to its data (0711, no listing) and checks it
    /// can get that far; the agent's own files in it stay 0600.
    /// </summary>
    private static void OpenToEngine(InstanceFiles files, EngineAccount? engine)
    {
        if (engine is null)
        {
            return;
        }

        if (!files.DataOutsideInstance && File.GetUnixFileMode(files.Directory) != TraversableDirectory)
        {
            File.SetUnixFileMode(files.Directory, TraversableDirectory);
        }

        engine.RequireReachable(files.DataDirectory);
    }

    private static string CopyDirectory(InstanceFiles files) => files.DataDirectory + ".copying";

    /// <summary>Copies the version's template (built first if need be) into the instance's data directory.</summary>
    /// <returns>The template's data directory, whose spare the caller replaces once the instance serves.</returns>
    private async Task<string> CopyTemplateAsync(GuestInstance instance, InstanceFiles files, MariaDbInstallation installation, EngineAccount? engine, CancellationToken cancellationToken)
    {
        var folder = _templates.FolderFor(files);
        var template = await _templates.EnsureAsync(folder, installation, engine, cancellationToken);
        var started = Stopwatch.GetTimestamp();

        // A fresh copy has the template's admin password until the first start replaces it.
        File.Delete(files.AdminRotated);
        var copy = CopyDirectory(files);
        if (Directory.Exists(copy))
        {
            Directory.Delete(copy, recursive: true);
        }

        if (files.DataOutsideInstance)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(files.DataDirectory)!);
        }

        // A ready spare is a rename away; the copy that replaces it is made once the instance serves.
        if (SpareCopies.TryTake(template.DataDirectory, files.DataDirectory))
        {
            _logger.SpareTaken(instance.Id, template.DataDirectory, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return template.DataDirectory;
        }

        await CopyTemplateTreeAsync(template.DataDirectory, copy, cancellationToken);
        Directory.Move(copy, files.DataDirectory);
        _logger.DataCopied(instance.Id, template.DataDirectory, files.DataDirectory, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return template.DataDirectory;
    }

    private async Task<int> LaunchAsync(GuestInstance instance, InstanceFiles files, MariaDbInstallation installation, IReadOnlyList<string> serverArguments, CancellationToken cancellationToken)
    {
        // The log is the agent's: created 0600 here, then appended to by the server through the launcher's redirection.
        using (File.Open(files.LogFile, new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, UnixCreateMode = PrivateFile.OwnerOnly }))
        {
        }

        List<string> arguments = [ServerProcess.DefaultsFileArgument(files.Config)];
        if (Environment.IsPrivilegedProcess)
        {
            // mariadbd reads its option file as root, then drops to the engine user before touching any data.
            arguments.Add("--user=" + _options.EngineUser);
        }

        arguments.AddRange(serverArguments);

        int pid;
        try
        {
            pid = await ServerProcess.LaunchAsync(installation.ServerPath, arguments, files.LogFile, files.Directory, cancellationToken);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException($"could not start mariadbd for mariadb instance {instance.Id}: {e.Message}", e);
        }

        await PrivateFile.WriteAsync(files.PidFile, pid.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n", overwrite: true, cancellationToken);
        return pid;
    }

    /// <summary>
    /// Polls until the server lets the agent's admin user in, and returns the password that worked: the
    /// template's on the first start of a fresh copy, the instance's own after that.
    /// </summary>
    private async Task<string> WaitUntilServingAsync(
        GuestInstance instance,
        InstanceFiles files,
        MariaDbInstallation installation,
        IPEndPoint endPoint,
        int pid,
        long logOffset,
        long started,
        CancellationToken cancellationToken)
    {
        var own = await ReadAdminPasswordAsync(instance, files, cancellationToken);
        var passwords = new List<string>();
        if (!File.Exists(files.AdminRotated))
        {
            var template = TemplateStore.Locate(_templates.FolderFor(files), installation);
            if (await PrivateFile.ReadTrimmedAsync(template.SecretFile, cancellationToken) is { } templatePassword)
            {
                passwords.Add(templatePassword);
            }
        }

        // After a crash between rotating and recording it, the server already has the instance's own password.
        passwords.Add(own);
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

            for (var i = 0; i < passwords.Count; i++)
            {
                try
                {
                    using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    attempt.CancelAfter(remaining < AttemptTimeout ? remaining : AttemptTimeout);
                    await using var connection = await OpenAsync(endPoint, passwords[i], attempt.Token);
                    return passwords[i];
                }
                catch (MySqlException e) when (e.ErrorCode == MySqlErrorCode.AccessDenied)
                {
                    if (i == passwords.Count - 1)
                    {
                        // Grant tables are loaded before the first login is accepted: waiting will not change this.
                        throw StartFailure(
                            instance,
                            files,
                            logOffset,
                            $"the server at {endPoint} refused the agent's admin user: another server holds this address, or the data no longer matches {files.AdminSecret}");
                    }
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is MySqlException or SocketException or IOException or OperationCanceledException)
                {
                    // Refused (not listening yet), no handshake yet, or no reply within the attempt.
                    lastProblem = e.Message;
                    break;
                }
            }

            if (!ServerProcess.IsInstanceServerOrLauncher(pid, files.Config))
            {
                throw StartFailure(instance, files, logOffset, $"mariadbd (pid {pid}) exited during start-up");
            }

            await Task.Delay(delay, cancellationToken);
            var cap = elapsed < FastPollPeriod ? FastPollDelayCap : SlowPollDelayCap;
            delay = delay * 2 < cap ? delay * 2 : cap;
        }
    }

    /// <summary>
    /// Gives the admin user the instance's own password, replacing the template's, which every copy shares;
    /// done right after the first start, so the template's password works on a serving instance only for a moment.
    /// </summary>
    private async Task RotateAdminPasswordAsync(GuestInstance instance, InstanceFiles files, IPEndPoint endPoint, string current, CancellationToken cancellationToken)
    {
        var own = await ReadAdminPasswordAsync(instance, files, cancellationToken);
        if (current != own)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(_options.CommandTimeout);
            await using var connection = await OpenAsync(endPoint, current, deadline.Token);
            await Sql.ExecuteAsync(
                connection,
                $"ALTER USER {Sql.Account(MariaDbSchema.AdminUser, MariaDbSchema.AdminHost)} {Sql.IdentifiedBy(own)}",
                deadline.Token);
        }

        await PrivateFile.WriteAsync(files.AdminRotated, "The admin password is this instance's own (admin.secret).\n", overwrite: true, cancellationToken);
        _logger.AdminPasswordRotated(instance.Id);
    }

    private async Task<MySqlConnection> OpenAsync(IPEndPoint endPoint, string password, CancellationToken cancellationToken)
    {
        var connection = new MySqlConnection(Sql.ConnectionString(endPoint, MariaDbSchema.AdminUser, password, _options.CommandTimeout));
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private static IPEndPoint EndPointOf(GuestInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        if (!IPAddress.TryParse(instance.Address, out var address))
        {
            throw new ArgumentException($"mariadb instance {instance.Id} has address '{instance.Address}', which is not an IP address", nameof(instance));
        }

        if (instance.Port is < IPEndPoint.MinPort + 1 or > IPEndPoint.MaxPort)
        {
            throw new ArgumentException($"mariadb instance {instance.Id} has port {instance.Port}, which is not a TCP port", nameof(instance));
        }

        return new IPEndPoint(address, instance.Port);
    }

    private static int? LivePid(InstanceFiles files) =>
        PidFile.TryRead(files.PidFile) is int pid && ServerProcess.IsInstanceServer(pid, files.Config) ? pid : null;

    private static async Task<string> ReadAdminPasswordAsync(GuestInstance instance, InstanceFiles files, CancellationToken cancellationToken) =>
        await PrivateFile.ReadTrimmedAsync(files.AdminSecret, cancellationToken)
        ?? throw new InvalidOperationException($"mariadb instance {instance.Id} has no admin secret ({files.AdminSecret}); prepare it first");

    private void RemoveStalePidFile(GuestInstance instance, InstanceFiles files)
    {
        if (File.Exists(files.PidFile))
        {
            var pid = PidFile.TryRead(files.PidFile);
            File.Delete(files.PidFile);
            _logger.StalePidFileRemoved(instance.Id, pid);
        }
    }

    private static void SignalIfStillOurs(InstanceFiles files, int pid, int signal)
    {
        // Re-checked right before signalling: never signal a process that reused the pid.
        if (ServerProcess.IsInstanceServer(pid, files.Config))
        {
            Signals.Send(pid, signal);
        }
    }

    private static async Task<bool> WaitForExitAsync(InstanceFiles files, int pid, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var delay = FirstPollDelay;
        while (ServerProcess.IsInstanceServer(pid, files.Config))
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

    private static async Task<(int ExitCode, string Said)> RunAsync(string program, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(ServerProcess.Locate(program) ?? program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var output = process.StandardOutput.ReadToEndAsync(deadline.Token);
        var errors = process.StandardError.ReadToEndAsync(deadline.Token);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, ((await errors) + (await output)).Trim());
    }

    private InvalidOperationException StartFailure(GuestInstance instance, InstanceFiles files, long logOffset, string reason)
    {
        _logger.StartFailed(instance.Id, reason);
        var log = LogTail.Since(files.LogFile, logOffset, LogReadLimit, fromEnd: true);
        var tail = log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(LogTailLines);
        var message = new StringBuilder()
            .Append("mariadb instance ").Append(instance.Id).Append(" failed to start: ").Append(reason)
            .Append('\n').Append("--- last lines of ").Append(files.LogFile).Append(" ---\n")
            .AppendJoin('\n', tail.DefaultIfEmpty("(nothing since this start)"));
        return new InvalidOperationException(message.ToString());
    }
}
