using System.Diagnostics;
using System.Text;
using Npgsql;
using Xunit;

namespace Hoard.Testing;

/// <summary>
/// One real PostgreSQL server for a test collection (or one test): initdb into a temp directory, password (SCRAM) auth,
/// listening only on a free 127.93.x.y address, no Unix socket. As root (as in CI) initdb and postgres run as the
/// postgres user through setpriv, since PostgreSQL refuses root. Each test takes a fresh database of its own.
/// </summary>
public sealed class PostgreSqlTestServer : IAsyncLifetime
{
    public const string BinDirectory = "/usr/lib/postgresql/15/bin";
    public const string PostgresBinary = BinDirectory + "/postgres";
    public const string InitDbBinary = BinDirectory + "/initdb";
    public const int Port = 5432;
    public const string AdminUser = "hoard";

    private const string EngineUser = "postgres";
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "hoard-pgstore-" + Guid.NewGuid().ToString("N"));
    private readonly StringBuilder _log = new();
    private Process? _server;

    /// <summary>Has characters that must be percent-encoded in a URI, so every test exercises the decoding.</summary>
    public string Password { get; } = "p@ss:w/rd%" + Guid.NewGuid().ToString("N")[..8];

    public string Address { get; private set; } = string.Empty;

    /// <summary>Why there is no server (PostgreSQL not installed), or null when it runs.</summary>
    public string? Unavailable { get; private set; }

    private static bool IsRoot => Environment.UserName == "root";

    public async Task InitializeAsync()
    {
        if (!File.Exists(PostgresBinary) || !File.Exists(InitDbBinary))
        {
            Unavailable = $"needs PostgreSQL 15 in {BinDirectory} (./test.sh installs postgresql)";
            if (Binaries.InCi)
            {
                throw new InvalidOperationException(Unavailable);
            }

            return;
        }

        Directory.CreateDirectory(_directory);
        var passwordFile = Path.Combine(_directory, "pwfile");
        await File.WriteAllTextAsync(passwordFile, Password + "\n");
        File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        if (IsRoot)
        {
            await RunAsync("chown", ["-R", $"{EngineUser}:{EngineUser}", _directory]);
        }

        var data = Path.Combine(_directory, "data");
        await RunAsync(AsEngineUser(InitDbBinary), [
            .. AsEngineUserArgs(InitDbBinary),
            "-D", data, "-U", AdminUser, "--pwfile=" + passwordFile, "--auth=scram-sha-256",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        ]);
        File.Delete(passwordFile);

        Address = await Loopback.FreeAddressAsync("127.93", Port);
        var start = new ProcessStartInfo(AsEngineUser(PostgresBinary))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])[
            .. AsEngineUserArgs(PostgresBinary),
            "-D", data, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-c", "listen_addresses=" + Address, "-c", "unix_socket_directories=",
            // A throwaway server: durability buys nothing here.
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
        ])
        {
            start.ArgumentList.Add(arg);
        }

        _server = Process.Start(start)!;
        _server.OutputDataReceived += (_, e) => Append(e.Data);
        _server.ErrorDataReceived += (_, e) => Append(e.Data);
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();

        await Timeouts.EventuallyAsync(
            async () =>
            {
                if (_server.HasExited)
                {
                    throw new InvalidOperationException($"postgres exited with {_server.ExitCode}:\n{ServerLog}");
                }

                return await CanConnectAsync();
            },
            up => up,
            Timeouts.Settle,
            $"postgres to accept connections on {Address}:{Port}");
    }

    /// <summary>What the server wrote so far, for failure messages.</summary>
    public string ServerLog
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>A new, empty database on the server, as a <c>postgresql://</c> connection string for the store.</summary>
    public async Task<Uri> CreateDatabaseAsync(string? password = null)
    {
        if (Unavailable is not null)
        {
            throw new InvalidOperationException(Unavailable);
        }

        var name = "hoard_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(AdminConnectionString()))
        {
            await connection.OpenAsync().Within(Timeouts.Short);
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync().Within(Timeouts.Short);
        }

        return Uri(name, password ?? Password);
    }

    /// <summary>The store's connection string for <paramref name="database"/>, user and password percent-encoded.</summary>
    public Uri Uri(string database, string password) =>
        new($"postgresql://{System.Uri.EscapeDataString(AdminUser)}:{System.Uri.EscapeDataString(password)}@{Address}:{Port}/{database}");

    public async Task DisposeAsync()
    {
        if (_server is { HasExited: false } server)
        {
            // SIGINT is PostgreSQL's fast shutdown: roll back sessions, stop cleanly.
            ProcessRunner.Kill(server.Id, 2);
            using var deadline = new CancellationTokenSource(Timeouts.Short);
            try
            {
                await server.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
            }
        }

        _server?.Dispose();
        NpgsqlConnection.ClearAllPools();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private string AdminConnectionString() => new NpgsqlConnectionStringBuilder
    {
        Host = Address,
        Port = Port,
        Username = AdminUser,
        Password = Password,
        Database = "postgres",
        Pooling = false,
        Timeout = 5,
    }.ToString();

    private async Task<bool> CanConnectAsync()
    {
        try
        {
            await using var connection = new NpgsqlConnection(AdminConnectionString());
            await connection.OpenAsync().Within(Timeouts.Short);
            return true;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            return false;
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }
    }

    /// <summary>The program to start: setpriv when root (PostgreSQL refuses to run as root), else the binary itself.</summary>
    private static string AsEngineUser(string binary) => IsRoot ? Binaries.Require("setpriv") : binary;

    private static string[] AsEngineUserArgs(string binary) => IsRoot
        ? [$"--reuid={EngineUser}", $"--regid={EngineUser}", "--init-groups", "--reset-env", "--", binary]
        : [];

    private static async Task RunAsync(string file, string[] args)
    {
        var result = await ProcessRunner.RunAsync(file, args);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed: {result}");
        }
    }
}
