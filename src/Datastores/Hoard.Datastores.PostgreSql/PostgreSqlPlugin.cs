using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Plugins;
using Microsoft.Extensions.Logging;

[assembly: HoardPlugin("postgresql", PluginKind.Datastore, typeof(Hoard.Datastores.PostgreSql.PostgreSqlPlugin))]

namespace Hoard.Datastores.PostgreSql;

/// <summary>
/// The PostgreSQL datastore: one postgres server per instance, copied from a per-version template data
/// directory, run as the Debian package's <c>postgres</c> user, with password (SCRAM) authentication only.
/// </summary>
public sealed class PostgreSqlPlugin : IDatastorePlugin
{
    private readonly PostgreSqlManagerOptions _options;
    private readonly Lazy<IReadOnlyList<DatastoreVersionInfo>> _versions;

    public PostgreSqlPlugin()
        : this(new PostgreSqlManagerOptions())
    {
    }

    internal PostgreSqlPlugin(PostgreSqlManagerOptions options)
    {
        _options = options;

        // Asking each installed postgres costs a process start; what is installed does not change under a running process.
        _versions = new Lazy<IReadOnlyList<DatastoreVersionInfo>>(
            () => PostgreSqlInstallation.Discover(_options.InstallRoot),
            LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string Name => "postgresql";

    /// <summary>
    /// Trove's [postgresql] group: port 5432 and pg_basebackup backups (the PgBaseBackup strategy and the
    /// namespaces of Trove's postgresql_impl). Trove allows a create 30 minutes; Hoard's take well under a second.
    /// </summary>
    public IReadOnlyList<DatastoreOption> Options { get; } =
    [
        .. DatastoreOptionNames.Common(
            "PostgreSQL",
            tcpPorts: "5432",
            usageTimeout: 120,
            backupStrategy: "PgBaseBackup",
            clusterStrategy: string.Empty,
            backupNamespace: "trove.guestagent.strategies.backup.experimental.postgresql_impl",
            restoreNamespace: "trove.guestagent.strategies.restore.experimental.postgresql_impl"),
        DatastoreOptionNames.SpareCopiesOption,
        DatastoreOptionNames.LongQueryTimeOption,
    ];

    public SchemaRules Schema => PostgreSqlSchema.Rules;

    public bool IncrementalBackups => true;

    public IReadOnlyList<DatastoreVersionInfo> DiscoverVersions() => _versions.Value;

    public IDatastoreManager CreateManager(ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        if (!OperatingSystem.IsLinux())
        {
            // The manager relies on /proc, kill(2), setpriv and setsid.
            throw new PlatformNotSupportedException("the PostgreSQL datastore runs instances on Linux only");
        }

        return new PostgreSqlManager(_options, loggerFactory.CreateLogger<PostgreSqlManager>());
    }
}
