using System.Data.Common;
using Hoard.Abstractions.Storage;
using static Hoard.Storage.PostgreSql.PostgreSqlDb;

namespace Hoard.Storage.PostgreSql;

internal sealed class PostgreSqlCatalogStore(PostgreSqlDb db) : ICatalogStore
{
    public Task UpsertFlavorAsync(FlavorRecord flavor, CancellationToken cancellationToken) =>
        db.ExecuteAsync(
            """
            INSERT INTO flavors (id, name, ram_mb, vcpus, disk_gb) VALUES (@id, @n, @r, @v, @d)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, ram_mb = excluded.ram_mb, vcpus = excluded.vcpus, disk_gb = excluded.disk_gb
            """,
            cancellationToken,
            ("id", flavor.Id), ("n", flavor.Name), ("r", flavor.RamMb), ("v", flavor.Vcpus), ("d", flavor.DiskGb));

    public Task<FlavorRecord?> GetFlavorAsync(string id, CancellationToken cancellationToken) =>
        db.QuerySingleAsync("SELECT id, name, ram_mb, vcpus, disk_gb FROM flavors WHERE id = @id", ReadFlavor, cancellationToken, ("id", id));

    // Numeric ids in numeric order ("2" before "10"), as SQLite's CAST(id AS INTEGER) sorts them; others count as 0.
    public async Task<IReadOnlyList<FlavorRecord>> ListFlavorsAsync(CancellationToken cancellationToken) =>
        await db.QueryAsync(
            "SELECT id, name, ram_mb, vcpus, disk_gb FROM flavors ORDER BY COALESCE(substring(id FROM '^[0-9]{1,18}')::bigint, 0), id COLLATE \"C\"",
            ReadFlavor,
            cancellationToken);

    public Task UpsertDatastoreAsync(DatastoreRecord datastore, CancellationToken cancellationToken) =>
        db.ExecuteAsync(
            """
            INSERT INTO datastores (id, name, default_version_id) VALUES (@id, @n, @dv)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, default_version_id = excluded.default_version_id
            """,
            cancellationToken,
            ("id", datastore.Id), ("n", datastore.Name), ("dv", datastore.DefaultVersionId));

    public Task UpsertDatastoreVersionAsync(DatastoreVersionRecord version, CancellationToken cancellationToken) =>
        db.ExecuteAsync(
            """
            INSERT INTO datastore_versions (id, datastore_id, name, version, active) VALUES (@id, @ds, @n, @v, @a)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version, active = excluded.active
            """,
            cancellationToken,
            ("id", version.Id), ("ds", version.DatastoreId), ("n", version.Name), ("v", version.Version), ("a", version.Active));

    public async Task<IReadOnlyList<DatastoreRecord>> ListDatastoresAsync(CancellationToken cancellationToken) =>
        await db.QueryAsync(
            "SELECT id, name, default_version_id FROM datastores ORDER BY name COLLATE \"C\"",
            r => new DatastoreRecord(r.GetString(0), r.GetString(1), StringOrNull(r, 2)),
            cancellationToken);

    public async Task<IReadOnlyList<DatastoreVersionRecord>> ListDatastoreVersionsAsync(string? datastoreId, CancellationToken cancellationToken) =>
        await db.QueryAsync(
            "SELECT id, datastore_id, name, version, active FROM datastore_versions WHERE @ds::text IS NULL OR datastore_id = @ds ORDER BY name COLLATE \"C\"",
            r => new DatastoreVersionRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetBoolean(4)),
            cancellationToken,
            ("ds", datastoreId));

    private static FlavorRecord ReadFlavor(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetInt32(2), r.GetInt32(3), r.GetInt32(4));
}
