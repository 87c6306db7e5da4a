using System.Net;
using System.Net.Sockets;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Processes;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace Hoard.Datastores.MariaDb.Tests.Support;

/// <summary>
/// One instance for one test: a private (0700) directory as the compute driver makes it, a loopback address of
/// its own (127.87.x.y, so port 3306 is free), and a manager whose logs are kept. Disposing destroys the
/// instance, kills whatever is left of its server and deletes the directory.
/// </summary>
internal sealed class MariaDbTestInstance : IAsyncDisposable
{
    public const string DefaultParent = "/tmp/hoard-mariadb-tests";

    private readonly ILoggerFactory _loggerFactory;
    private readonly CancellationTokenSource _cancellation = new(TimeSpan.FromMinutes(2));

    private MariaDbTestInstance(GuestInstance instance, CapturingLoggerProvider logs, ILoggerFactory loggerFactory, MariaDbManager manager)
    {
        Instance = instance;
        Logs = logs;
        _loggerFactory = loggerFactory;
        Manager = manager;
    }

    public GuestInstance Instance { get; }

    public MariaDbManager Manager { get; }

    public CapturingLoggerProvider Logs { get; }

    /// <summary>Cancels after two minutes, so no test hangs.</summary>
    public CancellationToken Ct => _cancellation.Token;

    public string Directory => Instance.Directory;

    public string DataDirectory => InstanceFiles.For(Instance).DataDirectory;

    public string ServerLog => Path.Combine(Directory, "mariadb.log");

    public static async Task<MariaDbTestInstance> CreateAsync(
        MariaDbManagerOptions? options = null,
        string? parent = null,
        int ramMb = 512,
        IReadOnlyDictionary<string, string>? guestOptions = null,
        MariaDbPlugin? plugin = null)
    {
        var versions = MariaDbInstallation.Discover(MariaDbInstallation.DefaultPrefixes());
        var version = versions.Count > 0 ? versions[0] : throw new InvalidOperationException("mariadbd is not installed; ./test.sh installs it");
        var directory = Path.Combine(parent ?? DefaultParent, Guid.NewGuid().ToString("N"));

        // As the local compute driver makes it: the instance's own, private directory.
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(directory)!);
        System.IO.Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var instance = new GuestInstance
        {
            Id = Path.GetFileName(directory),
            Datastore = "mariadb",
            Version = version.Version.Name,
            Directory = directory,
            Address = await Loopback.FreeAddressAsync("127.87", 3306),
            Port = 3306,
            RamMb = ramMb,
            Options = guestOptions ?? new Dictionary<string, string>(),
        };
        var logs = new CapturingLoggerProvider();
        var loggerFactory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        var manager = plugin is not null
            ? (MariaDbManager)plugin.CreateManager(loggerFactory)
            : new MariaDbManager(options ?? new MariaDbManagerOptions(), loggerFactory.CreateLogger<MariaDbManager>());
        return new MariaDbTestInstance(instance, logs, loggerFactory, manager);
    }

    public async Task<string> AdminPasswordAsync() =>
        (await File.ReadAllTextAsync(Path.Combine(Directory, "admin.secret")).Within(Timeouts.Short)).Trim();

    /// <summary>A connection to the instance as <paramref name="user"/>; the caller disposes it.</summary>
    public async Task<MySqlConnection> ConnectAsync(string user, string password, string? database = null)
    {
        var connection = new MySqlConnection(new MySqlConnectionStringBuilder
        {
            Server = Instance.Address,
            Port = (uint)Instance.Port,
            UserID = user,
            Password = password,
            Database = database ?? string.Empty,
            Pooling = false,
            SslMode = MySqlSslMode.None,
        }.ConnectionString);
        try
        {
            await connection.OpenAsync(Ct).Within(Timeouts.Short);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public async Task<MySqlConnection> ConnectAsAdminAsync() => await ConnectAsync("os_admin", await AdminPasswordAsync());

    /// <summary>Runs a query as the agent's admin user and returns every row, each column as text.</summary>
    public async Task<List<string[]>> AdminQueryAsync(string sql)
    {
        await using var connection = await ConnectAsAdminAsync();
        await using var command = new MySqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(Ct).Within(Timeouts.Short);
        var rows = new List<string[]>();
        while (await reader.ReadAsync(Ct).Within(Timeouts.Short))
        {
            rows.Add([.. Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? string.Empty : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)!)]);
        }

        return rows;
    }

    public int? ServerPid() => PidFile.TryRead(Path.Combine(Directory, "mariadbd.pid"));

    /// <summary>kill -9 of the server, as a crash or the OOM killer would.</summary>
    public async Task KillServerAsync()
    {
        var pid = ServerPid() ?? throw new InvalidOperationException("the instance has no pid file");
        Signals.Send(pid, Signals.SigKill);
        await Timeouts.EventuallyAsync(() => Task.FromResult(Manager.IsProcessAlive(Instance)), alive => !alive, Timeouts.Short, "the killed server to be gone");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await Manager.DestroyAsync(Instance, cleanup.Token);
        }
        catch (Exception)
        {
            // A test may have broken the instance on purpose; whatever still runs is killed below.
        }

        foreach (var pid in ProcessRunner.FindProcesses("mariadbd", Path.Combine(Directory, "my.cnf")))
        {
            Signals.Send(pid, Signals.SigKill);
        }

        _cancellation.Dispose();
        _loggerFactory.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file the server wrote while dying; the temp directory is cleaned eventually.
        }
    }
}
