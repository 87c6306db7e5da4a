using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace Hoard.Testing;

/// <summary>
/// A real `hoard serve` in its own temp data dir, on a free port and its own loopback range. Disposing it
/// kills the control plane, its guest agent and every database it started, and removes the directory.
/// <see cref="StartReplicasAsync"/> starts several on one data dir and pool, as replicas over a shared store.
/// </summary>
public sealed class HoardServer : IAsyncDisposable
{
    private Process? _process;
    private readonly Dictionary<string, string> _env;
    private readonly List<HoardServer> _replicas = [];
    private readonly HoardServer? _first;
    private readonly IReadOnlyList<string> _serveArguments;
    private bool _disposed;

    private HoardServer(string dataDir, int port, string addressRange, Dictionary<string, string> env, HoardServer? first = null, IReadOnlyList<string>? serveArguments = null)
    {
        _serveArguments = serveArguments ?? [];
        DataDir = dataDir;
        Port = port;
        AddressRange = addressRange;
        _env = env;
        _first = first;
    }

    public string DataDir { get; }

    public int Port { get; }

    public string AddressRange { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public string AdminPassword => _env["HOARD_ADMIN_PASSWORD"];

    public string PoolDir => Path.Combine(DataDir, "pools", "default");

    /// <summary>This process's own log: serve.log, or serve-PORT.log for a replica after the first.</summary>
    public string LogPath => Path.Combine(DataDir, _first is null ? "serve.log" : $"serve-{Port}.log");

    /// <summary>What admin-openrc exports, for running the stock clients.</summary>
    public IReadOnlyDictionary<string, string> AdminEnvironment => new Dictionary<string, string>
    {
        ["OS_AUTH_URL"] = $"{BaseUrl}/identity/v3",
        ["OS_IDENTITY_API_VERSION"] = "3",
        ["OS_AUTH_TYPE"] = "password",
        ["OS_USERNAME"] = "admin",
        ["OS_PASSWORD"] = AdminPassword,
        ["OS_PROJECT_NAME"] = "admin",
        ["OS_USER_DOMAIN_NAME"] = "Default",
        ["OS_PROJECT_DOMAIN_NAME"] = "Default",
        ["OS_REGION_NAME"] = "RegionOne",
    };

    /// <summary>The hoard executable under test: $HOARD_BIN, else the repo's artifacts/bin/hoard (./test.sh publishes it).</summary>
    public static string Executable
    {
        get
        {
            if (Environment.GetEnvironmentVariable("HOARD_BIN") is { Length: > 0 } bin)
            {
                return bin;
            }

            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Hoard.slnx")))
            {
                dir = dir.Parent;
            }

            var path = dir is null ? null : Path.Combine(dir.FullName, "artifacts", "bin", "hoard");
            return path is not null && File.Exists(path)
                ? path
                : throw new InvalidOperationException("hoard is not built: run ./test.sh, or dotnet publish src/Hoard.Cli -c Release -o artifacts/bin");
        }
    }

    public static async Task<HoardServer> StartAsync(IReadOnlyDictionary<string, string>? settings = null) =>
        (await StartReplicasAsync(1, settings))[0];

    /// <summary>One `hoard serve` given <paramref name="serveArguments"/> on its command line (flags that override the configuration).</summary>
    public static async Task<HoardServer> StartAsync(IReadOnlyDictionary<string, string>? settings, IReadOnlyList<string> serveArguments) =>
        (await StartReplicasAsync(1, settings, serveArguments))[0];

    /// <summary>
    /// <paramref name="count"/> `hoard serve` replicas on one data dir (so one master key and one pool), each on a
    /// port of its own, started one after another (bootstrap is not race-safe), each waited for until it answers.
    /// All ports are picked first, so every replica and the pool's agent know every URL (control_plane_urls).
    /// Give them a shared store in <paramref name="settings"/> (HOARD_DATABASE_CONNECTION); sqlite is one process's.
    /// Disposing the first kills every replica, the agent and the databases and removes the directory; disposing
    /// another kills only its own process.
    /// </summary>
    public static async Task<IReadOnlyList<HoardServer>> StartReplicasAsync(int count, IReadOnlyDictionary<string, string>? settings = null, IReadOnlyList<string>? serveArguments = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var dataDir = Path.Combine(Path.GetTempPath(), "hoard-test-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dataDir);
        var range = $"127.{Random.Shared.Next(100, 200)}.{Random.Shared.Next(1, 255)}.0/24";
        var env = new Dictionary<string, string>
        {
            ["HOARD_ADMIN_PASSWORD"] = "adm-" + Guid.NewGuid().ToString("N"),
            ["HOARD_LOCAL_ADDRESS_RANGE"] = range,
            // Tests log in many times; the production default cost is measured, not needed here.
            ["HOARD_DEFAULT_PASSWORD_HASH_ITERATIONS"] = "1000",
            ["HOARD_DEFAULT_AGENT_HEARTBEAT_INTERVAL"] = "1",
            // Suites and benchmarks build more than Trove's default 10 instances (40 GB) in one project; QuotaTests sets
            // the quotas it tests.
            ["HOARD_DEFAULT_MAX_INSTANCES_PER_TENANT"] = "-1",
            ["HOARD_DEFAULT_MAX_VOLUMES_PER_TENANT"] = "-1",
            ["HOARD_DEFAULT_MAX_CLUSTERS_PER_TENANT"] = "-1",

            // Suites poll and burst far past Trove's 200 requests a minute per kind from one project (status polls,
            // 50 concurrent creates); a 413 there would be a flake, not a finding. RateLimitTests sets the rates it tests.
            ["HOARD_DEFAULT_HTTP_GET_RATE"] = "-1",
            ["HOARD_DEFAULT_HTTP_POST_RATE"] = "-1",
            ["HOARD_DEFAULT_HTTP_PUT_RATE"] = "-1",
            ["HOARD_DEFAULT_HTTP_DELETE_RATE"] = "-1",
            ["HOARD_DEFAULT_HTTP_MGMT_POST_RATE"] = "-1",
        };
        var ports = FreePorts(count);
        if (count > 1)
        {
            env["HOARD_DEFAULT_CONTROL_PLANE_URLS"] = string.Join(',', ports.Select(p => $"http://127.0.0.1:{p}"));
        }

        foreach (var (k, v) in settings ?? new Dictionary<string, string>())
        {
            env[k] = v;
        }

        var first = new HoardServer(dataDir, ports[0], range, env, serveArguments: serveArguments);
        first._replicas.AddRange(ports.Skip(1).Select(port => new HoardServer(dataDir, port, range, env, first, serveArguments)));
        try
        {
            await first.StartProcessAsync();
            foreach (var replica in first._replicas)
            {
                await replica.StartProcessAsync();
            }
        }
        catch
        {
            await first.DisposeAsync();
            throw;
        }

        return [first, .. first._replicas];
    }

    /// <summary>Starts (or restarts, after a kill) the control plane and waits until it answers.</summary>
    public async Task StartProcessAsync()
    {
        var start = new ProcessStartInfo(Executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "serve", "--listen", $"127.0.0.1:{Port}", "--data-dir", DataDir }.Concat(_serveArguments))
        {
            start.ArgumentList.Add(a);
        }

        foreach (var (k, v) in _env)
        {
            start.Environment[k] = v;
        }

        var log = new StreamWriter(LogPath, append: true) { AutoFlush = true };
        _process = Process.Start(start)!;
        // Output read before the exit can still be delivered after it: lines that come after the log closed are dropped.
        var closed = false;
        void Write(string? line)
        {
            lock (log)
            {
                if (line is not null && !closed)
                {
                    log.WriteLine(line);
                }
            }
        }

        _process.OutputDataReceived += (_, e) => Write(e.Data);
        _process.ErrorDataReceived += (_, e) => Write(e.Data);
        _process.Exited += (_, _) =>
        {
            lock (log)
            {
                closed = true;
                log.Dispose();
            }
        };
        _process.EnableRaisingEvents = true;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"hoard serve exited with {_process.ExitCode}:\n{ReadLog()}");
            }

            try
            {
                using var response = await http.GetAsync(BaseUrl + "/");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"hoard serve did not answer within 60 s:\n{ReadLog()}");
            }

            await Task.Delay(50);
        }
    }

    public int ServePid => _process?.Id ?? 0;

    /// <summary>Kills the control plane and starts it again with <paramref name="changes"/> to its environment (a configuration change).</summary>
    public async Task RestartWithAsync(IReadOnlyDictionary<string, string> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        await KillAsync();
        foreach (var (k, v) in changes)
        {
            _env[k] = v;
        }

        await StartProcessAsync();
    }

    /// <summary>SIGKILLs the control plane (its agent and databases are in their own sessions and live on).</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync().Within(Timeouts.Short);
        }
    }

    public string ReadLog()
    {
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return new StreamReader(stream).ReadToEnd();
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    public string ReadAgentLog()
    {
        var path = Path.Combine(PoolDir, "agent.log");
        return File.Exists(path) ? File.ReadAllText(path) : string.Empty;
    }

    public int? AgentPid()
    {
        var path = Path.Combine(PoolDir, "agent.pid");
        return File.Exists(path) && int.TryParse(File.ReadAllText(path).Trim(), out var pid) && Directory.Exists($"/proc/{pid}") ? pid : null;
    }

    /// <summary>The address ranges of pools a test added (a /24 each), so their servers are found and swept too.</summary>
    private readonly List<string> _extraRanges = [];

    /// <summary>A /24 of 127.201-250.x.0 for a pool the test adds; its servers are swept on dispose like the default pool's.</summary>
    public string NewPoolRange()
    {
        var range = $"127.{Random.Shared.Next(201, 251)}.{Random.Shared.Next(1, 255)}.0/24";
        _extraRanges.Add(range);
        return range;
    }

    /// <summary>redis-server processes started for this server's pools.</summary>
    public IReadOnlyList<int> DatabasePids() =>
        [.. _extraRanges.Prepend(AddressRange).SelectMany(r => ProcessRunner.FindProcesses("redis-server", r[..r.LastIndexOf('.')] + ".")).Distinct()];

    /// <summary>Logs in with a password and returns a token and the project id.</summary>
    public async Task<(string Token, string ProjectId)> LoginAsync(string user, string password, string project)
    {
        using var http = new HttpClient();
        var body = new
        {
            auth = new
            {
                identity = new { methods = new[] { "password" }, password = new { user = new { name = user, domain = new { name = "Default" }, password } } },
                scope = new { project = new { name = project, domain = new { name = "Default" } } },
            },
        };
        using var response = await http.PostAsJsonAsync($"{BaseUrl}/identity/v3/auth/tokens", body).Within(Timeouts.Short);
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"login of {user} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        var json = await response.Content.ReadFromJsonAsync<JsonObject>();
        return (response.Headers.GetValues("X-Subject-Token").First(), json!["token"]!["project"]!["id"]!.GetValue<string>());
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await KillAsync();
        _process?.Dispose();
        if (_first is not null)
        {
            return; // the first replica owns the data dir, the agent and the databases
        }

        // Every control plane first, so none restarts the agent that is killed next.
        foreach (var replica in _replicas)
        {
            await replica.DisposeAsync();
        }

        if (AgentPid() is { } agent)
        {
            ProcessRunner.Kill(agent);
        }

        // Twice: a server the agent was launching as it was killed may finish daemonizing after the first sweep.
        for (var sweep = 0; sweep < 2; sweep++)
        {
            foreach (var pid in DatabasePids().Concat(ProcessRunner.FindProcesses(DataDir)).Distinct())
            {
                // Redis by its address; PostgreSQL and MariaDB servers name their data or config path under DataDir.
                if (pid != Environment.ProcessId)
                {
                    ProcessRunner.Kill(pid);
                }
            }

            if (sweep == 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(300));
            }
        }

        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Distinct free loopback ports: every listener is held until all are picked.</summary>
    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            foreach (var listener in listeners)
            {
                listener.Start();
            }

            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener.Dispose();
            }
        }
    }
}
