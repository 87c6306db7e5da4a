using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Storage;
using Npgsql;

[assembly: HoardPlugin("postgresql", PluginKind.Store, typeof(Hoard.Storage.PostgreSql.PostgreSqlStorePlugin))]

namespace Hoard.Storage.PostgreSql;

/// <summary>The management store on a PostgreSQL server, shared by every Hoard process pointed at the database.</summary>
public sealed class PostgreSqlManagementStore : IManagementStore
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgreSqlDb _db;

    public PostgreSqlManagementStore(NpgsqlConnectionStringBuilder connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (string.IsNullOrEmpty(connection.Database))
        {
            throw new ArgumentException("the PostgreSQL management store needs a database name", nameof(connection));
        }

        var description = $"{connection.Username}@{connection.Host}:{connection.Port}/{connection.Database}";
        _dataSource = NpgsqlDataSource.Create(connection);
        _db = new PostgreSqlDb(_dataSource, description);
        Identity = new PostgreSqlIdentityStore(_db);
        var instances = new PostgreSqlInstanceStore(_db);
        Instances = instances;
        Clusters = new PostgreSqlClusterStore(_db, instances);
        Tasks = new PostgreSqlTaskStore(_db);
        Datastores = new PostgreSqlDatastoreStore(_db);
        Flavors = new PostgreSqlFlavorStore(_db);
        Pools = new PostgreSqlPoolStore(_db);
        Catalogue = new PostgreSqlCatalogueStore(_db);
        Backups = new PostgreSqlBackupStore(_db);
        Quotas = new PostgreSqlQuotaStore(_db);
        Configurations = new PostgreSqlConfigurationStore(_db);
        BackupSchedules = new PostgreSqlBackupScheduleStore(_db);
    }

    public IIdentityStore Identity { get; }

    public IQuotaStore Quotas { get; }

    public IInstanceStore Instances { get; }

    public ITaskStore Tasks { get; }

    public IDatastoreStore Datastores { get; }

    public IFlavorStore Flavors { get; }

    public IPoolStore Pools { get; }

    public ICatalogueStore Catalogue { get; }

    public IClusterStore Clusters { get; }

    public IBackupStore Backups { get; }

    public IConfigurationStore Configurations { get; }

    public IBackupScheduleStore BackupSchedules { get; }

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _db.OpenAsync(cancellationToken);
        await PostgreSqlMigrator.MigrateAsync(connection, cancellationToken);
    }

    /// <summary>
    /// No connection (refused, reset, timed out) or a server going away (shutdown, too many connections): Npgsql's
    /// own errors rather than a statement the server refused.
    /// </summary>
    public bool IsUnavailable(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException pg:
                    // 08: connection exceptions; 57P0x: admin shutdown, crash shutdown, cannot connect now; 53300: too many connections.
                    return pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P0", StringComparison.Ordinal) || pg.SqlState == "53300";
                case NpgsqlException:
                case TimeoutException:
                case System.Net.Sockets.SocketException:
                    return true;
            }
        }

        return false;
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
