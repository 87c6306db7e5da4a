using System.Net;
using System.Net.Sockets;
using Hoard.Abstractions.Datastores;
using Microsoft.Extensions.Logging;

namespace Hoard.Datastores.PostgreSql.Tests.Support;

/// <summary>
/// One instance for one test: a private (0700) directory as the compute driver makes it, a loopback address of
/// its own (127.89.x.y, so port 5432 is free), and a manager whose logs are kept. Disposing destroys the
/// instance, kills whatever is left of its server and deletes the directory.
/// </summary>
internal sealed class PostgreSqlTestInstance : IAsyncDisposable
{
    public const string DefaultRoot = "/tmp/hoard-postgresql-tests";

    private readonly ILoggerFactory _loggerFactory;
    private readonly CancellationTokenSource _cancellation = new(TimeSpan.FromMinutes(2));

    private PostgreSqlTestInstance(GuestInstance instance, CapturingLoggerProvider logs, ILoggerFactory loggerFactory, PostgreSqlManager manager)
    {
        Instance = instance;
        Logs = logs;
        _loggerFactory = loggerFactory;
        Manager = manager;
    }

    public GuestInstance Instance { get; }

    public PostgreSqlManager Manager { get; }

    public CapturingLoggerProvider Logs { get; }

    /// <summary>Cancels after two minutes, so no test hangs.</summary>
    public CancellationToken Ct => _cancellation.Token;

    public string Directory => Instance.Directory;

    public string DataDirectory => InstanceFiles.For(Instance).DataDirectory;

    public string ServerLog => Path.Combine(Directory, "postgresql.log");

    public static async Task<PostgreSqlTestInstance> CreateAsync(
        PostgreSqlManagerOptions? options = null,
        string? parent = null,
        int ramMb = 512,
        IReadOnlyDictionary<string, string>? guestOptions = null)
    {
        var versions = PostgreSqlInstallation.Discover(PostgreSqlInstallation.DefaultRoot);
        var version = (versions.Count > 0 ? versions[0] : null)
            ?? throw new InvalidOperationException("PostgreSQL is not installed; ./test.sh installs postgresql-15");
        var directory = Path.Combine(parent ?? DefaultRoot, Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var instance = new GuestInstance
        {
            Id = Path.GetFileName(directory),
            Datastore = "postgresql",
            Version = version.Name,
            Directory = directory,
            Address = await Loopback.FreeAddressAsync("127.89", 5432),
            Port = 5432,
            RamMb = ramMb,
            Options = guestOptions ?? new Dictionary<string, string>(),
        };
        var logs = new CapturingLoggerProvider();
        var loggerFactory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        var manager = new PostgreSqlManager(options ?? new PostgreSqlManagerOptions(), loggerFactory.CreateLogger<PostgreSqlManager>());
        return new PostgreSqlTestInstance(instance, logs, loggerFactory, manager);
    }

    public Task PrepareAsync() => Manager.PrepareAsync(Instance, Ct).Within(Timeouts.Cli);

    public async Task<string> AdminPasswordAsync() =>
        (await File.ReadAllTextAsync(Path.Combine(Directory, "admin.secret")).Within(Timeouts.Short)).Trim();

    public int? ServerPid() => ServerProcess.TryReadLockFile(InstanceFiles.For(Instance).PidFile)?.Pid;

    /// <summary>kill -9 of the postmaster, as a crash or the OOM killer would.</summary>
    public async Task KillServerAsync()
    {
        var pid = ServerPid() ?? throw new InvalidOperationException("the instance has no postmaster.pid");
        ProcessRunner.Kill(pid, 9);
        await Timeouts.EventuallyAsync(() => Task.FromResult(Manager.IsProcessAlive(Instance)), alive => !alive, Timeouts.Short, "the killed server to be gone");
    }

    public Task<ProcessResult> PsqlAsync(string user, string password, string? database, string sql) =>
        Psql.RunAsync(Instance, user, password, database, sql);

    /// <summary>Runs SQL as the agent's admin role with psql; fails the test when psql fails.</summary>
    public async Task<string> AdminSqlAsync(string sql, string? database = null)
    {
        var result = await PsqlAsync("os_admin", await AdminPasswordAsync(), database, sql);
        Assert.True(result.ExitCode == 0, $"psql as os_admin failed: {result}");
        return result.Stdout.Trim();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var cleanup = new CancellationTokenSource(Timeouts.Settle);
            await Manager.DestroyAsync(Instance, cleanup.Token);
        }
        catch (Exception)
        {
            // Whatever the test did to the instance, its server must not outlive the test.
            if (ServerPid() is int pid && ServerProcess.IsInstanceServer(pid, DataDirectory))
            {
                ProcessRunner.Kill(pid, 9);
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
