using Hoard.Abstractions.Storage;
using Hoard.Testing;
using Xunit;

namespace Hoard.Conformance;

/// <summary>Per-project quotas: the overrides an admin sets, and the inserts that count a project's usage atomically.</summary>
public abstract partial class ManagementStoreConformance
{
    private static QuotaLimits Limits(int? instances = null, int? volumes = null, int? ram = null, int? clusters = null) =>
        new(instances, volumes, ram, null, clusters);

    private static QuotaLimits BackupQuota(int backups) => new(null, null, null, backups, null);

    /// <summary>A standalone instance of the project on a flavor of <paramref name="ramMb"/> (inserted first when new).</summary>
    private async Task<InstanceRecord> QuotaInstanceAsync(string project, int ramMb = 512, int? volume = null)
    {
        var flavor = $"q{ramMb}";
        await Store.Flavors.InsertAsync(new FlavorRecord(flavor, flavor, ramMb, 1, 0), CancellationToken.None).Within(Timeouts.Short);
        return NewInstance(project) with { FlavorId = flavor, VolumeSize = volume };
    }

    private async Task<QuotaInsert> InsertUnderQuotaAsync(InstanceRecord instance, QuotaLimits quota) =>
        await Store.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), null, quota, CancellationToken.None).Within(Timeouts.Short);

    [Fact]
    public async Task Quota_overrides_are_kept_per_project_and_a_later_set_replaces_only_what_it_names()
    {
        var ct = CancellationToken.None;
        var project = NewName();
        Assert.Empty(await Store.Quotas.GetLimitsAsync(project, ct).Within(Timeouts.Short));
        await Store.Quotas.SetLimitsAsync(project, new Dictionary<string, int> { ["instances"] = 3, ["ram"] = -1 }, ct).Within(Timeouts.Short);
        await Store.Quotas.SetLimitsAsync(project, new Dictionary<string, int> { ["instances"] = 5, ["volumes"] = 0 }, ct).Within(Timeouts.Short);

        var limits = await Store.Quotas.GetLimitsAsync(project, ct).Within(Timeouts.Short);
        Assert.Equal(new Dictionary<string, int> { ["instances"] = 5, ["ram"] = -1, ["volumes"] = 0 }, limits.OrderBy(e => e.Key, StringComparer.Ordinal).ToDictionary());
        Assert.Empty(await Store.Quotas.GetLimitsAsync(NewName(), ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task An_instance_over_the_projects_instance_quota_is_refused_whole_and_a_deleting_one_frees_its_place()
    {
        var ct = CancellationToken.None;
        var project = NewName();
        var quota = Limits(instances: 2);
        var first = await QuotaInstanceAsync(project);
        var second = await QuotaInstanceAsync(project);
        Assert.Equal(QuotaInsert.Done, await InsertUnderQuotaAsync(first, quota));
        Assert.Equal(QuotaInsert.Done, await InsertUnderQuotaAsync(second, quota));
        Assert.Equal(QuotaInsert.Done, await InsertUnderQuotaAsync(await QuotaInstanceAsync(NewName()), quota)); // another project's never count

        var over = await QuotaInstanceAsync(project);
        var overTask = NewTask(over.Id);
        var refused = await Store.Instances.InsertWithTaskAsync(over, overTask, null, quota, ct).Within(Timeouts.Short);
        Assert.Equal(["instances"], refused.OverQuota);
        Assert.False(refused.Inserted);
        Assert.Null(await Store.Instances.GetAsync(over.Id, ct).Within(Timeouts.Short));
        Assert.Null(await Store.Tasks.GetAsync(overTask.Id, ct).Within(Timeouts.Short));
        Assert.Null(await Store.Catalogue.GetAsync(project, over.Id, ct).Within(Timeouts.Short));
        Assert.Equal(QuotaInsert.Done, await InsertUnderQuotaAsync(over, QuotaLimits.None)); // no limit: no count

        // Trove frees the quota when it accepts a delete: a DELETING instance, and a deleted one, no longer count.
        Assert.True(await Store.Tasks.InsertForInstanceAsync(NewTask(first.Id, "instance.delete"), InstanceTasks.Building, InstanceTasks.Deleting, ct).Within(Timeouts.Short));
        Assert.Equal(["instances"], (await InsertUnderQuotaAsync(await QuotaInstanceAsync(project), Limits(instances: 2))).OverQuota);
        Assert.Equal(QuotaInsert.Done, await InsertUnderQuotaAsync(await QuotaInstanceAsync(project), Limits(instances: 3)));
        Assert.True(await Store.Instances.UpdateAsync(second.Id, new InstanceChange { Deleted = true }, ct).Within(Timeouts.Short));
        Assert.Equal(QuotaInsert.Done, await InsertUnderQuotaAsync(await QuotaInstanceAsync(project), Limits(instances: 3)));
        Assert.Equal(3, (await Store.Quotas.GetUsageAsync(project, ct).Within(Timeouts.Short)).Instances);
    }

    [Fact]
    public async Task Volume_gigabytes_and_flavor_ram_are_summed_and_every_resource_over_is_named_sorted()
    {
        var ct = CancellationToken.None;
        var project = NewName();
        var quota = Limits(volumes: 10, ram: 1024);
        Assert.Equal(QuotaInsert.Done, await InsertUnderQuotaAsync(await QuotaInstanceAsync(project, 512, volume: 6), quota));
        Assert.Equal(["volumes"], (await InsertUnderQuotaAsync(await QuotaInstanceAsync(project, 512, volume: 5), quota)).OverQuota);
        Assert.Equal(QuotaInsert.Done, await InsertUnderQuotaAsync(await QuotaInstanceAsync(project, 512, volume: 4), quota));
        Assert.Equal(["ram"], (await InsertUnderQuotaAsync(await QuotaInstanceAsync(project, 256), quota)).OverQuota);
        Assert.Equal(["ram", "volumes"], (await InsertUnderQuotaAsync(await QuotaInstanceAsync(project, 2048, volume: 1), quota)).OverQuota);
        Assert.Equal(["instances", "ram"], (await InsertUnderQuotaAsync(await QuotaInstanceAsync(project, 2048), quota with { Instances = 2 })).OverQuota);

        // A resource the insert does not add to is never over, even when the project is at its limit.
        Assert.Equal(QuotaInsert.Done, await InsertUnderQuotaAsync(await QuotaInstanceAsync(project, 0), quota));
        Assert.Equal(new QuotaUsage(3, 10, 1024, 0, 0), await Store.Quotas.GetUsageAsync(project, ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task A_cluster_counts_itself_and_its_members_against_the_quota_and_is_refused_whole()
    {
        var ct = CancellationToken.None;
        var project = NewName();
        var flavor = (await QuotaInstanceAsync(project, 1024)).FlavorId;
        ClusterRecord Cluster() => NewCluster(project);
        List<NewMember> Members(ClusterRecord c, int n) =>
            [.. Enumerable.Range(1, n).Select(i => Member(c, i)).Select(m => m with { Instance = m.Instance with { FlavorId = flavor, VolumeSize = 2 } })];

        var first = Cluster();
        Assert.Equal(QuotaInsert.Done, await Store.Clusters.InsertAsync(first, Members(first, 3), NewTask(first.Id, "cluster.create"), Limits(instances: 3, clusters: 2), ct).Within(Timeouts.Short));

        var second = Cluster();
        var secondMembers = Members(second, 2);
        var refused = await Store.Clusters.InsertAsync(second, secondMembers, NewTask(second.Id, "cluster.create"), Limits(instances: 4, volumes: 100, ram: 10_000, clusters: 1), ct).Within(Timeouts.Short);
        Assert.Equal(["clusters", "instances"], refused.OverQuota);
        Assert.Null(await Store.Clusters.GetAsync(second.Id, ct).Within(Timeouts.Short));
        foreach (var member in secondMembers)
        {
            Assert.Null(await Store.Instances.GetAsync(member.Instance.Id, ct).Within(Timeouts.Short));
        }

        Assert.Equal(["ram", "volumes"], (await Store.Clusters.InsertAsync(second, secondMembers, NewTask(second.Id, "cluster.create"), Limits(volumes: 9, ram: 4096), ct).Within(Timeouts.Short)).OverQuota);

        Assert.Equal(QuotaInsert.Done, await Store.Clusters.InsertAsync(second, secondMembers, NewTask(second.Id, "cluster.create"), Limits(instances: 5, volumes: 10, ram: 5120, clusters: 2), ct).Within(Timeouts.Short));
        Assert.Equal(new QuotaUsage(5, 10, 5120, 0, 2), await Store.Quotas.GetUsageAsync(project, ct).Within(Timeouts.Short));

        // A grow's new members count too, and a refused grow leaves the cluster's task as it was.
        Assert.True(await Store.Clusters.SetTaskAsync(second.Id, null, ClusterTasks.None, ct).Within(Timeouts.Short));
        var grown = Members(second, 1);
        var growTask = NewTask(second.Id, "cluster.grow");
        Assert.Equal(["instances"], (await Store.Clusters.StartTaskAsync(second.Id, ClusterTasks.None, ClusterTasks.Growing, growTask, grown, Limits(instances: 5), ct).Within(Timeouts.Short)).OverQuota);
        Assert.Equal(ClusterTasks.None, (await Store.Clusters.GetAsync(second.Id, ct).Within(Timeouts.Short))!.TaskStatus);
        Assert.Null(await Store.Instances.GetAsync(grown[0].Instance.Id, ct).Within(Timeouts.Short));
        Assert.Null(await Store.Tasks.GetAsync(growTask.Id, ct).Within(Timeouts.Short));
        Assert.Equal(QuotaInsert.Done, await Store.Clusters.StartTaskAsync(second.Id, ClusterTasks.None, ClusterTasks.Growing, growTask, grown, Limits(instances: 6), ct).Within(Timeouts.Short));
        Assert.Equal(6, (await Store.Quotas.GetUsageAsync(project, ct).Within(Timeouts.Short)).Instances);

        // A cluster being deleted no longer counts.
        Assert.True(await Store.Clusters.SetTaskAsync(first.Id, null, ClusterTasks.Deleting, ct).Within(Timeouts.Short));
        Assert.Equal(1, (await Store.Quotas.GetUsageAsync(project, ct).Within(Timeouts.Short)).Clusters);
    }

    [Fact]
    public async Task The_projects_overrides_are_read_by_the_insert_itself_when_it_is_given_the_defaults()
    {
        // The caller passes only the defaults; the override set in the store is what decides, read by the insert itself.
        var ct = CancellationToken.None;
        var project = NewName();
        var defaults = new QuotaLimits(10, null, null, 50, 5).WithProjectOverrides();
        await Store.Quotas.SetLimitsAsync(project, new Dictionary<string, int> { ["instances"] = 1, ["backups"] = 1, ["clusters"] = 0 }, ct).Within(Timeouts.Short);
        Assert.Equal(QuotaInsert.Done, await InsertUnderQuotaAsync(await QuotaInstanceAsync(project), defaults));
        Assert.Equal(["instances"], (await InsertUnderQuotaAsync(await QuotaInstanceAsync(project), defaults)).OverQuota);
        Assert.Equal(QuotaInsert.Done, await InsertUnderQuotaAsync(await QuotaInstanceAsync(project), defaults with { ProjectOverrides = false })); // not asked: not read

        var cluster = NewCluster(project);
        Assert.Equal(["clusters", "instances"], (await Store.Clusters.InsertAsync(cluster, [Member(cluster, 1)], NewTask(cluster.Id, "cluster.create"), defaults with { Instances = null }, ct).Within(Timeouts.Short)).OverQuota);
        Assert.Null(await Store.Clusters.GetAsync(cluster.Id, ct).Within(Timeouts.Short));

        var backup = NewBackup(project, "i1", BackupStates.New);
        Assert.Equal(BackupInsert.Inserted, await Backups.InsertWithTaskAsync(backup, NewTask(backup.Id, "backup.create"), defaults, ct).Within(Timeouts.Short));
        var second = NewBackup(project, "i1", BackupStates.New);
        Assert.Equal(BackupInsert.OverQuota, await Backups.InsertWithTaskAsync(second, NewTask(second.Id, "backup.create"), defaults, ct).Within(Timeouts.Short));

        // A later set is read by the next insert: -1 lifts the limit; another project still meets the defaults.
        await Store.Quotas.SetLimitsAsync(project, new Dictionary<string, int> { ["instances"] = -1, ["backups"] = 2 }, ct).Within(Timeouts.Short);
        Assert.Equal(QuotaInsert.Done, await InsertUnderQuotaAsync(await QuotaInstanceAsync(project), defaults with { Instances = 1 }));
        Assert.Equal(BackupInsert.Inserted, await Backups.InsertWithTaskAsync(second, NewTask(second.Id, "backup.create"), defaults, ct).Within(Timeouts.Short));
        var other = NewName();
        Assert.Equal(QuotaInsert.Done, await InsertUnderQuotaAsync(await QuotaInstanceAsync(other), defaults with { Instances = 1 }));
        Assert.Equal(["instances"], (await InsertUnderQuotaAsync(await QuotaInstanceAsync(other), defaults with { Instances = 1 })).OverQuota);
    }

    [Fact]
    public async Task Creates_racing_a_lowered_override_add_nothing_past_it_once_the_set_has_returned()
    {
        // Creates race an override lowered from 100 to 3. Each reads the override inside its own transaction, so one that
        // commits after the set has returned read the new limit: past what the project held then, it only fills up to 3.
        // (A create that read the override before its transaction could commit 100's answer after the set.)
        var ct = CancellationToken.None;
        for (var round = 0; round < 3; round++)
        {
            var project = NewName();
            var defaults = Limits(instances: 100).WithProjectOverrides();
            var instances = new List<InstanceRecord>();
            for (var i = 0; i < 30; i++)
            {
                instances.Add(await QuotaInstanceAsync(project));
            }

            var creates = instances.Select(i => Task.Run(() => Store.Instances.InsertWithTaskAsync(i, NewTask(i.Id), null, defaults, ct))).ToList();
            await Store.Quotas.SetLimitsAsync(project, new Dictionary<string, int> { ["instances"] = 3 }, ct).Within(Timeouts.Short);
            var before = await Store.Instances.CountAsync(project, ct).Within(Timeouts.Short);
            var outcomes = await Task.WhenAll(creates).Within(Timeouts.Settle);
            var after = await Store.Instances.CountAsync(project, ct).Within(Timeouts.Short);
            Assert.True(after <= Math.Max(before, 3), $"{before} held when the set returned, {after} after every create");
            Assert.Equal(outcomes.Count(o => o.Inserted), after);
            Assert.Equal(["instances"], (await InsertUnderQuotaAsync(await QuotaInstanceAsync(project), defaults)).OverQuota);
        }
    }

    [Fact]
    public async Task Fifty_concurrent_creates_against_a_quota_of_three_insert_exactly_three()
    {
        var ct = CancellationToken.None;
        for (var round = 0; round < 3; round++)
        {
            var project = NewName();
            var instances = new List<InstanceRecord>();
            for (var i = 0; i < 50; i++)
            {
                instances.Add(await QuotaInstanceAsync(project));
            }

            var outcomes = await Task.WhenAll(instances.Select(i => Task.Run(() => Store.Instances.InsertWithTaskAsync(i, NewTask(i.Id), null, Limits(instances: 3), ct))))
                .Within(Timeouts.Settle);

            Assert.Equal(3, outcomes.Count(o => o.Inserted));
            Assert.All(outcomes.Where(o => !o.Inserted), o => Assert.Equal(["instances"], o.OverQuota));
            Assert.Equal(3, await Store.Instances.CountAsync(project, ct).Within(Timeouts.Short));
        }
    }
}
