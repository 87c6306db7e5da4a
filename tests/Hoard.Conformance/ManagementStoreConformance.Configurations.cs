using Hoard.Abstractions.Storage;
using Hoard.Testing;
using Xunit;

namespace Hoard.Conformance;

/// <summary>
/// Configuration groups: Trove's configurations, the instances they are attached to, and Hoard's rule that a group a live
/// instance uses cannot be deleted — not even by a delete racing an attach.
/// </summary>
/// <remarks>
/// Every group has the same timestamps, so the lists' oldest-first order can only come from the order of creation.
/// </remarks>
public abstract partial class ManagementStoreConformance
{
    private const string SomeValues = """{"maxmemory-policy": "allkeys-lru", "timeout": 300}""";

    private IConfigurationStore Configurations => Store.Configurations;

    private static ConfigurationRecord NewConfiguration(string project) => new()
    {
        Id = Guid.NewGuid().ToString(),
        Name = "cache",
        ProjectId = project,
        DatastoreVersionId = "v1",
        Values = SomeValues,
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    private async Task<ConfigurationRecord> InsertConfigurationAsync(string project)
    {
        var configuration = NewConfiguration(project);
        await Configurations.InsertAsync(configuration, CancellationToken.None).Within(Timeouts.Short);
        return configuration;
    }

    /// <summary>Inserts a live instance with its create task, with the group given attached.</summary>
    private async Task<InstanceRecord> InsertInstanceAsync(string project, string? configurationId = null)
    {
        var instance = NewInstance(project) with { ConfigurationId = configurationId };
        Assert.True(await Store.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), null, CancellationToken.None).Within(Timeouts.Short));
        return instance;
    }

    private async Task<List<string>> ConfigurationIdsAsync(string? project, string? marker = null, int limit = 0) =>
        (await Configurations.ListAsync(project, marker, limit, CancellationToken.None).Within(Timeouts.Short)).Select(c => c.Id).ToList();

    private async Task<string?> AttachedAsync(string instanceId) =>
        (await Store.Instances.GetAsync(instanceId, CancellationToken.None).Within(Timeouts.Short))!.ConfigurationId;

    [Fact]
    public async Task A_configuration_reads_back_as_inserted_and_lists_oldest_first_per_project_after_a_marker()
    {
        var ct = CancellationToken.None;
        var described = NewConfiguration("p1") with { Description = "for the session cache" };
        await Configurations.InsertAsync(described, ct).Within(Timeouts.Short);
        Assert.Equal(described, await Configurations.GetAsync(described.Id, ct).Within(Timeouts.Short));
        Assert.Null(await Configurations.GetAsync(Guid.NewGuid().ToString(), ct).Within(Timeouts.Short));

        var project = NewName();
        var ids = new List<string>();
        var all = new List<string> { described.Id };
        for (var i = 0; i < 6; i++)
        {
            var mine = await InsertConfigurationAsync(project);
            ids.Add(mine.Id);
            all.Add(mine.Id);
            if (i % 2 == 0)
            {
                all.Add((await InsertConfigurationAsync(NewName())).Id);
            }
        }

        Assert.Equal(ids, await ConfigurationIdsAsync(project));
        Assert.Equal(ids, await ConfigurationIdsAsync(project, limit: -1));
        Assert.Equal(all, await ConfigurationIdsAsync(null));
        Assert.Empty(await ConfigurationIdsAsync(NewName()));

        Assert.Equal(ids.Take(2), await ConfigurationIdsAsync(project, limit: 2));
        Assert.Equal(ids.Skip(2).Take(3), await ConfigurationIdsAsync(project, marker: ids[1], limit: 3));
        Assert.Equal(ids.Skip(5), await ConfigurationIdsAsync(project, marker: ids[4], limit: 3));
        Assert.Empty(await ConfigurationIdsAsync(project, marker: ids[^1]));
        Assert.Equal(all.Skip(3), await ConfigurationIdsAsync(null, marker: all[2]));
        Assert.Equal(ids, await AllPagesAsync<string, string>(async marker => await ConfigurationIdsAsync(project, marker, 4), id => id, 4, ids.Count));

        // A marker deleted still marks its place; the deleted group itself is listed and found no more.
        Assert.Equal(ConfigurationDeletion.Deleted, await Configurations.DeleteAsync(ids[2], ct).Within(Timeouts.Short));
        Assert.Equal(ids.Skip(3), await ConfigurationIdsAsync(project, marker: ids[2]));
        Assert.DoesNotContain(ids[2], await ConfigurationIdsAsync(project));
        Assert.DoesNotContain(ids[2], await ConfigurationIdsAsync(null));
        Assert.Null(await Configurations.GetAsync(ids[2], ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task A_configuration_update_changes_only_what_it_names()
    {
        var ct = CancellationToken.None;
        var configuration = NewConfiguration("p1") with { Description = "first" };
        await Configurations.InsertAsync(configuration, ct).Within(Timeouts.Short);

        Assert.True(await Configurations.UpdateAsync(configuration.Id, new ConfigurationChange { Name = "renamed", UpdatedAt = T0.AddMinutes(1) }, ct).Within(Timeouts.Short));
        Assert.Equal(
            configuration with { Name = "renamed", UpdatedAt = T0.AddMinutes(1) },
            await Configurations.GetAsync(configuration.Id, ct).Within(Timeouts.Short));

        // The values are replaced whole, not merged; an empty description clears it.
        const string replaced = """{"timeout": 0}""";
        Assert.True(await Configurations.UpdateAsync(
            configuration.Id,
            new ConfigurationChange { Description = string.Empty, Values = replaced, UpdatedAt = T0.AddMinutes(2) },
            ct).Within(Timeouts.Short));
        Assert.Equal(
            configuration with { Name = "renamed", Description = null, Values = replaced, UpdatedAt = T0.AddMinutes(2) },
            await Configurations.GetAsync(configuration.Id, ct).Within(Timeouts.Short));

        Assert.True(await Configurations.UpdateAsync(configuration.Id, new ConfigurationChange { Description = "second", UpdatedAt = T0.AddMinutes(3) }, ct).Within(Timeouts.Short));
        Assert.Equal("second", (await Configurations.GetAsync(configuration.Id, ct).Within(Timeouts.Short))!.Description);

        Assert.False(await Configurations.UpdateAsync(Guid.NewGuid().ToString(), new ConfigurationChange { Name = "x", UpdatedAt = T0 }, ct).Within(Timeouts.Short));
        Assert.Equal(ConfigurationDeletion.Deleted, await Configurations.DeleteAsync(configuration.Id, ct).Within(Timeouts.Short));
        Assert.False(await Configurations.UpdateAsync(configuration.Id, new ConfigurationChange { Name = "x", UpdatedAt = T0 }, ct).Within(Timeouts.Short));
        Assert.Null(await Configurations.GetAsync(configuration.Id, ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task A_configuration_is_not_deleted_while_a_live_instance_has_it_attached()
    {
        var ct = CancellationToken.None;
        Assert.Equal(ConfigurationDeletion.Missing, await Configurations.DeleteAsync(Guid.NewGuid().ToString(), ct).Within(Timeouts.Short));

        var configuration = await InsertConfigurationAsync("p1");
        var detached = await InsertInstanceAsync("p1", configuration.Id);
        var deleted = await InsertInstanceAsync("p1", configuration.Id);
        Assert.Equal(ConfigurationDeletion.InUse, await Configurations.DeleteAsync(configuration.Id, ct).Within(Timeouts.Short));
        Assert.Equal(configuration, await Configurations.GetAsync(configuration.Id, ct).Within(Timeouts.Short));

        Assert.Equal(ConfigurationAttach.Done, await Configurations.AttachAsync(detached.Id, configuration.Id, null, ct).Within(Timeouts.Short));
        Assert.Equal(ConfigurationDeletion.InUse, await Configurations.DeleteAsync(configuration.Id, ct).Within(Timeouts.Short));

        // An instance marked deleted keeps its group in its record, but no longer holds the group.
        Assert.True(await Store.Instances.UpdateAsync(deleted.Id, new InstanceChange { Deleted = true }, ct).Within(Timeouts.Short));
        Assert.Equal(ConfigurationDeletion.Deleted, await Configurations.DeleteAsync(configuration.Id, ct).Within(Timeouts.Short));
        Assert.Null(await Configurations.GetAsync(configuration.Id, ct).Within(Timeouts.Short));
        Assert.Equal(ConfigurationDeletion.Missing, await Configurations.DeleteAsync(configuration.Id, ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task A_configurations_instances_are_the_live_ones_attached_to_it_oldest_first()
    {
        var ct = CancellationToken.None;
        var configuration = await InsertConfigurationAsync("p1");
        var other = await InsertConfigurationAsync("p1");
        var first = await InsertInstanceAsync("p1", configuration.Id);
        await InsertInstanceAsync("p1");
        await InsertInstanceAsync("p1", other.Id);
        var second = await InsertInstanceAsync("p1");
        var third = await InsertInstanceAsync("p1", configuration.Id);
        var gone = await InsertInstanceAsync("p1", configuration.Id);

        // Attached after the third was created, the second still lists before it: the order is the instances' own.
        Assert.Equal(ConfigurationAttach.Done, await Configurations.AttachAsync(second.Id, null, configuration.Id, ct).Within(Timeouts.Short));
        Assert.True(await Store.Instances.UpdateAsync(gone.Id, new InstanceChange { Deleted = true }, ct).Within(Timeouts.Short));
        Assert.Equal([first.Id, second.Id, third.Id], await Configurations.ListInstancesAsync(configuration.Id, ct).Within(Timeouts.Short));

        Assert.Equal(ConfigurationAttach.Done, await Configurations.AttachAsync(first.Id, configuration.Id, other.Id, ct).Within(Timeouts.Short));
        Assert.Equal([second.Id, third.Id], await Configurations.ListInstancesAsync(configuration.Id, ct).Within(Timeouts.Short));
        Assert.Equal(2, (await Configurations.ListInstancesAsync(other.Id, ct).Within(Timeouts.Short)).Count);
        Assert.Empty(await Configurations.ListInstancesAsync(Guid.NewGuid().ToString(), ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task An_instance_created_with_a_configuration_reads_it_back()
    {
        var ct = CancellationToken.None;
        var configuration = await InsertConfigurationAsync("p1");
        var attached = await InsertInstanceAsync("p1", configuration.Id);
        var plain = await InsertInstanceAsync("p1");

        Assert.Equal(configuration.Id, await AttachedAsync(attached.Id));
        Assert.Null(await AttachedAsync(plain.Id));
        var listed = await Store.Instances.ListAsync("p1", null, 10, includeClustered: false, ct).Within(Timeouts.Short);
        Assert.Equal([configuration.Id, null], listed.Select(i => i.ConfigurationId));
        Assert.Equal([attached.Id], await Configurations.ListInstancesAsync(configuration.Id, ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task Attaching_needs_a_live_instance_with_the_expected_group_and_a_live_group()
    {
        var ct = CancellationToken.None;
        var first = await InsertConfigurationAsync("p1");
        var second = await InsertConfigurationAsync("p1");
        var deleted = await InsertConfigurationAsync("p1");
        Assert.Equal(ConfigurationDeletion.Deleted, await Configurations.DeleteAsync(deleted.Id, ct).Within(Timeouts.Short));
        var instance = await InsertInstanceAsync("p1");

        Assert.Equal(ConfigurationAttach.MissingInstance, await Configurations.AttachAsync(Guid.NewGuid().ToString(), null, first.Id, ct).Within(Timeouts.Short));
        Assert.Equal(ConfigurationAttach.MissingConfiguration, await Configurations.AttachAsync(instance.Id, null, deleted.Id, ct).Within(Timeouts.Short));
        Assert.Equal(ConfigurationAttach.MissingConfiguration, await Configurations.AttachAsync(instance.Id, null, Guid.NewGuid().ToString(), ct).Within(Timeouts.Short));
        Assert.Null(await AttachedAsync(instance.Id));

        Assert.Equal(ConfigurationAttach.Done, await Configurations.AttachAsync(instance.Id, null, first.Id, ct).Within(Timeouts.Short));
        Assert.Equal(first.Id, await AttachedAsync(instance.Id));

        // Another attach came first: an attach or detach expecting none (or another group) changes nothing.
        Assert.Equal(ConfigurationAttach.Changed, await Configurations.AttachAsync(instance.Id, null, second.Id, ct).Within(Timeouts.Short));
        Assert.Equal(ConfigurationAttach.Changed, await Configurations.AttachAsync(instance.Id, second.Id, null, ct).Within(Timeouts.Short));
        Assert.Equal(first.Id, await AttachedAsync(instance.Id));

        Assert.Equal(ConfigurationAttach.Done, await Configurations.AttachAsync(instance.Id, first.Id, second.Id, ct).Within(Timeouts.Short));
        Assert.Equal(second.Id, await AttachedAsync(instance.Id));
        Assert.Equal(ConfigurationAttach.Done, await Configurations.AttachAsync(instance.Id, second.Id, null, ct).Within(Timeouts.Short));
        Assert.Null(await AttachedAsync(instance.Id));
        Assert.Empty(await Configurations.ListInstancesAsync(second.Id, ct).Within(Timeouts.Short));

        Assert.True(await Store.Instances.UpdateAsync(instance.Id, new InstanceChange { Deleted = true }, ct).Within(Timeouts.Short));
        Assert.Equal(ConfigurationAttach.MissingInstance, await Configurations.AttachAsync(instance.Id, null, first.Id, ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task A_configuration_delete_racing_attaches_never_leaves_a_live_instance_attached_to_a_deleted_group()
    {
        var ct = CancellationToken.None;
        const int attaches = 20;
        for (var round = 0; round < 10; round++)
        {
            var configuration = await InsertConfigurationAsync("p1");
            var instances = new List<InstanceRecord>();
            for (var i = 0; i < attaches; i++)
            {
                instances.Add(await InsertInstanceAsync("p1"));
            }

            // The delete starts first, last or amid the attaches as the rounds go, so it meets them at different points.
            var deleteAt = (round % 5) * attaches / 4;
            var attaching = instances.Take(deleteAt)
                .Select(i => Task.Run(() => Configurations.AttachAsync(i.Id, null, configuration.Id, ct)))
                .ToList();
            var delete = Task.Run(() => Configurations.DeleteAsync(configuration.Id, ct));
            attaching.AddRange(instances.Skip(deleteAt).Select(i => Task.Run(() => Configurations.AttachAsync(i.Id, null, configuration.Id, ct))));
            var outcomes = await Task.WhenAll(attaching).Within(Timeouts.Settle);
            var deletion = await delete.Within(Timeouts.Settle);

            Assert.All(outcomes, o => Assert.Contains(o, new[] { ConfigurationAttach.Done, ConfigurationAttach.MissingConfiguration }));
            var attached = new List<string>();
            foreach (var instance in instances)
            {
                if (await AttachedAsync(instance.Id) == configuration.Id)
                {
                    attached.Add(instance.Id);
                }
            }

            var done = instances.Where((_, i) => outcomes[i] == ConfigurationAttach.Done).Select(i => i.Id).ToList();
            Assert.Equal(done, attached);
            Assert.Equal(done, await Configurations.ListInstancesAsync(configuration.Id, ct).Within(Timeouts.Short));
            if (deletion == ConfigurationDeletion.Deleted)
            {
                Assert.Empty(attached);
                Assert.Null(await Configurations.GetAsync(configuration.Id, ct).Within(Timeouts.Short));
            }
            else
            {
                Assert.Equal(ConfigurationDeletion.InUse, deletion);
                Assert.NotEmpty(attached);
                Assert.Equal(configuration, await Configurations.GetAsync(configuration.Id, ct).Within(Timeouts.Short));
            }
        }
    }
}
