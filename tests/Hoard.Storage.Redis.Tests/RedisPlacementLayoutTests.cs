using System.Globalization;
using Hoard.Abstractions.Storage;
using Hoard.Testing;
using StackExchange.Redis;
using Xunit;

namespace Hoard.Storage.Redis.Tests;

/// <summary>
/// Flavors, pools and the catalogue on Redis: the seed's key layout read back raw, what Zaqar's Redis store got wrong
/// (name collisions, drop_all missing keys, checks racing writes), and paging cost independent of a flavor's size.
/// </summary>
[Collection(RedisServerCollection.Name)]
public sealed class RedisPlacementLayoutTests(RedisTestServer server)
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);

    private static readonly string[] PlacementKinds =
    [
        "pool", "pools", "flavor-pools", "flavorless-pools", "flavor", "flavors", "project-flavors",
        "catalogue", "project-catalogue", "pool-catalogue",
    ];

    private static InstanceRecord NewInstance(string project, string pool, string? id = null) => new()
    {
        Id = id ?? Guid.NewGuid().ToString(),
        Name = "db",
        ProjectId = project,
        FlavorId = "1",
        DatastoreVersionId = "v1",
        TaskStatus = InstanceTasks.Building,
        ServiceStatus = "NEW",
        ServerStatus = ServerStatuses.Build,
        Pool = pool,
        SecretHash = "hash",
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    private static TaskRecord NewTask(string instanceId) => new()
    {
        Id = Guid.NewGuid().ToString(),
        Kind = "instance.create",
        InstanceId = instanceId,
        State = TaskStates.Pending,
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    private async Task<(IManagementStore Store, IDatabase Db, int Database)> OpenAsync(string? prefix = null, int? database = null)
    {
        var number = database ?? await server.FreshDatabaseAsync();
        var store = new RedisStorePlugin().Open(server.ConnectionString(number, prefix));
        await store.MigrateAsync(Ct).Within(Timeouts.Short);
        return (store, server.Admin.GetDatabase(number), number);
    }

    private static async Task<Dictionary<string, string>> HashAsync(IDatabase db, string key) =>
        (await db.HashGetAllAsync(key).Within(Timeouts.Short)).ToDictionary(e => e.Name.ToString(), e => e.Value.ToString(), StringComparer.Ordinal);

    private static async Task<string[]> MembersAsync(IDatabase db, string key) =>
        [.. (await db.SortedSetRangeByRankAsync(key).Within(Timeouts.Short)).Select(m => m.ToString())];

    private static async Task<List<string>> AllKeysAsync(IDatabase db)
    {
        var keys = new List<string>();
        var cursor = "0";
        do
        {
            var reply = (RedisResult[])(await db.ExecuteAsync("SCAN", cursor, "COUNT", "1000").Within(Timeouts.Short))!;
            cursor = reply[0].ToString();
            keys.AddRange(((RedisResult[])reply[1]!).Select(k => k.ToString()));
        }
        while (cursor != "0");
        return keys;
    }

    /// <summary>The kind of a key of the store, its first segment after the versioned prefix.</summary>
    private static string KindOf(string key, string prefix) => key[prefix.Length..].Split(':')[0];

    [Fact]
    public async Task Pools_flavors_and_catalogue_entries_are_the_seeds_hashes_and_sorted_sets()
    {
        var (store, db, _) = await OpenAsync();
        await using (store)
        {
            const string pool = "пул:金-☃-😀";
            const string escapedPool = "пул%3A金-☃-😀";
            await store.Flavors.InsertAsync(new FlavorRecord("f1", "Größe ☃", 2048, 2, 20) { ProjectId = "p1", Capabilities = """{"durable":true}""" }, Ct);
            await store.Pools.InsertAsync(new PoolRecord(pool, "local:///srv/gold", 100) { Flavor = "f1", Options = """{"capacity":20}""" }, Ct);
            await store.Pools.InsertAsync(new PoolRecord("spare", "local:///srv/spare", 5), Ct);
            var instance = NewInstance("p1", pool, id: "i1");
            Assert.True(await store.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), null, Ct).Within(Timeouts.Short));

            Assert.Equal(
                new Dictionary<string, string> { ["p"] = pool, ["u"] = "local:///srv/gold", ["w"] = "100", ["o"] = """{"capacity":20}""", ["f"] = "f1" },
                await HashAsync(db, "hoard:v1:pool:" + escapedPool));
            Assert.Equal(
                new Dictionary<string, string> { ["p"] = "spare", ["u"] = "local:///srv/spare", ["w"] = "5", ["o"] = "{}" },
                await HashAsync(db, "hoard:v1:pool:spare"));
            Assert.Equal(["hoard:v1:pool:spare", "hoard:v1:pool:" + escapedPool], await MembersAsync(db, "hoard:v1:pools"));
            Assert.Equal(["hoard:v1:pool:" + escapedPool], await MembersAsync(db, "hoard:v1:flavor-pools:f1"));
            Assert.Equal(["hoard:v1:pool:spare"], await MembersAsync(db, "hoard:v1:flavorless-pools"));

            Assert.Equal(
                new Dictionary<string, string>
                {
                    ["id"] = "f1", ["f"] = "Größe ☃", ["p"] = "p1", ["c"] = """{"durable":true}""", ["ram"] = "2048", ["vcpus"] = "2", ["disk"] = "20",
                },
                await HashAsync(db, "hoard:v1:flavor:f1"));
            Assert.Equal(["hoard:v1:flavor:f1"], await MembersAsync(db, "hoard:v1:flavors"));
            Assert.Equal(["hoard:v1:flavor:f1"], await MembersAsync(db, "hoard:v1:project-flavors:p1"));

            Assert.Equal(
                new Dictionary<string, string> { ["p"] = "p1", ["p_q"] = "i1", ["p_p"] = pool },
                await HashAsync(db, "hoard:v1:catalogue:p1:i1"));
            Assert.Equal(["hoard:v1:catalogue:p1:i1"], await MembersAsync(db, "hoard:v1:catalogue"));
            Assert.Equal(["hoard:v1:catalogue:p1:i1"], await MembersAsync(db, "hoard:v1:project-catalogue:p1"));
            Assert.Equal(["hoard:v1:catalogue:p1:i1"], await MembersAsync(db, "hoard:v1:pool-catalogue:" + escapedPool));

            // Strings come back as strings, unicode intact.
            Assert.Equal(pool, (await store.Pools.GetAsync(pool, Ct))!.Name);
            Assert.Equal("Größe ☃", (await store.Flavors.GetAsync("f1", Ct))!.Name);
            Assert.Equal(new CatalogueEntry("p1", "i1", pool), await store.Catalogue.GetAsync("p1", "i1", Ct));

            // A private flavor made public leaves its project's index; a pool moved off its flavor changes index.
            Assert.True(await store.Flavors.UpdateAsync("f1", new FlavorChange { ProjectId = string.Empty }, Ct));
            Assert.Empty(await MembersAsync(db, "hoard:v1:project-flavors:p1"));
            Assert.False((await HashAsync(db, "hoard:v1:flavor:f1")).ContainsKey("p"));
            Assert.True(await store.Pools.UpdateAsync(pool, new PoolChange { Flavor = string.Empty }, Ct));
            Assert.Empty(await MembersAsync(db, "hoard:v1:flavor-pools:f1"));
            Assert.Equal(["hoard:v1:pool:spare", "hoard:v1:pool:" + escapedPool], await MembersAsync(db, "hoard:v1:flavorless-pools"));

            // Marking the instance deleted removes its entry and every index mention of it in the same script.
            Assert.True(await store.Instances.UpdateAsync(instance.Id, new InstanceChange { Deleted = true }, Ct));
            Assert.Empty(await HashAsync(db, "hoard:v1:catalogue:p1:i1"));
            Assert.Empty(await MembersAsync(db, "hoard:v1:catalogue"));
            Assert.Empty(await MembersAsync(db, "hoard:v1:project-catalogue:p1"));
            Assert.Empty(await MembersAsync(db, "hoard:v1:pool-catalogue:" + escapedPool));
        }
    }

    [Fact]
    public async Task A_pool_and_a_flavor_of_the_same_name_do_not_collide()
    {
        var (store, db, _) = await OpenAsync();
        await using (store)
        {
            // In Zaqar's layout flavor gold's pool index ("gold.pools") is the hash key of a pool named "gold".
            await store.Flavors.InsertAsync(new FlavorRecord("gold", "gold", 1, 1, 1), Ct);
            await store.Pools.InsertAsync(new PoolRecord("gold", "local:///a", 1) { Flavor = "gold" }, Ct);
            await store.Pools.InsertAsync(new PoolRecord("gold.pools", "local:///b", 2) { Flavor = "gold" }, Ct);

            Assert.Equal("gold", (await store.Flavors.GetAsync("gold", Ct))!.Name);
            Assert.Equal(["gold", "gold.pools"], (await store.Pools.ListAsync("gold", null, 0, Ct)).Select(p => p.Name));
            Assert.Equal("local:///b", (await store.Pools.GetAsync("gold.pools", Ct))!.Uri);
            Assert.Equal(2, (await AllKeysAsync(db)).Count(k => k.StartsWith("hoard:v1:pool:", StringComparison.Ordinal)));

            // Deleting the flavor leaves both pools, now flavorless; deleting a pool leaves the flavor's record alone.
            Assert.True(await store.Flavors.DeleteAsync("gold", Ct));
            Assert.Equal(["gold", "gold.pools"], (await store.Pools.ListAsync(string.Empty, null, 0, Ct)).Select(p => p.Name));
            Assert.All(await store.Pools.ListAsync(null, null, 0, Ct), p => Assert.Null(p.Flavor));
            await store.Flavors.InsertAsync(new FlavorRecord("gold", "gold", 1, 1, 1), Ct);
            Assert.Equal(PoolDeletion.Deleted, await store.Pools.DeleteAsync("gold", Ct));
            Assert.True(await store.Flavors.ExistsAsync("gold", Ct));
            Assert.False(await store.Pools.ExistsAsync("gold", Ct));
        }
    }

    [Fact]
    public async Task Drop_all_leaves_no_placement_key_but_keeps_instances_and_other_prefixes()
    {
        // A prefix with glob characters: unescaped, its SCAN pattern would also match the "t1:" store's keys.
        const string prefix = "t[1]*:";
        var (store, db, database) = await OpenAsync(prefix);
        var (neighbour, _, _) = await OpenAsync("t1:", database);
        await using (store)
        await using (neighbour)
        {
            foreach (var s in new[] { store, neighbour })
            {
                for (var i = 0; i < 30; i++)
                {
                    var flavor = "f" + (i % 3).ToString(CultureInfo.InvariantCulture);
                    await s.Flavors.InsertAsync(new FlavorRecord(flavor, flavor, 1, 1, 1) { ProjectId = i % 2 == 0 ? "p" + i.ToString(CultureInfo.InvariantCulture) : null }, Ct);
                    var pool = "pool" + i.ToString(CultureInfo.InvariantCulture);
                    await s.Pools.InsertAsync(new PoolRecord(pool, "local:///x", 1) { Flavor = i % 4 == 0 ? null : flavor }, Ct);
                    var instance = NewInstance("p" + (i % 5).ToString(CultureInfo.InvariantCulture), pool, id: "i" + i.ToString(CultureInfo.InvariantCulture));
                    Assert.True(await s.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), null, Ct).Within(Timeouts.Short));
                }
            }

            // Flavors first: the pools stay, with no flavor.
            await store.Flavors.DropAllAsync(Ct).Within(Timeouts.Short);
            Assert.Empty(await store.Flavors.ListAsync(null, null, 0, Ct));
            Assert.Equal(30, (await store.Pools.ListAsync(string.Empty, null, 0, Ct)).Count);
            Assert.All(await store.Pools.ListAsync(null, null, 0, Ct), p => Assert.Null(p.Flavor));

            await store.Pools.DropAllAsync(Ct).Within(Timeouts.Short);
            Assert.Empty(await store.Pools.ListAsync(null, null, 0, Ct));
            Assert.Equal(30, (await store.Catalogue.ListAsync(null, null, 0, Ct)).Count);

            await store.Catalogue.DropAllAsync(Ct).Within(Timeouts.Short);
            Assert.Empty(await store.Catalogue.ListAsync(null, null, 0, Ct));
            Assert.Equal(0, await store.Catalogue.CountInPoolAsync("pool1", Ct));

            var keys = await AllKeysAsync(db);
            var mine = keys.Where(k => k.StartsWith(prefix + "v1:", StringComparison.Ordinal)).ToList();
            Assert.DoesNotContain(mine, k => PlacementKinds.Contains(KindOf(k, prefix + "v1:")));
            Assert.Contains(prefix + "v1:instance:i7", mine);
            Assert.Equal(30, await store.Instances.CountAsync(null, Ct));
            Assert.NotNull(await store.Instances.GetAsync("i7", Ct));

            // The neighbour's placement data is untouched.
            Assert.Equal(3, (await neighbour.Flavors.ListAsync(null, null, 0, Ct)).Count);
            Assert.Equal(30, (await neighbour.Pools.ListAsync(null, null, 0, Ct)).Count);
            Assert.Equal(30, (await neighbour.Catalogue.ListAsync(null, null, 0, Ct)).Count);
            Assert.Equal("f1", (await neighbour.Pools.GetAsync("pool1", Ct))!.Flavor);
        }
    }

    [Fact]
    public async Task A_pool_page_and_pool_writes_cost_the_same_whatever_the_flavors_size()
    {
        var database = await server.FreshDatabaseAsync();
        await using (var loader = new RedisStorePlugin().Open(server.ConnectionString(database)))
        {
            await loader.MigrateAsync(Ct).Within(Timeouts.Short);
            await loader.Flavors.InsertAsync(new FlavorRecord("small", "small", 1, 1, 1), Ct);
            await loader.Flavors.InsertAsync(new FlavorRecord("big", "big", 1, 1, 1), Ct);
            await Task.WhenAll(Enumerable.Range(0, 2000).Select(i =>
            {
                var flavor = i < 10 ? "small" : "big";
                return loader.Pools.InsertAsync(new PoolRecord($"{flavor}-{i:D4}", "local:///x", 1) { Flavor = flavor }, Ct);
            })).Within(Timeouts.Settle);
        }

        await using var proxy = new TurnCountingProxy(server.Address, RedisTestServer.Port);
        await using var store = new RedisStorePlugin().Open(server.ConnectionString(database, host: "127.0.0.1", port: proxy.Port));
        await store.MigrateAsync(Ct).Within(Timeouts.Short);
        var admin = server.Admin.GetDatabase(database);

        async Task<(int Turns, Dictionary<string, long> Commands)> MeasureAsync(Func<Task> operation)
        {
            await admin.ExecuteAsync("CONFIG", "RESETSTAT");
            var before = proxy.Turns;
            await operation().Within(Timeouts.Short);
            var turns = proxy.Turns - before;
            var info = (string?)await admin.ExecuteAsync("INFO", "commandstats");

            // The admin connection's own INFO, CONFIG and SELECT are not the store's; how a script is sent (EVAL, or
            // EVALSHA once the client knows the server has it) is not what it costs, the commands it runs are.
            var commands = info!.Split('\n')
                .Where(l => l.StartsWith("cmdstat_", StringComparison.Ordinal))
                .Select(l => (Name: l["cmdstat_".Length..l.IndexOf(':', StringComparison.Ordinal)], Calls: long.Parse(l.Split("calls=")[1].Split(',')[0], CultureInfo.InvariantCulture)))
                .Where(c => c.Name is not ("info" or "config|resetstat" or "config" or "select"))
                .Where(c => !c.Name.StartsWith("eval", StringComparison.Ordinal) && !c.Name.StartsWith("script", StringComparison.Ordinal))
                .ToDictionary(c => c.Name, c => c.Calls);
            return (turns, commands);
        }

        IReadOnlyList<PoolRecord> smallPage = [], bigPage = [];
        var small = await MeasureAsync(async () => smallPage = await store.Pools.ListAsync("small", "small-0002", 5, Ct));
        var big = await MeasureAsync(async () => bigPage = await store.Pools.ListAsync("big", "big-1000", 5, Ct));
        Assert.Equal(["small-0003", "small-0004", "small-0005", "small-0006", "small-0007"], smallPage.Select(p => p.Name));
        Assert.Equal(["big-1001", "big-1002", "big-1003", "big-1004", "big-1005"], bigPage.Select(p => p.Name));

        // One range over the flavor's own index and one HGETALL per pool on the page, nothing per pool skipped.
        Assert.Equal(small.Commands, big.Commands);
        Assert.Equal(5, big.Commands["hgetall"]);
        Assert.Equal(1, big.Commands.Where(c => c.Key.StartsWith("zrange", StringComparison.Ordinal)).Sum(c => c.Value));
        Assert.InRange(small.Turns, 1, 6);
        Assert.InRange(big.Turns, 1, 6);

        // Moving a pool between flavors and deleting one: the same commands inside the scripts for either flavor.
        var moveSmall = await MeasureAsync(() => store.Pools.UpdateAsync("small-0009", new PoolChange { Flavor = "big" }, Ct));
        var moveBig = await MeasureAsync(() => store.Pools.UpdateAsync("big-1999", new PoolChange { Flavor = "small" }, Ct));
        Assert.Equal(moveSmall.Commands, moveBig.Commands);
        var deleteSmall = await MeasureAsync(async () => Assert.Equal(PoolDeletion.Deleted, await store.Pools.DeleteAsync("small-0008", Ct)));
        var deleteBig = await MeasureAsync(async () => Assert.Equal(PoolDeletion.Deleted, await store.Pools.DeleteAsync("big-1998", Ct)));
        Assert.Equal(deleteSmall.Commands, deleteBig.Commands);
        Assert.Equal(1989, (await store.Pools.ListAsync("big", null, 0, Ct)).Count);
    }

    [Fact]
    public async Task Of_twenty_concurrent_creates_into_a_pool_of_capacity_three_exactly_three_win()
    {
        var database = await server.FreshDatabaseAsync();
        var stores = new List<IManagementStore>();
        try
        {
            for (var i = 0; i < 20; i++)
            {
                stores.Add(new RedisStorePlugin().Open(server.ConnectionString(database)));
            }

            await stores[0].MigrateAsync(Ct).Within(Timeouts.Short);
            await stores[0].Pools.InsertAsync(new PoolRecord("tight", "local:///t", 1) { Options = """{"capacity":3}""" }, Ct);
            var attempts = stores.Select(_ => NewInstance("p1", "tight")).ToList();

            using var go = new ManualResetEventSlim();
            var creates = stores.Select((s, i) => Task.Run(async () =>
            {
                go.Wait(Timeouts.Short);
                return await s.Instances.InsertWithTaskAsync(attempts[i], NewTask(attempts[i].Id), 3, Ct);
            })).ToList();
            go.Set();
            var won = await Task.WhenAll(creates).Within(Timeouts.Short);

            Assert.Equal(3, won.Count(w => w));
            Assert.Equal(3, await stores[0].Catalogue.CountInPoolAsync("tight", Ct));
            var winners = attempts.Where((_, i) => won[i]).Select(a => a.Id).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(winners, (await stores[0].Instances.ListAsync("p1", null, -1, includeClustered: true, Ct)).Select(i => i.Id).Order(StringComparer.Ordinal));
            Assert.Equal(winners, (await stores[0].Catalogue.ListAsync("p1", null, 0, Ct)).Select(e => e.InstanceId));

            // The pool refuses to go while it hosts them; once one is deleted, a create fits again.
            Assert.Equal(PoolDeletion.HostsInstances, await stores[0].Pools.DeleteAsync("tight", Ct));
            Assert.True(await stores[0].Instances.UpdateAsync(winners[0], new InstanceChange { Deleted = true }, Ct));
            var late = NewInstance("p1", "tight");
            Assert.True(await stores[0].Instances.InsertWithTaskAsync(late, NewTask(late.Id), 3, Ct).Within(Timeouts.Short));
            var refused = NewInstance("p1", "tight");
            var refusedTask = NewTask(refused.Id);
            Assert.False(await stores[0].Instances.InsertWithTaskAsync(refused, refusedTask, 3, Ct).Within(Timeouts.Short));
            Assert.Null(await stores[0].Instances.GetAsync(refused.Id, Ct));
            Assert.Null(await stores[0].Tasks.GetAsync(refusedTask.Id, Ct));
            Assert.False(await stores[0].Catalogue.ExistsAsync("p1", refused.Id, Ct));
        }
        finally
        {
            foreach (var s in stores)
            {
                await s.DisposeAsync();
            }
        }
    }
}
