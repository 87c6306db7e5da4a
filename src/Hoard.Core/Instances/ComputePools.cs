using Hoard.Abstractions.Compute;

namespace Hoard.Core.Instances;

/// <summary>The compute drivers of the pools this control plane places instances in, by pool name.</summary>
public sealed class ComputePools(IEnumerable<IComputeDriver> drivers)
{
    private readonly Dictionary<string, IComputeDriver> _drivers = drivers.ToDictionary(d => d.Pool, StringComparer.Ordinal);

    public IReadOnlyCollection<IComputeDriver> All => _drivers.Values;

    public IComputeDriver Get(string pool) =>
        _drivers.TryGetValue(pool, out var driver) ? driver : throw new InvalidOperationException($"no compute pool named '{pool}'");

    /// <summary>Where a new instance goes. One pool for now; weighted choice among a flavor's pools comes with pool management.</summary>
    public IComputeDriver Choose() => _drivers.Values.First();
}
