using Hoard.Abstractions.Storage;
using static Hoard.Storage.Redis.RedisDb;

namespace Hoard.Storage.Redis;

/// <summary>
/// Pools as the seed lays them out: a hash <c>pool:{name}</c> (p name, u uri, w weight, o options, plus f flavor),
/// indexed in <c>pools</c> and in its flavor's <c>flavor-pools:{flavor}</c> (<c>flavorless-pools</c> when it has none),
/// so listing a flavor's pools reads only those.
/// </summary>
internal sealed class RedisPoolStore(RedisDb db) : IPoolStore
{
    private RedisKeys Keys => db.Keys;

    public Task InsertAsync(PoolRecord pool, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var rec = Arg(
            ("p", pool.Name), ("u", pool.Uri), ("w", Int(pool.Weight)), ("o", pool.Options),
            ("f", string.IsNullOrEmpty(pool.Flavor) ? null : pool.Flavor));
        return db.RunAsync(RedisScripts.WritePool, Arg(("rec", rec)), cancellationToken);
    }

    public async Task<PoolRecord?> GetAsync(string name, CancellationToken cancellationToken)
    {
        var h = await db.GetAsync(Keys.Key("pool", name), cancellationToken);
        return h is null ? null : Pool(h);
    }

    public async Task<bool> ExistsAsync(string name, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return await db.Database.KeyExistsAsync(Keys.Key("pool", name));
    }

    public async Task<bool> UpdateAsync(string name, PoolChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var set = Arg(
            ("u", change.Uri), ("w", Int(change.Weight)), ("o", change.Options),
            ("f", string.IsNullOrEmpty(change.Flavor) ? null : change.Flavor));
        string[] unset = change.Flavor is "" ? ["f"] : [];
        return await db.RunAsync(RedisScripts.WritePool, Arg(("name", name), ("set", set), ("unset", unset)), cancellationToken) > 0;
    }

    public async Task<PoolDeletion> DeleteAsync(string name, CancellationToken cancellationToken) =>
        await db.RunAsync(RedisScripts.DeletePool, Arg(("name", name)), cancellationToken) switch
        {
            0 => PoolDeletion.Missing,
            1 => PoolDeletion.Deleted,
            2 => PoolDeletion.HostsInstances,
            3 => PoolDeletion.LastOfFlavor,
            var other => throw new InvalidOperationException($"pool delete script answered {other}"),
        };

    public async Task<IReadOnlyList<PoolRecord>> ListAsync(string? flavor, string? marker, int limit, CancellationToken cancellationToken)
    {
        var index = flavor switch
        {
            null => Keys.Key("pools"),
            "" => Keys.Key("flavorless-pools"),
            _ => Keys.Key("flavor-pools", flavor),
        };
        var rows = await db.PageAsync(index, marker is null ? null : Keys.Key("pool", marker), limit, cancellationToken);
        return [.. rows.Select(Pool)];
    }

    /// <summary>Unlinks every pool hash and pool index; flavors and the catalogue stay. For tests and a reset: not atomic.</summary>
    public async Task DropAllAsync(CancellationToken cancellationToken)
    {
        await db.UnlinkMatchingAsync("pool:*", cancellationToken);
        await db.UnlinkMatchingAsync("flavor-pools:*", cancellationToken);
        await db.Database.KeyDeleteAsync([Keys.Key("pools"), Keys.Key("flavorless-pools")]);
    }

    private static PoolRecord Pool(Dictionary<string, string> h) =>
        new(h["p"], h["u"], IntOf(h, "w"))
        {
            Flavor = StringOrNull(h, "f"),
            Options = h.GetValueOrDefault("o", "{}"),
        };
}
