using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Hoard.Abstractions.Compute;
using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Storage;
using Hoard.Core.Catalog;
using Hoard.Core.Configuration;
using Hoard.Core.Instances;
using Microsoft.Extensions.Logging;

namespace Hoard.Core.Placement;

/// <summary>A pool as an admin asks for it (the API has checked the body's types).</summary>
public sealed record PoolSpec(string Name, string Uri, int Weight, string? Flavor, JsonObject Options);

/// <summary>A partial pool update; null fields stay. An empty flavor takes the pool off its flavor.</summary>
public sealed record PoolPatch(string? Uri, int? Weight, string? Flavor, JsonObject? Options);

/// <summary>
/// Where instances go: the pools of the management store, their rules, and the choice of a pool for a create (by weight
/// among the flavor's pools, or among the pools with no flavor when it has none). Pools are held in memory, since every
/// create reads them, and re-read when they change here and every few seconds for changes made by another replica.
/// </summary>
public sealed partial class PlacementService(
    IManagementStore store,
    CatalogService catalog,
    ComputePools computePools,
    PluginRegistry plugins,
    HoardOptions options,
    ILogger<PlacementService> logger)
{
    private volatile IReadOnlyList<PoolRecord> _pools = [];

    public IReadOnlyList<PoolRecord> Pools => _pools;

    /// <summary>
    /// Registers the configured local pool ([local] pool, pool_dir, address_range) when the store has no pool yet (a first
    /// start), then loads the pools. From then on the pools are the store's, changed through the admin API.
    /// </summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if ((await store.Pools.ListAsync(null, null, 1, cancellationToken)).Count == 0)
        {
            var pool = new PoolRecord(options.LocalPool, "local://" + options.LocalPoolDir, 100)
            {
                Options = new JsonObject { [PoolOptions.AddressRange] = options.LocalAddressRange }.ToJsonString(),
            };
            await store.Pools.InsertAsync(pool, cancellationToken);
        }

        await RefreshAsync(cancellationToken);
    }

    /// <summary>Re-reads the pools, starts drivers for new ones and stops the agents of pools that are gone.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var pools = await store.Pools.ListAsync(null, null, 0, cancellationToken);
        _pools = pools;
        foreach (var gone in computePools.Sync(pools))
        {
            LogPoolGone(gone.Pool);
            await gone.KillAgentAsync(cancellationToken);
        }
    }

    /// <summary>The pools that may host <paramref name="flavor"/>, in the order to try them: a weighted random shuffle.</summary>
    public IReadOnlyList<PoolRecord> Order(FlavorRecord flavor)
    {
        ArgumentNullException.ThrowIfNull(flavor);
        var pools = _pools;
        var own = pools.Where(p => p.Flavor == flavor.Id).ToList();
        var candidates = own.Count > 0 ? own : pools.Where(p => p.Flavor is null).ToList();
        return WeightedShuffle(candidates, Random.Shared);
    }

    /// <summary>
    /// Efraimidis–Spirakis: each pool draws u^(1/weight) and the largest goes first, so a pool comes first with probability
    /// weight / total, and the rest follow in the same proportion.
    /// </summary>
    public static IReadOnlyList<PoolRecord> WeightedShuffle(IReadOnlyList<PoolRecord> pools, Random random)
    {
        ArgumentNullException.ThrowIfNull(pools);
        ArgumentNullException.ThrowIfNull(random);
        return [.. pools.Select(p => (Pool: p, Key: Math.Log(1 - random.NextDouble()) / Math.Max(1, p.Weight))).OrderByDescending(x => x.Key).Select(x => x.Pool)];
    }

    /// <summary>
    /// Inserts a new instance into the first pool (in weighted order) with room, trying the next when a pool is full; the
    /// store counts the project's <paramref name="quota"/> with the insert, and a create over it is Trove's 413.
    /// </summary>
    /// <returns>The instance as inserted, with its pool.</returns>
    public async Task<InstanceRecord> InsertAsync(FlavorRecord flavor, InstanceRecord instance, TaskRecord task, QuotaLimits quota, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var order = Order(flavor);
        if (order.Count == 0)
        {
            throw new ApiException(503, "serviceUnavailable", $"No pool can host flavor {flavor.Name}: it has no pools, and there is no pool without a flavor.");
        }

        foreach (var pool in order)
        {
            var placed = instance with { Pool = pool.Name };
            var insert = await store.Instances.InsertWithTaskAsync(placed, task, PoolOptions.CapacityOf(pool), quota, cancellationToken);
            if (insert.Inserted)
            {
                return placed;
            }

            if (insert.OverQuota.Count > 0)
            {
                throw Quotas.QuotaService.Exceeded(insert.OverQuota);
            }
        }

        throw new ApiException(503, "serviceUnavailable", $"No pool can host flavor {flavor.Name} now: {string.Join(", ", order.Select(p => p.Name))} {(order.Count == 1 ? "is" : "are")} full.");
    }

    /// <summary>The pool a group of instances (a cluster's new members) goes to, ignoring capacity: the first in weighted order.</summary>
    public PoolRecord ChooseFor(FlavorRecord flavor) =>
        Order(flavor) is [var first, ..]
            ? first
            : throw new ApiException(503, "serviceUnavailable", $"No pool can host flavor {flavor.Name}: it has no pools, and there is no pool without a flavor.");

    public async Task<PoolRecord> GetAsync(string name, CancellationToken cancellationToken) =>
        await store.Pools.GetAsync(name, cancellationToken) ?? throw ApiException.NotFound($"Pool {name} cannot be found.");

    public async Task<PoolRecord> CreateAsync(PoolSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        CheckName(spec.Name);
        if (await store.Pools.ExistsAsync(spec.Name, cancellationToken))
        {
            throw ApiException.Conflict($"A pool named {spec.Name} exists.");
        }

        var pool = await CheckAsync(new PoolRecord(spec.Name, spec.Uri, spec.Weight) { Flavor = spec.Flavor, Options = spec.Options.ToJsonString() }, cancellationToken);
        await store.Pools.InsertAsync(pool, cancellationToken);
        LogPoolCreated(pool.Name, pool.Uri);
        await RefreshAsync(cancellationToken);
        return pool;
    }

    public async Task<PoolRecord> UpdateAsync(string name, PoolPatch patch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(patch);
        var old = await GetAsync(name, cancellationToken);
        var updated = old with
        {
            Uri = patch.Uri ?? old.Uri,
            Weight = patch.Weight ?? old.Weight,
            Flavor = patch.Flavor is null ? old.Flavor : patch.Flavor.Length == 0 ? null : patch.Flavor,
            Options = patch.Options?.ToJsonString() ?? old.Options,
        };
        if (updated.Uri != old.Uri && await store.Catalogue.CountInPoolAsync(name, cancellationToken) is > 0 and var hosted)
        {
            throw ApiException.Conflict($"Pool {name} hosts {hosted} instance(s); its uri cannot change while it does.");
        }

        if (old.Flavor is not null && updated.Flavor != old.Flavor
            && await store.Flavors.ExistsAsync(old.Flavor, cancellationToken)
            && (await store.Pools.ListAsync(old.Flavor, null, 2, cancellationToken)).Count < 2)
        {
            throw ApiException.Conflict($"Pool {name} is the last pool of flavor {old.Flavor}; add another pool to the flavor or delete the flavor first.");
        }

        updated = await CheckAsync(updated, cancellationToken);
        var change = new PoolChange
        {
            Uri = updated.Uri,
            Weight = updated.Weight,
            Flavor = updated.Flavor ?? string.Empty,
            Options = updated.Options,
        };
        if (!await store.Pools.UpdateAsync(name, change, cancellationToken))
        {
            throw ApiException.NotFound($"Pool {name} cannot be found.");
        }

        await RefreshAsync(cancellationToken);
        return updated;
    }

    public async Task DeleteAsync(string name, CancellationToken cancellationToken)
    {
        var pool = await GetAsync(name, cancellationToken);
        if (pool.Flavor is null && !_pools.Any(p => p.Flavor is null && p.Name != name))
        {
            var orphans = catalog.Flavors.Where(f => _pools.All(p => p.Flavor != f.Id)).Select(f => f.Name).ToList();
            if (orphans.Count > 0)
            {
                throw ApiException.Conflict($"Pool {name} is the last pool without a flavor, where flavors with no pools of their own are placed ({string.Join(", ", orphans)}); add another pool first.");
            }
        }

        switch (await store.Pools.DeleteAsync(name, cancellationToken))
        {
            case PoolDeletion.Missing:
                throw ApiException.NotFound($"Pool {name} cannot be found.");
            case PoolDeletion.HostsInstances:
                var hosted = await store.Catalogue.CountInPoolAsync(name, cancellationToken);
                throw ApiException.Conflict($"Pool {name} hosts {hosted} instance(s); delete them before the pool.");
            case PoolDeletion.LastOfFlavor:
                throw ApiException.Conflict($"Pool {name} is the last pool of flavor {pool.Flavor}; add another pool to the flavor or delete the flavor first.");
        }

        LogPoolDeleted(name);
        await RefreshAsync(cancellationToken);
    }

    private static void CheckName(string name)
    {
        if (!PoolName().IsMatch(name))
        {
            throw ApiException.BadRequest($"Validation error: pool['name'] '{name}' must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }
    }

    /// <summary>The rules a pool's fields keep beyond their types; returns the pool with defaults filled in (a free address range).</summary>
    private async Task<PoolRecord> CheckAsync(PoolRecord pool, CancellationToken cancellationToken)
    {
        if (pool.Weight < 1)
        {
            throw ApiException.BadRequest($"Validation error: pool['weight'] {pool.Weight} must be a positive integer.");
        }

        if (!Uri.TryCreate(pool.Uri, UriKind.Absolute, out var uri))
        {
            throw ApiException.BadRequest($"Validation error: pool['uri'] '{pool.Uri}' is not an absolute URI such as local:///var/lib/hoard/pool-a.");
        }

        var schemes = plugins.All<IComputeDriverFactory>(PluginKind.Compute).Select(f => f.Scheme).ToList();
        if (!schemes.Contains(uri.Scheme, StringComparer.Ordinal))
        {
            throw ApiException.BadRequest($"Validation error: pool['uri'] has the unknown scheme '{uri.Scheme}'; this control plane has compute drivers for: {string.Join(", ", schemes)}.");
        }

        if (pool.Flavor is not null && !await store.Flavors.ExistsAsync(pool.Flavor, cancellationToken))
        {
            throw ApiException.BadRequest($"Validation error: pool['flavor'] '{pool.Flavor}' is not a flavor id.");
        }

        var opts = PoolOptions.Parse(pool.Options);
        if (opts.TryGetPropertyValue(PoolOptions.Capacity, out var capacity)
            && (capacity is not JsonValue cv || !cv.TryGetValue<int>(out var c) || c < 1))
        {
            throw ApiException.BadRequest($"Validation error: pool['options']['capacity'] {capacity?.ToJsonString() ?? "null"} must be a positive integer.");
        }

        var others = (await store.Pools.ListAsync(null, null, 0, cancellationToken)).Where(p => p.Name != pool.Name).ToList();
        if (uri.Scheme == "local")
        {
            pool = CheckLocal(pool, uri, opts, others);
        }

        return pool;
    }

    private static PoolRecord CheckLocal(PoolRecord pool, Uri uri, JsonObject opts, List<PoolRecord> others)
    {
        var dir = Uri.UnescapeDataString(uri.AbsolutePath);
        if (uri.Host.Length > 0 || !Path.IsPathFullyQualified(dir) || dir == "/" || dir.Split('/').Contains(".."))
        {
            throw ApiException.BadRequest($"Validation error: pool['uri'] '{pool.Uri}' must name an absolute directory other than /, as local:///var/lib/hoard/pool-a.");
        }

        var localOthers = others.Where(p => p.Uri.StartsWith("local:", StringComparison.Ordinal)).ToList();
        var sameDir = localOthers.FirstOrDefault(p => Uri.TryCreate(p.Uri, UriKind.Absolute, out var u) && Path.TrimEndingDirectorySeparator(Uri.UnescapeDataString(u.AbsolutePath)) == Path.TrimEndingDirectorySeparator(dir));
        if (sameDir is not null)
        {
            throw ApiException.BadRequest($"Validation error: pool['uri'] '{pool.Uri}' is the directory of pool {sameDir.Name}.");
        }

        var taken = localOthers.Select(p => (Pool: p, Range: PoolOptions.AddressRangeOf(p))).Where(x => x.Range is not null)
            .Select(x => (x.Pool, Range: LoopbackRange.Parse(x.Range!))).ToList();
        if (!opts.TryGetPropertyValue(PoolOptions.AddressRange, out var rangeNode))
        {
            var free = PoolOptions.FreeRange(taken.Select(t => t.Range))
                ?? throw ApiException.BadRequest("Validation error: pool['options']['address_range'] is required: no free /16 is left in 127.43.0.0 to 127.254.0.0.");
            opts[PoolOptions.AddressRange] = free;
            return pool with { Options = opts.ToJsonString() };
        }

        if (rangeNode is not JsonValue rv || !rv.TryGetValue<string>(out var cidr))
        {
            throw ApiException.BadRequest($"Validation error: pool['options']['address_range'] {rangeNode?.ToJsonString() ?? "null"} is not of type 'string'.");
        }

        LoopbackRange range;
        try
        {
            range = LoopbackRange.Parse(cidr);
        }
        catch (ArgumentException e)
        {
            throw ApiException.BadRequest($"Validation error: pool['options']['address_range'] {e.Message}.");
        }

        var clash = taken.FirstOrDefault(t => PoolOptions.Overlap(t.Range, range));
        if (clash.Pool is not null)
        {
            throw ApiException.BadRequest($"Validation error: pool['options']['address_range'] {cidr} overlaps pool {clash.Pool.Name}'s {PoolOptions.AddressRangeOf(clash.Pool)}.");
        }

        return pool;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex PoolName();

    [LoggerMessage(1700, LogLevel.Information, "Pool {Pool} created at {Uri}")]
    private partial void LogPoolCreated(string pool, string uri);

    [LoggerMessage(1701, LogLevel.Information, "Pool {Pool} deleted")]
    private partial void LogPoolDeleted(string pool);

    [LoggerMessage(1702, LogLevel.Information, "Pool {Pool} is gone from the store; its guest agent is stopped")]
    private partial void LogPoolGone(string pool);
}
