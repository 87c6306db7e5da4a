using Hoard.Abstractions.Clusters;

namespace Hoard.Core.Clusters;

/// <summary>
/// Checks a cluster the way <c>redis-cli --cluster check</c> does, from every member's own view: each says the
/// cluster is ok, all 16384 slots are covered, no slot is open (importing or migrating), and all members agree
/// on who the nodes are, who owns which slot and who replicates whom. Nodes are matched by node id only.
/// </summary>
public static class ClusterCheck
{
    /// <summary>What is wrong; empty when the cluster is consistent.</summary>
    /// <param name="views">Each member's node id and its view of the cluster.</param>
    /// <param name="expectedMasters">How many masters should own slots, when known.</param>
    public static IReadOnlyList<string> Problems(IReadOnlyDictionary<string, ClusterTopology> views, int? expectedMasters = null)
    {
        ArgumentNullException.ThrowIfNull(views);
        var problems = new List<string>();
        if (views.Count == 0)
        {
            problems.Add("no member answered");
            return problems;
        }

        var members = views.Keys.ToHashSet(StringComparer.Ordinal);
        string? referenceNode = null;
        Dictionary<int, string>? referenceOwners = null;
        Dictionary<string, string?>? referenceRoles = null;
        foreach (var (nodeId, view) in views.OrderBy(v => v.Key, StringComparer.Ordinal))
        {
            if (view.State != "ok")
            {
                problems.Add($"{nodeId}: cluster_state is {view.State}");
            }

            var myself = view.Nodes.FirstOrDefault(n => n.Myself);
            if (myself is null || myself.NodeId != nodeId)
            {
                problems.Add($"{nodeId}: answered as {myself?.NodeId ?? "no node"}");
                continue;
            }

            var known = view.Nodes.Select(n => n.NodeId).ToHashSet(StringComparer.Ordinal);
            foreach (var missing in members.Where(m => !known.Contains(m)).Order(StringComparer.Ordinal))
            {
                problems.Add($"{nodeId}: does not know node {missing}");
            }

            foreach (var extra in known.Where(k => !members.Contains(k)).Order(StringComparer.Ordinal))
            {
                problems.Add($"{nodeId}: knows node {extra}, which is not a member");
            }

            foreach (var node in view.Nodes)
            {
                if (node.Failing)
                {
                    problems.Add($"{nodeId}: sees {node.NodeId} as failing");
                }

                foreach (var slot in node.Importing)
                {
                    problems.Add($"{node.NodeId}: slot {slot} is open (importing), seen by {nodeId}");
                }

                foreach (var slot in node.Migrating)
                {
                    problems.Add($"{node.NodeId}: slot {slot} is open (migrating), seen by {nodeId}");
                }
            }

            var owners = new Dictionary<int, string>();
            foreach (var node in view.Nodes.Where(n => n.IsMaster))
            {
                foreach (var range in node.Slots)
                {
                    for (var slot = range.First; slot <= range.Last; slot++)
                    {
                        if (!owners.TryAdd(slot, node.NodeId))
                        {
                            problems.Add($"{nodeId}: slot {slot} is claimed by {owners[slot]} and {node.NodeId}");
                        }
                    }
                }
            }

            if (owners.Count != SlotPlanner.SlotCount)
            {
                problems.Add($"{nodeId}: {SlotPlanner.SlotCount - owners.Count} of {SlotPlanner.SlotCount} slots are not covered");
            }

            var roles = view.Nodes.ToDictionary(n => n.NodeId, n => n.IsMaster ? null : n.MasterId, StringComparer.Ordinal);
            if (referenceOwners is null)
            {
                referenceNode = nodeId;
                referenceOwners = owners;
                referenceRoles = roles;
                if (expectedMasters is int masters)
                {
                    var owning = owners.Values.Distinct(StringComparer.Ordinal).Count();
                    if (owning != masters)
                    {
                        problems.Add($"{nodeId}: {owning} masters own slots, {masters} expected");
                    }
                }

                continue;
            }

            var disagreements = owners.Count(o => !referenceOwners.TryGetValue(o.Key, out var other) || other != o.Value)
                + referenceOwners.Keys.Count(k => !owners.ContainsKey(k));
            if (disagreements > 0)
            {
                problems.Add($"{nodeId} and {referenceNode} disagree on the owners of {disagreements} slots");
            }

            foreach (var (node, master) in roles)
            {
                if (referenceRoles!.TryGetValue(node, out var otherMaster) && otherMaster != master)
                {
                    problems.Add($"{nodeId} and {referenceNode} disagree on the role of {node}");
                }
            }
        }

        return problems;
    }
}
