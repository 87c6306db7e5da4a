using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Storage;
using Microsoft.Data.Sqlite;

[assembly: HoardPlugin("sqlite", PluginKind.Store, typeof(Hoard.Storage.Sqlite.SqliteStorePlugin))]

namespace Hoard.Storage.Sqlite;

/// <summary>The embedded default management store: one SQLite file in WAL mode.</summary>
public sealed class SqliteManagementStore : IManagementStore
{
    private readonly SqliteDb _db;
    private readonly string _connectionString;

    public SqliteManagementStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        _db = new SqliteDb(_connectionString);
        Identity = new SqliteIdentityStore(_db);
        var instances = new SqliteInstanceStore(_db);
        Instances = instances;
        Clusters = new SqliteClusterStore(_db, instances);
        Tasks = new SqliteTaskStore(_db);
        Datastores = new SqliteDatastoreStore(_db);
        Flavors = new SqliteFlavorStore(_db);
        Pools = new SqlitePoolStore(_db);
        Catalogue = new SqliteCatalogueStore(_db);
        Backups = new SqliteBackupStore(_db);
        Quotas = new SqliteQuotaStore(_db);
        Configurations = new SqliteConfigurationStore(_db);
        BackupSchedules = new SqliteBackupScheduleStore(_db);
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
        await using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode = WAL";
            await wal.ExecuteNonQueryAsync(cancellationToken);
        }

        await SqliteMigrator.MigrateAsync(connection, cancellationToken);
    }

    /// <summary>Busy or locked past the timeout, the file unopenable, an I/O error or a full disk.</summary>
    public bool IsUnavailable(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is SqliteException { SqliteErrorCode: 5 or 6 or 10 or 13 or 14 })
            {
                return true;
            }
        }

        return false;
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Opens the SQLite store for a <c>sqlite:///absolute/path.db</c> connection string.</summary>
public sealed class SqliteStorePlugin : IManagementStoreFactory
{
    public string Scheme => "sqlite";

    public IManagementStore Open(Uri connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var path = Uri.UnescapeDataString(connection.AbsolutePath);
        if (string.IsNullOrEmpty(path) || path == "/")
        {
            throw new ArgumentException($"sqlite connection string '{connection}' names no file; use sqlite:///absolute/path.db");
        }

        return new SqliteManagementStore(path);
    }
}
