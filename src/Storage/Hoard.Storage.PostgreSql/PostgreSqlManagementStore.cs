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
        Catalog = new PostgreSqlCatalogStore(_db);
    }

    public IIdentityStore Identity { get; }

    public IInstanceStore Instances { get; }

    public ITaskStore Tasks { get; }

    public ICatalogStore Catalog { get; }

    public IClusterStore Clusters { get; }

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _db.OpenAsync(cancellationToken);
        await PostgreSqlMigrator.MigrateAsync(connection, cancellationToken);
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
