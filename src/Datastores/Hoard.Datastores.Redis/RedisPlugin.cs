using System.Diagnostics;
using System.Text.RegularExpressions;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Plugins;
using Microsoft.Extensions.Logging;

[assembly: HoardPlugin("redis", PluginKind.Datastore, typeof(Hoard.Datastores.Redis.RedisPlugin))]

namespace Hoard.Datastores.Redis;

/// <summary>The Redis datastore: Trove's [redis] options on the server side, <see cref="RedisManager"/> on the guest.</summary>
public sealed partial class RedisPlugin : IDatastorePlugin
{
    private readonly Lazy<IReadOnlyList<DatastoreVersionInfo>> _versions;

    public RedisPlugin()
    {
        _versions = new Lazy<IReadOnlyList<DatastoreVersionInfo>>(Discover);
    }

    public string Name => "redis";

    public DatastoreServerOptions ServerOptions { get; } = new()
    {
        TcpPorts = [6379, 16379],
        RootOnCreate = false,
        UsageTimeout = 60,
        VolumeSupport = false,
        BackupStrategy = "RedisBackup",
    };

    /// <summary>The redis-server binary: $HOARD_REDIS_SERVER, else the first on PATH, else /usr/bin/redis-server.</summary>
    public static string? ServerBinary()
    {
        if (Environment.GetEnvironmentVariable("HOARD_REDIS_SERVER") is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : null;
        }

        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Append("/usr/bin").Append("/usr/sbin");
        return dirs.Select(d => Path.Combine(d, "redis-server")).FirstOrDefault(File.Exists);
    }

    public IReadOnlyList<DatastoreVersionInfo> DiscoverVersions() => _versions.Value;

    public IDatastoreManager CreateManager(ILoggerFactory loggerFactory) =>
        new RedisManager(ServerBinary() ?? throw new InvalidOperationException("redis-server is not installed"), loggerFactory.CreateLogger<RedisManager>());

    private static List<DatastoreVersionInfo> Discover()
    {
        var binary = ServerBinary();
        if (binary is null)
        {
            return [];
        }

        using var process = Process.Start(new ProcessStartInfo(binary, "--version") { RedirectStandardOutput = true, UseShellExecute = false })!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var match = VersionPattern().Match(output);
        return match.Success
            ? [new DatastoreVersionInfo($"{match.Groups[1].Value}.{match.Groups[2].Value}", match.Groups[0].Value[2..])]
            : [];
    }

    [GeneratedRegex(@"v=(\d+)\.(\d+)\.\d+")]
    private static partial Regex VersionPattern();
}
