using System.Globalization;
using Hoard.Abstractions.Storage;
using Hoard.Testing;
using StackExchange.Redis;
using Xunit;

namespace Hoard.Storage.Redis.Tests;

/// <summary>What the Redis backend promises beyond the shared contract: its key layout, paging cost and atomic claims.</summary>
[Collection(RedisServerCollection.Name)]
public sealed class RedisStoreTests(RedisTestServer server)
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);

    private static InstanceRecord NewInstance(string project, string? id = null) => new()
    {
        Id = id ?? Guid.NewGuid().ToString(),
        Name = "db",
        ProjectId = project,
        FlavorId = "1",
        DatastoreVersionId = "v1",
        TaskStatus = InstanceTasks.Building,
        ServiceStatus = "NEW",
        ServerStatus = ServerStatuses.Build,
        Pool = "default",
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

    private async Task<(IManagementStore Store, IDatabase Db)> OpenAsync(string? prefix = null)
    {
        var database = await server.FreshDatabaseAsync();
        var store = new RedisStorePlugin().Open(server.ConnectionString(database, prefix));
        await store.MigrateAsync(Ct).Within(Timeouts.Short);
        return (store, server.Admin.GetDatabase(database));
    }

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

    [Fact]
    public async Task Migrate_writes_the_layout_version_and_refuses_a_newer_one()
    {
        var (store, db) = await OpenAsync();
        await using (store)
        {
            Assert.Equal("1", (string?)await db.StringGetAsync("hoard:schema"));
            await store.MigrateAsync(Ct).Within(Timeouts.Short);
            Assert.Equal("1", (string?)await db.StringGetAsync("hoard:schema"));

            await db.StringSetAsync("hoard:schema", "2");
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => store.MigrateAsync(Ct).Within(Timeouts.Short));
            Assert.Contains("layout version 2, newer than this Hoard's 1", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Every_key_is_under_the_prefix_and_ids_cannot_reach_into_other_kinds()
    {
        var (store, db) = await OpenAsync(prefix: "t:");
        await using (store)
        {
            // Ids and names made of the separators: escaped, they stay inside their own kind's keys.
            Assert.True(await store.Identity.InsertProjectAsync(new ProjectRecord("p:1", "alpha", "default", "", true), Ct));
            Assert.True(await store.Identity.InsertProjectAsync(new ProjectRecord("p%3A1", "beta", "default", "", true), Ct));
            Assert.Equal("alpha", (await store.Identity.GetProjectAsync("p:1", Ct))!.Name);
            Assert.Equal("beta", (await store.Identity.GetProjectAsync("p%3A1", Ct))!.Name);
            await store.Identity.InsertUserAsync(new UserRecord("u1", "ann", "default", null, "h", true), Ct);
            await store.Identity.InsertRoleAsync(new RoleRecord("r1", "member"), Ct);
            await store.Identity.AssignRoleAsync(new RoleAssignment("p:1", "u1", "r1"), Ct);
            Assert.Equal(new RoleAssignment("p:1", "u1", "r1"), Assert.Single(await store.Identity.ListAssignmentsAsync("p:1", null, Ct)));
            await store.Identity.InsertTokenAsync(new TokenRecord("tok", "u1", "p:1", T0, T0.AddHours(1)), Ct);
            await store.Flavors.InsertAsync(new FlavorRecord("1", "small", 1, 1, 1), Ct);
            await store.Datastores.UpsertDatastoreAsync(new DatastoreRecord("d1", "redis", null), Ct);
            await store.Datastores.UpsertDatastoreVersionAsync(new DatastoreVersionRecord("v1", "d1", "7.0", "7.0.15", true), Ct);

            // An instance whose id looks like an index key of another kind.
            var sneaky = NewInstance("p:1", id: "idx:instances");
            await store.Instances.InsertWithTaskAsync(sneaky, NewTask(sneaky.Id), null, Ct);
            var plain = NewInstance("p:1");
            await store.Instances.InsertWithTaskAsync(plain, NewTask(plain.Id), null, Ct);
            Assert.True(await store.Instances.TryAssignAddressAsync(plain.Id, "default", "127.1.2.3", 6379, Ct));
            Assert.Equal([sneaky.Id, plain.Id], (await store.Instances.ListAsync(null, null, 10, includeClustered: true, Ct)).Select(i => i.Id));
            Assert.Equal(2, await store.Instances.CountAsync("p:1", Ct));

            var keys = await AllKeysAsync(db);
            Assert.NotEmpty(keys);
            Assert.All(keys, key => Assert.StartsWith("t:", key, StringComparison.Ordinal));
            Assert.Contains("t:schema", keys);
            Assert.All(keys.Where(k => k != "t:schema"), key => Assert.StartsWith("t:v1:", key, StringComparison.Ordinal));
            Assert.Contains("t:v1:project:p%3A1", keys);
            Assert.Contains("t:v1:project:p%253A1", keys);
            Assert.Contains("t:v1:instance:idx%3Ainstances", keys);

            // Deleting the project takes its role assignments and tokens with it, as SQL's cascade does.
            Assert.True(await store.Identity.DeleteProjectAsync("p:1", Ct));
            Assert.Empty(await store.Identity.ListAssignmentsAsync(null, null, Ct));
            Assert.Null(await store.Identity.GetTokenAsync("tok", Ct));
        }
    }

    [Fact]
    public async Task A_page_costs_the_same_few_round_trips_wherever_it_starts()
    {
        var database = await server.FreshDatabaseAsync();
        await using (var loader = new RedisStorePlugin().Open(server.ConnectionString(database)))
        {
            await loader.MigrateAsync(Ct).Within(Timeouts.Short);
            await Task.WhenAll(Enumerable.Range(0, 1000).Select(async i =>
            {
                var instance = NewInstance("p1", id: i.ToString("D4", CultureInfo.InvariantCulture));
                await loader.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), null, Ct);
            })).Within(Timeouts.Settle);
        }

        await using var proxy = new TurnCountingProxy(server.Address, RedisTestServer.Port);
        await using var store = new RedisStorePlugin().Open(server.ConnectionString(database, host: "127.0.0.1", port: proxy.Port));
        await store.MigrateAsync(Ct).Within(Timeouts.Short);
        var all = await store.Instances.ListAsync("p1", null, -1, includeClustered: false, Ct).Within(Timeouts.Short);
        Assert.Equal(1000, all.Count);

        async Task<(int Turns, Dictionary<string, long> Commands, IReadOnlyList<InstanceRecord> Page)> MeasureAsync(string? marker, int limit)
        {
            await server.Admin.GetDatabase(database).ExecuteAsync("CONFIG", "RESETSTAT");
            var before = proxy.Turns;
            var page = await store.Instances.ListAsync("p1", marker, limit, includeClustered: false, Ct).Within(Timeouts.Short);
            var turns = proxy.Turns - before;
            var info = (string?)await server.Admin.GetDatabase(database).ExecuteAsync("INFO", "commandstats");

            // The admin connection's own INFO, CONFIG and SELECT are not the store's.
            var commands = info!.Split('\n')
                .Where(l => l.StartsWith("cmdstat_", StringComparison.Ordinal))
                .Select(l => (Name: l["cmdstat_".Length..l.IndexOf(':', StringComparison.Ordinal)], Calls: long.Parse(l.Split("calls=")[1].Split(',')[0], CultureInfo.InvariantCulture)))
                .Where(c => c.Name is not ("info" or "config|resetstat" or "config" or "select"))
                .ToDictionary(c => c.Name, c => c.Calls);
            return (turns, commands, page);
        }

        var first = await MeasureAsync(null, 100);
        var middle = await MeasureAsync(all[499].Id, 100);
        var last = await MeasureAsync(all[949].Id, 100);
        Assert.Equal(all.Take(100).Select(i => i.Id), first.Page.Select(i => i.Id));
        Assert.Equal(all.Skip(500).Take(100).Select(i => i.Id), middle.Page.Select(i => i.Id));
        Assert.Equal(all.Skip(950).Select(i => i.Id), last.Page.Select(i => i.Id));

        // Sequential reads would be a turn per instance (100+); a page is the marker, the range and one batch. The
        // batch's writes may be split while its first replies already come back, which the proxy counts as more turns,
        // so the bound is loose: a small constant, far below one per instance.
        Assert.InRange(first.Turns, 1, 12);
        Assert.InRange(middle.Turns, 1, 12);
        Assert.InRange(last.Turns, 1, 12);

        // Server side: one HGETALL per instance on the page plus the range (and the marker lookup), nothing per skipped one.
        Assert.Equal(new Dictionary<string, long> { ["zrangebyscore"] = 1, ["hgetall"] = 100 }, first.Commands);
        Assert.Equal(new Dictionary<string, long> { ["hget"] = 1, ["zrangebyscore"] = 1, ["hgetall"] = 100 }, middle.Commands);
        Assert.Equal(new Dictionary<string, long> { ["hget"] = 1, ["zrangebyscore"] = 1, ["hgetall"] = 50 }, last.Commands);
    }

    [Fact]
    public async Task Of_ten_concurrent_claims_on_a_task_exactly_one_wins()
    {
        var database = await server.FreshDatabaseAsync();
        var stores = new List<IManagementStore>();
        try
        {
            for (var i = 0; i < 10; i++)
            {
                stores.Add(new RedisStorePlugin().Open(server.ConnectionString(database)));
            }

            await stores[0].MigrateAsync(Ct).Within(Timeouts.Short);
            var instance = NewInstance("p1");
            var task = NewTask(instance.Id);
            await stores[0].Instances.InsertWithTaskAsync(instance, task, null, Ct).Within(Timeouts.Short);

            using var go = new ManualResetEventSlim();
            var claims = stores.Select((s, i) => Task.Run(async () =>
            {
                go.Wait(Timeouts.Short);
                return await s.Tasks.TryClaimAsync(task.Id, null, null, $"owner-{i}", T0.AddMinutes(1), Ct);
            })).ToList();
            go.Set();
            var won = await Task.WhenAll(claims).Within(Timeouts.Short);

            Assert.Single(won, w => w);
            var claimed = (await stores[0].Tasks.GetAsync(task.Id, Ct))!;
            Assert.Equal(($"owner-{Array.IndexOf(won, true)}", 1, TaskStates.Running), (claimed.LeaseOwner, claimed.Attempts, claimed.State));
        }
        finally
        {
            foreach (var s in stores)
            {
                await s.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task An_acl_user_connects_with_user_and_password()
    {
        var database = await server.FreshDatabaseAsync();
        var password = "s3cr:t@" + Guid.NewGuid().ToString("N")[..6];
        await server.Admin.GetDatabase(database).ExecuteAsync("ACL", "SETUSER", "hoard-store", "reset", "on", ">" + password, "~*", "+@all");
        var uri = new Uri($"redis://hoard-store:{Uri.EscapeDataString(password)}@{server.Address}:{RedisTestServer.Port}/{database}");
        await using var store = new RedisStorePlugin().Open(uri);
        await store.MigrateAsync(Ct).Within(Timeouts.Short);
        Assert.True(await store.Identity.InsertRoleAsync(new RoleRecord("r1", "admin"), Ct).Within(Timeouts.Short));
        var clients = (string?)await server.Admin.GetDatabase(database).ExecuteAsync("CLIENT", "LIST");
        Assert.Contains("user=hoard-store", clients, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("redis://:pw@host:7000/3", null, "pw", 7000, 3, "hoard:")]
    [InlineData("redis://app:p%40ss@host/0?prefix=x%3A", "app", "p@ss", 6379, 0, "x:")]
    [InlineData("redis://host", null, null, 6379, null, "hoard:")]
    public void Connection_strings_give_user_password_database_and_prefix(string uri, string? user, string? password, int port, int? database, string root)
    {
        var (options, parsedRoot) = RedisStorePlugin.Parse(new Uri(uri));
        Assert.Equal((user, password, database, root), (options.User, options.Password, options.DefaultDatabase, parsedRoot));
        Assert.Equal(port, ((System.Net.DnsEndPoint)Assert.Single(options.EndPoints)).Port);
    }

    [Fact]
    public void A_database_path_that_is_not_a_number_is_refused_without_echoing_the_password()
    {
        var e = Assert.Throws<ArgumentException>(() => RedisStorePlugin.Parse(new Uri("redis://:hunter2@host/abc")));
        Assert.DoesNotContain("hunter2", e.Message, StringComparison.Ordinal);
    }
}
