using Hoard.Abstractions.Clusters;
using Hoard.Core.Clusters;
using Xunit;

namespace Hoard.Core.Tests;

public sealed class SlotPlannerTests
{
    [Fact]
    public void Three_masters_get_the_integer_split_that_trove_meant()
    {
        Assert.Equal([new SlotRange(0, 5461), new SlotRange(5462, 10922), new SlotRange(10923, 16383)], SlotPlanner.EvenRanges(3));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(100)]
    public void Every_split_is_contiguous_covers_every_slot_and_differs_by_at_most_one(int masters)
    {
        var ranges = SlotPlanner.EvenRanges(masters);
        Assert.Equal(masters, ranges.Count);
        Assert.Equal(0, ranges[0].First);
        Assert.Equal(SlotPlanner.SlotCount - 1, ranges[^1].Last);
        for (var i = 1; i < ranges.Count; i++)
        {
            Assert.Equal(ranges[i - 1].Last + 1, ranges[i].First);
        }

        Assert.True(ranges.Max(r => r.Count) - ranges.Min(r => r.Count) <= 1);
    }

    [Fact]
    public void Rebalancing_onto_a_new_empty_master_moves_only_its_share()
    {
        var ownership = Owners(SlotPlanner.EvenRanges(3)).Append(("d", Array.Empty<SlotRange>())).ToDictionary(o => o.Item1, o => (IReadOnlyList<SlotRange>)o.Item2);
        var moves = SlotPlanner.Rebalance(ownership, ["a", "b", "c", "d"], maxSlotsPerMove: 512);

        var after = Apply(ownership, moves);
        Assert.All(after.Values, slots => Assert.Equal(4096, slots.Count));
        Assert.Equal(4096, moves.Sum(m => m.SlotCount));
        Assert.All(moves, m => Assert.Equal("d", m.TargetNodeId));
        Assert.All(moves, m => Assert.True(m.SlotCount <= 512));
    }

    [Fact]
    public void Draining_a_master_moves_every_slot_it_owns_and_nothing_else_off_balance()
    {
        var ownership = Owners(SlotPlanner.EvenRanges(4)).ToDictionary(o => o.Item1, o => (IReadOnlyList<SlotRange>)o.Item2);
        var moves = SlotPlanner.Rebalance(ownership, ["a", "b", "c"], maxSlotsPerMove: 1000);

        var after = Apply(ownership, moves);
        Assert.Empty(after["d"]);
        Assert.Equal(SlotPlanner.SlotCount, after.Values.Sum(s => s.Count));
        Assert.True(after.Where(a => a.Key != "d").Max(a => a.Value.Count) - after.Where(a => a.Key != "d").Min(a => a.Value.Count) <= 1);
        Assert.Equal(4096, moves.Sum(m => m.SlotCount));
    }

    [Fact]
    public void A_balanced_cluster_needs_no_move()
    {
        var ownership = Owners(SlotPlanner.EvenRanges(3)).ToDictionary(o => o.Item1, o => (IReadOnlyList<SlotRange>)o.Item2);
        Assert.Empty(SlotPlanner.Rebalance(ownership, ["a", "b", "c"], 512));
    }

    [Fact]
    public void A_receiver_that_is_not_a_master_is_refused()
    {
        var ownership = Owners(SlotPlanner.EvenRanges(2)).ToDictionary(o => o.Item1, o => (IReadOnlyList<SlotRange>)o.Item2);
        Assert.Throws<ArgumentException>(() => SlotPlanner.Rebalance(ownership, ["a", "zz"], 512));
        Assert.Throws<ArgumentException>(() => SlotPlanner.Rebalance(ownership, [], 512));
    }

    private static IEnumerable<(string, SlotRange[])> Owners(IReadOnlyList<SlotRange> ranges) =>
        ranges.Select((r, i) => (((char)('a' + i)).ToString(), new[] { r }));

    private static Dictionary<string, HashSet<int>> Apply(IReadOnlyDictionary<string, IReadOnlyList<SlotRange>> ownership, IReadOnlyList<PlannedMove> moves)
    {
        var owned = ownership.ToDictionary(o => o.Key, o => SlotPlanner.Expand(o.Value).ToHashSet());
        foreach (var move in moves)
        {
            foreach (var slot in SlotPlanner.Expand(move.Slots))
            {
                Assert.True(owned[move.SourceNodeId].Remove(slot), $"{move.SourceNodeId} does not own slot {slot}");
                Assert.True(owned[move.TargetNodeId].Add(slot));
            }
        }

        return owned;
    }
}

public sealed class ClusterCheckTests
{
    private static ClusterNode Node(string id, bool myself, SlotRange[] slots, string? masterId = null, int[]? importing = null) => new()
    {
        NodeId = id,
        Address = "127.0.0.1",
        Port = 6379,
        IsMaster = masterId is null,
        MasterId = masterId,
        Myself = myself,
        Slots = slots,
        Importing = importing ?? [],
    };

    private static Dictionary<string, ClusterTopology> Views(Func<string, ClusterNode[]> nodesSeenBy, params string[] members) =>
        members.ToDictionary(m => m, m => new ClusterTopology("ok", SlotPlanner.SlotCount, nodesSeenBy(m)));

    [Fact]
    public void A_consistent_cluster_has_no_problem()
    {
        var ranges = SlotPlanner.EvenRanges(2);
        var views = Views(me => [Node("a", me == "a", [ranges[0]]), Node("b", me == "b", [ranges[1]]), Node("r", me == "r", [], masterId: "a")], "a", "b", "r");
        Assert.Empty(ClusterCheck.Problems(views, expectedMasters: 2));
    }

    [Fact]
    public void Uncovered_open_and_disputed_slots_and_strangers_are_all_named()
    {
        var ranges = SlotPlanner.EvenRanges(2);
        var views = Views(
            me => me == "a"
                ? [Node("a", true, [ranges[0]], importing: [7]), Node("b", false, [new SlotRange(ranges[1].First, ranges[1].Last - 1)]), Node("x", false, [])]
                : [Node("a", false, [ranges[0]]), Node("b", true, [ranges[1]])],
            "a", "b");
        var problems = string.Join("\n", ClusterCheck.Problems(views));
        Assert.Contains("slot 7 is open (importing)", problems);
        Assert.Contains("1 of 16384 slots are not covered", problems);
        Assert.Contains("knows node x, which is not a member", problems);
        Assert.Contains("disagree on the owners of 1 slots", problems);
    }
}

public sealed class RebalancePlanTests
{
    [Fact]
    public void Waves_run_one_move_per_source_at_a_time_and_keep_every_move()
    {
        PlannedStep Move(string source, int first) => new(source, "t", "node-t", [new SlotRange(first, first + 9)]);
        var plan = new RebalancePlan { Moves = [Move("a", 0), Move("a", 10), Move("a", 20), Move("b", 30), Move("c", 40), Move("c", 50)] };

        var waves = plan.Waves();

        Assert.Equal([["a", "b", "c"], ["a", "c"], ["a"]], waves.Select(w => w.Select(m => m.SourceInstanceId).ToArray()));
        Assert.Equal(plan.Moves, waves.SelectMany(w => w).OrderBy(m => m.Slots[0].First));
        var task = new Hoard.Abstractions.Storage.TaskRecord
        {
            Id = "t1", Kind = ClusterTaskKinds.Rebalance, InstanceId = "c", State = "running", Step = 2, Payload = plan.Write(),
            CreatedAt = DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch,
        };
        Assert.Equal(new TaskProgress(30, 60), RebalancePlan.Progress(task));
    }
}
