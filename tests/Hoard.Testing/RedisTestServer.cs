using System.Diagnostics;
using System.Globalization;
using System.Text;
using StackExchange.Redis;
using Xunit;

namespace Hoard.Testing;

/// <summary>
/// One real redis-server for a test collection (or one test): no persistence, a password that needs percent-encoding in a URI,
/// listening only on a free 127.91.x.y address. Each test takes a database number of its own, flushed first.
/// Disposing kills the server (the process this fixture started, by its handle) and deletes its directory.
/// </summary>
public sealed class RedisTestServer : IAsyncLifetime
{
    public const int Port = 6379;
    private const int Databases = 1024;

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "hoard-redisstore-" + Guid.NewGuid().ToString("N"));
    private readonly StringBuilder _log = new();
    private Process? _server;
    private int _nextDatabase;

    public string Password { get; } = "p@ss:w/rd%" + Guid.NewGuid().ToString("N")[..8];

    public string Address { get; private set; } = string.Empty;

    /// <summary>The redis-server's pid (to freeze it with SIGSTOP in a test).</summary>
    public int Pid => _server?.Id ?? 0;

    /// <summary>An admin connection for the tests' own inspection (INFO, SCAN, FLUSHDB).</summary>
    public ConnectionMultiplexer Admin { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var binary = Binaries.Require("redis-server");
        Directory.CreateDirectory(_directory);
        Address = await Loopback.FreeAddressAsync("127.91", Port);
        var start = new ProcessStartInfo(binary)
        {
            WorkingDirectory = _directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--bind", Address, "--port", Port.ToString(CultureInfo.InvariantCulture), "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--dir", _directory, "--requirepass", Password,
            "--databases", Databases.ToString(CultureInfo.InvariantCulture),
        })
        {
            start.ArgumentList.Add(arg);
        }

        _server = Process.Start(start)!;
        _server.OutputDataReceived += (_, e) => { lock (_log) { _log.AppendLine(e.Data); } };
        _server.ErrorDataReceived += (_, e) => { lock (_log) { _log.AppendLine(e.Data); } };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();

        var options = Options(0);
        options.AllowAdmin = true;
        var deadline = DateTime.UtcNow + Timeouts.Short;
        while (true)
        {
            if (_server.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with {_server.ExitCode}:\n{Log}");
            }

            if (await Loopback.IsListeningAsync(Address, Port))
            {
                break;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"redis-server did not listen on {Address}:{Port} within {Timeouts.Short.TotalSeconds:0} s:\n{Log}");
            }

            await Task.Delay(50);
        }

        Admin = await ConnectionMultiplexer.ConnectAsync(options).Within(Timeouts.Short);
    }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public ConfigurationOptions Options(int database)
    {
        var options = new ConfigurationOptions { Password = Password, DefaultDatabase = database, AbortOnConnectFail = true };
        options.EndPoints.Add(Address, Port);
        return options;
    }

    /// <summary>A database number no other test has used, emptied.</summary>
    public async Task<int> FreshDatabaseAsync()
    {
        var database = Interlocked.Increment(ref _nextDatabase);
        if (database >= Databases)
        {
            throw new InvalidOperationException($"the fixture's server has only {Databases} databases");
        }

        await Admin.GetDatabase(database).ExecuteAsync("FLUSHDB").Within(Timeouts.Short);
        return database;
    }

    /// <summary>The connection string of a database, with the password percent-encoded.</summary>
    public Uri ConnectionString(int database, string? prefix = null, string? host = null, int? port = null) =>
        new($"redis://:{Uri.EscapeDataString(Password)}@{host ?? Address}:{port ?? Port}/{database}" + (prefix is null ? string.Empty : "?prefix=" + Uri.EscapeDataString(prefix)));

    public async Task DisposeAsync()
    {
        if (Admin is not null)
        {
            await Admin.DisposeAsync();
        }

        if (_server is not null)
        {
            if (!_server.HasExited)
            {
                _server.Kill(entireProcessTree: true);
                await _server.WaitForExitAsync().Within(Timeouts.Short);
            }

            _server.Dispose();
        }

        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
