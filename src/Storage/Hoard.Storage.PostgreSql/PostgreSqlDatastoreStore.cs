using Hoard.Abstractions.Storage;
using static Hoard.Storage.PostgreSql.PostgreSqlDb;

namespace Hoard.Storage.PostgreSql;

internal sealed class PostgreSqlDatastoreStore(PostgreSqlDb db) : IDatastoreStore
{
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
}
