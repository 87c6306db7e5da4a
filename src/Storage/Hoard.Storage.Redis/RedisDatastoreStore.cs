using Hoard.Abstractions.Storage;
using static Hoard.Storage.Redis.RedisDb;

namespace Hoard.Storage.Redis;

/// <summary>Datastores and their versions: hashes with a set index each (few records, listed whole).</summary>
internal sealed class RedisDatastoreStore(RedisDb db) : IDatastoreStore
{
    private RedisKeys Keys => db.Keys;

    public Task UpsertDatastoreAsync(DatastoreRecord datastore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(datastore);
        return db.RunAsync(
            RedisScripts.UpsertDatastore,
            Arg(("rec", Arg(("id", datastore.Id), ("name", datastore.Name), ("default_version_id", datastore.DefaultVersionId)))),
            cancellationToken);
    }

    public Task UpsertDatastoreVersionAsync(DatastoreVersionRecord version, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(version);
        return db.RunAsync(
            RedisScripts.UpsertDatastoreVersion,
            Arg(("rec", Arg(("id", version.Id), ("datastore_id", version.DatastoreId), ("name", version.Name), ("version", version.Version), ("active", Bool(version.Active))))),
            cancellationToken);
    }

    public async Task<IReadOnlyList<DatastoreRecord>> ListDatastoresAsync(CancellationToken cancellationToken)
    {
        var datastores = await ReadSetAsync(
            Keys.Key("idx:datastores"),
            "datastore",
            h => new DatastoreRecord(h["id"], h["name"], StringOrNull(h, "default_version_id")),
            cancellationToken);
        return [.. datastores.OrderBy(d => d.Name, StringComparer.Ordinal)];
    }

    public async Task<IReadOnlyList<DatastoreVersionRecord>> ListDatastoreVersionsAsync(string? datastoreId, CancellationToken cancellationToken)
    {
        var index = datastoreId is null ? Keys.Key("idx:datastore-versions") : Keys.Key("idx:datastore-versions-of", datastoreId);
        var versions = await ReadSetAsync(
            index,
            "datastore-version",
            h => new DatastoreVersionRecord(h["id"], h["datastore_id"], h["name"], h["version"], BoolOf(h, "active")),
            cancellationToken);
        return [.. versions.OrderBy(v => v.Name, StringComparer.Ordinal)];
    }

    private async Task<List<T>> ReadSetAsync<T>(string index, string kind, Func<Dictionary<string, string>, T> map, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var ids = await db.Database.SetMembersAsync(index);
        var rows = await db.GetAllAsync(ids.Select(id => Keys.Key(kind, id.ToString())), cancellationToken);
        return [.. rows.Where(h => h is not null).Select(h => map(h!))];
    }
}
