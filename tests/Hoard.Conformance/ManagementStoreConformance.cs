using Hoard.Abstractions.Storage;
using Xunit;

namespace Hoard.Conformance;

/// <summary>
/// The contract every management-store backend keeps. A backend's test class inherits this and says how
/// to open an empty store; the backend is done when every test here passes.
/// </summary>
public abstract partial class ManagementStoreConformance : IAsyncLifetime
{
    protected IManagementStore Store { get; private set; } = null!;

    protected abstract Task<IManagementStore> OpenEmptyStoreAsync();

    public async Task InitializeAsync()
    {
        Store = await OpenEmptyStoreAsync();
        await Store.MigrateAsync(CancellationToken.None);
    }

    public async Task DisposeAsync() => await Store.DisposeAsync();

    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);

    protected static InstanceRecord NewInstance(string project, string? id = null) => new()
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

    protected static TaskRecord NewTask(string instanceId, string kind = "instance.create") => new()
    {
        Id = Guid.NewGuid().ToString(),
        Kind = kind,
        InstanceId = instanceId,
        State = TaskStates.Pending,
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    [Fact]
    public async Task Migrating_twice_is_harmless()
    {
        await Store.MigrateAsync(CancellationToken.None);
        Assert.Empty(await Store.Instances.ListAsync(null, null, 10, includeClustered: true, CancellationToken.None));
    }

    [Fact]
    public async Task Projects_users_and_roles_are_found_by_id_or_name_and_names_are_unique()
    {
        var ct = CancellationToken.None;
        Assert.True(await Store.Identity.InsertProjectAsync(new ProjectRecord("p1", "alpha", "default", "", true), ct));
        Assert.False(await Store.Identity.InsertProjectAsync(new ProjectRecord("p2", "alpha", "default", "", true), ct));
        Assert.Equal("p1", (await Store.Identity.GetProjectAsync("alpha", ct))!.Id);
        Assert.Equal("alpha", (await Store.Identity.GetProjectAsync("p1", ct))!.Name);
        Assert.True(await Store.Identity.InsertUserAsync(new UserRecord("u1", "ann", "default", "p1", "h", true), ct));
        Assert.True(await Store.Identity.InsertRoleAsync(new RoleRecord("r1", "member"), ct));
        await Store.Identity.AssignRoleAsync(new RoleAssignment("p1", "u1", "r1"), ct);
        await Store.Identity.AssignRoleAsync(new RoleAssignment("p1", "u1", "r1"), ct);
        Assert.Equal("member", Assert.Single(await Store.Identity.ListRolesForAsync("p1", "u1", ct)).Name);
        Assert.True(await Store.Identity.UnassignRoleAsync(new RoleAssignment("p1", "u1", "r1"), ct));
        Assert.Empty(await Store.Identity.ListRolesForAsync("p1", "u1", ct));
    }

    [Fact]
    public async Task Tokens_are_kept_by_hash_and_purged_when_expired()
    {
        var ct = CancellationToken.None;
        await Store.Identity.InsertProjectAsync(new ProjectRecord("p1", "alpha", "default", "", true), ct);
        await Store.Identity.InsertUserAsync(new UserRecord("u1", "ann", "default", "p1", "h", true), ct);
        await Store.Identity.InsertTokenAsync(new TokenRecord("old", "u1", "p1", T0, T0.AddMinutes(1)), ct);
        await Store.Identity.InsertTokenAsync(new TokenRecord("new", "u1", "p1", T0, T0.AddHours(1)), ct);
        Assert.Equal(T0.AddHours(1), (await Store.Identity.GetTokenAsync("new", ct))!.ExpiresAt);
        Assert.Equal(1, await Store.Identity.PurgeExpiredTokensAsync(T0.AddMinutes(30), ct));
        Assert.Null(await Store.Identity.GetTokenAsync("old", ct));
        Assert.True(await Store.Identity.DeleteTokenAsync("new", ct));
        Assert.Null(await Store.Identity.GetTokenAsync("new", ct));
    }

    [Fact]
    public async Task Instances_page_in_creation_order_per_project()
    {
        var ct = CancellationToken.None;
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var instance = NewInstance("p1");
            ids.Add(instance.Id);
            await Store.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), null, ct);
        }

        var other = NewInstance("p2");
        await Store.Instances.InsertWithTaskAsync(other, NewTask(other.Id), null, ct);
        var first = await Store.Instances.ListAsync("p1", null, 2, includeClustered: false, ct);
        Assert.Equal(ids.Take(2), first.Select(i => i.Id));
        var next = await Store.Instances.ListAsync("p1", first[^1].Id, 10, includeClustered: false, ct);
        Assert.Equal(ids.Skip(2), next.Select(i => i.Id));
        Assert.Equal(5, await Store.Instances.CountAsync("p1", ct));
        Assert.Equal(6, await Store.Instances.CountAsync(null, ct));
        Assert.Equal(2, (await Store.Tasks.ListUnfinishedAsync(ct)).Count(t => t.InstanceId == ids[0] || t.InstanceId == other.Id));
    }

    [Fact]
    public async Task A_cluster_is_written_with_its_members_and_their_tasks_at_once()
    {
        var ct = CancellationToken.None;
        var cluster = NewCluster("p1");
        var members = Enumerable.Range(1, 3).Select(i => Member(cluster, i)).ToList();
        members[2] = members[2] with { Instance = members[2].Instance with { InstanceType = ClusterMemberTypes.Replica, ReplicaOf = members[0].Instance.Id } };
        var clusterTask = NewTask(cluster.Id, "cluster.create");
        await Store.Clusters.InsertAsync(cluster, members, clusterTask, ct);

        Assert.Equal(cluster with { }, await Store.Clusters.GetAsync(cluster.Id, ct));
        Assert.Equal(members.Select(m => m.Instance.Id), (await Store.Clusters.ListMembersAsync(cluster.Id, ct)).Select(m => m.Id));
        var member = (await Store.Instances.GetAsync(members[2].Instance.Id, ct))!;
        Assert.Equal((cluster.Id, ClusterMemberTypes.Replica, members[0].Instance.Id), (member.ClusterId, member.InstanceType, member.ReplicaOf));
        var unfinished = await Store.Tasks.ListUnfinishedAsync(ct);
        Assert.Contains(unfinished, t => t.Id == clusterTask.Id);
        Assert.All(members, m => Assert.Contains(unfinished, t => t.Id == m.Task!.Id));

        // Trove's instance list leaves cluster members out unless asked for them.
        var standalone = NewInstance("p1");
        await Store.Instances.InsertWithTaskAsync(standalone, NewTask(standalone.Id), null, ct);
        Assert.Equal([standalone.Id], (await Store.Instances.ListAsync("p1", null, 10, includeClustered: false, ct)).Select(i => i.Id));
        Assert.Equal(4, (await Store.Instances.ListAsync("p1", null, 10, includeClustered: true, ct)).Count);

        Assert.True(await Store.Instances.UpdateAsync(member.Id, new InstanceChange { ClusterNodeId = "node-3" }, ct));
        Assert.Equal("node-3", (await Store.Instances.GetAsync(member.Id, ct))!.ClusterNodeId);
    }

    [Fact]
    public async Task A_warm_instance_is_adopted_by_one_cluster_only()
    {
        var ct = CancellationToken.None;
        var warm = NewInstance(string.Empty) with { InstanceType = ClusterMemberTypes.Warm };
        await Store.Instances.InsertWithTaskAsync(warm, NewTask(warm.Id), null, ct);
        Assert.Equal([warm.Id], (await Store.Clusters.ListWarmAsync("v1", "1", ct)).Select(w => w.Id));
        Assert.Empty(await Store.Clusters.ListWarmAsync("v1", "2", ct));

        NewMember Adopting(ClusterRecord c) => new(warm with { Name = "c1-member-1", ProjectId = c.ProjectId, ClusterId = c.Id, InstanceType = ClusterMemberTypes.Member }, null);
        var first = NewCluster("p1");
        var second = NewCluster("p2");
        Assert.True(await Store.Clusters.InsertAsync(first, [Adopting(first), Member(first, 2)], NewTask(first.Id, "cluster.create"), ct));
        Assert.False(await Store.Clusters.InsertAsync(second, [Adopting(second)], NewTask(second.Id, "cluster.create"), ct));

        Assert.Null(await Store.Clusters.GetAsync(second.Id, ct));
        var adopted = (await Store.Instances.GetAsync(warm.Id, ct))!;
        Assert.Equal(("c1-member-1", "p1", first.Id, ClusterMemberTypes.Member), (adopted.Name, adopted.ProjectId, adopted.ClusterId, adopted.InstanceType));
        Assert.Empty(await Store.Clusters.ListWarmAsync("v1", "1", ct));
        Assert.Equal(2, (await Store.Clusters.ListMembersAsync(first.Id, ct)).Count);
    }

    [Fact]
    public async Task A_cluster_task_starts_only_from_the_expected_task_and_adds_members_with_it()
    {
        var ct = CancellationToken.None;
        var cluster = NewCluster("p1") with { TaskStatus = ClusterTasks.None };
        await Store.Clusters.InsertAsync(cluster, [Member(cluster, 1)], NewTask(cluster.Id, "cluster.create"), ct);

        var grown = Member(cluster, 2);
        var grow = NewTask(cluster.Id, "cluster.grow");
        var outcomes = await Task.WhenAll(
            Store.Clusters.StartTaskAsync(cluster.Id, ClusterTasks.None, ClusterTasks.Growing, grow, [grown], ct),
            Store.Clusters.StartTaskAsync(cluster.Id, ClusterTasks.None, ClusterTasks.Rebalancing, NewTask(cluster.Id, "cluster.rebalance"), [], ct));
        Assert.Single(outcomes, won => won);
        var after = (await Store.Clusters.GetAsync(cluster.Id, ct))!;
        var grewFirst = after.TaskStatus == ClusterTasks.Growing;
        Assert.Equal(grewFirst ? 2 : 1, (await Store.Clusters.ListMembersAsync(cluster.Id, ct)).Count);
        Assert.Equal(grewFirst, await Store.Tasks.GetAsync(grow.Id, ct) is not null);

        Assert.False(await Store.Clusters.SetTaskAsync(cluster.Id, ClusterTasks.None, ClusterTasks.Deleting, ct));
        Assert.True(await Store.Clusters.SetTaskAsync(cluster.Id, null, ClusterTasks.None, ct));
        Assert.True(await Store.Clusters.SetRootSecretAsync(cluster.Id, "sealed", ct));
        Assert.Equal("sealed", (await Store.Clusters.GetAsync(cluster.Id, ct))!.RootSecret);
        Assert.Equal(1, await Store.Clusters.CountAsync("p1", ct));
        Assert.Empty(await Store.Clusters.ListAsync("p2", null, 10, ct));
        Assert.True(await Store.Clusters.DeleteAsync(cluster.Id, ct));
        Assert.Null(await Store.Clusters.GetAsync(cluster.Id, ct));
        Assert.Empty(await Store.Clusters.ListAsync("p1", null, 10, ct));
    }

    [Fact]
    public async Task A_task_payload_is_replaced_with_its_step_only_under_the_lease()
    {
        var ct = CancellationToken.None;
        var instance = NewInstance("p1");
        var task = NewTask(instance.Id);
        await Store.Instances.InsertWithTaskAsync(instance, task, null, ct);
        Assert.True(await Store.Tasks.TryClaimAsync(task.Id, null, null, "me", T0.AddHours(1), ct));
        Assert.False(await Store.Tasks.AdvanceAsync(task.Id, "someone-else", 3, "{\"plan\":1}", ct));
        Assert.True(await Store.Tasks.AdvanceAsync(task.Id, "me", 3, "{\"plan\":2}", ct));
        var read = (await Store.Tasks.GetAsync(task.Id, ct))!;
        Assert.Equal((3, "{\"plan\":2}"), (read.Step, read.Payload));
    }

    private static ClusterRecord NewCluster(string project) => new()
    {
        Id = Guid.NewGuid().ToString(),
        Name = "c1",
        ProjectId = project,
        DatastoreVersionId = "v1",
        TaskStatus = ClusterTasks.Building,
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    /// <summary>Member n of a cluster, a master.</summary>
    private static NewMember Member(ClusterRecord cluster, int n)
    {
        var instance = NewInstance(cluster.ProjectId) with { Name = $"c1-member-{n}", ClusterId = cluster.Id, InstanceType = ClusterMemberTypes.Member };
        return new NewMember(instance, NewTask(instance.Id));
    }

    [Fact]
    public async Task Partial_updates_change_only_what_they_name_and_deleted_instances_vanish()
    {
        var ct = CancellationToken.None;
        var instance = NewInstance("p1");
        await Store.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), null, ct);
        Assert.True(await Store.Instances.UpdateAsync(instance.Id, new InstanceChange { ServiceStatus = "RUNNING" }, ct));
        Assert.False(await Store.Instances.UpdateIfTaskAsync(instance.Id, InstanceTasks.None, new InstanceChange { Name = "no" }, ct));
        Assert.True(await Store.Instances.UpdateIfTaskAsync(instance.Id, InstanceTasks.Building, new InstanceChange { TaskStatus = InstanceTasks.None, FaultMessage = "boom", FaultDetails = "why" }, ct));
        var read = (await Store.Instances.GetAsync(instance.Id, ct))!;
        Assert.Equal(("db", "RUNNING", InstanceTasks.None, "boom", "why"), (read.Name, read.ServiceStatus, read.TaskStatus, read.FaultMessage, read.FaultDetails));
        Assert.True(await Store.Instances.UpdateAsync(instance.Id, new InstanceChange { FaultMessage = string.Empty }, ct));
        Assert.Null((await Store.Instances.GetAsync(instance.Id, ct))!.FaultMessage);
        Assert.True(await Store.Instances.UpdateAsync(instance.Id, new InstanceChange { Deleted = true }, ct));
        Assert.Null(await Store.Instances.GetAsync(instance.Id, ct));
        Assert.False(await Store.Instances.UpdateAsync(instance.Id, new InstanceChange { Name = "x" }, ct));
    }

    [Fact]
    public async Task An_address_belongs_to_one_live_instance_of_a_pool_and_is_freed_by_delete()
    {
        var ct = CancellationToken.None;
        var a = NewInstance("p1");
        var b = NewInstance("p1");
        await Store.Instances.InsertWithTaskAsync(a, NewTask(a.Id), null, ct);
        await Store.Instances.InsertWithTaskAsync(b, NewTask(b.Id), null, ct);
        Assert.True(await Store.Instances.TryAssignAddressAsync(a.Id, "default", "127.42.0.1", 6379, ct));
        Assert.False(await Store.Instances.TryAssignAddressAsync(b.Id, "default", "127.42.0.1", 6379, ct));
        Assert.Equal(["127.42.0.1"], await Store.Instances.ListAddressesAsync("default", ct));
        await Store.Instances.UpdateAsync(a.Id, new InstanceChange { Deleted = true }, ct);
        Assert.True(await Store.Instances.TryAssignAddressAsync(b.Id, "default", "127.42.0.1", 6379, ct));
    }

    [Fact]
    public async Task A_task_lease_is_taken_by_one_owner_and_only_the_owner_advances_it()
    {
        var ct = CancellationToken.None;
        var instance = NewInstance("p1");
        var task = NewTask(instance.Id);
        await Store.Instances.InsertWithTaskAsync(instance, task, null, ct);
        var until = T0.AddSeconds(10);
        Assert.True(await Store.Tasks.TryClaimAsync(task.Id, null, null, "a", until, ct));
        Assert.False(await Store.Tasks.TryClaimAsync(task.Id, null, null, "b", until, ct));
        Assert.False(await Store.Tasks.AdvanceAsync(task.Id, "b", 1, ct));
        Assert.True(await Store.Tasks.AdvanceAsync(task.Id, "a", 1, ct));

        // b takes over after a's lease lapses, by naming the lease it saw.
        Assert.True(await Store.Tasks.TryClaimAsync(task.Id, "a", until, "b", until.AddSeconds(10), ct));
        Assert.False(await Store.Tasks.RenewAsync(task.Id, "a", until.AddSeconds(20), ct));
        var taken = (await Store.Tasks.GetAsync(task.Id, ct))!;
        Assert.Equal(("b", 1, 2), (taken.LeaseOwner, taken.Step, taken.Attempts));
        Assert.True(await Store.Tasks.FinishAsync(task.Id, "b", TaskStates.Done, null, ct));
        Assert.DoesNotContain(await Store.Tasks.ListUnfinishedAsync(ct), t => t.Id == task.Id);
    }

    [Fact]
    public async Task A_task_for_an_instance_is_queued_only_from_the_expected_state()
    {
        var ct = CancellationToken.None;
        var instance = NewInstance("p1");
        await Store.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), null, ct);
        await Store.Instances.UpdateAsync(instance.Id, new InstanceChange { TaskStatus = InstanceTasks.None }, ct);
        Assert.True(await Store.Tasks.InsertForInstanceAsync(NewTask(instance.Id, "instance.delete"), InstanceTasks.None, InstanceTasks.Deleting, ct));
        var second = NewTask(instance.Id, "instance.delete");
        Assert.False(await Store.Tasks.InsertForInstanceAsync(second, InstanceTasks.None, InstanceTasks.Deleting, ct));
        Assert.Null(await Store.Tasks.GetAsync(second.Id, ct));
        Assert.Equal(InstanceTasks.Deleting, (await Store.Instances.GetAsync(instance.Id, ct))!.TaskStatus);
    }

    [Fact]
    public async Task Flavors_and_datastores_are_upserted()
    {
        var ct = CancellationToken.None;
        await Store.Flavors.InsertAsync(new FlavorRecord("2", "m1.small", 2048, 1, 20), ct);
        await Store.Flavors.InsertAsync(new FlavorRecord("10", "big", 1, 1, 1), ct);
        await Store.Flavors.InsertAsync(new FlavorRecord("2", "m1.small", 4096, 1, 20), ct);
        Assert.Equal(["10", "2"], (await Store.Flavors.ListAsync(null, null, 0, ct)).Select(f => f.Id));
        Assert.Equal(4096, (await Store.Flavors.GetAsync("2", ct))!.RamMb);
        await Store.Datastores.UpsertDatastoreAsync(new DatastoreRecord("d1", "redis", null), ct);
        await Store.Datastores.UpsertDatastoreVersionAsync(new DatastoreVersionRecord("v1", "d1", "7.0", "7.0.15", true), ct);
        await Store.Datastores.UpsertDatastoreAsync(new DatastoreRecord("d1", "redis", "v1"), ct);
        Assert.Equal("v1", Assert.Single(await Store.Datastores.ListDatastoresAsync(ct)).DefaultVersionId);
        Assert.Equal("7.0.15", Assert.Single(await Store.Datastores.ListDatastoreVersionsAsync("d1", ct)).Version);
    }
}
