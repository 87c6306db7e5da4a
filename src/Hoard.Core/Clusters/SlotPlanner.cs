using Hoard.Abstractions.Clusters;

namespace Hoard.Core.Clusters;

/// <summary>One planned move: these slots go from one master to another.</summary>
public sealed record PlannedMove(string SourceNodeId, string TargetNodeId, IReadOnlyList<SlotRange> Slots)
{
    public int SlotCount => Slots.Sum(s => s.Count);
}

/// <summary>
/// Where the 16384 hash slots of a Redis cluster go: even contiguous ranges on create (integer division, unlike
/// Trove 18's float split), and the fewest moves that give every remaining master an even share on rebalance.
/// </summary>
public static class SlotPlanner
{
    public const int SlotCount = HashSlots.Count;

    /// <summary>
    /// The even split: every master gets 16384 / n slots, and the first 16384 % n get one more
    /// (n = 3: 0-5461, 5462-10922, 10923-16383).
    /// </summary>
    public static IReadOnlyList<SlotRange> EvenRanges(int masters)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(masters);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(masters, SlotCount);
        var ranges = new SlotRange[masters];
        var first = 0;
        for (var i = 0; i < masters; i++)
        {
            var count = Share(i, masters);
            ranges[i] = new SlotRange(first, first + count - 1);
            first += count;
        }

        return ranges;
    }

    /// <summary>
    /// The moves that leave each of <paramref name="receivers"/> with an even share and every other master of
    /// <paramref name="ownership"/> with none. Masters that own more keep the larger shares, so as few slots as
    /// possible move; a donor gives its highest slots, so ranges stay contiguous. Moves hold at most
    /// <paramref name="maxSlotsPerMove"/> slots each.
    /// </summary>
    /// <param name="ownership">Every master's node id and the slots it owns now.</param>
    /// <param name="receivers">The masters that are to own slots afterwards (a subset of <paramref name="ownership"/>'s keys).</param>
    public static IReadOnlyList<PlannedMove> Rebalance(
        IReadOnlyDictionary<string, IReadOnlyList<SlotRange>> ownership,
        IReadOnlyCollection<string> receivers,
        int maxSlotsPerMove)
    {
        ArgumentNullException.ThrowIfNull(ownership);
        ArgumentNullException.ThrowIfNull(receivers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxSlotsPerMove);
        if (receivers.Count == 0)
        {
            throw new ArgumentException("at least one master must keep slots", nameof(receivers));
        }

        var unknown = receivers.FirstOrDefault(r => !ownership.ContainsKey(r));
        if (unknown is not null)
        {
            throw new ArgumentException($"receiver {unknown} is not a master of the cluster", nameof(receivers));
        }

        // Slots each master owns now, ascending.
        var owned = ownership.ToDictionary(o => o.Key, o => Expand(o.Value), StringComparer.Ordinal);

        // Bigger owners get the bigger quotas (ties by node id, so the plan is deterministic).
        var ordered = receivers.OrderByDescending(r => owned[r].Count).ThenBy(r => r, StringComparer.Ordinal).ToList();
        var quota = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < ordered.Count; i++)
        {
            quota[ordered[i]] = Share(i, ordered.Count);
        }

        // What each donor gives away (its highest slots) and how many each taker needs.
        var surplus = new List<(string Node, List<int> Slots)>();
        foreach (var (node, slots) in owned.OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            var keep = quota.GetValueOrDefault(node);
            if (slots.Count > keep)
            {
                surplus.Add((node, slots.GetRange(keep, slots.Count - keep)));
            }
        }

        var deficit = ordered.Where(r => owned[r].Count < quota[r]).Select(r => (Node: r, Need: quota[r] - owned[r].Count)).ToList();
        var moves = new List<PlannedMove>();
        var takerIndex = 0;
        var need = deficit.Count > 0 ? deficit[0].Need : 0;
        foreach (var (donor, slots) in surplus)
        {
            var at = 0;
            while (at < slots.Count)
            {
                if (takerIndex >= deficit.Count)
                {
                    throw new InvalidOperationException("slot accounting does not add up: more surplus than deficit");
                }

                var take = Math.Min(Math.Min(need, slots.Count - at), maxSlotsPerMove);
                moves.Add(new PlannedMove(donor, deficit[takerIndex].Node, Compress(slots.GetRange(at, take))));
                at += take;
                need -= take;
                if (need == 0 && ++takerIndex < deficit.Count)
                {
                    need = deficit[takerIndex].Need;
                }
            }
        }

        return moves;
    }

    /// <summary>Slot ranges as a sorted list of slots.</summary>
    public static List<int> Expand(IEnumerable<SlotRange> ranges) => HashSlots.Expand(ranges);

    /// <summary>Sorted slots as the fewest ranges.</summary>
    public static IReadOnlyList<SlotRange> Compress(IReadOnlyList<int> sortedSlots) => HashSlots.Compress(sortedSlots);

    private static int Share(int index, int count) => (SlotCount / count) + (index < SlotCount % count ? 1 : 0);
}
