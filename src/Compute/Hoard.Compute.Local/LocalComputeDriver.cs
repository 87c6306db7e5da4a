using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Hoard.Abstractions.Compute;
using Hoard.Abstractions.Guest;
using Hoard.Abstractions.IO;
using Hoard.Abstractions.Plugins;
using Microsoft.Extensions.Logging;

[assembly: HoardPlugin("local", PluginKind.Compute, typeof(Hoard.Compute.Local.LocalComputePlugin))]

namespace Hoard.Compute.Local;

/// <summary>
/// Runs instances on this machine: each in its own directory under the pool directory, on its own
/// loopback address, served by one long-running guest agent per pool that lives in its own session,
/// so stopping the control plane stops no database.
/// </summary>
/// <remarks>
/// Pool directory layout: <c>agent.key</c> (the agent's connection key, 0600), <c>agent.pid</c>,
/// <c>agent.log</c>, <c>instances/&lt;id&gt;/guest-info.json</c> (0600) and whatever the datastore keeps there.
/// </remarks>
public sealed partial class LocalComputeDriver : IComputeDriver
{
    public const string KeyFile = "agent.key";
    public const string PidFile = "agent.pid";
    public const string LogFile = "agent.log";
    public const string InstancesDir = "instances";

    private readonly string _poolDir;
    private readonly LoopbackRange _range;
    private readonly string _guestCommand;
    private readonly IReadOnlyList<string> _controlPlaneUrls;
    private readonly ILogger _logger;
    private readonly Lock _agentStart = new();
    private long _lastStartTicks;

    public LocalComputeDriver(string pool, string poolDir, string addressRange, string guestCommand, IReadOnlyList<string> controlPlaneUrls, ILogger logger)
    {
        Pool = pool;
        _poolDir = Path.GetFullPath(poolDir);
        _range = LoopbackRange.Parse(addressRange);
        _guestCommand = guestCommand;
        _controlPlaneUrls = controlPlaneUrls;
        _logger = logger;
        Directory.CreateDirectory(Path.Combine(_poolDir, InstancesDir));
        AgentKey = LoadOrCreateKey(Path.Combine(_poolDir, KeyFile));
    }

    public string Pool { get; }

    public string AgentKey { get; }

    public string PickAddress(IReadOnlySet<string> inUse)
    {
        ArgumentNullException.ThrowIfNull(inUse);
        foreach (var address in _range.Addresses())
        {
            if (!inUse.Contains(address))
            {
                return address;
            }
        }

        throw new InvalidOperationException($"every address of pool {Pool} is in use");
    }

    public Task ProvisionAsync(ComputeRequest request, string address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var dir = InstanceDir(request.InstanceId);
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var info = new GuestInfo
        {
            Id = request.InstanceId,
            Secret = request.GuestSecret,
            Datastore = request.Datastore,
            Version = request.Version,
            Address = address,
            Port = request.Port,
            RamMb = request.RamMb,
            Options = new Dictionary<string, string>(request.DatastoreOptions),
        };
        PrivateFile.Write(Path.Combine(dir, GuestInfo.FileName), JsonSerializer.Serialize(info, GuestInfo.JsonOptions));
        return Task.CompletedTask;
    }

    public Task DestroyAsync(string instanceId, CancellationToken cancellationToken)
    {
        var dir = InstanceDir(instanceId);
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }

        return Task.CompletedTask;
    }

    public IReadOnlyList<string> ListProvisioned() =>
        [.. Directory.EnumerateDirectories(Path.Combine(_poolDir, InstancesDir))
            .Where(d => File.Exists(Path.Combine(d, GuestInfo.FileName)))
            .Select(Path.GetFileName)
            .OfType<string>()];

    public Task<bool> EnsureAgentAsync(CancellationToken cancellationToken) => Task.FromResult(EnsureAgent());

    private bool EnsureAgent()
    {
        // setsid -f returns as soon as it forked, so holding a plain lock across the launch is brief.
        lock (_agentStart)
        {
            // An agent started moments ago has not written its pid file yet; do not start a second one.
            if (AgentPid() is not null || Environment.TickCount64 - _lastStartTicks < 5000)
            {
                return false;
            }

            // sh redirects the agent's output to its log and setsid -f puts it in a session of its own,
            // so it outlives this process; the agent writes its own pid file and takes a lock.
            var start = new ProcessStartInfo("/bin/sh")
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = false,
                RedirectStandardError = false,
            };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("exec setsid -f \"$@\" </dev/null >>\"$HOARD_AGENT_LOG\" 2>&1");
            start.ArgumentList.Add("sh");
            foreach (var part in GuestCommandLine())
            {
                start.ArgumentList.Add(part);
            }

            foreach (var url in _controlPlaneUrls)
            {
                start.ArgumentList.Add("--control-plane");
                start.ArgumentList.Add(url);
            }

            start.ArgumentList.Add("--pool");
            start.ArgumentList.Add(Pool);
            start.ArgumentList.Add("--pool-dir");
            start.ArgumentList.Add(_poolDir);
            start.Environment["HOARD_AGENT_LOG"] = Path.Combine(_poolDir, LogFile);
            using var launcher = Process.Start(start) ?? throw new InvalidOperationException("could not start /bin/sh");
            launcher.StandardInput.Close();
            launcher.WaitForExit();
            if (launcher.ExitCode != 0)
            {
                throw new InvalidOperationException($"starting the guest agent failed with exit code {launcher.ExitCode}; see {Path.Combine(_poolDir, LogFile)}");
            }

            _lastStartTicks = Environment.TickCount64;
            LogAgentStarted(Pool);
            return true;
        }
    }

    public Task KillAgentAsync(CancellationToken cancellationToken)
    {
        if (AgentPid() is { } pid)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill();
                LogAgentKilled(Pool, pid);
            }
            catch (ArgumentException)
            {
                // already gone
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>The pid of the pool's agent when it runs.</summary>
    public int? AgentPid()
    {
        try
        {
            var text = File.ReadAllText(Path.Combine(_poolDir, PidFile)).Trim();
            if (!int.TryParse(text, out var pid))
            {
                return null;
            }

            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
            return cmdline.Contains("hoard-guest", StringComparison.Ordinal) && cmdline.Contains(_poolDir, StringComparison.Ordinal) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private IEnumerable<string> GuestCommandLine()
    {
        if (_guestCommand.Length > 0)
        {
            return [_guestCommand];
        }

        var apphost = Path.Combine(AppContext.BaseDirectory, "hoard-guest");
        if (File.Exists(apphost))
        {
            return [apphost];
        }

        return ["dotnet", Path.Combine(AppContext.BaseDirectory, "hoard-guest.dll")];
    }

    private string InstanceDir(string instanceId)
    {
        // Instance ids are GUIDs made by the control plane; refuse anything that could leave the pool directory.
        if (!Guid.TryParse(instanceId, out _))
        {
            throw new ArgumentException($"'{instanceId}' is not an instance id", nameof(instanceId));
        }

        return Path.Combine(_poolDir, InstancesDir, instanceId);
    }

    private static string LoadOrCreateKey(string path)
    {
        if (!File.Exists(path))
        {
            PrivateFile.Write(path, Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        }

        return File.ReadAllText(path).Trim();
    }

    [LoggerMessage(2000, LogLevel.Information, "Started the guest agent of pool {Pool}")]
    private partial void LogAgentStarted(string pool);

    [LoggerMessage(2001, LogLevel.Warning, "Killed the unresponsive guest agent of pool {Pool} (pid {Pid})")]
    private partial void LogAgentKilled(string pool, int pid);
}

/// <summary>Creates local drivers for <c>local:///absolute/pool/dir</c> pools.</summary>
public sealed class LocalComputePlugin : IComputeDriverFactory
{
    public string Scheme => "local";

    public IComputeDriver Create(ComputePoolSpec pool, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var options = pool.Options;
        return new LocalComputeDriver(
            pool.Name,
            Uri.UnescapeDataString(pool.Uri.AbsolutePath),
            options.TryGetValue("address_range", out var range) ? range : "127.42.0.0/16",
            options.TryGetValue("guest_command", out var command) ? command : string.Empty,
            pool.ControlPlaneUrls,
            loggerFactory.CreateLogger<LocalComputeDriver>());
    }
}
