using System.Text.Json;
using Hoard.Abstractions.Clusters;
using Hoard.Abstractions.Guest;
using Hoard.Abstractions.Storage;
using Hoard.Core.Guests;
using Hoard.Core.Instances;
using Hoard.Core.Tasks;
using Microsoft.Extensions.Logging;

namespace Hoard.Core.Clusters;

/// <summary>
/// The steps cluster tasks share: waiting for members to be built, learning their node ids, meeting, slots,
/// replicas, and checking the result as <c>redis-cli --cluster check</c> does. Every step is idempotent.
/// </summary>
public sealed partial class ClusterSteps(InstanceTaskContext c, ILogger<ClusterSteps> logger)
{
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan MoveTimeout = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan ConsistencyTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(10);

    public InstanceTaskContext Context => c;

    /// <summary>How long members may take to build: their datastore's usage_timeout, plus a call's worth.</summary>
    public TimeSpan BuildTimeout(InstanceRecord member)
    {
        var version = c.Catalog.FindVersionById(member.DatastoreVersionId)
            ?? throw new InvalidOperationException($"datastore version {member.DatastoreVersionId} is not registered");
        return c.UsageTimeout(version.Datastore.Name) + CallTimeout;
    }

    public async Task<IReadOnlyList<InstanceRecord>> MembersAsync(string clusterId, CancellationToken cancellationToken) =>
        await c.Store.Clusters.ListMembersAsync(clusterId, cancellationToken);

    /// <summary>Waits until the members' own create tasks are done; a member that failed fails the cluster task.</summary>
    public async Task<IReadOnlyList<InstanceRecord>> WaitBuiltAsync(string clusterId, IReadOnlyCollection<string> memberIds, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            while (true)
            {
                var members = (await MembersAsync(clusterId, deadline.Token)).Where(m => memberIds.Contains(m.Id)).ToList();
                var failed = members.FirstOrDefault(m => InstanceTasks.IsError(m.TaskStatus) || m.ServerStatus == ServerStatuses.Error);
                if (failed is not null)
                {
                    throw new InvalidOperationException($"member {failed.Name} ({failed.Id}) failed to build: {failed.FaultDetails ?? failed.FaultMessage ?? failed.TaskStatus}");
                }

                if (members.Count < memberIds.Count)
                {
                    throw new InvalidOperationException("a member of the cluster was deleted while it was being built");
                }

                if (members.All(ClusterService.IsServing))
                {
                    return members;
                }

                await Task.Delay(PollEvery, c.Time, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"the members of the cluster were not built within {timeout.TotalSeconds:0} s");
        }
    }

    public Task<JsonElement> CallAsync(InstanceRecord member, string method, object? args, TimeSpan timeout, CancellationToken cancellationToken) =>
        c.CallGuestAsync(member, method, args, timeout, cancellationToken);

    /// <summary>Asks each member without a known node id for it (get_node_ip) and records it.</summary>
    public async Task<IReadOnlyList<InstanceRecord>> LearnNodeIdsAsync(IReadOnlyList<InstanceRecord> members, CancellationToken cancellationToken)
    {
        var learnt = await Task.WhenAll(members.Select(async m =>
        {
            if (m.ClusterNodeId is not null)
            {
                return m;
            }

            var reply = await CallAsync(m, GuestMethods.GetNodeIp, null, CallTimeout, cancellationToken);
            var node = reply.Deserialize<ClusterNodeInfo>(GuestArguments.Json) ?? throw new GuestCallException("get_node_ip returned nothing");
            await c.Store.Instances.UpdateAsync(m.Id, new InstanceChange { ClusterNodeId = node.NodeId }, cancellationToken);
            return m with { ClusterNodeId = node.NodeId };
        }));
        return learnt;
    }

    /// <summary>Each joining member meets every other member (not just a head node), so the cluster forms without waiting on gossip.</summary>
    public Task MeetAsync(IReadOnlyList<InstanceRecord> joining, IReadOnlyList<InstanceRecord> all, CancellationToken cancellationToken) =>
        Task.WhenAll(joining.Select(async m =>
        {
            foreach (var other in all.Where(o => o.Id != m.Id))
            {
                await CallAsync(m, GuestMethods.ClusterMeet, new MeetArguments(other.Address!, other.Port ?? 0), CallTimeout, cancellationToken);
            }
        }));

    /// <summary>Gives the masters the even split, in creation order.</summary>
    public Task AddSlotsAsync(IReadOnlyList<InstanceRecord> masters, CancellationToken cancellationToken)
    {
        var ranges = SlotPlanner.EvenRanges(masters.Count);
        return Task.WhenAll(masters.Select((m, i) =>
            CallAsync(m, GuestMethods.ClusterAddSlots, new AddSlotsArguments(ranges[i].First, ranges[i].Last), CallTimeout, cancellationToken)));
    }

    /// <summary>Each replica follows the master it was created for.</summary>
    public Task ReplicateAsync(IReadOnlyList<InstanceRecord> replicas, IReadOnlyList<InstanceRecord> all, CancellationToken cancellationToken) =>
        Task.WhenAll(replicas.Select(r =>
        {
            var master = all.FirstOrDefault(m => m.Id == r.ReplicaOf)?.ClusterNodeId
                ?? throw new InvalidOperationException($"replica {r.Name} follows {r.ReplicaOf}, which is not a member with a known node id");
            return CallAsync(r, GuestMethods.ClusterReplicate, new ReplicateArguments(master), CallTimeout, cancellationToken);
        }));

    public Task CompleteAsync(IReadOnlyList<InstanceRecord> members, CancellationToken cancellationToken) =>
        Task.WhenAll(members.Select(m => CallAsync(m, GuestMethods.ClusterComplete, null, CallTimeout, cancellationToken)));

    /// <summary>Every member's view of the cluster, keyed by its node id.</summary>
    public async Task<Dictionary<string, ClusterTopology>> TopologiesAsync(IReadOnlyList<InstanceRecord> members, CancellationToken cancellationToken)
    {
        var views = await Task.WhenAll(members.Select(async m => (m.ClusterNodeId!, await TopologyAsync(m, cancellationToken))));
        return views.ToDictionary(v => v.Item1, v => v.Item2, StringComparer.Ordinal);
    }

    /// <summary>The cluster as one member sees it (cluster_nodes).</summary>
    public async Task<ClusterTopology> TopologyAsync(InstanceRecord member, CancellationToken cancellationToken)
    {
        var reply = await CallAsync(member, GuestMethods.ClusterNodes, null, CallTimeout, cancellationToken);
        return reply.Deserialize<ClusterTopology>(GuestArguments.Json) ?? throw new GuestCallException("cluster_nodes returned nothing");
    }

    /// <summary>Waits until the check finds nothing wrong; on timeout fails with what is still wrong.</summary>
    public async Task WaitConsistentAsync(IReadOnlyList<InstanceRecord> members, int? expectedMasters, CancellationToken cancellationToken)
    {
        var started = c.Time.GetTimestamp();
        IReadOnlyList<string> problems = [];
        while (c.Time.GetElapsedTime(started) < ConsistencyTimeout)
        {
            problems = ClusterCheck.Problems(await TopologiesAsync(members, cancellationToken), expectedMasters);
            if (problems.Count == 0)
            {
                LogConsistent(members.Count, c.Time.GetElapsedTime(started).TotalMilliseconds);
                return;
            }

            await Task.Delay(PollEvery, c.Time, cancellationToken);
        }

        throw new InvalidOperationException($"the cluster did not become consistent within {ConsistencyTimeout.TotalSeconds:0} s: {string.Join("; ", problems.Take(5))}");
    }

    /// <summary>Records why a cluster task failed on the members it concerned, so the user sees it in their fault.</summary>
    public async Task RecordFaultAsync(IEnumerable<string> memberIds, string message, Exception error, CancellationToken cancellationToken)
    {
        foreach (var id in memberIds)
        {
            var member = await c.Store.Instances.GetAsync(id, cancellationToken);
            if (member is not null && member.FaultMessage is null)
            {
                await c.Store.Instances.UpdateAsync(id, new InstanceChange { FaultMessage = message, FaultDetails = error.Message }, cancellationToken);
            }
        }
    }

    [LoggerMessage(1500, LogLevel.Information, "Cluster of {Members} members is consistent after {Ms:0} ms of checking")]
    private partial void LogConsistent(int members, double ms);
}

/// <summary>Builds a cluster: members built, slots split evenly over the masters, all met, replicas following, checked.</summary>
public sealed partial class CreateClusterHandler(ClusterSteps s, ILogger<CreateClusterHandler> logger) : ITaskHandler
{
    public string Kind => ClusterTaskKinds.Create;

    public async Task RunAsync(TaskRun run, CancellationToken cancellationToken)
    {
        var clusterId = run.Task.InstanceId;
        var members = await s.MembersAsync(clusterId, cancellationToken);
        var ids = members.Select(m => m.Id).ToHashSet(StringComparer.Ordinal);
        members = await s.WaitBuiltAsync(clusterId, ids, s.BuildTimeout(members[0]), cancellationToken);

        // Adopted warm members are prepared again, now with the cluster's own membership (its secret).
        var adopted = JsonSerializer.Deserialize<CreatePayload>(run.Task.Payload, GuestArguments.Json)?.Adopted ?? [];
        await Task.WhenAll(members.Where(m => adopted.Contains(m.Id)).Select(async m =>
            await s.CallAsync(m, GuestMethods.Prepare, await s.Context.PrepareArgumentsAsync(m, "{}", cancellationToken), ClusterSteps.CallTimeout, cancellationToken)));
        var built = Since(run.Task.CreatedAt);
        members = await s.LearnNodeIdsAsync(members, cancellationToken);
        var masters = members.Where(ClusterService.IsMaster).ToList();
        await s.AddSlotsAsync(masters, cancellationToken);
        await s.MeetAsync(members, members, cancellationToken);
        await s.ReplicateAsync([.. members.Where(m => !ClusterService.IsMaster(m))], members, cancellationToken);
        var joined = Since(run.Task.CreatedAt);
        await s.WaitConsistentAsync(members, masters.Count, cancellationToken);
        await s.CompleteAsync(members, cancellationToken);
        await s.Context.Store.Clusters.SetTaskAsync(clusterId, ClusterTasks.Building, ClusterTasks.None, cancellationToken);
        LogBuilt(clusterId, members.Count, built, joined, Since(run.Task.CreatedAt));
    }

    private double Since(DateTimeOffset start) => (s.Context.Time.GetUtcNow() - start).TotalMilliseconds;

    [LoggerMessage(1501, LogLevel.Information, "Cluster {Cluster} of {Members} members built: members ready at {Built:0} ms, joined at {Joined:0} ms, consistent at {Done:0} ms")]
    private partial void LogBuilt(string cluster, int members, double built, double joined, double done);

    public async Task FailAsync(TaskRecord task, Exception error, CancellationToken cancellationToken)
    {
        var members = await s.MembersAsync(task.InstanceId, cancellationToken);
        await s.RecordFaultAsync(members.Select(m => m.Id), "The cluster could not be formed.", error, cancellationToken);
        await s.Context.Store.Clusters.SetTaskAsync(task.InstanceId, null, ClusterTasks.None, cancellationToken);
    }
}

/// <summary>Adds members: built, met, replicas following; new masters join empty, as the seed says (a rebalance fills them).</summary>
public sealed class GrowClusterHandler(ClusterSteps s) : ITaskHandler
{
    public string Kind => ClusterTaskKinds.Grow;

    public async Task RunAsync(TaskRun run, CancellationToken cancellationToken)
    {
        var clusterId = run.Task.InstanceId;
        var added = JsonSerializer.Deserialize<GrowPayload>(run.Task.Payload, GuestArguments.Json)?.Members ?? [];
        var members = await s.MembersAsync(clusterId, cancellationToken);
        await s.WaitBuiltAsync(clusterId, [.. added], s.BuildTimeout(members[0]), cancellationToken);
        members = await s.LearnNodeIdsAsync(await s.MembersAsync(clusterId, cancellationToken), cancellationToken);
        var joining = members.Where(m => added.Contains(m.Id)).ToList();
        await s.MeetAsync(joining, members, cancellationToken);
        await s.ReplicateAsync([.. joining.Where(m => !ClusterService.IsMaster(m))], members, cancellationToken);
        await s.WaitConsistentAsync(members, null, cancellationToken);
        await s.CompleteAsync(joining, cancellationToken);
        await s.Context.Store.Clusters.SetTaskAsync(clusterId, ClusterTasks.Growing, ClusterTasks.None, cancellationToken);
    }

    public async Task FailAsync(TaskRecord task, Exception error, CancellationToken cancellationToken)
    {
        var added = JsonSerializer.Deserialize<GrowPayload>(task.Payload, GuestArguments.Json)?.Members ?? [];
        await s.RecordFaultAsync(added, "The member could not join the cluster.", error, cancellationToken);
        await s.Context.Store.Clusters.SetTaskAsync(task.InstanceId, null, ClusterTasks.None, cancellationToken);
    }
}

/// <summary>Removes members that own no slots: the others forget them, then they are destroyed.</summary>
public sealed class ShrinkClusterHandler(ClusterSteps s) : ITaskHandler
{
    public string Kind => ClusterTaskKinds.Shrink;

    public async Task RunAsync(TaskRun run, CancellationToken cancellationToken)
    {
        var clusterId = run.Task.InstanceId;
        var payload = JsonSerializer.Deserialize<ShrinkPayload>(run.Task.Payload, GuestArguments.Json) ?? new ShrinkPayload([], []);
        var members = await s.MembersAsync(clusterId, cancellationToken);
        var removing = members.Where(m => payload.Members.Contains(m.Id)).ToList();
        var staying = members.Where(m => !payload.Members.Contains(m.Id)).ToList();
        if (run.Step < 1)
        {
            // Forgotten nodes are banned for 60 s; they are destroyed well within that, so gossip cannot bring them back.
            await Task.WhenAll(staying.Select(m =>
                s.CallAsync(m, GuestMethods.RemoveNodes, new RemoveNodesArguments(payload.NodeIds), ClusterSteps.CallTimeout, cancellationToken)));
            await run.AdvanceAsync(1, cancellationToken);
        }

        if (run.Step < 2)
        {
            await Task.WhenAll(removing.Select(m => s.Context.TeardownAsync(m, cancellationToken)));
            await run.AdvanceAsync(2, cancellationToken);
        }

        await s.WaitConsistentAsync(staying, null, cancellationToken);
        await s.Context.Store.Clusters.SetTaskAsync(clusterId, ClusterTasks.Shrinking, ClusterTasks.None, cancellationToken);
    }

    public async Task FailAsync(TaskRecord task, Exception error, CancellationToken cancellationToken)
    {
        var payload = JsonSerializer.Deserialize<ShrinkPayload>(task.Payload, GuestArguments.Json) ?? new ShrinkPayload([], []);
        await s.RecordFaultAsync(payload.Members, "The member could not be removed from the cluster.", error, cancellationToken);
        await s.Context.Store.Clusters.SetTaskAsync(task.InstanceId, null, ClusterTasks.None, cancellationToken);
    }
}

/// <summary>
/// Moves slots live so every remaining master owns an even share (excluded masters are drained to none).
/// The plan is made once and stored in the task; each wave of moves (one per source, run at once) is one step, so a
/// resumed task continues where it was.
/// </summary>
public sealed partial class RebalanceClusterHandler(ClusterSteps s, ILogger<RebalanceClusterHandler> logger) : ITaskHandler
{
    public const int MaxSlotsPerMove = 512;

    public string Kind => ClusterTaskKinds.Rebalance;

    public async Task RunAsync(TaskRun run, CancellationToken cancellationToken)
    {
        var clusterId = run.Task.InstanceId;
        var plan = RebalancePlan.Read(run.Task.Payload);
        var members = await s.LearnNodeIdsAsync(await s.MembersAsync(clusterId, cancellationToken), cancellationToken);
        if (run.Step < 1 || plan.Moves is null)
        {
            plan = await PlanAsync(plan, members, cancellationToken);
            await run.AdvanceAsync(1, plan.Write(), cancellationToken);
            LogPlanned(clusterId, plan.Moves!.Count, plan.Moves.Sum(m => m.Slots.Sum(r => r.Count)));
        }

        var waves = plan.Waves();
        var byId = members.ToDictionary(m => m.Id, StringComparer.Ordinal);
        while (run.Step <= waves.Count)
        {
            var masters = await MastersAsync(members, cancellationToken);
            var results = await Task.WhenAll(waves[run.Step - 1].Select(async move =>
            {
                var source = byId[move.SourceInstanceId];
                var target = byId[move.TargetInstanceId];
                var request = new SlotMove
                {
                    Slots = move.Slots,
                    TargetNodeId = move.TargetNodeId,
                    TargetAddress = target.Address!,
                    TargetPort = target.Port ?? 0,
                    Masters = [.. masters.Where(m => m.Id != source.Id && m.Id != target.Id).Select(m => new ClusterNodeInfo(m.ClusterNodeId!, m.Address!, m.Port ?? 0))],
                };
                var reply = await s.CallAsync(source, GuestMethods.ClusterMoveSlots, request, ClusterSteps.MoveTimeout, cancellationToken);
                return reply.Deserialize<SlotMoveResult>(GuestArguments.Json)?.KeysMoved ?? 0;
            }));
            plan = plan with { KeysMoved = plan.KeysMoved + results.Sum() };
            await run.AdvanceAsync(run.Step + 1, plan.Write(), cancellationToken);
        }

        var remainingMasters = (await MastersAsync(members, cancellationToken)).Count(m => !plan.Exclude.Contains(m.Id));
        await s.WaitConsistentAsync(members, remainingMasters, cancellationToken);
        LogRebalanced(clusterId, plan.Moves!.Count, plan.KeysMoved);
        await s.Context.Store.Clusters.SetTaskAsync(clusterId, ClusterTasks.Rebalancing, ClusterTasks.None, cancellationToken);
    }

    public Task FailAsync(TaskRecord task, Exception error, CancellationToken cancellationToken) =>
        s.Context.Store.Clusters.SetTaskAsync(task.InstanceId, null, ClusterTasks.None, cancellationToken);

    private async Task<RebalancePlan> PlanAsync(RebalancePlan plan, IReadOnlyList<InstanceRecord> members, CancellationToken cancellationToken)
    {
        var views = await s.TopologiesAsync(members, cancellationToken);
        var problems = ClusterCheck.Problems(views);
        if (problems.Count > 0)
        {
            throw new InvalidOperationException($"the cluster is not consistent, so no slots are moved: {string.Join("; ", problems.Take(5))}");
        }

        var view = views.Values.First();
        var byNode = members.ToDictionary(m => m.ClusterNodeId!, StringComparer.Ordinal);
        var ownership = view.Nodes.Where(n => n.IsMaster && byNode.ContainsKey(n.NodeId))
            .ToDictionary(n => n.NodeId, n => n.Slots, StringComparer.Ordinal);
        var receivers = ownership.Keys.Where(n => !plan.Exclude.Contains(byNode[n].Id)).ToList();
        var moves = SlotPlanner.Rebalance(ownership, receivers, MaxSlotsPerMove);
        return plan with
        {
            Moves = [.. moves.Select(m => new PlannedStep(byNode[m.SourceNodeId].Id, byNode[m.TargetNodeId].Id, m.TargetNodeId, m.Slots))],
        };
    }

    /// <summary>
    /// The members that are masters now (a failover may have changed roles since the plan was made), as the first
    /// member that answers sees it.
    /// </summary>
    private async Task<List<InstanceRecord>> MastersAsync(IReadOnlyList<InstanceRecord> members, CancellationToken cancellationToken)
    {
        GuestCallException? last = null;
        foreach (var member in members)
        {
            try
            {
                var topology = await s.TopologyAsync(member, cancellationToken);
                var masterIds = topology.Nodes.Where(n => n.IsMaster).Select(n => n.NodeId).ToHashSet(StringComparer.Ordinal);
                return [.. members.Where(m => m.ClusterNodeId is not null && masterIds.Contains(m.ClusterNodeId))];
            }
            catch (GuestCallException e)
            {
                last = e; // down or refusing: ask the next member
            }
        }

        throw last ?? new GuestCallException("no member of the cluster answered");
    }

    [LoggerMessage(1510, LogLevel.Information, "Rebalance of cluster {Cluster}: {Moves} moves, {Slots} slots")]
    private partial void LogPlanned(string cluster, int moves, int slots);

    [LoggerMessage(1511, LogLevel.Information, "Rebalance of cluster {Cluster} done: {Moves} moves, {Keys} keys moved")]
    private partial void LogRebalanced(string cluster, int moves, long keys);
}

/// <summary>Deletes a cluster: every member is destroyed, then the cluster record goes.</summary>
public sealed class DeleteClusterHandler(ClusterSteps s) : ITaskHandler
{
    public string Kind => ClusterTaskKinds.Delete;

    public async Task RunAsync(TaskRun run, CancellationToken cancellationToken)
    {
        var members = await s.MembersAsync(run.Task.InstanceId, cancellationToken);
        await Task.WhenAll(members.Select(m => s.Context.TeardownAsync(m, cancellationToken)));
        await s.Context.Store.Clusters.DeleteAsync(run.Task.InstanceId, cancellationToken);
    }

    public Task FailAsync(TaskRecord task, Exception error, CancellationToken cancellationToken) =>
        s.Context.Store.Clusters.SetTaskAsync(task.InstanceId, null, ClusterTasks.None, cancellationToken);
}
