using System.Collections.Concurrent;
using System.Globalization;
using Hoard.Abstractions.Clusters;
using Hoard.Abstractions.Datastores;
using Hoard.Datastores.Redis.Resp;
using Hoard.Datastores.Redis.Tests.Support;
using StackExchange.Redis;
using SlotRange = Hoard.Abstractions.Clusters.SlotRange;

namespace Hoard.Datastores.Redis.Tests;

/// <summary>The cluster calls against real redis-servers forming a real cluster, with StackExchange.Redis as the client.</summary>
public sealed class RedisClusterManagerTests
{
    private static readonly TimeSpan MoveTimeout = TimeSpan.FromSeconds(60);

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task AClusterMemberRunsInClusterModeWithItsSecretKeptPrivate()
    {
        await using var cluster = await RedisTestCluster.PrepareAsync(1);
        var member = cluster[0];
        await using var plain = await RedisTestInstance.CreateAsync();
        await plain.Manager.PrepareAsync(plain.Instance, plain.Ct).DefaultTimeout();

        var secretFile = Path.Combine(member.Directory, "cluster.secret");
        Assert.Equal(cluster.Membership.Secret, (await File.ReadAllTextAsync(secretFile).DefaultTimeout()).Trim());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secretFile));
        Assert.Contains("cluster_enabled:1", (await member.AdminCommandAsync("INFO", "cluster")).Text, StringComparison.Ordinal);
        Assert.True(await EngineClients.CanLoginAsync("redis", member.Instance.Address, member.Instance.Port, RedisConfig.ClusterUser, cluster.Membership.Secret));
        Assert.Empty(await member.Manager.ListUsersAsync(member.Instance, member.Ct).DefaultTimeout());
        Assert.Equal(TimeSpan.FromSeconds(6), member.Cluster.CrashRestartDelay(member.Instance));

        // A second prepare (a resize) need not carry the membership again. A node that has met no other node yet (a
        // warm member) takes another cluster's secret when that cluster adopts it, live: the server keeps running.
        var pid = member.ServerPid();
        await member.Manager.PrepareAsync(member.Instance with { Cluster = null }, member.Ct).DefaultTimeout();
        Assert.Equal(pid, member.ServerPid());
        var adopted = member.Instance with { Cluster = cluster.Membership with { Secret = "another-secret" } };
        await member.Manager.PrepareAsync(adopted, member.Ct).DefaultTimeout();
        Assert.Equal(pid, member.ServerPid());
        Assert.Equal("another-secret", (await File.ReadAllTextAsync(secretFile).DefaultTimeout()).Trim());
        Assert.True(await EngineClients.CanLoginAsync("redis", member.Instance.Address, member.Instance.Port, RedisConfig.ClusterUser, "another-secret"));
        Assert.False(await EngineClients.CanLoginAsync("redis", member.Instance.Address, member.Instance.Port, RedisConfig.ClusterUser, cluster.Membership.Secret));

        // An instance prepared without a membership is no cluster member.
        Assert.False(File.Exists(Path.Combine(plain.Directory, "cluster.secret")));
        Assert.DoesNotContain("cluster", await File.ReadAllTextAsync(Path.Combine(plain.Directory, "redis.conf")).DefaultTimeout(), StringComparison.Ordinal);
        Assert.Equal(TimeSpan.Zero, plain.Cluster.CrashRestartDelay(plain.Instance));
        var notMember = await Assert.ThrowsAsync<DatastoreOperationException>(() => plain.Cluster.GetNodeAsync(plain.Instance, plain.Ct)).DefaultTimeout();
        Assert.Equal(DatastoreOperationException.NotSupportedCode, notMember.Code);
    }

    [RequiresBinaryFact("redis-server")]
    public async Task ThreeMembersMeetTakeEvenSlotRangesAndAgreeTheClusterIsOk()
    {
        await using var cluster = await RedisTestCluster.FormAsync(masters: 3);

        var views = await cluster.WaitUntilAgreedAsync(cluster.Members, "every member to agree");
        var nodes = await Task.WhenAll(cluster.Members.Select(cluster.NodeAsync));
        foreach (var view in views)
        {
            Assert.Equal(16384, view.SlotsAssigned);
            Assert.All(view.Nodes, n => Assert.True(n.IsMaster));
        }

        var first = views[0];
        Assert.Equal([new SlotRange(0, 5461)], first.Nodes.Single(n => n.NodeId == nodes[0].NodeId).Slots);
        Assert.Equal([new SlotRange(5462, 10922)], first.Nodes.Single(n => n.NodeId == nodes[1].NodeId).Slots);
        Assert.Equal([new SlotRange(10923, 16383)], first.Nodes.Single(n => n.NodeId == nodes[2].NodeId).Slots);
        Assert.Equal(cluster[1].Instance.Address, first.Nodes.Single(n => n.NodeId == nodes[1].NodeId).Address);
        Assert.Equal(nodes[0], new ClusterNodeInfo(first.Myself.NodeId, first.Myself.Address, first.Myself.Port));

        // Idempotent: meeting a known node and taking one's own slots again change nothing.
        var a = cluster[0];
        await a.Cluster.MeetAsync(a.Instance, cluster[1].Instance.Address, cluster[1].Instance.Port, a.Ct).DefaultTimeout();
        await a.Cluster.AddSlotsAsync(a.Instance, 0, 5461, a.Ct).DefaultTimeout();
        Assert.Equal(RedisTestCluster.Describe(first), RedisTestCluster.Describe(await cluster.TopologyAsync(a)));

        // A node that has met others belongs to its cluster: a prepare with another secret is refused.
        var other = a.Instance with { Cluster = cluster.Membership with { Secret = "another-secret" } };
        var refused = await Assert.ThrowsAsync<DatastoreOperationException>(() => a.Manager.PrepareAsync(other, a.Ct)).DefaultTimeout();
        Assert.Equal(DatastoreOperationException.ConflictCode, refused.Code);

        // Taking another node's slot is a conflict.
        var b = cluster[1];
        var conflict = await Assert.ThrowsAsync<DatastoreOperationException>(() => b.Cluster.AddSlotsAsync(b.Instance, 5000, 5500, b.Ct)).DefaultTimeout();
        Assert.Equal(DatastoreOperationException.ConflictCode, conflict.Code);

        await using var client = await cluster.ConnectClientAsync();
        var db = client.GetDatabase();
        await db.StringSetAsync("greeting", "hello").DefaultTimeout();
        Assert.Equal("hello", (string?)await db.StringGetAsync("greeting").DefaultTimeout());
        await a.Cluster.CompleteAsync(a.Instance, a.Ct).DefaultTimeout();
    }

    [RequiresBinaryFact("redis-server")]
    public async Task AFourthMemberBecomesAReplicaThatSyncsWithItsMaster()
    {
        await using var cluster = await RedisTestCluster.FormAsync(masters: 3, spares: 1);
        var (a, d) = (cluster[0], cluster[3]);
        var master = await cluster.NodeAsync(a);

        // Right after the meet, d may not know a yet: replicate waits for gossip.
        await a.Cluster.MeetAsync(a.Instance, d.Instance.Address, d.Instance.Port, a.Ct).DefaultTimeout();
        await d.Cluster.ReplicateAsync(d.Instance, master.NodeId, d.Ct).DefaultTimeout();
        await d.Cluster.ReplicateAsync(d.Instance, master.NodeId, d.Ct).DefaultTimeout();

        var replicaId = (await cluster.NodeAsync(d)).NodeId;
        await cluster.WaitUntilAgreedAsync(
            cluster.Members,
            "every member to see the replica",
            views => views.All(v => v.Nodes.Single(n => n.NodeId == replicaId) is { IsMaster: false } replica && replica.MasterId == master.NodeId));
        Assert.Equal(replicaId, await d.Cluster.GetNodeIdForRemovalAsync(d.Instance, d.Ct).DefaultTimeout());

        await using var client = await cluster.ConnectClientAsync();
        var key = KeyInSlotOf(client, 100, "replicated");
        await client.GetDatabase().StringSetAsync(key, "copied").DefaultTimeout();
        await Timeouts.EventuallyAsync(
            async () =>
            {
                await using var connection = await d.ConnectAsAdminAsync();
                await connection.ExecuteAsync(["READONLY"], d.Ct).DefaultTimeout();
                return (await connection.ExecuteAsync(["GET", key], d.Ct).DefaultTimeout()).Text;
            },
            value => value == "copied",
            RedisTestCluster.SettleTimeout,
            "the replica (syncing as the cluster user) to have the key");
    }

    [RequiresBinaryFact("redis-server")]
    public async Task MovingSlotsUnderAConcurrentWriterLosesNoKey()
    {
        await using var cluster = await RedisTestCluster.FormAsync(masters: 3);
        var a = cluster[0];
        var nodes = await Task.WhenAll(cluster.Members.Select(cluster.NodeAsync));
        await using var client = await cluster.ConnectClientAsync();
        var db = client.GetDatabase();

        var written = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        await Task.WhenAll(Enumerable.Range(0, 20_000).Select(async i =>
        {
            var (key, value) = ($"before:{i}", $"v{i}");
            await db.StringSetAsync(key, value);
            written[key] = value;
        })).WaitAsync(MoveTimeout);
        var keysInMovedSlots = written.Keys.Count(k => client.HashSlot(k) <= 2047);

        // Writers that keep setting keys while the slots move, most of them keys of the moving slots.
        var hot = Enumerable.Range(0, 20_000).Select(i => $"during:{i}").Where(k => client.HashSlot(k) <= 2047).Take(2000)
            .Concat(Enumerable.Range(0, 500).Select(i => $"elsewhere:{i}")).ToArray();
        using var stop = new CancellationTokenSource();
        var failures = 0;
        var writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            for (var i = w; !stop.IsCancellationRequested; i += 8)
            {
                var (key, value) = (hot[i % hot.Length], $"w{i}");
                try
                {
                    await db.StringSetAsync(key, value).WaitAsync(TestTimeouts.Default);
                    written[key] = value;
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        })).ToArray();

        // Small batches keep each slot open longer, so the writers meet ASK redirections.
        var move = new SlotMove
        {
            Slots = [new SlotRange(0, 2047)],
            TargetNodeId = nodes[1].NodeId,
            TargetAddress = nodes[1].Address,
            TargetPort = nodes[1].Port,
            Masters = nodes,
            KeysPerBatch = 2,
        };
        SlotMoveResult result;
        try
        {
            result = await a.Cluster.MoveSlotsAsync(a.Instance, move, a.Ct).WaitAsync(MoveTimeout);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(writers).WaitAsync(TestTimeouts.Default);
        }

        Assert.Equal(2048, result.SlotsMoved);
        Assert.True(result.KeysMoved >= keysInMovedSlots, $"moved {result.KeysMoved} keys, expected at least the {keysInMovedSlots} written before");
        Assert.Equal(0, failures);
        var views = await cluster.WaitUntilAgreedAsync(cluster.Members, "every member to see the move");
        Assert.Equal([new SlotRange(2048, 5461)], views[0].Nodes.Single(n => n.NodeId == nodes[0].NodeId).Slots);
        Assert.Equal([new SlotRange(0, 2047), new SlotRange(5462, 10922)], views[0].Nodes.Single(n => n.NodeId == nodes[1].NodeId).Slots);
        Assert.All(views, v => Assert.All(v.Nodes, n => Assert.Empty(n.Importing.Concat(n.Migrating))));

        var keys = written.Keys.ToArray();
        var values = await Task.WhenAll(keys.Select(k => db.StringGetAsync(k))).WaitAsync(MoveTimeout);
        var wrong = keys.Where((k, i) => values[i] != written[k]).Take(5).ToList();
        Assert.True(wrong.Count == 0, $"keys lost or stale after the move: {string.Join(", ", wrong)}");
        Assert.Equal(0, await CountKeysAsync(a, 0, 2047));

        // Moving the same slots again is a no-op.
        var again = await a.Cluster.MoveSlotsAsync(a.Instance, move, a.Ct).WaitAsync(MoveTimeout);
        Assert.Equal(new SlotMoveResult(0, 0), again);
    }

    [RequiresBinaryFact("redis-server")]
    public async Task AMoveLeftHalfDoneIsCompletedAndNoSlotStaysOpen()
    {
        await using var cluster = await RedisTestCluster.FormAsync(masters: 3);
        var (a, b) = (cluster[0], cluster[1]);
        var nodes = await Task.WhenAll(cluster.Members.Select(cluster.NodeAsync));
        await using var client = await cluster.ConnectClientAsync();
        var db = client.GetDatabase();
        var halfMoved = Enumerable.Range(0, 10).Select(i => KeyInSlotOf(client, 100, $"half{i}")).ToList();
        var allMoved = Enumerable.Range(0, 10).Select(i => KeyInSlotOf(client, 101, $"all{i}")).ToList();
        foreach (var key in halfMoved.Concat(allMoved))
        {
            await db.StringSetAsync(key, "value of " + key).DefaultTimeout();
        }

        // What a move killed midway leaves: slot 100 open on both sides with 3 of its keys moved, slot 101 with
        // every key moved and the target the owner, but still migrating here.
        string Migrate(IEnumerable<string> keys) =>
            $"MIGRATE {nodes[1].Address} {nodes[1].Port} \"\" 0 5000 AUTH2 {RedisConfig.ClusterUser} {cluster.Membership.Secret} KEYS {string.Join(' ', keys)}";
        foreach (var slot in new[] { "100", "101" })
        {
            await b.AdminCommandAsync("CLUSTER", "SETSLOT", slot, "IMPORTING", nodes[0].NodeId);
            await a.AdminCommandAsync("CLUSTER", "SETSLOT", slot, "MIGRATING", nodes[1].NodeId);
        }

        await a.AdminCommandAsync([.. SplitCommand(Migrate(halfMoved.Take(3)))]);
        await a.AdminCommandAsync([.. SplitCommand(Migrate(allMoved))]);
        await b.AdminCommandAsync("CLUSTER", "SETSLOT", "101", "NODE", nodes[1].NodeId);

        var result = await a.Cluster.MoveSlotsAsync(
            a.Instance,
            new SlotMove { Slots = [new SlotRange(100, 101)], TargetNodeId = nodes[1].NodeId, TargetAddress = nodes[1].Address, TargetPort = nodes[1].Port, Masters = nodes },
            a.Ct).WaitAsync(MoveTimeout);

        Assert.Equal(new SlotMoveResult(1, 7), result);
        var views = await cluster.WaitUntilAgreedAsync(
            cluster.Members,
            "every member to see slots 100-101 on the target",
            vs => vs.All(v => v.Nodes.Single(n => n.NodeId == nodes[1].NodeId).Slots.Contains(new SlotRange(100, 101))));
        Assert.All(views, v => Assert.All(v.Nodes, n => Assert.Empty(n.Importing.Concat(n.Migrating))));
        foreach (var key in halfMoved.Concat(allMoved))
        {
            Assert.Equal("value of " + key, (string?)await db.StringGetAsync(key).DefaultTimeout());
        }

        Assert.Equal(0, await CountKeysAsync(a, 100, 101));
    }

    [RequiresBinaryFact("redis-server")]
    public async Task ADrainedMasterCanBeRemovedAndTheOthersForgetIt()
    {
        await using var cluster = await RedisTestCluster.FormAsync(masters: 3);
        var (a, b, c) = (cluster[0], cluster[1], cluster[2]);
        var nodes = await Task.WhenAll(cluster.Members.Select(cluster.NodeAsync));
        // A key whose name is not UTF-8 goes over byte for byte.
        byte[] binaryName;
        await using (var client = await cluster.ConnectClientAsync())
        {
            binaryName = [.. System.Text.Encoding.UTF8.GetBytes(KeyInSlotOf(client, 16000, string.Empty)), 0xff, 0x00, 0xfe];
            await client.GetDatabase().StringSetAsync(binaryName, "around").DefaultTimeout();
        }

        Assert.Null(await c.Cluster.GetNodeIdForRemovalAsync(c.Instance, c.Ct).DefaultTimeout());

        var (first, last) = RedisTestCluster.EvenRange(2, 3);
        var result = await c.Cluster.MoveSlotsAsync(
            c.Instance,
            new SlotMove { Slots = [new SlotRange(first, last)], TargetNodeId = nodes[0].NodeId, TargetAddress = nodes[0].Address, TargetPort = nodes[0].Port, Masters = nodes },
            c.Ct).WaitAsync(MoveTimeout);
        Assert.Equal(new SlotMoveResult(5461, 1), result);

        // Empty, and still a master (it does not migrate to become a replica of its slots' new owner).
        Assert.Equal(nodes[2].NodeId, await c.Cluster.GetNodeIdForRemovalAsync(c.Instance, c.Ct).DefaultTimeout());
        Assert.True((await cluster.TopologyAsync(c)).Myself.IsMaster);

        foreach (var member in new[] { a, b })
        {
            // Its own id and ids nobody knows are ignored.
            await member.Cluster.RemoveNodesAsync(member.Instance, [nodes[2].NodeId, (await cluster.NodeAsync(member)).NodeId, new string('0', 40)], member.Ct).DefaultTimeout();
        }

        var views = await cluster.WaitUntilAgreedAsync([a, b], "the others to forget the removed node");
        Assert.All(views, v => Assert.DoesNotContain(v.Nodes, n => n.NodeId == nodes[2].NodeId));
        Assert.Equal(16384, views[0].SlotsAssigned);
        await using (var client = await cluster.ConnectClientAsync())
        {
            Assert.Equal("around", (string?)await client.GetDatabase().StringGetAsync(binaryName).DefaultTimeout());
        }
    }

    private static string KeyInSlotOf(ConnectionMultiplexer client, int slot, string name)
    {
        // A hash tag that lands in the slot: the cluster hashes only what is between the braces. CRC16 spreads
        // tags evenly, so a slot is hit within a few times 16384 tries.
        for (var tag = 0; tag < 1_000_000; tag++)
        {
            var key = string.Create(CultureInfo.InvariantCulture, $"{{t{tag}}}{name}");
            if (client.HashSlot(key) == slot)
            {
                return key;
            }
        }

        throw new InvalidOperationException($"found no hash tag for slot {slot}");
    }

    private static async Task<long> CountKeysAsync(RedisTestInstance member, int first, int last)
    {
        await using var connection = await member.ConnectAsAdminAsync();
        long count = 0;
        for (var slot = first; slot <= last; slot++)
        {
            count += (await connection.ExecuteAsync(["CLUSTER", "COUNTKEYSINSLOT", slot.ToString(CultureInfo.InvariantCulture)], member.Ct).DefaultTimeout()).Integer;
        }

        return count;
    }

    private static IEnumerable<string> SplitCommand(string command) =>
        command.Split(' ').Select(a => a == "\"\"" ? string.Empty : a);
}
