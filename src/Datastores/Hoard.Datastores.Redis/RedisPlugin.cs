using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Plugins;
using Microsoft.Extensions.Logging;

[assembly: HoardPlugin("redis", PluginKind.Datastore, typeof(Hoard.Datastores.Redis.RedisPlugin))]

namespace Hoard.Datastores.Redis;

/// <summary>The Redis datastore: one redis-server per instance, AOF persistence, ACL users.</summary>
public sealed class RedisPlugin : IDatastorePlugin
{
    private readonly Func<string?> _locateServer;
    private readonly Lazy<IReadOnlyList<DatastoreVersionInfo>> _versions;

    public RedisPlugin()
        : this(RedisServerBinary.Locate)
    {
    }

    internal RedisPlugin(Func<string?> locateServer)
    {
        _locateServer = locateServer;

        // Asking the binary costs a process start; the installed version does not change under a running process.
        _versions = new Lazy<IReadOnlyList<DatastoreVersionInfo>>(QueryVersions, LazyThreadSafetyMode.ExecutionAndPublication);
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

    public IReadOnlyList<DatastoreVersionInfo> DiscoverVersions() => _versions.Value;

    public IDatastoreManager CreateManager(ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        if (!OperatingSystem.IsLinux())
        {
            // The manager relies on /proc, kill(2) and a daemonizing redis-server.
            throw new PlatformNotSupportedException("the Redis datastore runs instances on Linux only");
        }

        return new RedisManager(new RedisManagerOptions { ServerPath = _locateServer() }, loggerFactory.CreateLogger<RedisManager>());
    }

    private IReadOnlyList<DatastoreVersionInfo> QueryVersions()
    {
        var server = _locateServer();
        var version = server is null ? null : RedisServerBinary.QueryVersion(server);
        return version is null ? [] : [version];
    }
}
