using Hoard.Abstractions.Storage;
using static Hoard.Storage.Redis.RedisDb;

namespace Hoard.Storage.Redis;

/// <summary>
/// The catalogue as the seed lays it out: a hash <c>catalogue:{project}:{instance}</c> (p project, p_q instance, p_p
/// pool), indexed in <c>catalogue</c>, <c>project-catalogue:{project}</c> and Hoard's own <c>pool-catalogue:{pool}</c>,
/// whose size is what the pool hosts. The instance scripts keep it too (RedisScripts' inst_write).
/// </summary>
internal sealed class RedisCatalogueStore(RedisDb db) : ICatalogueStore
{
    private RedisKeys Keys => db.Keys;

    public Task InsertAsync(CatalogueEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return db.RunAsync(
            RedisScripts.PutCatalogueEntry,
            Arg(("project", entry.ProjectId), ("id", entry.InstanceId), ("pool", entry.Pool)),
            cancellationToken);
    }

    public async Task<CatalogueEntry?> GetAsync(string projectId, string instanceId, CancellationToken cancellationToken)
    {
        var h = await db.GetAsync(Keys.Key("catalogue", projectId, instanceId), cancellationToken);
        return h is null ? null : Entry(h);
    }

    public async Task<bool> ExistsAsync(string projectId, string instanceId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return await db.Database.KeyExistsAsync(Keys.Key("catalogue", projectId, instanceId));
    }

    public async Task<bool> UpdateAsync(string projectId, string instanceId, string pool, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pool);
        return await db.RunAsync(
            RedisScripts.PutCatalogueEntry,
            Arg(("project", projectId), ("id", instanceId), ("pool", pool), ("existing", true)),
            cancellationToken) > 0;
    }

    public Task DeleteAsync(string projectId, string instanceId, CancellationToken cancellationToken) =>
        db.RunAsync(RedisScripts.DeleteCatalogueEntry, Arg(("project", projectId), ("id", instanceId)), cancellationToken);

    public async Task<IReadOnlyList<CatalogueEntry>> ListAsync(string? projectId, CatalogueKey? after, int limit, CancellationToken cancellationToken)
    {
        var index = projectId is null ? Keys.Key("catalogue") : Keys.Key("project-catalogue", projectId);
        var rows = await db.PageAsync(index, after is null ? null : Keys.Key("catalogue", after.ProjectId, after.InstanceId), limit, cancellationToken);
        return [.. rows.Select(Entry)];
    }

    public async Task<int> CountInPoolAsync(string pool, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return (int)await db.Database.SortedSetLengthAsync(Keys.Key("pool-catalogue", pool));
    }

    /// <summary>Unlinks every entry and every catalogue index (Zaqar's drop_all missed its own keys). Not atomic.</summary>
    public async Task DropAllAsync(CancellationToken cancellationToken)
    {
        await db.UnlinkMatchingAsync("catalogue:*", cancellationToken);
        await db.UnlinkMatchingAsync("project-catalogue:*", cancellationToken);
        await db.UnlinkMatchingAsync("pool-catalogue:*", cancellationToken);
        await db.Database.KeyDeleteAsync(Keys.Key("catalogue"));
    }

    private static CatalogueEntry Entry(Dictionary<string, string> h) => new(h["p"], h["p_q"], h["p_p"]);
}
