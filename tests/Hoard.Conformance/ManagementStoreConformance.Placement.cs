using System.Text.Json.Nodes;
using Hoard.Abstractions.Storage;
using Hoard.Testing;
using Xunit;

namespace Hoard.Conformance;

/// <summary>
/// Pools, flavors and the catalogue: the behaviours Zaqar's storage tests pin for its pools, flavors and catalogue
/// controllers, plus Hoard's own (pool deletion rules, capacity-checked creates, the catalogue kept by the instance store).
/// </summary>
/// <remarks>
/// Names are fresh GUIDs ("N" format: equal-length lowercase hex), so ordinal order is the only order asserted and no two
/// tests could meet even on a shared server.
/// </remarks>
public abstract partial class ManagementStoreConformance
{
    private static string NewName() => Guid.NewGuid().ToString("N");

    private static List<string> Ordinal(IEnumerable<string> names) => names.Order(StringComparer.Ordinal).ToList();

    private static PoolRecord NewPool(string? flavor = null, string? name = null) =>
        new(name ?? NewName(), "local:///var/lib/hoard/" + NewName(), 100) { Flavor = flavor };

    private static FlavorRecord NewFlavor(string? project = null, string? id = null) =>
        new(id ?? NewName(), "m1.small", 2048, 1, 20) { ProjectId = project };

    private static void AssertSameJson(string expected, string actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual)), $"expected the JSON {expected} but read {actual}");

    /// <summary>Equal in every field, the options compared as JSON (a backend may re-serialise them).</summary>
    private static void AssertSamePool(PoolRecord expected, PoolRecord? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected with { Options = "{}" }, actual with { Options = "{}" });
        AssertSameJson(expected.Options, actual.Options);
    }

    /// <summary>Equal in every field, the capabilities compared as JSON (a backend may re-serialise them).</summary>
    private static void AssertSameFlavor(FlavorRecord expected, FlavorRecord? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected with { Capabilities = "{}" }, actual with { Capabilities = "{}" });
        AssertSameJson(expected.Capabilities, actual.Capabilities);
    }

    private async Task<List<string>> PoolNamesAsync(string? flavor, string? marker = null, int limit = 0) =>
        (await Store.Pools.ListAsync(flavor, marker, limit, CancellationToken.None).Within(Timeouts.Short)).Select(p => p.Name).ToList();

    private async Task<List<string>> FlavorIdsAsync(string? project, string? marker = null, int limit = 0) =>
        (await Store.Flavors.ListAsync(project, marker, limit, CancellationToken.None).Within(Timeouts.Short)).Select(f => f.Id).ToList();

    private async Task<List<CatalogueEntry>> EntriesAsync(string? project, CatalogueKey? after = null, int limit = 0) =>
        (await Store.Catalogue.ListAsync(project, after, limit, CancellationToken.None).Within(Timeouts.Short)).ToList();

    /// <summary>Every page of <paramref name="size"/> from the start, concatenated; fails if paging never ends.</summary>
    private static async Task<List<T>> AllPagesAsync<T, TMarker>(Func<TMarker?, Task<List<T>>> page, Func<T, TMarker> markerOf, int size, int atMost)
        where TMarker : class
    {
        var all = new List<T>();
        TMarker? marker = null;
        for (var pages = 0; pages <= atMost / size + 2; pages++)
        {
            var next = await page(marker);
            Assert.True(next.Count <= size, $"a page of limit {size} held {next.Count}");
            if (next.Count == 0)
            {
                return all;
            }

            all.AddRange(next);
            marker = markerOf(next[^1]);
        }

        Assert.Fail($"paging by {size} did not end after {atMost} items");
        return all;
    }

    // ---- Pools (Zaqar's PoolsControllerTest) ----

    [Fact]
    public async Task A_pool_reads_back_as_inserted_and_inserting_its_name_again_replaces_it()
    {
        var ct = CancellationToken.None;
        var pool = NewPool() with { Weight = 100, Options = "{\"capacity\": 20}" };
        await Store.Pools.InsertAsync(pool, ct).Within(Timeouts.Short);
        AssertSamePool(pool, await Store.Pools.GetAsync(pool.Name, ct).Within(Timeouts.Short));
        Assert.True(await Store.Pools.ExistsAsync(pool.Name, ct).Within(Timeouts.Short));

        var replacement = pool with { Uri = "local:///elsewhere", Weight = 111, Flavor = NewName(), Options = "{\"capacity\": 5}" };
        await Store.Pools.InsertAsync(replacement, ct).Within(Timeouts.Short);
        AssertSamePool(replacement, await Store.Pools.GetAsync(pool.Name, ct).Within(Timeouts.Short));
        Assert.Equal([pool.Name], await PoolNamesAsync(null));
    }

    [Fact]
    public async Task A_missing_pool_reads_as_null_is_not_updated_and_deleting_it_is_silent()
    {
        var ct = CancellationToken.None;
        var name = NewName();
        Assert.Null(await Store.Pools.GetAsync(name, ct).Within(Timeouts.Short));
        Assert.False(await Store.Pools.ExistsAsync(name, ct).Within(Timeouts.Short));
        Assert.False(await Store.Pools.UpdateAsync(name, new PoolChange { Weight = 1, Uri = "local:///x" }, ct).Within(Timeouts.Short));
        Assert.Equal(PoolDeletion.Missing, await Store.Pools.DeleteAsync(name, ct).Within(Timeouts.Short));

        // Neither the update nor the delete may have conjured the pool up.
        Assert.False(await Store.Pools.ExistsAsync(name, ct).Within(Timeouts.Short));
        Assert.Empty(await PoolNamesAsync(null));
    }

    [Fact]
    public async Task A_pool_update_changes_only_what_it_names()
    {
        var ct = CancellationToken.None;
        var pool = NewPool(flavor: NewName()) with { Options = "{\"capacity\": 20, \"address_range\": \"127.43.0.0/16\"}" };
        await Store.Pools.InsertAsync(pool, ct).Within(Timeouts.Short);

        Assert.True(await Store.Pools.UpdateAsync(pool.Name, new PoolChange { Weight = 101 }, ct).Within(Timeouts.Short));
        var expected = pool with { Weight = 101 };
        AssertSamePool(expected, await Store.Pools.GetAsync(pool.Name, ct).Within(Timeouts.Short));

        Assert.True(await Store.Pools.UpdateAsync(pool.Name, new PoolChange { Uri = "local:///moved", Options = "{\"a\": 1}" }, ct).Within(Timeouts.Short));
        expected = expected with { Uri = "local:///moved", Options = "{\"a\": 1}" };
        AssertSamePool(expected, await Store.Pools.GetAsync(pool.Name, ct).Within(Timeouts.Short));

        var flavor = NewName();
        Assert.True(await Store.Pools.UpdateAsync(pool.Name, new PoolChange { Flavor = flavor }, ct).Within(Timeouts.Short));
        AssertSamePool(expected with { Flavor = flavor }, await Store.Pools.GetAsync(pool.Name, ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task Pools_page_in_name_order_after_an_exclusive_marker()
    {
        var ct = CancellationToken.None;
        var names = new List<string>();
        for (var i = 0; i < 15; i++)
        {
            var pool = NewPool(flavor: i % 3 == 0 ? null : NewName()) with { Weight = i + 1 };
            names.Add(pool.Name);
            await Store.Pools.InsertAsync(pool, ct).Within(Timeouts.Short);
        }

        var ordered = Ordinal(names);
        Assert.Equal(ordered, await PoolNamesAsync(null, limit: 0));
        Assert.Equal(ordered, await PoolNamesAsync(null, limit: -1));
        Assert.Equal(ordered, await PoolNamesAsync(null, limit: 100));
        Assert.Equal(ordered.Take(5), await PoolNamesAsync(null, limit: 5));
        Assert.Equal(ordered.Skip(4).Take(3), await PoolNamesAsync(null, marker: ordered[3], limit: 3));
        Assert.Equal(ordered.Skip(11), await PoolNamesAsync(null, marker: ordered[10]));
        Assert.Empty(await PoolNamesAsync(null, marker: ordered[^1]));

        // Pages of 4 put together are the whole list, once each, in order.
        Assert.Equal(ordered, await AllPagesAsync<string, string>(m => PoolNamesAsync(null, m, 4), n => n, 4, 15));

        // Zaqar's check: a pool named after the last one is the first thing after it.
        var next = NewPool(name: ordered[^1] + "n") with { Weight = 123, Uri = "123" };
        await Store.Pools.InsertAsync(next, ct).Within(Timeouts.Short);
        var after = await Store.Pools.ListAsync(null, ordered[^1], 0, ct).Within(Timeouts.Short);
        AssertSamePool(next, Assert.Single(after));
    }

    [Fact]
    public async Task Pools_list_all_of_one_flavor_or_those_with_none()
    {
        var ct = CancellationToken.None;
        var (f, g) = (NewName(), NewName());
        var ofF = new List<string>();
        var ofNone = new List<string>();
        var all = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            var pool = NewPool(flavor: (i % 3) switch { 0 => f, 1 => g, _ => null });
            await Store.Pools.InsertAsync(pool, ct).Within(Timeouts.Short);
            all.Add(pool.Name);
            if (pool.Flavor == f)
            {
                ofF.Add(pool.Name);
            }
            else if (pool.Flavor is null)
            {
                ofNone.Add(pool.Name);
            }
        }

        Assert.Equal(Ordinal(all), await PoolNamesAsync(null));
        Assert.Equal(Ordinal(ofF), await PoolNamesAsync(f));
        Assert.Equal(Ordinal(ofNone), await PoolNamesAsync(string.Empty));
        Assert.Empty(await PoolNamesAsync(NewName()));
        Assert.All(await Store.Pools.ListAsync(string.Empty, null, 0, ct).Within(Timeouts.Short), p => Assert.Null(p.Flavor));
        Assert.All(await Store.Pools.ListAsync(f, null, 0, ct).Within(Timeouts.Short), p => Assert.Equal(f, p.Flavor));

        // A flavor's list pages like the whole one.
        var fOrdered = Ordinal(ofF);
        Assert.Equal(fOrdered.Take(2), await PoolNamesAsync(f, limit: 2));
        Assert.Equal(fOrdered.Skip(2), await PoolNamesAsync(f, marker: fOrdered[1]));
        Assert.Equal(fOrdered, await AllPagesAsync<string, string>(m => PoolNamesAsync(f, m, 3), n => n, 3, 4));
        Assert.Equal(Ordinal(ofNone), await AllPagesAsync<string, string>(m => PoolNamesAsync(string.Empty, m, 3), n => n, 3, 4));
    }

    [Fact]
    public async Task Moving_a_pool_to_another_flavor_moves_it_between_the_flavor_lists()
    {
        var ct = CancellationToken.None;
        var (f, g) = (NewName(), NewName());
        var pool = NewPool(flavor: f);
        await Store.Pools.InsertAsync(pool, ct).Within(Timeouts.Short);
        Assert.Equal([pool.Name], await PoolNamesAsync(f));

        // Inserting it again under another flavor moves it.
        await Store.Pools.InsertAsync(pool with { Flavor = g }, ct).Within(Timeouts.Short);
        Assert.Empty(await PoolNamesAsync(f));
        Assert.Equal([pool.Name], await PoolNamesAsync(g));
        Assert.Empty(await PoolNamesAsync(string.Empty));

        // So does an update naming the flavor.
        Assert.True(await Store.Pools.UpdateAsync(pool.Name, new PoolChange { Flavor = f }, ct).Within(Timeouts.Short));
        Assert.Equal([pool.Name], await PoolNamesAsync(f));
        Assert.Empty(await PoolNamesAsync(g));

        // An update that leaves the flavor out keeps it.
        Assert.True(await Store.Pools.UpdateAsync(pool.Name, new PoolChange { Weight = 7 }, ct).Within(Timeouts.Short));
        Assert.Equal([pool.Name], await PoolNamesAsync(f));

        // An empty flavor takes the pool off its flavor.
        Assert.True(await Store.Pools.UpdateAsync(pool.Name, new PoolChange { Flavor = string.Empty }, ct).Within(Timeouts.Short));
        Assert.Empty(await PoolNamesAsync(f));
        Assert.Equal([pool.Name], await PoolNamesAsync(string.Empty));
        Assert.Null((await Store.Pools.GetAsync(pool.Name, ct).Within(Timeouts.Short))!.Flavor);

        // And inserting it with no flavor after it had one leaves it under none, too.
        Assert.True(await Store.Pools.UpdateAsync(pool.Name, new PoolChange { Flavor = g }, ct).Within(Timeouts.Short));
        await Store.Pools.InsertAsync(pool with { Flavor = null }, ct).Within(Timeouts.Short);
        Assert.Empty(await PoolNamesAsync(g));
        Assert.Equal([pool.Name], await PoolNamesAsync(string.Empty));
        Assert.Equal([pool.Name], await PoolNamesAsync(null));
    }

    [Fact]
    public async Task Dropping_all_pools_empties_every_pool_list_whatever_the_pools_host()
    {
        var ct = CancellationToken.None;
        var flavor = NewFlavor();
        await Store.Flavors.InsertAsync(flavor, ct).Within(Timeouts.Short);
        var last = NewPool(flavor: flavor.Id);
        var hosting = NewPool();
        var plain = NewPool(flavor: NewName());
        foreach (var pool in new[] { last, hosting, plain })
        {
            await Store.Pools.InsertAsync(pool, ct).Within(Timeouts.Short);
        }

        var instance = NewInstance("p1") with { Pool = hosting.Name };
        await Store.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), null, ct).Within(Timeouts.Short);

        await Store.Pools.DropAllAsync(ct).Within(Timeouts.Short);
        Assert.Empty(await PoolNamesAsync(null));
        Assert.Empty(await PoolNamesAsync(string.Empty));
        Assert.Empty(await PoolNamesAsync(flavor.Id));
        Assert.Empty(await PoolNamesAsync(plain.Flavor));
        foreach (var pool in new[] { last, hosting, plain })
        {
            Assert.Null(await Store.Pools.GetAsync(pool.Name, ct).Within(Timeouts.Short));
            Assert.False(await Store.Pools.ExistsAsync(pool.Name, ct).Within(Timeouts.Short));
        }

        // Flavors are not pools.
        Assert.True(await Store.Flavors.ExistsAsync(flavor.Id, ct).Within(Timeouts.Short));

        // The store is usable afterwards, from empty.
        await Store.Pools.InsertAsync(last, ct).Within(Timeouts.Short);
        Assert.Equal([last.Name], await PoolNamesAsync(flavor.Id));
        Assert.Equal([last.Name], await PoolNamesAsync(null));
    }

    // ---- Pool deletion (Hoard's rules) ----

    [Fact]
    public async Task A_pool_hosting_a_live_instance_is_not_deleted_until_the_instance_is()
    {
        var ct = CancellationToken.None;
        var pool = NewPool() with { Options = "{\"capacity\": 3}" };
        var spare = NewPool();
        await Store.Pools.InsertAsync(pool, ct).Within(Timeouts.Short);
        await Store.Pools.InsertAsync(spare, ct).Within(Timeouts.Short);
        var instance = NewInstance("p1") with { Pool = pool.Name };
        Assert.True(await Store.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), null, ct).Within(Timeouts.Short));

        Assert.Equal(PoolDeletion.HostsInstances, await Store.Pools.DeleteAsync(pool.Name, ct).Within(Timeouts.Short));

        // Refused means untouched: the pool, its listing, the instance and its entry are all as they were.
        AssertSamePool(pool, await Store.Pools.GetAsync(pool.Name, ct).Within(Timeouts.Short));
        Assert.Equal(Ordinal([pool.Name, spare.Name]), await PoolNamesAsync(null));
        Assert.Equal(Ordinal([pool.Name, spare.Name]), await PoolNamesAsync(string.Empty));
        Assert.NotNull(await Store.Instances.GetAsync(instance.Id, ct).Within(Timeouts.Short));
        Assert.Equal(new CatalogueEntry("p1", instance.Id, pool.Name), await Store.Catalogue.GetAsync("p1", instance.Id, ct).Within(Timeouts.Short));
        Assert.Equal(1, await Store.Catalogue.CountInPoolAsync(pool.Name, ct).Within(Timeouts.Short));

        // An instance elsewhere does not hold a pool.
        Assert.Equal(PoolDeletion.Deleted, await Store.Pools.DeleteAsync(spare.Name, ct).Within(Timeouts.Short));

        Assert.True(await Store.Instances.UpdateAsync(instance.Id, new InstanceChange { Deleted = true }, ct).Within(Timeouts.Short));
        Assert.Equal(PoolDeletion.Deleted, await Store.Pools.DeleteAsync(pool.Name, ct).Within(Timeouts.Short));
        Assert.Null(await Store.Pools.GetAsync(pool.Name, ct).Within(Timeouts.Short));
        Assert.False(await Store.Pools.ExistsAsync(pool.Name, ct).Within(Timeouts.Short));
        Assert.Empty(await PoolNamesAsync(null));
        Assert.Equal(PoolDeletion.Missing, await Store.Pools.DeleteAsync(pool.Name, ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task A_pool_with_a_catalogue_entry_is_not_deleted_until_the_entry_is()
    {
        var ct = CancellationToken.None;
        var pool = NewPool();
        await Store.Pools.InsertAsync(pool, ct).Within(Timeouts.Short);
        var entry = new CatalogueEntry(NewName(), NewName(), pool.Name);
        await Store.Catalogue.InsertAsync(entry, ct).Within(Timeouts.Short);

        Assert.Equal(PoolDeletion.HostsInstances, await Store.Pools.DeleteAsync(pool.Name, ct).Within(Timeouts.Short));
        AssertSamePool(pool, await Store.Pools.GetAsync(pool.Name, ct).Within(Timeouts.Short));
        Assert.Equal(entry, await Store.Catalogue.GetAsync(entry.ProjectId, entry.InstanceId, ct).Within(Timeouts.Short));

        await Store.Catalogue.DeleteAsync(entry.ProjectId, entry.InstanceId, ct).Within(Timeouts.Short);
        Assert.Equal(PoolDeletion.Deleted, await Store.Pools.DeleteAsync(pool.Name, ct).Within(Timeouts.Short));
        Assert.False(await Store.Pools.ExistsAsync(pool.Name, ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task The_last_pool_of_an_existing_flavor_is_not_deleted()
    {
        var ct = CancellationToken.None;
        var flavor = NewFlavor();
        await Store.Flavors.InsertAsync(flavor, ct).Within(Timeouts.Short);
        var first = NewPool(flavor: flavor.Id);
        var second = NewPool(flavor: flavor.Id) with { Options = "{\"capacity\": 9}" };
        await Store.Pools.InsertAsync(first, ct).Within(Timeouts.Short);
        await Store.Pools.InsertAsync(second, ct).Within(Timeouts.Short);

        // The flavor has another pool: this one may go.
        Assert.Equal(PoolDeletion.Deleted, await Store.Pools.DeleteAsync(first.Name, ct).Within(Timeouts.Short));
        Assert.Equal(PoolDeletion.LastOfFlavor, await Store.Pools.DeleteAsync(second.Name, ct).Within(Timeouts.Short));

        // Refused means untouched.
        AssertSamePool(second, await Store.Pools.GetAsync(second.Name, ct).Within(Timeouts.Short));
        Assert.Equal([second.Name], await PoolNamesAsync(flavor.Id));
        AssertSameFlavor(flavor, await Store.Flavors.GetAsync(flavor.Id, ct).Within(Timeouts.Short));

        // Zaqar's way out: take the pool off the flavor first.
        Assert.True(await Store.Pools.UpdateAsync(second.Name, new PoolChange { Flavor = string.Empty }, ct).Within(Timeouts.Short));
        Assert.Equal(PoolDeletion.Deleted, await Store.Pools.DeleteAsync(second.Name, ct).Within(Timeouts.Short));
        Assert.Empty(await PoolNamesAsync(null));
    }

    [Fact]
    public async Task The_only_pool_of_a_flavor_that_does_not_exist_or_no_longer_does_is_deleted()
    {
        var ct = CancellationToken.None;
        var orphan = NewPool(flavor: NewName());
        await Store.Pools.InsertAsync(orphan, ct).Within(Timeouts.Short);
        Assert.Equal(PoolDeletion.Deleted, await Store.Pools.DeleteAsync(orphan.Name, ct).Within(Timeouts.Short));

        var flavor = NewFlavor();
        await Store.Flavors.InsertAsync(flavor, ct).Within(Timeouts.Short);
        var pool = NewPool(flavor: flavor.Id);
        await Store.Pools.InsertAsync(pool, ct).Within(Timeouts.Short);
        Assert.Equal(PoolDeletion.LastOfFlavor, await Store.Pools.DeleteAsync(pool.Name, ct).Within(Timeouts.Short));
        Assert.True(await Store.Flavors.DeleteAsync(flavor.Id, ct).Within(Timeouts.Short));
        Assert.Equal(PoolDeletion.Deleted, await Store.Pools.DeleteAsync(pool.Name, ct).Within(Timeouts.Short));
        Assert.Empty(await PoolNamesAsync(null));
    }

    [Fact]
    public async Task Deleting_all_of_a_flavors_pools_at_once_leaves_exactly_one()
    {
        // The last-of-flavor check and the delete are one step: racing deletes cannot each see another pool left.
        var ct = CancellationToken.None;
        var flavor = NewFlavor();
        await Store.Flavors.InsertAsync(flavor, ct).Within(Timeouts.Short);
        var pools = Enumerable.Range(0, 8).Select(_ => NewPool(flavor.Id)).ToList();
        foreach (var pool in pools)
        {
            await Store.Pools.InsertAsync(pool, ct).Within(Timeouts.Short);
        }

        var outcomes = await Task.WhenAll(pools.Select(p => Task.Run(() => Store.Pools.DeleteAsync(p.Name, ct)))).Within(Timeouts.Settle);
        Assert.Equal(7, outcomes.Count(o => o == PoolDeletion.Deleted));
        Assert.Equal(1, outcomes.Count(o => o == PoolDeletion.LastOfFlavor));
        var survivor = pools[Array.IndexOf(outcomes, PoolDeletion.LastOfFlavor)];
        Assert.Equal([survivor.Name], await PoolNamesAsync(flavor.Id));
        Assert.Equal([survivor.Name], await PoolNamesAsync(null));
    }

    [Fact]
    public async Task Cluster_members_are_catalogued_in_their_pool_and_hold_it()
    {
        // A member is an instance running in a pool, so its pool hosts instances (PoolDeletion.HostsInstances) and counts it.
        var ct = CancellationToken.None;
        var pool = NewPool();
        await Store.Pools.InsertAsync(pool, ct).Within(Timeouts.Short);
        var cluster = NewCluster(NewName()) with { TaskStatus = ClusterTasks.None };
        NewMember InPool(NewMember m) => m with { Instance = m.Instance with { Pool = pool.Name } };
        var members = Enumerable.Range(1, 2).Select(n => InPool(Member(cluster, n))).ToList();
        Assert.True(await Store.Clusters.InsertAsync(cluster, members, NewTask(cluster.Id, "cluster.create"), ct).Within(Timeouts.Short));
        foreach (var m in members)
        {
            Assert.Equal(new CatalogueEntry(cluster.ProjectId, m.Instance.Id, pool.Name), await Store.Catalogue.GetAsync(cluster.ProjectId, m.Instance.Id, ct).Within(Timeouts.Short));
        }

        var grown = InPool(Member(cluster, 3));
        Assert.True(await Store.Clusters.StartTaskAsync(cluster.Id, ClusterTasks.None, ClusterTasks.Growing, NewTask(cluster.Id, "cluster.grow"), [grown], ct).Within(Timeouts.Short));
        Assert.True(await Store.Catalogue.ExistsAsync(cluster.ProjectId, grown.Instance.Id, ct).Within(Timeouts.Short));
        Assert.Equal(3, await Store.Catalogue.CountInPoolAsync(pool.Name, ct).Within(Timeouts.Short));
        Assert.Equal(PoolDeletion.HostsInstances, await Store.Pools.DeleteAsync(pool.Name, ct).Within(Timeouts.Short));

        foreach (var id in members.Append(grown).Select(m => m.Instance.Id))
        {
            Assert.True(await Store.Instances.UpdateAsync(id, new InstanceChange { Deleted = true }, ct).Within(Timeouts.Short));
        }

        Assert.Equal(0, await Store.Catalogue.CountInPoolAsync(pool.Name, ct).Within(Timeouts.Short));
        Assert.Equal(PoolDeletion.Deleted, await Store.Pools.DeleteAsync(pool.Name, ct).Within(Timeouts.Short));
    }

    // ---- Flavors (Zaqar's FlavorsControllerTest) ----

    [Fact]
    public async Task A_flavor_reads_back_as_inserted_and_inserting_its_id_again_replaces_it()
    {
        var ct = CancellationToken.None;
        var project = NewName();
        var flavor = NewFlavor(project) with { Capabilities = "{\"fifo\": true}" };
        await Store.Flavors.InsertAsync(flavor, ct).Within(Timeouts.Short);
        AssertSameFlavor(flavor, await Store.Flavors.GetAsync(flavor.Id, ct).Within(Timeouts.Short));
        Assert.True(await Store.Flavors.ExistsAsync(flavor.Id, ct).Within(Timeouts.Short));

        var replacement = new FlavorRecord(flavor.Id, "m1.large", 8192, 4, 80) { ProjectId = project, Capabilities = "{\"fifo\": false}" };
        await Store.Flavors.InsertAsync(replacement, ct).Within(Timeouts.Short);
        AssertSameFlavor(replacement, await Store.Flavors.GetAsync(flavor.Id, ct).Within(Timeouts.Short));
        Assert.Equal([flavor.Id], await FlavorIdsAsync(null));
        Assert.Equal([flavor.Id], await FlavorIdsAsync(project));

        // Replaced as a whole: made public, it leaves the project's list.
        var made = replacement with { ProjectId = null, Capabilities = "{}" };
        await Store.Flavors.InsertAsync(made, ct).Within(Timeouts.Short);
        AssertSameFlavor(made, await Store.Flavors.GetAsync(flavor.Id, ct).Within(Timeouts.Short));
        Assert.Empty(await FlavorIdsAsync(project));
        Assert.Equal([flavor.Id], await FlavorIdsAsync(null));
    }

    [Fact]
    public async Task A_missing_flavor_reads_as_null_is_not_updated_and_deleting_it_is_silent()
    {
        var ct = CancellationToken.None;
        var id = NewName();
        Assert.Null(await Store.Flavors.GetAsync(id, ct).Within(Timeouts.Short));
        Assert.False(await Store.Flavors.ExistsAsync(id, ct).Within(Timeouts.Short));
        Assert.False(await Store.Flavors.UpdateAsync(id, new FlavorChange { RamMb = 1, Capabilities = "{}" }, ct).Within(Timeouts.Short));
        Assert.False(await Store.Flavors.DeleteAsync(id, ct).Within(Timeouts.Short));
        Assert.False(await Store.Flavors.ExistsAsync(id, ct).Within(Timeouts.Short));
        Assert.Empty(await FlavorIdsAsync(null));
    }

    [Fact]
    public async Task A_flavor_update_changes_only_what_it_names()
    {
        var ct = CancellationToken.None;
        var project = NewName();
        var flavor = NewFlavor(project) with { Capabilities = "{\"fifo\": true}" };
        await Store.Flavors.InsertAsync(flavor, ct).Within(Timeouts.Short);

        Assert.True(await Store.Flavors.UpdateAsync(flavor.Id, new FlavorChange { Capabilities = "{\"fifo\": false}" }, ct).Within(Timeouts.Short));
        var expected = flavor with { Capabilities = "{\"fifo\": false}" };
        AssertSameFlavor(expected, await Store.Flavors.GetAsync(flavor.Id, ct).Within(Timeouts.Short));

        Assert.True(await Store.Flavors.UpdateAsync(flavor.Id, new FlavorChange { RamMb = 4096, DiskGb = 40 }, ct).Within(Timeouts.Short));
        expected = expected with { RamMb = 4096, DiskGb = 40 };
        AssertSameFlavor(expected, await Store.Flavors.GetAsync(flavor.Id, ct).Within(Timeouts.Short));

        Assert.True(await Store.Flavors.UpdateAsync(flavor.Id, new FlavorChange { Name = "m1.medium", Vcpus = 2 }, ct).Within(Timeouts.Short));
        expected = expected with { Name = "m1.medium", Vcpus = 2 };
        AssertSameFlavor(expected, await Store.Flavors.GetAsync(flavor.Id, ct).Within(Timeouts.Short));
        Assert.Equal([flavor.Id], await FlavorIdsAsync(project));

        // Another project's now: it moves between the project lists.
        var other = NewName();
        Assert.True(await Store.Flavors.UpdateAsync(flavor.Id, new FlavorChange { ProjectId = other }, ct).Within(Timeouts.Short));
        expected = expected with { ProjectId = other };
        AssertSameFlavor(expected, await Store.Flavors.GetAsync(flavor.Id, ct).Within(Timeouts.Short));
        Assert.Empty(await FlavorIdsAsync(project));
        Assert.Equal([flavor.Id], await FlavorIdsAsync(other));

        // An empty project makes it public.
        Assert.True(await Store.Flavors.UpdateAsync(flavor.Id, new FlavorChange { ProjectId = string.Empty }, ct).Within(Timeouts.Short));
        AssertSameFlavor(expected with { ProjectId = null }, await Store.Flavors.GetAsync(flavor.Id, ct).Within(Timeouts.Short));
        Assert.Empty(await FlavorIdsAsync(other));
        Assert.Equal([flavor.Id], await FlavorIdsAsync(null));
    }

    [Fact]
    public async Task Flavors_page_in_id_order_after_an_exclusive_marker()
    {
        var ct = CancellationToken.None;
        var ids = new List<string>();
        for (var i = 0; i < 15; i++)
        {
            var flavor = NewFlavor(i % 2 == 0 ? null : NewName()) with { RamMb = 1024 * (i + 1) };
            ids.Add(flavor.Id);
            await Store.Flavors.InsertAsync(flavor, ct).Within(Timeouts.Short);
        }

        var ordered = Ordinal(ids);
        Assert.Equal(ordered, await FlavorIdsAsync(null, limit: 0));
        Assert.Equal(ordered, await FlavorIdsAsync(null, limit: -1));
        Assert.Equal(ordered, await FlavorIdsAsync(null, limit: 100));
        Assert.Equal(ordered.Take(10), await FlavorIdsAsync(null, limit: 10));
        Assert.Equal(ordered.Take(5), await FlavorIdsAsync(null, limit: 5));

        // Zaqar's check: after the fourth comes the fifth.
        Assert.Equal(ordered[4], (await FlavorIdsAsync(null, marker: ordered[3], limit: 10))[0]);
        Assert.Equal(ordered.Skip(4), await FlavorIdsAsync(null, marker: ordered[3]));
        Assert.Empty(await FlavorIdsAsync(null, marker: ordered[^1]));
        Assert.Equal(ordered, await AllPagesAsync<string, string>(m => FlavorIdsAsync(null, m, 4), n => n, 4, 15));
    }

    [Fact]
    public async Task Flavors_list_all_or_one_projects_private_ones()
    {
        var ct = CancellationToken.None;
        var (p1, p2) = (NewName(), NewName());
        var all = new List<string>();
        var ofP1 = new List<string>();
        for (var i = 0; i < 9; i++)
        {
            var flavor = NewFlavor((i % 3) switch { 0 => null, 1 => p1, _ => p2 });
            await Store.Flavors.InsertAsync(flavor, ct).Within(Timeouts.Short);
            all.Add(flavor.Id);
            if (flavor.ProjectId == p1)
            {
                ofP1.Add(flavor.Id);
            }
        }

        Assert.Equal(Ordinal(all), await FlavorIdsAsync(null));
        Assert.Equal(Ordinal(ofP1), await FlavorIdsAsync(p1));
        Assert.All(await Store.Flavors.ListAsync(p1, null, 0, ct).Within(Timeouts.Short), f => Assert.Equal(p1, f.ProjectId));
        Assert.Empty(await FlavorIdsAsync(NewName()));

        var p1Ordered = Ordinal(ofP1);
        Assert.Equal(p1Ordered.Take(2), await FlavorIdsAsync(p1, limit: 2));
        Assert.Equal(p1Ordered.Skip(1), await FlavorIdsAsync(p1, marker: p1Ordered[0]));
        Assert.Equal(p1Ordered, await AllPagesAsync<string, string>(m => FlavorIdsAsync(p1, m, 2), n => n, 2, 3));
    }

    [Fact]
    public async Task Deleting_a_flavor_takes_it_off_its_pools()
    {
        var ct = CancellationToken.None;
        var (flavor, kept) = (NewFlavor(), NewFlavor());
        await Store.Flavors.InsertAsync(flavor, ct).Within(Timeouts.Short);
        await Store.Flavors.InsertAsync(kept, ct).Within(Timeouts.Short);
        var (a, b, c, free) = (NewPool(flavor.Id), NewPool(flavor.Id), NewPool(kept.Id), NewPool());
        foreach (var pool in new[] { a, b, c, free })
        {
            await Store.Pools.InsertAsync(pool, ct).Within(Timeouts.Short);
        }

        Assert.True(await Store.Flavors.DeleteAsync(flavor.Id, ct).Within(Timeouts.Short));
        Assert.Null(await Store.Flavors.GetAsync(flavor.Id, ct).Within(Timeouts.Short));
        Assert.False(await Store.Flavors.ExistsAsync(flavor.Id, ct).Within(Timeouts.Short));
        Assert.Equal([kept.Id], await FlavorIdsAsync(null));

        // Its pools stay, with no flavor; other flavors' pools are untouched.
        Assert.Empty(await PoolNamesAsync(flavor.Id));
        Assert.Equal(Ordinal([a.Name, b.Name, free.Name]), await PoolNamesAsync(string.Empty));
        Assert.Equal([c.Name], await PoolNamesAsync(kept.Id));
        AssertSamePool(a with { Flavor = null }, await Store.Pools.GetAsync(a.Name, ct).Within(Timeouts.Short));
        AssertSamePool(c, await Store.Pools.GetAsync(c.Name, ct).Within(Timeouts.Short));

        // A new flavor of the same id starts with no pools: they were taken off, not hidden.
        await Store.Flavors.InsertAsync(flavor, ct).Within(Timeouts.Short);
        Assert.Empty(await PoolNamesAsync(flavor.Id));
        Assert.Null((await Store.Pools.GetAsync(b.Name, ct).Within(Timeouts.Short))!.Flavor);
        Assert.False(await Store.Flavors.DeleteAsync(NewName(), ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task Dropping_all_flavors_empties_the_flavor_lists_and_keeps_their_pools_with_no_flavor()
    {
        var ct = CancellationToken.None;
        var project = NewName();
        var (open, own) = (NewFlavor(), NewFlavor(project));
        await Store.Flavors.InsertAsync(open, ct).Within(Timeouts.Short);
        await Store.Flavors.InsertAsync(own, ct).Within(Timeouts.Short);
        var (a, b) = (NewPool(open.Id), NewPool(own.Id));
        await Store.Pools.InsertAsync(a, ct).Within(Timeouts.Short);
        await Store.Pools.InsertAsync(b, ct).Within(Timeouts.Short);

        await Store.Flavors.DropAllAsync(ct).Within(Timeouts.Short);
        Assert.Empty(await FlavorIdsAsync(null));
        Assert.Empty(await FlavorIdsAsync(project));
        Assert.Null(await Store.Flavors.GetAsync(open.Id, ct).Within(Timeouts.Short));
        Assert.False(await Store.Flavors.ExistsAsync(own.Id, ct).Within(Timeouts.Short));

        Assert.Equal(Ordinal([a.Name, b.Name]), await PoolNamesAsync(null));
        Assert.Equal(Ordinal([a.Name, b.Name]), await PoolNamesAsync(string.Empty));
        Assert.Empty(await PoolNamesAsync(open.Id));
        AssertSamePool(a with { Flavor = null }, await Store.Pools.GetAsync(a.Name, ct).Within(Timeouts.Short));

        await Store.Flavors.InsertAsync(own, ct).Within(Timeouts.Short);
        Assert.Equal([own.Id], await FlavorIdsAsync(project));
    }

    // ---- JSON, names and isolation ----

    [Fact]
    public async Task Flavor_capabilities_and_pool_options_round_trip_as_json()
    {
        var ct = CancellationToken.None;
        const string Capabilities = """
            {"fifo": true, "durable": false, "max_ram_mb": 65536, "ratio": 0.5, "tags": ["a", "b", "ü"],
             "nested": {"none": null, "empty": {}, "list": [], "deeper": {"n": -3}},
             "quoted": "say \"hi\" \\ bye\n", "unicode": "ünï ✓ 池 \ud83d\ude00"}
            """;
        const string Options = """
            {"capacity": 20, "address_range": "127.43.0.0/16", "driver": {"path": "/var/lib/hoard", "env": {"A": "1", "B": ""}}, "ports": [6379, 6380]}
            """;
        var flavor = NewFlavor(NewName()) with { Capabilities = Capabilities };
        var pool = NewPool(flavor.Id) with { Options = Options };
        await Store.Flavors.InsertAsync(flavor, ct).Within(Timeouts.Short);
        await Store.Pools.InsertAsync(pool, ct).Within(Timeouts.Short);
        AssertSameFlavor(flavor, await Store.Flavors.GetAsync(flavor.Id, ct).Within(Timeouts.Short));
        AssertSamePool(pool, await Store.Pools.GetAsync(pool.Name, ct).Within(Timeouts.Short));
        AssertSameFlavor(flavor, Assert.Single(await Store.Flavors.ListAsync(null, null, 0, ct).Within(Timeouts.Short)));
        AssertSamePool(pool, Assert.Single(await Store.Pools.ListAsync(flavor.Id, null, 0, ct).Within(Timeouts.Short)));

        // Through an update, too; and the default, an empty object.
        const string Changed = """{"fifo": false, "list": [{"k": "v"}, 1, "two", null]}""";
        Assert.True(await Store.Flavors.UpdateAsync(flavor.Id, new FlavorChange { Capabilities = Changed }, ct).Within(Timeouts.Short));
        Assert.True(await Store.Pools.UpdateAsync(pool.Name, new PoolChange { Options = Changed }, ct).Within(Timeouts.Short));
        AssertSameJson(Changed, (await Store.Flavors.GetAsync(flavor.Id, ct).Within(Timeouts.Short))!.Capabilities);
        AssertSameJson(Changed, (await Store.Pools.GetAsync(pool.Name, ct).Within(Timeouts.Short))!.Options);

        var plainFlavor = NewFlavor();
        var plainPool = NewPool();
        await Store.Flavors.InsertAsync(plainFlavor, ct).Within(Timeouts.Short);
        await Store.Pools.InsertAsync(plainPool, ct).Within(Timeouts.Short);
        AssertSameJson("{}", (await Store.Flavors.GetAsync(plainFlavor.Id, ct).Within(Timeouts.Short))!.Capabilities);
        AssertSameJson("{}", (await Store.Pools.GetAsync(plainPool.Name, ct).Within(Timeouts.Short))!.Options);
    }

    [Fact]
    public async Task Names_with_unicode_spaces_colons_and_percents_round_trip_exactly()
    {
        var ct = CancellationToken.None;
        var s = NewName()[..8];

        // "a:b" and "a%3Ab" are one name to a backend that escapes ':' but not '%'.
        string[] names = [$"pool ünïcödé ✓ 池 {s}", $"a:b {s}", $"a%3Ab {s}", $"50% off:{s}", $"{s} trailing ", $"x:y%z:{s}"];
        var project = $"proj: ü %{s} ";
        var instancePool = $"host:{s}";
        foreach (var name in names)
        {
            await Store.Flavors.InsertAsync(NewFlavor(project, name) with { Name = name }, ct).Within(Timeouts.Short);
            await Store.Pools.InsertAsync(NewPool(name, name), ct).Within(Timeouts.Short);
            await Store.Catalogue.InsertAsync(new CatalogueEntry(project, name, name), ct).Within(Timeouts.Short);
        }

        foreach (var name in names)
        {
            var flavor = await Store.Flavors.GetAsync(name, ct).Within(Timeouts.Short);
            Assert.Equal((name, name, project), (flavor?.Id, flavor?.Name, flavor?.ProjectId));
            Assert.True(await Store.Flavors.ExistsAsync(name, ct).Within(Timeouts.Short));
            var pool = await Store.Pools.GetAsync(name, ct).Within(Timeouts.Short);
            Assert.Equal((name, name), (pool?.Name, pool?.Flavor));
            Assert.True(await Store.Pools.ExistsAsync(name, ct).Within(Timeouts.Short));
            Assert.Equal([name], await PoolNamesAsync(name));
            Assert.Equal(new CatalogueEntry(project, name, name), await Store.Catalogue.GetAsync(project, name, ct).Within(Timeouts.Short));
            Assert.True(await Store.Catalogue.ExistsAsync(project, name, ct).Within(Timeouts.Short));
            Assert.Equal(1, await Store.Catalogue.CountInPoolAsync(name, ct).Within(Timeouts.Short));
        }

        Assert.Equal(Ordinal(names), Ordinal(await FlavorIdsAsync(project)));
        Assert.Equal(Ordinal(names), Ordinal(await FlavorIdsAsync(null)));
        Assert.Equal(Ordinal(names), Ordinal(await PoolNamesAsync(null)));
        Assert.Equal(Ordinal(names), Ordinal((await EntriesAsync(project)).Select(e => e.InstanceId)));
        Assert.All(await EntriesAsync(project), e => Assert.Equal((project, e.InstanceId), (e.ProjectId, e.Pool)));

        // Paging over such names still visits each once.
        var paged = await AllPagesAsync<string, string>(m => PoolNamesAsync(null, m, 2), n => n, 2, names.Length);
        Assert.Equal(Ordinal(names), Ordinal(paged));
        Assert.Equal(names.Length, paged.Distinct().Count());

        // Changing one of a look-alike pair leaves the other alone.
        var (colon, percent) = (names[1], names[2]);
        Assert.True(await Store.Flavors.DeleteAsync(colon, ct).Within(Timeouts.Short));
        Assert.Null((await Store.Pools.GetAsync(colon, ct).Within(Timeouts.Short))!.Flavor);
        Assert.Equal(percent, (await Store.Pools.GetAsync(percent, ct).Within(Timeouts.Short))!.Flavor);
        Assert.True(await Store.Flavors.ExistsAsync(percent, ct).Within(Timeouts.Short));
        Assert.True(await Store.Catalogue.UpdateAsync(project, colon, percent, ct).Within(Timeouts.Short));
        Assert.Equal(0, await Store.Catalogue.CountInPoolAsync(colon, ct).Within(Timeouts.Short));
        Assert.Equal(2, await Store.Catalogue.CountInPoolAsync(percent, ct).Within(Timeouts.Short));
        Assert.Equal(PoolDeletion.Deleted, await Store.Pools.DeleteAsync(colon, ct).Within(Timeouts.Short));
        Assert.True(await Store.Pools.ExistsAsync(percent, ct).Within(Timeouts.Short));

        // The instance store writes such names into the catalogue as they are.
        var instance = NewInstance(project) with { Pool = instancePool };
        Assert.True(await Store.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), 1, ct).Within(Timeouts.Short));
        Assert.Equal(new CatalogueEntry(project, instance.Id, instancePool), await Store.Catalogue.GetAsync(project, instance.Id, ct).Within(Timeouts.Short));
        Assert.Equal(1, await Store.Catalogue.CountInPoolAsync(instancePool, ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task A_pool_a_flavor_and_a_catalogue_entry_of_one_name_do_not_disturb_each_other()
    {
        var ct = CancellationToken.None;
        var name = NewName();
        var flavor = NewFlavor(name, name) with { Name = name, Capabilities = "{\"flavor\": 1}" };
        var pool = NewPool(name: name, flavor: null) with { Options = "{\"pool\": 2}" };
        var entry = new CatalogueEntry(name, name, name);
        await Store.Flavors.InsertAsync(flavor, ct).Within(Timeouts.Short);
        await Store.Pools.InsertAsync(pool, ct).Within(Timeouts.Short);
        await Store.Catalogue.InsertAsync(entry, ct).Within(Timeouts.Short);
        AssertSameFlavor(flavor, await Store.Flavors.GetAsync(name, ct).Within(Timeouts.Short));
        AssertSamePool(pool, await Store.Pools.GetAsync(name, ct).Within(Timeouts.Short));
        Assert.Equal(entry, await Store.Catalogue.GetAsync(name, name, ct).Within(Timeouts.Short));

        // The pool's refusal is about its entry, not the flavor; the flavor's delete is about pools of the flavor.
        Assert.Equal(PoolDeletion.HostsInstances, await Store.Pools.DeleteAsync(name, ct).Within(Timeouts.Short));
        Assert.True(await Store.Flavors.DeleteAsync(name, ct).Within(Timeouts.Short));
        AssertSamePool(pool, await Store.Pools.GetAsync(name, ct).Within(Timeouts.Short));
        Assert.Equal(entry, await Store.Catalogue.GetAsync(name, name, ct).Within(Timeouts.Short));

        await Store.Flavors.InsertAsync(flavor, ct).Within(Timeouts.Short);
        await Store.Catalogue.DeleteAsync(name, name, ct).Within(Timeouts.Short);
        Assert.Equal(PoolDeletion.Deleted, await Store.Pools.DeleteAsync(name, ct).Within(Timeouts.Short));
        AssertSameFlavor(flavor, await Store.Flavors.GetAsync(name, ct).Within(Timeouts.Short));

        // Dropping one kind leaves the others.
        await Store.Pools.InsertAsync(pool with { Flavor = name }, ct).Within(Timeouts.Short);
        await Store.Catalogue.InsertAsync(entry, ct).Within(Timeouts.Short);
        await Store.Catalogue.DropAllAsync(ct).Within(Timeouts.Short);
        Assert.True(await Store.Pools.ExistsAsync(name, ct).Within(Timeouts.Short));
        Assert.True(await Store.Flavors.ExistsAsync(name, ct).Within(Timeouts.Short));
        await Store.Pools.DropAllAsync(ct).Within(Timeouts.Short);
        AssertSameFlavor(flavor, await Store.Flavors.GetAsync(name, ct).Within(Timeouts.Short));
        Assert.Equal([name], await FlavorIdsAsync(name));
    }

    // ---- The catalogue (Zaqar's CatalogueControllerTest) ----

    [Fact]
    public async Task A_catalogue_entry_is_listed_while_it_exists()
    {
        var ct = CancellationToken.None;
        var project = NewName();
        var pool = NewName();
        Assert.Empty(await EntriesAsync(project));

        var many = Enumerable.Range(0, 10).Select(_ => new CatalogueEntry(project, NewName(), NewName())).ToList();
        foreach (var e in many)
        {
            await Store.Catalogue.InsertAsync(e, ct).Within(Timeouts.Short);
        }

        Assert.Equal(10, (await EntriesAsync(project)).Count);
        foreach (var e in many)
        {
            await Store.Catalogue.DeleteAsync(e.ProjectId, e.InstanceId, ct).Within(Timeouts.Short);
        }

        Assert.Empty(await EntriesAsync(project));

        var entry = new CatalogueEntry(project, NewName(), pool);
        await Store.Catalogue.InsertAsync(entry, ct).Within(Timeouts.Short);
        Assert.True(await Store.Catalogue.ExistsAsync(project, entry.InstanceId, ct).Within(Timeouts.Short));
        Assert.Equal(entry, await Store.Catalogue.GetAsync(project, entry.InstanceId, ct).Within(Timeouts.Short));
        Assert.Equal([entry], await EntriesAsync(project));
        Assert.Equal(1, await Store.Catalogue.CountInPoolAsync(pool, ct).Within(Timeouts.Short));

        await Store.Catalogue.DeleteAsync(project, entry.InstanceId, ct).Within(Timeouts.Short);
        Assert.False(await Store.Catalogue.ExistsAsync(project, entry.InstanceId, ct).Within(Timeouts.Short));
        Assert.Null(await Store.Catalogue.GetAsync(project, entry.InstanceId, ct).Within(Timeouts.Short));
        Assert.Empty(await EntriesAsync(project));
        Assert.Empty(await EntriesAsync(null));
        Assert.Equal(0, await Store.Catalogue.CountInPoolAsync(pool, ct).Within(Timeouts.Short));

        // Deleting what is not there is silent.
        await Store.Catalogue.DeleteAsync(project, entry.InstanceId, ct).Within(Timeouts.Short);
        await Store.Catalogue.DeleteAsync(NewName(), NewName(), ct).Within(Timeouts.Short);
    }

    [Fact]
    public async Task A_catalogue_entry_is_found_only_by_its_whole_key()
    {
        var ct = CancellationToken.None;
        var entry = new CatalogueEntry(NewName(), NewName(), NewName());
        await Store.Catalogue.InsertAsync(entry, ct).Within(Timeouts.Short);
        var nowhere = NewName();
        foreach (var (project, instance) in new[] { (entry.ProjectId, nowhere), (nowhere, entry.InstanceId), (nowhere, nowhere), (entry.InstanceId, entry.ProjectId) })
        {
            Assert.Null(await Store.Catalogue.GetAsync(project, instance, ct).Within(Timeouts.Short));
            Assert.False(await Store.Catalogue.ExistsAsync(project, instance, ct).Within(Timeouts.Short));
        }

        // The same instance id in another project is another entry.
        var twin = entry with { ProjectId = NewName(), Pool = NewName() };
        await Store.Catalogue.InsertAsync(twin, ct).Within(Timeouts.Short);
        Assert.Equal(entry, await Store.Catalogue.GetAsync(entry.ProjectId, entry.InstanceId, ct).Within(Timeouts.Short));
        Assert.Equal(twin, await Store.Catalogue.GetAsync(twin.ProjectId, twin.InstanceId, ct).Within(Timeouts.Short));
        await Store.Catalogue.DeleteAsync(twin.ProjectId, twin.InstanceId, ct).Within(Timeouts.Short);
        Assert.Equal(entry, await Store.Catalogue.GetAsync(entry.ProjectId, entry.InstanceId, ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task A_catalogue_entry_moves_pool_by_insert_or_update_and_the_pool_counts_follow()
    {
        var ct = CancellationToken.None;
        var (a, b, c) = (NewName(), NewName(), NewName());
        var entry = new CatalogueEntry(NewName(), NewName(), a);
        var neighbour = new CatalogueEntry(entry.ProjectId, NewName(), a);
        await Store.Catalogue.InsertAsync(entry, ct).Within(Timeouts.Short);
        await Store.Catalogue.InsertAsync(neighbour, ct).Within(Timeouts.Short);
        Assert.Equal(2, await Store.Catalogue.CountInPoolAsync(a, ct).Within(Timeouts.Short));

        await Store.Catalogue.InsertAsync(entry with { Pool = b }, ct).Within(Timeouts.Short);
        Assert.Equal(entry with { Pool = b }, await Store.Catalogue.GetAsync(entry.ProjectId, entry.InstanceId, ct).Within(Timeouts.Short));
        Assert.Equal(2, (await EntriesAsync(entry.ProjectId)).Count);
        Assert.Equal((1, 1), (await Store.Catalogue.CountInPoolAsync(a, ct).Within(Timeouts.Short), await Store.Catalogue.CountInPoolAsync(b, ct).Within(Timeouts.Short)));

        Assert.True(await Store.Catalogue.UpdateAsync(entry.ProjectId, entry.InstanceId, c, ct).Within(Timeouts.Short));
        Assert.Equal(entry with { Pool = c }, await Store.Catalogue.GetAsync(entry.ProjectId, entry.InstanceId, ct).Within(Timeouts.Short));
        Assert.Equal(neighbour, await Store.Catalogue.GetAsync(neighbour.ProjectId, neighbour.InstanceId, ct).Within(Timeouts.Short));
        Assert.Equal((1, 0, 1), (
            await Store.Catalogue.CountInPoolAsync(a, ct).Within(Timeouts.Short),
            await Store.Catalogue.CountInPoolAsync(b, ct).Within(Timeouts.Short),
            await Store.Catalogue.CountInPoolAsync(c, ct).Within(Timeouts.Short)));

        // Updating what is not there is refused and writes nothing.
        var missing = NewName();
        Assert.False(await Store.Catalogue.UpdateAsync(entry.ProjectId, missing, c, ct).Within(Timeouts.Short));
        Assert.False(await Store.Catalogue.ExistsAsync(entry.ProjectId, missing, ct).Within(Timeouts.Short));
        Assert.Equal(1, await Store.Catalogue.CountInPoolAsync(c, ct).Within(Timeouts.Short));
        Assert.Equal(0, await Store.Catalogue.CountInPoolAsync(NewName(), ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task The_catalogue_lists_one_project_or_all_in_key_order_paged_by_key()
    {
        var ct = CancellationToken.None;
        var projects = Ordinal([NewName(), NewName(), NewName()]);
        var entries = new List<CatalogueEntry>();
        foreach (var project in projects)
        {
            for (var i = 0; i < 4; i++)
            {
                var entry = new CatalogueEntry(project, NewName(), NewName());
                entries.Add(entry);
                await Store.Catalogue.InsertAsync(entry, ct).Within(Timeouts.Short);
            }
        }

        var ordered = entries.OrderBy(e => e.ProjectId, StringComparer.Ordinal).ThenBy(e => e.InstanceId, StringComparer.Ordinal).ToList();
        static CatalogueKey KeyOf(CatalogueEntry e) => new(e.ProjectId, e.InstanceId);

        Assert.Equal(ordered, await EntriesAsync(null, limit: 0));
        Assert.Equal(ordered, await EntriesAsync(null, limit: -1));
        Assert.Equal(ordered.Take(5), await EntriesAsync(null, limit: 5));
        var ofMiddle = ordered.Where(e => e.ProjectId == projects[1]).ToList();
        Assert.Equal(ofMiddle, await EntriesAsync(projects[1]));
        Assert.Equal(ofMiddle.Take(3), await EntriesAsync(projects[1], limit: 3));
        Assert.Equal(ofMiddle.Skip(2), await EntriesAsync(projects[1], KeyOf(ofMiddle[1])));
        Assert.Empty(await EntriesAsync(projects[1], KeyOf(ofMiddle[^1])));
        Assert.Empty(await EntriesAsync(NewName()));

        // Across all projects, a page carries on into the next project.
        Assert.Equal(ordered.Skip(4).Take(3), await EntriesAsync(null, KeyOf(ordered[3]), 3));
        Assert.Empty(await EntriesAsync(null, KeyOf(ordered[^1])));
        Assert.Equal(ordered, await AllPagesAsync<CatalogueEntry, CatalogueKey>(k => EntriesAsync(null, k, 5), KeyOf, 5, 12));
        Assert.Equal(ofMiddle, await AllPagesAsync<CatalogueEntry, CatalogueKey>(k => EntriesAsync(projects[1], k, 3), KeyOf, 3, 4));
    }

    [Fact]
    public async Task Dropping_the_catalogue_empties_it()
    {
        var ct = CancellationToken.None;
        var pool = NewName();
        var entries = Enumerable.Range(0, 5).Select(i => new CatalogueEntry(NewName(), NewName(), pool)).ToList();
        foreach (var e in entries)
        {
            await Store.Catalogue.InsertAsync(e, ct).Within(Timeouts.Short);
        }

        await Store.Catalogue.DropAllAsync(ct).Within(Timeouts.Short);
        Assert.Empty(await EntriesAsync(null));
        Assert.Empty(await EntriesAsync(entries[0].ProjectId));
        Assert.Null(await Store.Catalogue.GetAsync(entries[0].ProjectId, entries[0].InstanceId, ct).Within(Timeouts.Short));
        Assert.False(await Store.Catalogue.ExistsAsync(entries[1].ProjectId, entries[1].InstanceId, ct).Within(Timeouts.Short));
        Assert.Equal(0, await Store.Catalogue.CountInPoolAsync(pool, ct).Within(Timeouts.Short));

        await Store.Catalogue.InsertAsync(entries[0], ct).Within(Timeouts.Short);
        Assert.Equal([entries[0]], await EntriesAsync(null));
        Assert.Equal(1, await Store.Catalogue.CountInPoolAsync(pool, ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task A_page_marker_that_is_gone_still_pages_on_after_it()
    {
        // A client paging while others delete holds a marker that may no longer exist; the next page carries on after it.
        var ct = CancellationToken.None;
        var pools = new List<string>();
        var flavors = new List<string>();
        var project = NewName();
        var entries = new List<CatalogueEntry>();
        for (var i = 0; i < 6; i++)
        {
            var pool = NewPool();
            var flavor = NewFlavor();
            var entry = new CatalogueEntry(project, NewName(), NewName());
            await Store.Pools.InsertAsync(pool, ct).Within(Timeouts.Short);
            await Store.Flavors.InsertAsync(flavor, ct).Within(Timeouts.Short);
            await Store.Catalogue.InsertAsync(entry, ct).Within(Timeouts.Short);
            pools.Add(pool.Name);
            flavors.Add(flavor.Id);
            entries.Add(entry);
        }

        pools = Ordinal(pools);
        flavors = Ordinal(flavors);
        entries = entries.OrderBy(e => e.InstanceId, StringComparer.Ordinal).ToList();
        Assert.Equal(PoolDeletion.Deleted, await Store.Pools.DeleteAsync(pools[2], ct).Within(Timeouts.Short));
        Assert.True(await Store.Flavors.DeleteAsync(flavors[2], ct).Within(Timeouts.Short));
        await Store.Catalogue.DeleteAsync(project, entries[2].InstanceId, ct).Within(Timeouts.Short);

        Assert.Equal(pools.Skip(3), await PoolNamesAsync(null, marker: pools[2]));
        Assert.Equal(flavors.Skip(3), await FlavorIdsAsync(null, marker: flavors[2]));
        Assert.Equal(entries.Skip(3), await EntriesAsync(project, new CatalogueKey(project, entries[2].InstanceId)));
        Assert.Equal(entries.Skip(3), await EntriesAsync(null, new CatalogueKey(project, entries[2].InstanceId)));
    }

    // ---- The catalogue as the instance store keeps it ----

    [Fact]
    public async Task Creating_an_instance_catalogues_it_in_its_pool_until_it_is_marked_deleted()
    {
        var ct = CancellationToken.None;
        var (pool, other) = (NewName(), NewName());
        var project = NewName();
        var instance = NewInstance(project) with { Pool = pool };
        var second = NewInstance(project) with { Pool = pool };
        var elsewhere = NewInstance(NewName()) with { Pool = other };
        foreach (var i in new[] { instance, second, elsewhere })
        {
            Assert.True(await Store.Instances.InsertWithTaskAsync(i, NewTask(i.Id), null, ct).Within(Timeouts.Short));
        }

        Assert.Equal(new CatalogueEntry(project, instance.Id, pool), await Store.Catalogue.GetAsync(project, instance.Id, ct).Within(Timeouts.Short));
        Assert.True(await Store.Catalogue.ExistsAsync(elsewhere.ProjectId, elsewhere.Id, ct).Within(Timeouts.Short));
        Assert.Equal(Ordinal([instance.Id, second.Id]), (await EntriesAsync(project)).Select(e => e.InstanceId));
        Assert.Equal((2, 1), (await Store.Catalogue.CountInPoolAsync(pool, ct).Within(Timeouts.Short), await Store.Catalogue.CountInPoolAsync(other, ct).Within(Timeouts.Short)));

        // Other changes keep the entry.
        Assert.True(await Store.Instances.UpdateAsync(instance.Id, new InstanceChange { ServiceStatus = "RUNNING", TaskStatus = InstanceTasks.None }, ct).Within(Timeouts.Short));
        Assert.True(await Store.Catalogue.ExistsAsync(project, instance.Id, ct).Within(Timeouts.Short));

        Assert.True(await Store.Instances.UpdateAsync(instance.Id, new InstanceChange { Deleted = true }, ct).Within(Timeouts.Short));
        Assert.Null(await Store.Catalogue.GetAsync(project, instance.Id, ct).Within(Timeouts.Short));
        Assert.Equal([second.Id], (await EntriesAsync(project)).Select(e => e.InstanceId));
        Assert.Equal((1, 1), (await Store.Catalogue.CountInPoolAsync(pool, ct).Within(Timeouts.Short), await Store.Catalogue.CountInPoolAsync(other, ct).Within(Timeouts.Short)));
    }

    [Fact]
    public async Task A_warm_member_adopted_by_a_cluster_is_catalogued_under_the_clusters_project()
    {
        var ct = CancellationToken.None;
        var pool = NewName();
        var warm = NewInstance(string.Empty) with { InstanceType = ClusterMemberTypes.Warm, Pool = pool };
        Assert.True(await Store.Instances.InsertWithTaskAsync(warm, NewTask(warm.Id), null, ct).Within(Timeouts.Short));
        Assert.Equal(new CatalogueEntry(string.Empty, warm.Id, pool), await Store.Catalogue.GetAsync(string.Empty, warm.Id, ct).Within(Timeouts.Short));

        NewMember Adopting(ClusterRecord c) => new(warm with { Name = "c1-member-1", ProjectId = c.ProjectId, ClusterId = c.Id, InstanceType = ClusterMemberTypes.Member }, null);
        var (p1, p2) = (NewName(), NewName());
        var first = NewCluster(p1);
        var second = NewCluster(p2);
        Assert.True(await Store.Clusters.InsertAsync(first, [Adopting(first)], NewTask(first.Id, "cluster.create"), ct).Within(Timeouts.Short));
        Assert.False(await Store.Clusters.InsertAsync(second, [Adopting(second)], NewTask(second.Id, "cluster.create"), ct).Within(Timeouts.Short));

        Assert.Equal(new CatalogueEntry(p1, warm.Id, pool), await Store.Catalogue.GetAsync(p1, warm.Id, ct).Within(Timeouts.Short));
        Assert.False(await Store.Catalogue.ExistsAsync(string.Empty, warm.Id, ct).Within(Timeouts.Short));
        Assert.False(await Store.Catalogue.ExistsAsync(p2, warm.Id, ct).Within(Timeouts.Short));
        Assert.Empty(await EntriesAsync(string.Empty));
        Assert.Equal([warm.Id], (await EntriesAsync(p1)).Select(e => e.InstanceId));
        Assert.Equal(1, await Store.Catalogue.CountInPoolAsync(pool, ct).Within(Timeouts.Short));

        Assert.True(await Store.Instances.UpdateAsync(warm.Id, new InstanceChange { Deleted = true }, ct).Within(Timeouts.Short));
        Assert.False(await Store.Catalogue.ExistsAsync(p1, warm.Id, ct).Within(Timeouts.Short));
        Assert.Equal(0, await Store.Catalogue.CountInPoolAsync(pool, ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task A_full_pool_refuses_a_create_and_nothing_of_it_is_written()
    {
        var ct = CancellationToken.None;
        var (pool, other) = (NewName(), NewName());
        var project = NewName();
        var a = NewInstance(project) with { Pool = pool };
        var b = NewInstance(project) with { Pool = pool };
        Assert.True(await Store.Instances.InsertWithTaskAsync(a, NewTask(a.Id), 2, ct).Within(Timeouts.Short));
        Assert.True(await Store.Instances.InsertWithTaskAsync(b, NewTask(b.Id), 2, ct).Within(Timeouts.Short));

        var c = NewInstance(project) with { Pool = pool };
        var cTask = NewTask(c.Id);
        Assert.False(await Store.Instances.InsertWithTaskAsync(c, cTask, 2, ct).Within(Timeouts.Short));
        Assert.Null(await Store.Instances.GetAsync(c.Id, ct).Within(Timeouts.Short));
        Assert.Null(await Store.Tasks.GetAsync(cTask.Id, ct).Within(Timeouts.Short));
        Assert.DoesNotContain(await Store.Tasks.ListUnfinishedAsync(ct).Within(Timeouts.Short), t => t.InstanceId == c.Id);
        Assert.Null(await Store.Catalogue.GetAsync(project, c.Id, ct).Within(Timeouts.Short));
        Assert.Equal(2, await Store.Catalogue.CountInPoolAsync(pool, ct).Within(Timeouts.Short));
        Assert.Equal(2, await Store.Instances.CountAsync(project, ct).Within(Timeouts.Short));
        Assert.DoesNotContain(await Store.Instances.ListAsync(project, null, 10, includeClustered: true, ct).Within(Timeouts.Short), i => i.Id == c.Id);

        // The capacity is the pool's: another pool takes it.
        var d = NewInstance(project) with { Pool = other };
        Assert.True(await Store.Instances.InsertWithTaskAsync(d, NewTask(d.Id), 2, ct).Within(Timeouts.Short));

        // A deleted instance frees its place, and the refused create can be made again.
        Assert.True(await Store.Instances.UpdateAsync(a.Id, new InstanceChange { Deleted = true }, ct).Within(Timeouts.Short));
        Assert.True(await Store.Instances.InsertWithTaskAsync(c, cTask, 2, ct).Within(Timeouts.Short));
        Assert.Equal(c.Id, (await Store.Instances.GetAsync(c.Id, ct).Within(Timeouts.Short))?.Id);
        Assert.Equal(cTask.Id, (await Store.Tasks.GetAsync(cTask.Id, ct).Within(Timeouts.Short))?.Id);
        Assert.Equal(2, await Store.Catalogue.CountInPoolAsync(pool, ct).Within(Timeouts.Short));

        // Without a capacity nothing is checked.
        var e = NewInstance(project) with { Pool = pool };
        Assert.True(await Store.Instances.InsertWithTaskAsync(e, NewTask(e.Id), null, ct).Within(Timeouts.Short));
        Assert.Equal(3, await Store.Catalogue.CountInPoolAsync(pool, ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task A_catalogue_entry_alone_takes_a_place_in_its_pool()
    {
        var ct = CancellationToken.None;
        var pool = NewName();
        await Store.Catalogue.InsertAsync(new CatalogueEntry(NewName(), NewName(), pool), ct).Within(Timeouts.Short);
        var instance = NewInstance(NewName()) with { Pool = pool };
        Assert.False(await Store.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), 1, ct).Within(Timeouts.Short));
        Assert.Null(await Store.Instances.GetAsync(instance.Id, ct).Within(Timeouts.Short));
        Assert.True(await Store.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), 2, ct).Within(Timeouts.Short));
        Assert.Equal(2, await Store.Catalogue.CountInPoolAsync(pool, ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task Concurrent_creates_never_fill_a_pool_past_its_capacity()
    {
        var ct = CancellationToken.None;
        var pool = NewName();
        var project = NewName();
        var instances = Enumerable.Range(0, 20).Select(_ => NewInstance(project) with { Pool = pool }).ToList();
        var outcomes = await Task.WhenAll(instances.Select(i => Task.Run(() => Store.Instances.InsertWithTaskAsync(i, NewTask(i.Id), 3, ct)))).Within(Timeouts.Settle);

        Assert.Equal(3, outcomes.Count(won => won));
        var winners = instances.Where((_, n) => outcomes[n]).Select(i => i.Id).ToList();
        Assert.Equal(3, await Store.Catalogue.CountInPoolAsync(pool, ct).Within(Timeouts.Short));
        Assert.Equal(Ordinal(winners), (await EntriesAsync(project)).Select(e => e.InstanceId));
        Assert.Equal(3, await Store.Instances.CountAsync(project, ct).Within(Timeouts.Short));
        Assert.Equal(Ordinal(winners), Ordinal((await Store.Instances.ListAsync(project, null, 50, includeClustered: true, ct).Within(Timeouts.Short)).Select(i => i.Id)));
        Assert.Equal(3, (await Store.Tasks.ListUnfinishedAsync(ct).Within(Timeouts.Short)).Count(t => instances.Any(i => i.Id == t.InstanceId)));
    }
}
