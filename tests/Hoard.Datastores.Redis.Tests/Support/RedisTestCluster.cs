using System.Globalization;
using Hoard.Abstractions.Clusters;
using Hoard.Datastores.Redis.Cluster;
using StackExchange.Redis;

namespace Hoard.Datastores.Redis.Tests.Support;

/// <summary>
/// Redis instances prepared as members of one cluster (each on a loopback address of its own), and the steps
/// the control plane takes with them: meet, hand out slots, wait until every member agrees the cluster is ok.
/// </summary>
internal sealed class RedisTestCluster : IAsyncDisposable
{
    /// <summary>Forming a cluster and gossip reaching every member take a few node timeouts (2 s each).</summary>
    public static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(30);

    private RedisTestCluster(ClusterMembership membership, IReadOnlyList<RedisTestInstance> members)
    {
        Membership = membership;
        Members = members;
    }

    public ClusterMembership Membership { get; }

    public IReadOnlyList<RedisTestInstance> Members { get; }

    public RedisTestInstance this[int index] => Members[index];

    /// <summary>Prepares <paramref name="count"/> members; none knows another yet.</summary>
    public static async Task<RedisTestCluster> PrepareAsync(int count)
    {
        var membership = new ClusterMembership("test-" + Guid.NewGuid().ToString("N")[..8], "s3cret-" + Guid.NewGuid().ToString("N"));
        var members = new List<RedisTestInstance>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                members.Add(await RedisTestInstance.CreateAsync(cluster: membership));
            }

            await Task.WhenAll(members.Select(m => m.Manager.PrepareAsync(m.Instance, m.Ct))).DefaultTimeout();
            return new RedisTestCluster(membership, members);
        }
        catch
        {
            foreach (var member in members)
            {
                await member.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>Prepares <paramref name="masters"/> members and forms a cluster of them, slots split evenly.</summary>
    public static async Task<RedisTestCluster> FormAsync(int masters, int spares = 0)
    {
        var cluster = await PrepareAsync(masters + spares);
        try
        {
            var first = cluster[0];
            for (var i = 1; i < masters; i++)
            {
                await first.Cluster.MeetAsync(first.Instance, cluster[i].Instance.Address, cluster[i].Instance.Port, first.Ct).DefaultTimeout();
            }

            for (var i = 0; i < masters; i++)
            {
                var (from, to) = EvenRange(i, masters);
                await cluster[i].Cluster.AddSlotsAsync(cluster[i].Instance, from, to, cluster[i].Ct).DefaultTimeout();
            }

            await cluster.WaitUntilAgreedAsync(cluster.Members.Take(masters), "the cluster to form");
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Master <paramref name="index"/>'s share of the slots when <paramref name="masters"/> split them evenly.</summary>
    public static (int First, int Last) EvenRange(int index, int masters) =>
        (((index * ClusterNodesParser.SlotCount) + masters - 1) / masters, ((((index + 1) * ClusterNodesParser.SlotCount) + masters - 1) / masters) - 1);

    public Task<ClusterTopology> TopologyAsync(RedisTestInstance member) =>
        member.Cluster.GetTopologyAsync(member.Instance, member.Ct).DefaultTimeout();

    public async Task<ClusterNodeInfo> NodeAsync(RedisTestInstance member) =>
        await member.Cluster.GetNodeAsync(member.Instance, member.Ct).DefaultTimeout();

    /// <summary>
    /// Waits until every one of <paramref name="members"/> says cluster_state:ok, sees exactly them and no node
    /// failing, and all have the same view of who owns which slots (and <paramref name="condition"/> holds).
    /// </summary>
    public async Task<IReadOnlyList<ClusterTopology>> WaitUntilAgreedAsync(IEnumerable<RedisTestInstance> members, string what, Func<IReadOnlyList<ClusterTopology>, bool>? condition = null)
    {
        var list = members.ToList();
        return await Timeouts.EventuallyAsync(
            async () => (IReadOnlyList<ClusterTopology>)await Task.WhenAll(list.Select(TopologyAsync)),
            views => views.All(v => v.State == "ok" && v.Nodes.Count == list.Count && v.Nodes.All(n => !n.Failing && n.Connected))
                && views.Select(Describe).Distinct().Count() == 1
                && (condition?.Invoke(views) ?? true),
            SettleTimeout,
            what);
    }

    /// <summary>A cluster-aware client (it follows MOVED and ASK), logged in as the cluster user.</summary>
    public async Task<ConnectionMultiplexer> ConnectClientAsync()
    {
        var options = new ConfigurationOptions
        {
            User = RedisConfig.ClusterUser,
            Password = Membership.Secret,
            ConnectTimeout = 5000,
            SyncTimeout = 5000,
            AsyncTimeout = 5000,
            AbortOnConnectFail = true,
        };
        foreach (var member in Members)
        {
            options.EndPoints.Add(member.Instance.Address, member.Instance.Port);
        }

        return await ConnectionMultiplexer.ConnectAsync(options).DefaultTimeout();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var member in Members)
        {
            await member.DisposeAsync();
        }
    }

    /// <summary>Who owns what and who replicates whom, as one string, so views can be compared.</summary>
    public static string Describe(ClusterTopology view) =>
        string.Join(
            "; ",
            view.Nodes.OrderBy(n => n.NodeId, StringComparer.Ordinal).Select(n =>
                string.Create(CultureInfo.InvariantCulture, $"{n.NodeId} {(n.IsMaster ? "master" : "replica of " + n.MasterId)} {string.Join(',', n.Slots)}")));
}
