using Hoard.Abstractions.Compute;
using Hoard.Abstractions.Storage;
using Hoard.Core.Placement;
using Xunit;

namespace Hoard.Core.Tests;

public sealed class PlacementRulesTests
{
    [Fact]
    public void A_pool_comes_first_in_proportion_to_its_weight()
    {
        var pools = new[] { new PoolRecord("light", "local:///a", 1), new PoolRecord("heavy", "local:///b", 3), new PoolRecord("mid", "local:///c", 4) };
        var random = new Random(42);
        var first = new Dictionary<string, int>(StringComparer.Ordinal) { ["light"] = 0, ["heavy"] = 0, ["mid"] = 0 };
        const int Draws = 40_000;
        for (var i = 0; i < Draws; i++)
        {
            var order = PlacementService.WeightedShuffle(pools, random);
            Assert.Equal(3, order.Select(p => p.Name).Distinct().Count()); // every pool, once: the fallbacks when the first is full
            first[order[0].Name]++;
        }

        Assert.InRange(first["light"] / (double)Draws, 1 / 8.0 - 0.01, 1 / 8.0 + 0.01);
        Assert.InRange(first["heavy"] / (double)Draws, 3 / 8.0 - 0.01, 3 / 8.0 + 0.01);
        Assert.InRange(first["mid"] / (double)Draws, 4 / 8.0 - 0.01, 4 / 8.0 + 0.01);
    }

    [Fact]
    public void Options_give_capacity_and_address_range_and_the_driver_sees_text()
    {
        var pool = new PoolRecord("p", "local:///p", 1) { Options = """{"capacity": 20, "address_range": "127.43.0.0/16", "fast": true}""" };
        Assert.Equal(20, PoolOptions.CapacityOf(pool));
        Assert.Equal("127.43.0.0/16", PoolOptions.AddressRangeOf(pool));
        var driver = PoolOptions.ForDriver(pool);
        Assert.Equal("20", driver["capacity"]);
        Assert.Equal("127.43.0.0/16", driver["address_range"]);
        Assert.Equal("true", driver["fast"]);
        Assert.Null(PoolOptions.CapacityOf(new PoolRecord("q", "local:///q", 1)));
    }

    [Fact]
    public void A_free_range_overlaps_no_pool()
    {
        var taken = new[] { LoopbackRange.Parse("127.42.0.0/16"), LoopbackRange.Parse("127.43.7.0/24"), LoopbackRange.Parse("127.44.0.0/15") };
        Assert.True(PoolOptions.Overlap(taken[1], LoopbackRange.Parse("127.43.0.0/16")));
        Assert.False(PoolOptions.Overlap(taken[0], LoopbackRange.Parse("127.43.0.0/16")));
        Assert.Equal("127.46.0.0/16", PoolOptions.FreeRange(taken));
    }
}
