using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hoard.Abstractions.Compute;
using Hoard.Abstractions.Storage;

namespace Hoard.Core.Placement;

/// <summary>What the placement and the local driver read from a pool's options object.</summary>
public static class PoolOptions
{
    /// <summary>The most instances the pool may host; absent means no limit.</summary>
    public const string Capacity = "capacity";

    /// <summary>A local pool's loopback addresses (a CIDR in 127.0.0.0/8), one per instance.</summary>
    public const string AddressRange = "address_range";

    public static JsonObject Parse(string options) =>
        JsonNode.Parse(string.IsNullOrEmpty(options) ? "{}" : options) as JsonObject ?? [];

    public static int? CapacityOf(PoolRecord pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        return Parse(pool.Options)[Capacity] is JsonValue v && v.TryGetValue<int>(out var capacity) ? capacity : null;
    }

    public static string? AddressRangeOf(PoolRecord pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        return Parse(pool.Options)[AddressRange] is JsonValue v && v.TryGetValue<string>(out var range) ? range : null;
    }

    /// <summary>The options as the compute driver takes them: strings, numbers and booleans as text.</summary>
    public static Dictionary<string, string> ForDriver(PoolRecord pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in Parse(pool.Options))
        {
            if (value is JsonValue v)
            {
                result[key] = v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : v.ToJsonString();
            }
        }

        return result;
    }

    /// <summary>Whether two loopback ranges share an address.</summary>
    public static bool Overlap(LoopbackRange a, LoopbackRange b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return a.First <= b.Last && b.First <= a.Last;
    }

    /// <summary>The first /16 from 127.43.0.0 up that overlaps none of <paramref name="taken"/>.</summary>
    public static string? FreeRange(IEnumerable<LoopbackRange> taken)
    {
        var used = taken.ToList();
        for (var second = 43; second < 255; second++)
        {
            var cidr = string.Create(CultureInfo.InvariantCulture, $"127.{second}.0.0/16");
            var range = LoopbackRange.Parse(cidr);
            if (!used.Any(t => Overlap(t, range)))
            {
                return cidr;
            }
        }

        return null;
    }
}
