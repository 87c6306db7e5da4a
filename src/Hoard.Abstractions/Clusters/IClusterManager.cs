using System.Text.Json.Serialization;
using Hoard.Abstractions.Datastores;

namespace Hoard.Abstractions.Clusters;

/// <summary>
/// The cluster side of a datastore manager whose engine shards by itself (Redis Cluster): the guest methods of
/// Trove's Redis cluster spec (get_node_ip, get_node_id_for_removal, remove_nodes, cluster_meet,
/// cluster_addslots, cluster_complete) plus what replicas and live slot migration need.
/// A manager offers it by implementing this interface beside <see cref="IDatastoreManager"/>.
/// Every method is idempotent: the control plane repeats a step after a crash.
/// </summary>
public interface IClusterManager
{
    /// <summary>
    /// How long the agent waits before restarting a cluster node whose process died, so the engine's own
    /// failover promotes a replica first (Redis: a few node timeouts).
    /// </summary>
    TimeSpan CrashRestartDelay(GuestInstance instance);

    /// <summary>get_node_ip: this node's id and address, as the cluster knows it.</summary>
    Task<ClusterNodeInfo> GetNodeAsync(GuestInstance instance, CancellationToken cancellationToken);

    /// <summary>get_node_id_for_removal: this node's id, or null while it still owns slots.</summary>
    Task<string?> GetNodeIdForRemovalAsync(GuestInstance instance, CancellationToken cancellationToken);

    /// <summary>remove_nodes: this node forgets the given nodes (CLUSTER FORGET); unknown ids are ignored.</summary>
    Task RemoveNodesAsync(GuestInstance instance, IReadOnlyList<string> nodeIds, CancellationToken cancellationToken);

    /// <summary>cluster_meet: this node meets the node at address:port (CLUSTER MEET).</summary>
    Task MeetAsync(GuestInstance instance, string address, int port, CancellationToken cancellationToken);

    /// <summary>cluster_addslots: this node takes the slots first..last (inclusive); slots it owns already are skipped.</summary>
    Task AddSlotsAsync(GuestInstance instance, int firstSlot, int lastSlot, CancellationToken cancellationToken);

    /// <summary>cluster_replicate: this node becomes a replica of the master with that node id.</summary>
    Task ReplicateAsync(GuestInstance instance, string masterNodeId, CancellationToken cancellationToken);

    /// <summary>cluster_nodes: the cluster as this node sees it.</summary>
    Task<ClusterTopology> GetTopologyAsync(GuestInstance instance, CancellationToken cancellationToken);

    /// <summary>
    /// cluster_move_slots: moves slots this node owns (or is migrating) to another master, live: the target
    /// imports, this node migrates, keys go over with MIGRATE in batches, and every master is told the new owner.
    /// A slot already owned by the target is only closed (no open importing/migrating state is left behind).
    /// </summary>
    Task<SlotMoveResult> MoveSlotsAsync(GuestInstance instance, SlotMove move, CancellationToken cancellationToken);

    /// <summary>cluster_complete: the control plane is done building; the node may persist its config.</summary>
    Task CompleteAsync(GuestInstance instance, CancellationToken cancellationToken);
}

/// <summary>What prepare tells a cluster member: which cluster it belongs to and the secret members share.</summary>
/// <remarks>The members authenticate to each other (replication, MIGRATE) with a user whose password is <see cref="Secret"/>.</remarks>
public sealed record ClusterMembership(string ClusterId, string Secret)
{
    /// <summary>
    /// Built ahead of any cluster (a warm member): the node holds slot 0 as a placeholder until a cluster adopts it.
    /// A lone node without slots counts itself a minority, and Redis then holds back its first OK by the node timeout
    /// after it joins; holding a slot keeps an adopted master ready at once.
    /// </summary>
    public bool Warm { get; init; }

    /// <summary>An adopted warm node that becomes a replica: it gives its placeholder slot back before it meets anyone.</summary>
    public bool Replica { get; init; }

    public override string ToString() => $"member of cluster {ClusterId}";
}

public sealed record ClusterNodeInfo(string NodeId, string Address, int Port);

/// <summary>An inclusive range of hash slots.</summary>
public sealed record SlotRange(int First, int Last)
{
    [JsonIgnore]
    public int Count => Last - First + 1;

    public override string ToString() => First == Last ? $"{First}" : $"{First}-{Last}";
}

/// <summary>Redis Cluster's hash slots, and conversions between ranges and slots, for both sides of the guest RPC.</summary>
public static class HashSlots
{
    public const int Count = 16384;

    /// <summary>Slot ranges as a sorted list of distinct slots.</summary>
    public static List<int> Expand(IEnumerable<SlotRange> ranges) =>
        [.. ranges.SelectMany(r => Enumerable.Range(r.First, r.Count)).Distinct().Order()];

    /// <summary>Sorted, distinct slots as the fewest ranges.</summary>
    public static IReadOnlyList<SlotRange> Compress(IEnumerable<int> sortedSlots)
    {
        var ranges = new List<SlotRange>();
        foreach (var slot in sortedSlots)
        {
            if (ranges.Count > 0 && ranges[^1].Last == slot - 1)
            {
                ranges[^1] = ranges[^1] with { Last = slot };
            }
            else
            {
                ranges.Add(new SlotRange(slot, slot));
            }
        }

        return ranges;
    }
}

/// <summary>One node as CLUSTER NODES shows it.</summary>
public sealed record ClusterNode
{
    public required string NodeId { get; init; }

    public required string Address { get; init; }

    public required int Port { get; init; }

    public required bool IsMaster { get; init; }

    /// <summary>The master's node id, for a replica.</summary>
    public string? MasterId { get; init; }

    /// <summary>The node reporting is this one.</summary>
    public bool Myself { get; init; }

    /// <summary>Flagged fail or pfail (suspected failing), or in handshake.</summary>
    public bool Failing { get; init; }

    public bool Connected { get; init; } = true;

    public long ConfigEpoch { get; init; }

    public IReadOnlyList<SlotRange> Slots { get; init; } = [];

    /// <summary>Slots this node is importing ([slot-&lt;-node]).</summary>
    public IReadOnlyList<int> Importing { get; init; } = [];

    /// <summary>Slots this node is migrating ([slot-&gt;-node]).</summary>
    public IReadOnlyList<int> Migrating { get; init; } = [];

    [JsonIgnore]
    public int SlotCount => Slots.Sum(s => s.Count);
}

/// <summary>The cluster as one node sees it: CLUSTER INFO's state and CLUSTER NODES.</summary>
public sealed record ClusterTopology(string State, int SlotsAssigned, IReadOnlyList<ClusterNode> Nodes)
{
    /// <summary>The reporting node (not serialised: it is one of <see cref="Nodes"/>).</summary>
    [JsonIgnore]
    public ClusterNode Myself => Nodes.Single(n => n.Myself);
}

/// <summary>Where a slot move goes, and every master to tell about the new owner.</summary>
public sealed record SlotMove
{
    public required IReadOnlyList<SlotRange> Slots { get; init; }

    public required string TargetNodeId { get; init; }

    public required string TargetAddress { get; init; }

    public required int TargetPort { get; init; }

    /// <summary>The other masters (address and port) that are told the new owner at once, rather than by gossip.</summary>
    public IReadOnlyList<ClusterNodeInfo> Masters { get; init; } = [];

    /// <summary>Keys per CLUSTER GETKEYSINSLOT / MIGRATE batch.</summary>
    public int KeysPerBatch { get; init; } = 1000;
}

public sealed record SlotMoveResult(int SlotsMoved, long KeysMoved);
