using System.Collections.Concurrent;
using Hoard.Abstractions.Compute;
using Hoard.Abstractions.Storage;

namespace Hoard.Core.Instances;

/// <summary>
/// The compute drivers of the pools in the management store, by pool name. Kept in step with the store's pools by
/// <see cref="Sync"/> (the placement service calls it when pools change here, and every few seconds for changes another
/// replica made).
/// </summary>
public sealed class ComputePools(Func<PoolRecord, IComputeDriver> create)
{
    private readonly ConcurrentDictionary<string, (PoolRecord Pool, IComputeDriver Driver)> _drivers = new(StringComparer.Ordinal);
    private readonly Lock _sync = new();

    public IReadOnlyCollection<IComputeDriver> All => [.. _drivers.Values.Select(d => d.Driver)];

    public IComputeDriver Get(string pool) =>
        _drivers.TryGetValue(pool, out var entry) ? entry.Driver : throw new InvalidOperationException($"no compute pool named '{pool}'");

    public IComputeDriver? Find(string pool) => _drivers.TryGetValue(pool, out var entry) ? entry.Driver : null;

    /// <summary>
    /// Makes the drivers match <paramref name="pools"/>: a driver for each new pool, a new driver for a pool whose URI or
    /// options changed. Returns the drivers of pools that are gone, so the caller can stop their agents.
    /// </summary>
    public IReadOnlyList<IComputeDriver> Sync(IReadOnlyList<PoolRecord> pools)
    {
        ArgumentNullException.ThrowIfNull(pools);
        lock (_sync)
        {
            foreach (var pool in pools)
            {
                if (!_drivers.TryGetValue(pool.Name, out var entry) || entry.Pool.Uri != pool.Uri || entry.Pool.Options != pool.Options)
                {
                    _drivers[pool.Name] = (pool, create(pool));
                }
                else if (entry.Pool != pool)
                {
                    _drivers[pool.Name] = (pool, entry.Driver); // weight or flavor: the driver does not care
                }
            }

            var names = pools.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
            var gone = new List<IComputeDriver>();
            foreach (var name in _drivers.Keys.Where(n => !names.Contains(n)).ToList())
            {
                if (_drivers.TryRemove(name, out var entry))
                {
                    gone.Add(entry.Driver);
                }
            }

            return gone;
        }
    }
}
