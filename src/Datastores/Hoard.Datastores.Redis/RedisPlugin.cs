using System.Text.RegularExpressions;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Plugins;
using Microsoft.Extensions.Logging;

[assembly: HoardPlugin("redis", PluginKind.Datastore, typeof(Hoard.Datastores.Redis.RedisPlugin))]

namespace Hoard.Datastores.Redis;

/// <summary>The Redis datastore: one redis-server per instance, AOF persistence, ACL users.</summary>
public sealed partial class RedisPlugin : IDatastorePlugin
{
    /// <summary>
    /// ACL users that are not the owner's to list or touch: the disabled default user, the agent's own, root, and
    /// the one cluster members share.
    /// </summary>
    internal static readonly IReadOnlySet<string> ReservedUsers =
        new HashSet<string>(["default", RedisConfig.AdminUser, RedisConfig.RootUser, RedisConfig.ClusterUser], StringComparer.Ordinal);

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

    /// <summary>The [redis] group: Trove's names and defaults (trove/common/cfg.py, redis group).</summary>
    public IReadOnlyList<DatastoreOption> Options { get; } =
    [
        .. DatastoreOptionNames.Common(
            "redis",
            tcpPorts: "6379,16379",
            usageTimeout: 60,
            backupStrategy: "RedisBackup",
            clusterStrategy: "RedisCluster",
            backupNamespace: "redis",
            restoreNamespace: "redis"),
        .. DatastoreOptionNames.WarmMemberOptions,
    ];

    /// <summary>
    /// Redis has ACL users but no databases (its numbered keyspaces are not Trove databases): database and
    /// access calls are refused as not supported. A user name is one ACL word.
    /// </summary>
    public SchemaRules Schema { get; } = new()
    {
        SupportsDatabases = false,
        SupportsHosts = false,
        UserName = new NameRule
        {
            Kind = "user name",
            MaxLength = 64,
            Pattern = UserNamePattern(),
            PatternHelp = "letters, digits, '_', '-' and '.', starting with a letter or digit",
            Reserved = ReservedUsers,
        },
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

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex UserNamePattern();
}
