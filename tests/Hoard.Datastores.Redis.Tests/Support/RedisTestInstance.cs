using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Hoard.Abstractions.Clusters;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Processes;
using Hoard.Datastores.Redis.Resp;
using Microsoft.Extensions.Logging;

namespace Hoard.Datastores.Redis.Tests.Support;

/// <summary>
/// One instance for one test: a temp directory with a guest-info.json, a loopback address of its
/// own (127.77.x.y, so the default port is free), and a manager whose logs are kept. Disposing
/// kills the instance's redis-server by its pid and deletes the directory.
/// </summary>
internal sealed class RedisTestInstance : IAsyncDisposable
{
    public const string GuestInfoText = "{\"id\": \"written-by-the-compute-driver\"}\n";

    private readonly ILoggerFactory _loggerFactory;
    private readonly CancellationTokenSource _cancellation = new(TestTimeouts.Default);

    private RedisTestInstance(GuestInstance instance, CapturingLoggerProvider logs, ILoggerFactory loggerFactory, IDatastoreManager manager)
    {
        Instance = instance;
        Logs = logs;
        _loggerFactory = loggerFactory;
        Manager = manager;
    }

    public GuestInstance Instance { get; }

    public IDatastoreManager Manager { get; }

    public CapturingLoggerProvider Logs { get; }

    /// <summary>Cancels after the default test timeout.</summary>
    public CancellationToken Ct => _cancellation.Token;

    public string Directory => Instance.Directory;

    public string PidFile => Path.Combine(Directory, "redis.pid");

    public IPEndPoint EndPoint => new(IPAddress.Parse(Instance.Address), Instance.Port);

    /// <summary>The manager's cluster side.</summary>
    public IClusterManager Cluster => (IClusterManager)Manager;

    /// <param name="cluster">Makes the instance a member of that cluster (as prepare's arguments would).</param>
    public static async Task<RedisTestInstance> CreateAsync(int? port = null, RedisManagerOptions? options = null, ClusterMembership? cluster = null)
    {
        Binaries.Require("redis-server");
        var address = await Loopback.FreeAddressAsync("127.77", port ?? 6379);
        var directory = Path.Combine(Path.GetTempPath(), "hoard-redis-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "guest-info.json"), GuestInfoText).DefaultTimeout();

        var instance = new GuestInstance
        {
            Id = Path.GetFileName(directory),
            Datastore = "redis",
            Version = "7.0",
            Directory = directory,
            Address = address,
            Port = port ?? 6379,
            RamMb = 64,
            Cluster = cluster,
        };
        var logs = new CapturingLoggerProvider();
        var loggerFactory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        var manager = options is null
            ? new RedisPlugin().CreateManager(loggerFactory)
            : new RedisManager(options, loggerFactory.CreateLogger<RedisManager>());
        return new RedisTestInstance(instance, logs, loggerFactory, manager);
    }

    public async Task<string> AdminPasswordAsync() =>
        (await File.ReadAllTextAsync(Path.Combine(Directory, "admin.secret")).DefaultTimeout()).Trim();

    /// <summary>A connection to the instance, authenticated when a user is given.</summary>
    public async Task<RespConnection> ConnectAsync(string? user = null, string? password = null)
    {
        var connection = await RespConnection.ConnectAsync(EndPoint, Ct).DefaultTimeout();
        if (user is not null)
        {
            await connection.AuthAsync(user, password!, Ct).DefaultTimeout();
        }

        return connection;
    }

    public async Task<RespConnection> ConnectAsAdminAsync() => await ConnectAsync(RedisConfig.AdminUser, await AdminPasswordAsync());

    public async Task<RespReply> AdminCommandAsync(params string[] command)
    {
        await using var connection = await ConnectAsAdminAsync();
        return await connection.ExecuteAsync(command, Ct).DefaultTimeout();
    }

    public int? ServerPid() => Hoard.Abstractions.Processes.PidFile.TryRead(PidFile);

    /// <summary>kill -9 of the server, as a crash or the OOM killer would.</summary>
    public async Task KillServerAsync()
    {
        var pid = ServerPid() ?? throw new InvalidOperationException("the instance has no pidfile");
        Process.GetProcessById(pid).Kill();
        await TestTimeouts.EventuallyAsync(() => !Manager.IsProcessAlive(Instance), "the killed server is gone");

        // Its cmdline reads empty (so it no longer looks like redis-server) before the kernel has closed its
        // sockets; a server restarted on the same address before then fails with "Address already in use".
        await TestTimeouts.EventuallyAsync(() => Exited(pid), "the killed server's sockets to be closed");
    }

    /// <summary>Gone, or a zombie (a zombie holds no socket any more).</summary>
    private static bool Exited(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>Freezes the server (SIGSTOP): alive, but answering nothing.</summary>
    public void FreezeServer() => Signals.Send(ServerPid()!.Value, Signals.SigStop);

    /// <summary>Runs the real redis-cli against the instance; returns its trimmed output.</summary>
    public async Task<string> RedisCliAsync(string user, string password, params string[] command)
    {
        var (_, output, errors) = await ProcessRunner.RunAsync(
            Binaries.Require("redis-cli"),
            ["-h", Instance.Address, "-p", Instance.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--user", user, "--pass", password, "--no-auth-warning", .. command],
            timeout: TestTimeouts.Default);
        return (output + errors).Trim();
    }

    public async ValueTask DisposeAsync()
    {
        if (ServerPid() is int pid && ServerProcess.IsInstanceServer(pid, Instance.Address, Instance.Port, Path.Combine(Directory, "redis.conf")))
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill();
                await TestTimeouts.EventuallyAsync(() => !Manager.IsProcessAlive(Instance), "the server is killed");
            }
            catch (ArgumentException)
            {
                // Already gone.
            }
        }

        _cancellation.Dispose();
        _loggerFactory.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file the server wrote while dying; the temp directory is cleaned by the OS eventually.
        }
    }
}
