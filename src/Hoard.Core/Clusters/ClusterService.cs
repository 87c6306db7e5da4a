using System.Text.Json;
using Hoard.Abstractions.Clusters;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Guest;
using Hoard.Abstractions.Storage;
using Hoard.Core.Catalog;
using Hoard.Core.Configuration;
using Hoard.Core.Guests;
using Hoard.Core.Identity;
using Hoard.Core.Instances;
using Hoard.Core.Placement;
using Hoard.Core.Tasks;

namespace Hoard.Core.Clusters;

/// <summary>One member asked for in a create or grow.</summary>
public sealed record ClusterMemberRequest(string? FlavorRef, int? VolumeSize, string? Type);

public sealed record CreateClusterRequest
{
    public required string Name { get; init; }

    public required string DatastoreType { get; init; }

    public required string DatastoreVersion { get; init; }

    public required IReadOnlyList<ClusterMemberRequest> Members { get; init; }

    /// <summary>Hoard's extension: of the listed members, every (R+1)-th is a master and the others its replicas.</summary>
    public int? ReplicasPerMaster { get; init; }
}

/// <summary>A member's place in the cluster as the cluster itself sees it now.</summary>
public sealed record MemberRole(bool IsMaster, int Slots, string? MasterInstanceId);

/// <summary>How far a running cluster task is.</summary>
public sealed record TaskProgress(int Done, int Total);

/// <summary>What cluster operations the API offers, with Trove's rules and messages (cluster/models.py, the Redis strategy).</summary>
public sealed class ClusterService(
    IManagementStore store,
    CatalogService catalog,
    PlacementService placement,
    GuestHub hub,
    GuestSecrets secrets,
    HoardOptions options,
    TaskEngine engine,
    WarmMembers warmMembers,
    Quotas.QuotaService quotas,
    TimeProvider time)
{
    public const int MaxMembers = 100;
    public const int MaxReplicasPerMaster = 5;

    private static readonly TimeSpan ViewCallTimeout = TimeSpan.FromSeconds(2);

    public async Task<(ClusterRecord Cluster, IReadOnlyList<InstanceRecord> Members)> CreateAsync(AuthContext auth, CreateClusterRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(auth);
        ArgumentNullException.ThrowIfNull(request);
        var datastore = catalog.FindDatastore(request.DatastoreType) ?? throw ApiException.NotFound($"Datastore '{request.DatastoreType}' cannot be found.");
        var version = catalog.FindVersion(datastore, request.DatastoreVersion) ?? throw ApiException.BadRequest($"Datastore version '{request.DatastoreVersion}' cannot be found.");
        if (!version.Active)
        {
            throw ApiException.BadRequest($"Datastore version '{request.DatastoreVersion}' is not active.");
        }

        RequireClusterSupport(datastore.Name, version.Name);
        var (flavor, volume) = CheckMembers(auth.ProjectId, request.Members, existing: null);
        var types = MemberTypes(request.Members, request.ReplicasPerMaster);

        // Everything is checked before anything is written: a refused create leaves no cluster behind (Trove 18 leaves one).
        var now = time.GetUtcNow();
        var cluster = new ClusterRecord
        {
            Id = Guid.NewGuid().ToString(),
            Name = request.Name,
            ProjectId = auth.ProjectId,
            DatastoreVersionId = version.Id,
            TaskStatus = ClusterTasks.Building,
            CreatedAt = now,
            UpdatedAt = now,
        };

        // Warm members (running, joined to nothing) are adopted first; if another create takes one meanwhile, try again.
        var quota = quotas.ForInsert;
        for (var attempt = 0; ; attempt++)
        {
            var warm = attempt < 3 ? await WarmAsync(datastore.Name, version.Id, flavor.Id, cancellationToken) : [];
            var members = NewMembers(cluster, version.Id, flavor, volume, types, existing: [], rootEnabled: false, now, warm);
            var adopted = members.Where(m => m.Task is null).Select(m => m.Instance.Id).ToList();
            var payload = JsonSerializer.Serialize(new CreatePayload(adopted), GuestArguments.Json);
            var task = TaskRecords.Pending(ClusterTaskKinds.Create, cluster.Id, now, payload);
            var insert = await store.Clusters.InsertAsync(cluster, members, task, quota, cancellationToken);
            if (insert.OverQuota.Count > 0)
            {
                throw Quotas.QuotaService.Exceeded(insert.OverQuota);
            }

            if (insert.Inserted)
            {
                engine.Wake();
                if (adopted.Count > 0)
                {
                    warmMembers.Wake();
                }

                return (cluster, [.. members.Select(m => m.Instance)]);
            }
        }
    }

    /// <summary>Warm members of this shape that serve now, oldest first.</summary>
    private async Task<IReadOnlyList<InstanceRecord>> WarmAsync(string datastore, string versionId, string flavorId, CancellationToken cancellationToken)
    {
        if (options.Raw.GetInt(datastore, DatastoreOptionNames.ClusterWarmMembers) <= 0)
        {
            return [];
        }

        return [.. (await store.Clusters.ListWarmAsync(versionId, flavorId, cancellationToken)).Where(IsServing)];
    }

    public async Task<ClusterRecord> GetAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        var cluster = await store.Clusters.GetAsync(id, cancellationToken);
        return cluster is not null && cluster.ProjectId == projectId
            ? cluster
            : throw ApiException.NotFound($"Cluster '{id}' cannot be found.");
    }

    public async Task<(IReadOnlyList<ClusterRecord> Page, string? NextMarker)> ListAsync(string projectId, string? marker, int? limit, CancellationToken cancellationToken)
    {
        var size = Math.Min(limit ?? options.InstancesPageSize, options.InstancesPageSize);
        var rows = await store.Clusters.ListAsync(projectId, marker, size + 1, cancellationToken);
        if (rows.Count > size)
        {
            var page = rows.Take(size).ToList();
            return (page, page[^1].Id);
        }

        return (rows, null);
    }

    public Task<IReadOnlyList<InstanceRecord>> MembersAsync(string clusterId, CancellationToken cancellationToken) =>
        store.Clusters.ListMembersAsync(clusterId, cancellationToken);

    public async Task<InstanceRecord> GetMemberAsync(string projectId, string clusterId, string instanceId, CancellationToken cancellationToken)
    {
        _ = await GetAsync(projectId, clusterId, cancellationToken);
        var instance = await store.Instances.GetAsync(instanceId, cancellationToken);
        return instance is not null && instance.ClusterId == clusterId
            ? instance
            : throw ApiException.NotFound($"Instance '{instanceId}' cannot be found.");
    }

    /// <summary>
    /// Each member's role and slots as the cluster sees it now, asked of one serving member (node ids matched to
    /// members); empty when no member answers in time, so a show never waits long on a sick cluster.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, MemberRole>> RolesAsync(IReadOnlyList<InstanceRecord> members, CancellationToken cancellationToken)
    {
        var byNode = members.Where(m => m.ClusterNodeId is not null).ToDictionary(m => m.ClusterNodeId!, m => m.Id, StringComparer.Ordinal);

        // Asked of a few members at once and the first answer taken: a member busy moving slots answers only after its move.
        using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var asking = members.Where(m => m.ClusterNodeId is not null && IsServing(m) && hub.IsClaimed(m.Id)).Take(3)
            .Select(m => hub.CallAsync(m.Id, GuestMethods.ClusterNodes, null, ViewCallTimeout, done.Token)).ToList();
        while (asking.Count > 0)
        {
            var answered = await Task.WhenAny(asking);
            asking.Remove(answered);
            try
            {
                var topology = (await answered).Deserialize<ClusterTopology>(GuestArguments.Json);
                if (topology is null)
                {
                    continue;
                }

                await done.CancelAsync();
                var roles = new Dictionary<string, MemberRole>(StringComparer.Ordinal);
                foreach (var node in topology.Nodes)
                {
                    if (byNode.TryGetValue(node.NodeId, out var instanceId))
                    {
                        var master = node.MasterId is not null && byNode.TryGetValue(node.MasterId, out var m) ? m : null;
                        roles[instanceId] = new MemberRole(node.IsMaster, node.SlotCount, node.IsMaster ? null : master);
                    }
                }

                return roles;
            }
            catch (Exception e) when (e is GuestCallException or TimeoutException or JsonException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // the next answer, if any
            }
        }

        return new Dictionary<string, MemberRole>();
    }

    /// <summary>How far the cluster's running task is, for tasks that count their steps (rebalance).</summary>
    public async Task<TaskProgress?> ProgressAsync(ClusterRecord cluster, CancellationToken cancellationToken)
    {
        if (cluster.TaskStatus != ClusterTasks.Rebalancing)
        {
            return null;
        }

        var task = (await store.Tasks.ListUnfinishedAsync(cancellationToken)).FirstOrDefault(t => t.InstanceId == cluster.Id && t.Kind == ClusterTaskKinds.Rebalance);
        return task is null ? null : RebalancePlan.Progress(task);
    }

    public async Task DeleteAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        var cluster = await GetAsync(projectId, id, cancellationToken);
        if (cluster.TaskStatus == ClusterTasks.Deleting)
        {
            return;
        }

        RequireNoTask(cluster);
        await StartTaskAsync(projectId, id, ClusterTasks.Deleting, TaskRecords.Pending(ClusterTaskKinds.Delete, id, time.GetUtcNow()), [], cancellationToken);
    }

    public async Task<IReadOnlyList<InstanceRecord>> GrowAsync(string projectId, string id, IReadOnlyList<ClusterMemberRequest> requested, CancellationToken cancellationToken)
    {
        var cluster = await GetAsync(projectId, id, cancellationToken);
        RequireNoTask(cluster);
        var existing = await store.Clusters.ListMembersAsync(id, cancellationToken);
        if (existing.Count + requested.Count > MaxMembers)
        {
            throw ApiException.BadRequest($"A cluster has at most {MaxMembers} members; it has {existing.Count} and {requested.Count} were asked for.");
        }

        var (flavor, volume) = CheckMembers(projectId, requested, existing);
        var types = MemberTypes(requested, replicasPerMaster: null, allowAllReplicas: existing.Any(IsMaster));
        var now = time.GetUtcNow();
        var members = NewMembers(cluster, cluster.DatastoreVersionId, flavor, volume, types, existing, cluster.RootSecret is not null, now);
        var payload = JsonSerializer.Serialize(new GrowPayload([.. members.Select(m => m.Instance.Id)]), GuestArguments.Json);
        var task = TaskRecords.Pending(ClusterTaskKinds.Grow, id, now, payload);
        await StartTaskAsync(projectId, id, ClusterTasks.Growing, task, members, cancellationToken);
        return [.. members.Select(m => m.Instance)];
    }

    public async Task ShrinkAsync(string projectId, string id, IReadOnlyList<string> instanceIds, CancellationToken cancellationToken)
    {
        var cluster = await GetAsync(projectId, id, cancellationToken);
        RequireNoTask(cluster);
        var members = await store.Clusters.ListMembersAsync(id, cancellationToken);
        var removing = ResolveMembers(id, members, instanceIds);
        if (removing.Count == members.Count)
        {
            throw ApiException.BadRequest("Must leave at least one instance in the cluster when shrinking.");
        }

        var removingIds = removing.Select(m => m.Id).ToHashSet(StringComparer.Ordinal);
        var roles = await RolesAsync(members, cancellationToken);
        if (!members.Where(m => !removingIds.Contains(m.Id)).Any(m => roles.TryGetValue(m.Id, out var r) ? r.IsMaster : IsMaster(m)))
        {
            throw ApiException.BadRequest("Must leave at least one master in the cluster when shrinking.");
        }

        // As the seed says: a member that still owns slots is refused (403); drain it first with a rebalance that excludes it.
        var nodeIds = new List<string>();
        foreach (var member in removing)
        {
            var inUse = $"Instance(s) {member.Id} currently in use and cannot be deleted. Details: ";
            var followers = members.Where(m => !removingIds.Contains(m.Id) && roles.TryGetValue(m.Id, out var r) && r.MasterInstanceId == member.Id).ToList();
            if (followers.Count > 0)
            {
                throw ApiException.Forbidden(inUse + $"replica(s) {string.Join(", ", followers.Select(f => f.Id))} follow it; remove them too.");
            }

            if (!IsServing(member) || member.ClusterNodeId is null)
            {
                // A member that never joined (or is down) owns nothing the cluster needs from it; it is forgotten by id if known.
                if (member.ClusterNodeId is not null)
                {
                    nodeIds.Add(member.ClusterNodeId);
                }

                continue;
            }

            var reply = await hub.CallAsync(member.Id, GuestMethods.GetNodeIdForRemoval, null, InstanceService.GuestCallTimeout, cancellationToken);
            var nodeId = reply.Deserialize<NodeIdForRemoval>(GuestArguments.Json)?.NodeId;
            if (nodeId is null)
            {
                throw ApiException.Forbidden(inUse + "it still owns hash slots; move them off first with {\"rebalance\": {\"exclude\": [{\"id\": \"" + member.Id + "\"}]}}.");
            }

            nodeIds.Add(nodeId);
        }

        var payload = JsonSerializer.Serialize(new ShrinkPayload([.. removing.Select(m => m.Id)], nodeIds), GuestArguments.Json);
        var task = TaskRecords.Pending(ClusterTaskKinds.Shrink, id, time.GetUtcNow(), payload);
        await StartTaskAsync(projectId, id, ClusterTasks.Shrinking, task, [], cancellationToken);
    }

    public async Task RebalanceAsync(string projectId, string id, IReadOnlyList<string> excludeIds, CancellationToken cancellationToken)
    {
        var cluster = await GetAsync(projectId, id, cancellationToken);
        RequireNoTask(cluster);
        var members = await store.Clusters.ListMembersAsync(id, cancellationToken);
        var excluded = ResolveMembers(id, members, excludeIds);
        RequireAllServing(members, "; every member must be ACTIVE to move slots");

        var roles = await RolesAsync(members, cancellationToken);
        foreach (var member in excluded)
        {
            if (roles.TryGetValue(member.Id, out var role) ? !role.IsMaster : !IsMaster(member))
            {
                throw ApiException.BadRequest($"Instance {member.Id} is a replica; it owns no slots to move.");
            }
        }

        var excludedIds = excluded.Select(m => m.Id).ToHashSet(StringComparer.Ordinal);
        if (!members.Any(m => !excludedIds.Contains(m.Id) && (roles.TryGetValue(m.Id, out var r) ? r.IsMaster : IsMaster(m))))
        {
            throw ApiException.BadRequest("At least one master must keep slots; the rebalance excludes them all.");
        }

        var payload = JsonSerializer.Serialize(new RebalancePlan { Exclude = [.. excludedIds] }, GuestArguments.Json);
        var task = TaskRecords.Pending(ClusterTaskKinds.Rebalance, id, time.GetUtcNow(), payload);
        await StartTaskAsync(projectId, id, ClusterTasks.Rebalancing, task, [], cancellationToken);
    }

    public async Task<bool> RootEnabledAsync(string projectId, string id, CancellationToken cancellationToken) =>
        (await GetAsync(projectId, id, cancellationToken)).RootSecret is not null;

    /// <summary>Enables root with one password on every member, so a cluster-aware client logs in anywhere; new members get it too.</summary>
    public async Task<RootCredentials> EnableRootAsync(string projectId, string id, string? password, CancellationToken cancellationToken)
    {
        var cluster = await GetAsync(projectId, id, cancellationToken);
        RequireNoTask(cluster);
        var members = await store.Clusters.ListMembersAsync(id, cancellationToken);
        RequireAllServing(members, string.Empty);

        var rootPassword = password ?? Abstractions.IO.Passwords.Generate(Abstractions.IO.Passwords.Alphanumeric, 24);

        // Stored first: a member that answers late, or a grow that starts next, still gets this password.
        await store.Clusters.SetRootSecretAsync(id, secrets.Seal(rootPassword), cancellationToken);
        RootCredentials? credentials = null;
        await Task.WhenAll(members.Select(async m =>
        {
            var reply = await hub.CallAsync(m.Id, GuestMethods.EnableRoot, new { password = rootPassword }, InstanceService.GuestCallTimeout, cancellationToken);
            credentials ??= reply.Deserialize<RootCredentials>(GuestArguments.Json);
            await store.Instances.UpdateAsync(m.Id, new InstanceChange { RootEnabled = true }, cancellationToken);
        }));
        return credentials ?? new RootCredentials("root", rootPassword);
    }

    public static bool IsServing(InstanceRecord member) =>
        member.TaskStatus == InstanceTasks.None && member.ServerStatus == ServerStatuses.Active
        && ServiceStatusNames.Parse(member.ServiceStatus) == ServiceStatus.Running;

    public static bool IsMaster(InstanceRecord member) => member.InstanceType != ClusterMemberTypes.Replica;

    private void RequireClusterSupport(string datastore, string version)
    {
        if (string.IsNullOrEmpty(options.Raw.GetString(datastore, DatastoreOptionNames.ClusterStrategy)))
        {
            throw ApiException.BadRequest($"Clusters not supported for {datastore}-{version}.");
        }
    }

    /// <summary>Moves the cluster from NONE to <paramref name="newTask"/> with its task (and new members), or Trove's 422 if another task got there first.</summary>
    private async Task StartTaskAsync(string projectId, string id, string newTask, TaskRecord task, IReadOnlyList<NewMember> newMembers, CancellationToken cancellationToken)
    {
        // A grow's new members count against the project's quota (Trove checks it too); other tasks add nothing.
        var quota = newMembers.Count > 0 ? quotas.ForInsert : QuotaLimits.None;
        var started = await store.Clusters.StartTaskAsync(id, ClusterTasks.None, newTask, task, newMembers, quota, cancellationToken);
        if (started.OverQuota.Count > 0)
        {
            throw Quotas.QuotaService.Exceeded(started.OverQuota);
        }

        if (!started.Inserted)
        {
            throw Busy(await GetAsync(projectId, id, cancellationToken));
        }

        engine.Wake();
    }

    /// <summary>Trove's 422 "not ready" naming the first member that does not serve.</summary>
    private static void RequireAllServing(IReadOnlyList<InstanceRecord> members, string why)
    {
        var notServing = members.FirstOrDefault(m => !IsServing(m));
        if (notServing is not null)
        {
            throw ApiException.Unprocessable($"Instance {notServing.Id} of the cluster is not ready, status: {InstanceStatus.ApiStatus(notServing).ToLowerInvariant()}{why}.");
        }
    }

    private static void RequireNoTask(ClusterRecord cluster)
    {
        if (cluster.TaskStatus != ClusterTasks.None)
        {
            throw Busy(cluster);
        }
    }

    private static ApiException Busy(ClusterRecord cluster) =>
        ApiException.Unprocessable($"This action cannot be performed on the cluster while the current cluster task is '{cluster.TaskStatus}'.");

    /// <summary>Flavor and volume of the members: all alike (and alike the cluster's, on grow), as the seed requires.</summary>
    private (FlavorRecord Flavor, int? Volume) CheckMembers(string projectId, IReadOnlyList<ClusterMemberRequest> requested, IReadOnlyList<InstanceRecord>? existing)
    {
        if (requested.Count == 0)
        {
            throw ApiException.BadRequest(existing is null ? "A cluster needs at least one instance." : "A grow needs at least one instance.");
        }

        if (requested.Count > MaxMembers)
        {
            throw ApiException.BadRequest($"A cluster has at most {MaxMembers} members; {requested.Count} were asked for.");
        }

        if (requested.Any(r => string.IsNullOrEmpty(r.FlavorRef)))
        {
            throw ApiException.Forbidden("A flavor is required for each instance in the cluster.");
        }

        var flavors = requested.Select(r => catalog.FindFlavor(r.FlavorRef!, projectId) ?? throw ApiException.NotFound($"Resource {r.FlavorRef} cannot be found.")).ToList();
        var flavor = flavors[0];
        var reference = existing is { Count: > 0 } ? existing[0] : null;
        if (flavors.Any(f => f.Id != flavor.Id) || (reference is not null && reference.FlavorId != flavor.Id))
        {
            throw ApiException.Forbidden("The flavor for each instance in a cluster must be the same.");
        }

        var volume = requested[0].VolumeSize;
        if (requested.Any(r => r.VolumeSize != volume) || (reference is not null && reference.VolumeSize != volume))
        {
            throw ApiException.Forbidden("The volume size for each instance in a cluster must be the same.");
        }

        // The stock client requires a volume size for every cluster member (--instance flavor=F,volume=N), so the size is
        // recorded even where the driver has no volumes; Trove 18 refuses it there, which leaves its own client unable
        // to create a cluster on local storage.
        return (flavor, volume);
    }

    /// <summary>Whether each requested member is a replica: its own "type", or every (R+1)-th a master with replicas_per_master R.</summary>
    private static bool[] MemberTypes(IReadOnlyList<ClusterMemberRequest> requested, int? replicasPerMaster, bool allowAllReplicas = false)
    {
        var explicitReplicas = requested.Select(r => r.Type switch
        {
            null or ClusterMemberTypes.Member or "master" => false,
            ClusterMemberTypes.Replica => true,
            var other => throw ApiException.BadRequest($"Instance type '{other}' is not valid for a redis cluster; use 'member' (a master) or 'replica'."),
        }).ToArray();
        if (replicasPerMaster is int r)
        {
            if (r < 0 || r > MaxReplicasPerMaster)
            {
                throw ApiException.BadRequest($"replicas_per_master must be between 0 and {MaxReplicasPerMaster}.");
            }

            if (explicitReplicas.Any(x => x))
            {
                throw ApiException.BadRequest("Give either replicas_per_master or instance types, not both.");
            }

            if (requested.Count % (r + 1) != 0)
            {
                throw ApiException.BadRequest($"With replicas_per_master {r} the number of instances must be a multiple of {r + 1}; {requested.Count} were asked for.");
            }

            return [.. Enumerable.Range(0, requested.Count).Select(i => i >= requested.Count / (r + 1))];
        }

        if (!allowAllReplicas && explicitReplicas.All(x => x))
        {
            throw ApiException.BadRequest("A cluster needs at least one master; every instance asked for is a replica.");
        }

        return explicitReplicas;
    }

    /// <summary>The new member records: named &lt;cluster&gt;-member-N after the highest N so far; replicas spread over the masters with the fewest.</summary>
    private List<NewMember> NewMembers(ClusterRecord cluster, string versionId, FlavorRecord flavor, int? volume, bool[] replica, IReadOnlyList<InstanceRecord> existing, bool rootEnabled, DateTimeOffset now, IReadOnlyList<InstanceRecord>? warm = null)
    {
        warm ??= [];
        var next = existing.Select(m => MemberNumber(cluster.Name, m.Name)).DefaultIfEmpty(0).Max() + 1;
        var pool = placement.ChooseFor(flavor);
        var masters = existing.Where(IsMaster).Select(m => m.Id).ToList();
        var followers = existing.Where(m => m.ReplicaOf is not null).GroupBy(m => m.ReplicaOf!).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var members = new List<NewMember>();
        var records = new List<InstanceRecord>();
        for (var i = 0; i < replica.Length; i++)
        {
            var type = replica[i] ? ClusterMemberTypes.Replica : ClusterMemberTypes.Member;
            if (i < warm.Count)
            {
                // Adopted: the warm instance keeps its id, address and server, and takes the member's place.
                records.Add(warm[i] with
                {
                    Name = $"{cluster.Name}-member-{next + i}",
                    ProjectId = cluster.ProjectId,
                    ClusterId = cluster.Id,
                    InstanceType = type,
                    VolumeSize = volume,
                    RootEnabled = rootEnabled,
                });
                if (!replica[i])
                {
                    masters.Add(warm[i].Id);
                }

                continue;
            }

            var id = Guid.NewGuid().ToString();
            records.Add(new InstanceRecord
            {
                Id = id,
                Name = $"{cluster.Name}-member-{next + i}",
                ProjectId = cluster.ProjectId,
                FlavorId = flavor.Id,
                DatastoreVersionId = versionId,
                VolumeSize = volume,
                TaskStatus = InstanceTasks.Building,
                ServiceStatus = ServiceStatus.New.ToTroveName(),
                ServerStatus = ServerStatuses.Build,
                Pool = pool.Name,
                SecretHash = Secrets.Sha256Hex(secrets.GuestSecret(id)),
                RootEnabled = rootEnabled,
                CreatedAt = now,
                UpdatedAt = now,
                ClusterId = cluster.Id,
                InstanceType = type,
            });
            if (!replica[i])
            {
                masters.Add(id);
            }
        }

        foreach (var record in records)
        {
            var member = record;
            if (member.InstanceType == ClusterMemberTypes.Replica)
            {
                var master = masters.OrderBy(m => followers.GetValueOrDefault(m)).ThenBy(masters.IndexOf).First();
                followers[master] = followers.GetValueOrDefault(master) + 1;
                member = member with { ReplicaOf = master };
            }

            // The member's prepare reads the cluster's root password from the cluster record, sealed there.
            var adopted = warm.Any(w => w.Id == member.Id);
            members.Add(new NewMember(member, adopted ? null : TaskRecords.Pending(InstanceTaskKinds.Create, member.Id, now)));
        }

        return members;
    }

    private static int MemberNumber(string clusterName, string memberName)
    {
        var prefix = clusterName + "-member-";
        return memberName.StartsWith(prefix, StringComparison.Ordinal) && int.TryParse(memberName.AsSpan(prefix.Length), out var n) ? n : 0;
    }

    private static List<InstanceRecord> ResolveMembers(string clusterId, IReadOnlyList<InstanceRecord> members, IReadOnlyList<string> ids)
    {
        var resolved = new List<InstanceRecord>();
        foreach (var id in ids.Distinct(StringComparer.Ordinal))
        {
            resolved.Add(members.FirstOrDefault(m => m.Id == id)
                ?? throw ApiException.NotFound($"Instance '{id}' cannot be found in cluster '{clusterId}'."));
        }

        return resolved;
    }

}

public static class ClusterTaskKinds
{
    public const string Create = "cluster.create";
    public const string Grow = "cluster.grow";
    public const string Shrink = "cluster.shrink";
    public const string Rebalance = "cluster.rebalance";
    public const string Delete = "cluster.delete";
}

public sealed record GrowPayload(IReadOnlyList<string> Members);

/// <summary>The create task's payload: the warm members it adopted, which its prepare moves into the cluster.</summary>
public sealed record CreatePayload(IReadOnlyList<string> Adopted);

public sealed record ShrinkPayload(IReadOnlyList<string> Members, IReadOnlyList<string> NodeIds);
