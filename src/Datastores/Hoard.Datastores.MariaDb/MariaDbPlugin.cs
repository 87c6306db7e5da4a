using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Plugins;
using Microsoft.Extensions.Logging;

[assembly: HoardPlugin("mariadb", PluginKind.Datastore, typeof(Hoard.Datastores.MariaDb.MariaDbPlugin))]

namespace Hoard.Datastores.MariaDb;

/// <summary>
/// The MariaDB datastore: one mariadbd per instance, copied from a per-version template data directory, run as
/// the Debian package's <c>mysql</c> user, with password logins over TCP only.
/// </summary>
public sealed class MariaDbPlugin : IDatastorePlugin
{
    private readonly MariaDbManagerOptions _options;
    private readonly Lazy<IReadOnlyList<MariaDbInstallation>> _installations;

    public MariaDbPlugin()
        : this(new MariaDbManagerOptions())
    {
    }

    internal MariaDbPlugin(MariaDbManagerOptions options)
    {
        _options = options;

        // Asking each installed mariadbd costs a process start; what is installed does not change under a running process.
        _installations = new Lazy<IReadOnlyList<MariaDbInstallation>>(
            () => MariaDbInstallation.Discover(options.Prefixes),
            LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string Name => "mariadb";

    /// <summary>
    /// Trove's [mariadb] group: port 3306 (Trove also opens Galera's 4444, 4567 and 4568, which a single Hoard
    /// instance does not use), mariabackup backups, 400 s to build, and the namespaces of Trove's mariadb_impl.
    /// Hoard builds no MariaDB clusters.
    /// </summary>
    public IReadOnlyList<DatastoreOption> Options { get; } =
    [
        .. DatastoreOptionNames.Common(
            "MariaDB",
            tcpPorts: "3306",
            usageTimeout: 400,
            backupStrategy: "mariabackup",
            clusterStrategy: string.Empty,
            backupNamespace: "trove.guestagent.strategies.backup.experimental.mariadb_impl",
            restoreNamespace: "trove.guestagent.strategies.restore.experimental.mariadb_impl"),
        DatastoreOptionNames.SpareCopiesOption,
        DatastoreOptionNames.LongQueryTimeOption,
    ];

    public SchemaRules Schema => MariaDbSchema.Rules;

    public bool IncrementalBackups => true;

    public IReadOnlyList<DatastoreVersionInfo> DiscoverVersions() => [.. _installations.Value.Select(i => i.Version)];

    public IDatastoreManager CreateManager(ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        if (!OperatingSystem.IsLinux())
        {
            // The manager relies on /proc, kill(2), setsid and setpriv.
            throw new PlatformNotSupportedException("the MariaDB datastore runs instances on Linux only");
        }

        return new MariaDbManager(_options, _installations, loggerFactory.CreateLogger<MariaDbManager>());
    }
}
