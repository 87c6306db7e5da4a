using System.Globalization;
using Hoard.Abstractions.Storage;
using static Hoard.Storage.Redis.RedisDb;

namespace Hoard.Storage.Redis;

internal sealed class RedisCatalogStore(RedisDb db) : ICatalogStore
{
    private RedisKeys Keys => db.Keys;

    public Task UpsertFlavorAsync(FlavorRecord flavor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(flavor);
        return db.RunAsync(
            RedisScripts.UpsertFlavor,
            Arg(("rec", Arg(("id", flavor.Id), ("name", flavor.Name), ("ram_mb", Int(flavor.RamMb)), ("vcpus", Int(flavor.Vcpus)), ("disk_gb", Int(flavor.DiskGb))))),
            cancellationToken);
    }

    public async Task<FlavorRecord?> GetFlavorAsync(string id, CancellationToken cancellationToken)
    {
        var h = await db.GetAsync(Keys.Key("flavor", id), cancellationToken);
        return h is null ? null : Flavor(h);
    }

    /// <summary>Numeric ids in numeric order, as SQLite's ORDER BY CAST(id AS INTEGER), id.</summary>
    public async Task<IReadOnlyList<FlavorRecord>> ListFlavorsAsync(CancellationToken cancellationToken)
    {
        var flavors = await ReadSetAsync(Keys.Key("idx:flavors"), "flavor", Flavor, cancellationToken);
        return [.. flavors.OrderBy(f => LeadingInteger(f.Id)).ThenBy(f => f.Id, StringComparer.Ordinal)];
    }

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

    private static FlavorRecord Flavor(Dictionary<string, string> h) =>
        new(h["id"], h["name"], IntOf(h, "ram_mb"), IntOf(h, "vcpus"), IntOf(h, "disk_gb"));

    /// <summary>What SQLite's CAST(text AS INTEGER) gives: the leading integer, or 0.</summary>
    private static long LeadingInteger(string s)
    {
        var t = s.TrimStart();
        var end = t.StartsWith('-') || t.StartsWith('+') ? 1 : 0;
        while (end < t.Length && char.IsAsciiDigit(t[end]))
        {
            end++;
        }

        return long.TryParse(t[..end], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }
}
