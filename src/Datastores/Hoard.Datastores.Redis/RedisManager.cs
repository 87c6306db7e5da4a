using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Hoard.Abstractions.Datastores;
using Microsoft.Extensions.Logging;

namespace Hoard.Datastores.Redis;

/// <summary>
/// Runs Redis instances for a guest agent. Everything of an instance lives in its directory:
/// redis.conf, users.acl (ACL users, kept across restarts), admin.secret (the agent's own password,
/// 0600), redis.pid, redis.log and data/ (the append-only file). Redis always requires a password,
/// listens only on the instance's address, and daemonizes into its own session, so it outlives the agent.
/// </summary>
public sealed partial class RedisManager(string serverBinary, ILogger<RedisManager> logger) : IDatastoreManager
{
    /// <summary>The ACL user the agent administers the instance with.</summary>
    public const string AdminUser = "hoard-admin";

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);
    private const string PasswordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

    public async Task PrepareAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        Directory.CreateDirectory(Path.Combine(instance.Directory, "data"));
        var password = AdminPassword(instance, create: true);
        WriteFile(Path.Combine(instance.Directory, "redis.conf"), Config(instance));
        var acl = Path.Combine(instance.Directory, "users.acl");
        if (!File.Exists(acl))
        {
            // No anonymous access at all: the default user is off; the agent has its own user.
            WriteFile(acl, $"user default off\nuser {AdminUser} on >{password} ~* &* +@all\n");
        }

        await StartAsync(instance, cancellationToken);
    }

    public async Task StartAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        if (IsProcessAlive(instance) && await ProbeAsync(instance, cancellationToken) == ServiceStatus.Running)
        {
            return;
        }

        if (!IsProcessAlive(instance))
        {
            var clock = Stopwatch.StartNew();
            using var launcher = Process.Start(new ProcessStartInfo(serverBinary)
            {
                ArgumentList = { Path.Combine(instance.Directory, "redis.conf") },
                UseShellExecute = false,
                RedirectStandardInput = true,
                WorkingDirectory = instance.Directory,
            }) ?? throw new InvalidOperationException("could not start redis-server");
            launcher.StandardInput.Close();

            // With daemonize the launcher forks the server into its own session and exits at once.
            await launcher.WaitForExitAsync(cancellationToken);
            if (launcher.ExitCode != 0)
            {
                throw new InvalidOperationException($"redis-server exited with {launcher.ExitCode}: {LogTail(instance)}");
            }

            LogStarting(instance.Id, clock.ElapsedMilliseconds);
        }

        await WaitReadyAsync(instance, cancellationToken);
    }

    public async Task StopAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var pid = Pid(instance);
        if (pid is null)
        {
            return;
        }

        try
        {
            await using var client = await RespClient.ConnectAsync(instance.Address, instance.Port, AdminUser, AdminPassword(instance, create: false), cancellationToken);
            await client.CommandAsync(cancellationToken, "SHUTDOWN");
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or RedisServerException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // SHUTDOWN closes the connection without a reply; a server that does not answer is killed below.
        }

        var deadline = DateTime.UtcNow + StopTimeout;
        while (IsAlive(pid.Value, instance) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5, cancellationToken);
        }

        if (IsAlive(pid.Value, instance))
        {
            LogKilling(instance.Id, pid.Value);
            using var process = Process.GetProcessById(pid.Value);
            process.Kill();
        }
    }

    public bool IsProcessAlive(GuestInstance instance) => Pid(instance) is { } pid && IsAlive(pid, instance);

    public async Task<ServiceStatus> ProbeAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        if (!IsProcessAlive(instance))
        {
            return ServiceStatus.Shutdown;
        }

        try
        {
            await using var client = await RespClient.ConnectAsync(instance.Address, instance.Port, AdminUser, AdminPassword(instance, create: false), cancellationToken);
            return await client.CommandAsync(cancellationToken, "PING") as string == "PONG" ? ServiceStatus.Running : ServiceStatus.Unknown;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or RedisServerException)
        {
            return ServiceStatus.Blocked;
        }
    }

    public async Task<RootCredentials> EnableRootAsync(GuestInstance instance, string? password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        password ??= RandomNumberGenerator.GetString(PasswordAlphabet, 24);
        if (password.Any(char.IsWhiteSpace))
        {
            throw new ArgumentException("a Redis password cannot contain white space");
        }

        await using var client = await RespClient.ConnectAsync(instance.Address, instance.Port, AdminUser, AdminPassword(instance, create: false), cancellationToken);
        await client.CommandAsync(cancellationToken, "ACL", "SETUSER", "root", "reset", "on", ">" + password, "~*", "&*", "+@all");
        await client.CommandAsync(cancellationToken, "ACL", "SAVE");
        return new RootCredentials("root", password);
    }

    public async Task DisableRootAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        await using var client = await RespClient.ConnectAsync(instance.Address, instance.Port, AdminUser, AdminPassword(instance, create: false), cancellationToken);
        await client.CommandAsync(cancellationToken, "ACL", "DELUSER", "root");
        await client.CommandAsync(cancellationToken, "ACL", "SAVE");
    }

    private async Task WaitReadyAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        var password = AdminPassword(instance, create: false);
        var deadline = DateTime.UtcNow + ReadyTimeout;
        var delay = TimeSpan.FromMilliseconds(1);
        while (true)
        {
            try
            {
                await using var client = await RespClient.ConnectAsync(instance.Address, instance.Port, AdminUser, password, cancellationToken);
                if (await client.CommandAsync(cancellationToken, "PING") as string == "PONG")
                {
                    return;
                }
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException || (e is RedisServerException && e.Message.StartsWith("LOADING", StringComparison.Ordinal)))
            {
                // not listening yet, or still loading its data
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"redis-server for instance {instance.Id} did not answer within {ReadyTimeout.TotalSeconds:0} s: {LogTail(instance)}");
            }

            await Task.Delay(delay, cancellationToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 50));
        }
    }

    private static string Config(GuestInstance i) => $"""
        # Written by the Hoard guest agent for instance {i.Id}; rewritten on every prepare.
        bind {i.Address}
        port {i.Port.ToString(CultureInfo.InvariantCulture)}
        protected-mode yes
        daemonize yes
        pidfile {Path.Combine(i.Directory, "redis.pid")}
        logfile {Path.Combine(i.Directory, "redis.log")}
        dir {Path.Combine(i.Directory, "data")}
        aclfile {Path.Combine(i.Directory, "users.acl")}
        appendonly yes
        appendfsync everysec
        save ""
        maxmemory {i.RamMb.ToString(CultureInfo.InvariantCulture)}mb
        maxmemory-policy noeviction
        """ + "\n";

    /// <summary>The agent's own password for the instance, made once and kept (0600) in the instance directory.</summary>
    private static string AdminPassword(GuestInstance instance, bool create)
    {
        var path = Path.Combine(instance.Directory, "admin.secret");
        if (!File.Exists(path))
        {
            if (!create)
            {
                throw new InvalidOperationException($"instance {instance.Id} was never prepared");
            }

            WriteFile(path, RandomNumberGenerator.GetString(PasswordAlphabet, 32));
        }

        return File.ReadAllText(path).Trim();
    }

    private static void WriteFile(string path, string content)
    {
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
        }

        File.Move(temp, path, overwrite: true);
    }

    private static int? Pid(GuestInstance instance)
    {
        try
        {
            return int.TryParse(File.ReadAllText(Path.Combine(instance.Directory, "redis.pid")).Trim(), CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Alive and really this instance's server: guards against a recycled pid.</summary>
    private static bool IsAlive(int pid, GuestInstance instance)
    {
        try
        {
            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
            return cmdline.Contains("redis-server", StringComparison.Ordinal) && cmdline.Contains(instance.Address + ":", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string LogTail(GuestInstance instance)
    {
        var path = Path.Combine(instance.Directory, "redis.log");
        if (!File.Exists(path))
        {
            return "(no log)";
        }

        var lines = File.ReadAllLines(path);
        return string.Join(" | ", lines.Skip(Math.Max(0, lines.Length - 5)));
    }

    [LoggerMessage(3000, LogLevel.Debug, "Instance {Instance}: redis-server launched in {Ms} ms")]
    private partial void LogStarting(string instance, long ms);

    [LoggerMessage(3001, LogLevel.Warning, "Instance {Instance}: redis-server (pid {Pid}) did not stop in time; killing it")]
    private partial void LogKilling(string instance, int pid);
}
