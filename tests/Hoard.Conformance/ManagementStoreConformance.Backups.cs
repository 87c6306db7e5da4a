using Hoard.Abstractions.Storage;
using Hoard.Testing;
using Xunit;

namespace Hoard.Conformance;

/// <summary>
/// Backups: Trove's backup records with Hoard's rules for incremental chains (a child needs a live COMPLETED parent of its
/// instance; a parent with a live child cannot be deleted) and for deletes that run as tasks.
/// </summary>
/// <remarks>
/// Every backup has the same timestamps, so the lists' newest-first order can only come from the order of creation.
/// </remarks>
public abstract partial class ManagementStoreConformance
{
    private IBackupStore Backups => Store.Backups;

    private static BackupRecord NewBackup(string project, string instance, string state = BackupStates.Completed, string? parent = null) => new()
    {
        Id = Guid.NewGuid().ToString(),
        Name = "nightly",
        ProjectId = project,
        InstanceId = instance,
        ParentId = parent,
        DatastoreVersionId = "v1",
        State = state,
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    /// <summary>Inserts a backup with its create task, asserting it was accepted.</summary>
    private async Task<BackupRecord> InsertBackupAsync(string project, string instance, string state = BackupStates.Completed, string? parent = null)
    {
        var backup = NewBackup(project, instance, state, parent);
        Assert.Equal(BackupInsert.Inserted, await Backups.InsertWithTaskAsync(backup, NewTask(backup.Id, "backup.create"), null, CancellationToken.None).Within(Timeouts.Short));
        return backup;
    }

    private async Task<List<string>> BackupIdsAsync(string? project, string? instance, string? marker = null, int limit = 0) =>
        (await Backups.ListAsync(project, instance, marker, limit, CancellationToken.None).Within(Timeouts.Short)).Select(b => b.Id).ToList();

    private async Task<string?> BackupStateAsync(string id) =>
        (await Backups.GetAsync(id, CancellationToken.None).Within(Timeouts.Short))?.State;

    [Fact]
    public async Task A_backup_is_inserted_with_its_task_and_reads_back_as_inserted()
    {
        var ct = CancellationToken.None;
        var backup = NewBackup("p1", "i1", BackupStates.New) with
        {
            Description = "before the upgrade",
            Size = 5_000_000_000,
            Checksum = new string('a', 64),
            Location = "local:///var/lib/hoard/backups/b1",
        };
        var task = NewTask(backup.Id, "backup.create");
        Assert.Equal(BackupInsert.Inserted, await Backups.InsertWithTaskAsync(backup, task, null, ct).Within(Timeouts.Short));

        Assert.Equal(backup, await Backups.GetAsync(backup.Id, ct).Within(Timeouts.Short));
        Assert.Equal("backup.create", (await Store.Tasks.GetAsync(task.Id, ct).Within(Timeouts.Short))?.Kind);
        Assert.Contains(await Store.Tasks.ListUnfinishedAsync(ct).Within(Timeouts.Short), t => t.Id == task.Id);
        Assert.Null(await Backups.GetAsync(Guid.NewGuid().ToString(), ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task Backups_list_newest_first_per_project_and_instance_and_page_after_a_marker()
    {
        var project = NewName();
        var ids = new List<string>();
        var ofFirstInstance = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            var instance = i % 2 == 0 ? "i1" : "i2";
            var backup = await InsertBackupAsync(project, instance);
            ids.Add(backup.Id);
            if (instance == "i1")
            {
                ofFirstInstance.Add(backup.Id);
            }
        }

        var elsewhere = await InsertBackupAsync(NewName(), "i1");
        ids.Reverse();
        ofFirstInstance.Reverse();

        Assert.Equal(ids, await BackupIdsAsync(project, null));
        Assert.Equal(ids, await BackupIdsAsync(project, null, limit: -1));
        Assert.Equal([elsewhere.Id, .. ids], await BackupIdsAsync(null, null));
        Assert.Equal(ofFirstInstance, await BackupIdsAsync(project, "i1"));
        Assert.Equal([elsewhere.Id, .. ofFirstInstance], await BackupIdsAsync(null, "i1"));
        Assert.Empty(await BackupIdsAsync(NewName(), null));

        Assert.Equal(ids.Take(2), await BackupIdsAsync(project, null, limit: 2));
        Assert.Equal(ids.Skip(2).Take(3), await BackupIdsAsync(project, null, marker: ids[1], limit: 3));
        Assert.Equal(ids.Skip(5), await BackupIdsAsync(project, null, marker: ids[4], limit: 3));
        Assert.Empty(await BackupIdsAsync(project, null, marker: ids[^1]));
        Assert.Equal(ofFirstInstance.Skip(1), await BackupIdsAsync(project, "i1", marker: ofFirstInstance[0]));
        Assert.Equal(ids, await AllPagesAsync<string, string>(async marker => await BackupIdsAsync(project, null, marker, 4), id => id, 4, ids.Count));

        // A marker marked deleted still marks its place; the deleted backup itself is listed no more.
        Assert.True(await Backups.UpdateAsync(ids[2], new BackupChange { Deleted = true }, CancellationToken.None).Within(Timeouts.Short));
        Assert.Equal(ids.Skip(3), await BackupIdsAsync(project, null, marker: ids[2]));
        Assert.DoesNotContain(ids[2], await BackupIdsAsync(project, null));
    }

    [Fact]
    public async Task Backups_are_counted_per_project_while_live()
    {
        var ct = CancellationToken.None;
        var project = NewName();
        var kept = await InsertBackupAsync(project, "i1");
        var dropped = await InsertBackupAsync(project, "i1", BackupStates.Failed);
        await InsertBackupAsync(NewName(), "i1");
        Assert.Equal(2, await Backups.CountAsync(project, ct).Within(Timeouts.Short));

        // A backup being deleted still counts until it is gone.
        Assert.Equal(BackupDeletion.Started, await Backups.StartDeleteAsync(kept.Id, NewTask(kept.Id, "backup.delete"), ct).Within(Timeouts.Short));
        Assert.Equal(2, await Backups.CountAsync(project, ct).Within(Timeouts.Short));
        Assert.True(await Backups.UpdateAsync(dropped.Id, new BackupChange { Deleted = true }, ct).Within(Timeouts.Short));
        Assert.Equal(1, await Backups.CountAsync(project, ct).Within(Timeouts.Short));
        Assert.Equal(0, await Backups.CountAsync(NewName(), ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task A_backup_update_changes_only_what_it_names_and_a_deleted_backup_vanishes()
    {
        var ct = CancellationToken.None;
        var backup = await InsertBackupAsync("p1", "i1", BackupStates.New);
        Assert.True(await Backups.UpdateAsync(backup.Id, new BackupChange { State = BackupStates.Saving, Location = "local:///b" }, ct).Within(Timeouts.Short));
        Assert.True(await Backups.UpdateAsync(backup.Id, new BackupChange { State = BackupStates.Failed, FaultMessage = "disk full" }, ct).Within(Timeouts.Short));
        var read = (await Backups.GetAsync(backup.Id, ct).Within(Timeouts.Short))!;
        Assert.Equal(
            (backup.Name, BackupStates.Failed, "local:///b", "disk full", (long?)null, (string?)null, backup.CreatedAt),
            (read.Name, read.State, read.Location, read.FaultMessage, read.Size, read.Checksum, read.CreatedAt));

        // Retried and completed: the fault is cleared by an empty message; sizes past 2 GiB survive.
        Assert.True(await Backups.UpdateAsync(
            backup.Id,
            new BackupChange { State = BackupStates.Completed, Size = 3_000_000_000, Checksum = new string('f', 64), FaultMessage = string.Empty },
            ct).Within(Timeouts.Short));
        read = (await Backups.GetAsync(backup.Id, ct).Within(Timeouts.Short))!;
        Assert.Equal(
            (BackupStates.Completed, "local:///b", (string?)null, (long?)3_000_000_000, new string('f', 64)),
            (read.State, read.Location, read.FaultMessage, read.Size, read.Checksum));

        Assert.True(await Backups.UpdateAsync(backup.Id, new BackupChange { Deleted = true }, ct).Within(Timeouts.Short));
        Assert.Null(await Backups.GetAsync(backup.Id, ct).Within(Timeouts.Short));
        Assert.Empty(await BackupIdsAsync("p1", null));
        Assert.Empty(await BackupIdsAsync(null, "i1"));
        Assert.False(await Backups.UpdateAsync(backup.Id, new BackupChange { State = BackupStates.Completed }, ct).Within(Timeouts.Short));
        Assert.False(await Backups.UpdateAsync(Guid.NewGuid().ToString(), new BackupChange { State = BackupStates.Completed }, ct).Within(Timeouts.Short));
        Assert.Equal(BackupDeletion.Missing, await Backups.StartDeleteAsync(backup.Id, NewTask(backup.Id, "backup.delete"), ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task An_incremental_backup_needs_a_live_completed_parent_of_its_instance()
    {
        var ct = CancellationToken.None;
        var completed = await InsertBackupAsync("p1", "i1");
        var failed = await InsertBackupAsync("p1", "i1", BackupStates.Failed);
        var running = await InsertBackupAsync("p1", "i1", BackupStates.Saving);
        var ofOtherInstance = await InsertBackupAsync("p1", "i2");
        var deleted = await InsertBackupAsync("p1", "i1");
        await Backups.UpdateAsync(deleted.Id, new BackupChange { Deleted = true }, ct).Within(Timeouts.Short);
        var deleting = await InsertBackupAsync("p1", "i1");
        Assert.Equal(BackupDeletion.Started, await Backups.StartDeleteAsync(deleting.Id, NewTask(deleting.Id, "backup.delete"), ct).Within(Timeouts.Short));
        var before = await BackupIdsAsync(null, null);

        foreach (var parent in new[] { Guid.NewGuid().ToString(), failed.Id, running.Id, ofOtherInstance.Id, deleted.Id, deleting.Id })
        {
            var child = NewBackup("p1", "i1", BackupStates.New, parent);
            var task = NewTask(child.Id, "backup.create");
            Assert.Equal(BackupInsert.ParentUnusable, await Backups.InsertWithTaskAsync(child, task, null, ct).Within(Timeouts.Short));
            Assert.Null(await Backups.GetAsync(child.Id, ct).Within(Timeouts.Short));
            Assert.Null(await Store.Tasks.GetAsync(task.Id, ct).Within(Timeouts.Short));
        }

        Assert.Equal(before, await BackupIdsAsync(null, null));
        var accepted = await InsertBackupAsync("p1", "i1", BackupStates.New, completed.Id);
        Assert.Equal(completed.Id, (await Backups.GetAsync(accepted.Id, ct).Within(Timeouts.Short))!.ParentId);
    }

    [Fact]
    public async Task A_backup_delete_starts_only_when_the_backup_is_settled_and_has_no_live_child()
    {
        var ct = CancellationToken.None;
        var missing = NewTask("gone", "backup.delete");
        Assert.Equal(BackupDeletion.Missing, await Backups.StartDeleteAsync(Guid.NewGuid().ToString(), missing, ct).Within(Timeouts.Short));
        Assert.Null(await Store.Tasks.GetAsync(missing.Id, ct).Within(Timeouts.Short));

        foreach (var state in new[] { BackupStates.New, BackupStates.Building, BackupStates.Saving, BackupStates.Deleting })
        {
            var busy = await InsertBackupAsync("p1", "i1", state);
            var task = NewTask(busy.Id, "backup.delete");
            Assert.Equal(BackupDeletion.Busy, await Backups.StartDeleteAsync(busy.Id, task, ct).Within(Timeouts.Short));
            Assert.Equal(state, await BackupStateAsync(busy.Id));
            Assert.Null(await Store.Tasks.GetAsync(task.Id, ct).Within(Timeouts.Short));
        }

        foreach (var state in new[] { BackupStates.Completed, BackupStates.Failed, BackupStates.DeleteFailed })
        {
            var settled = await InsertBackupAsync("p1", "i1", state);
            var task = NewTask(settled.Id, "backup.delete");
            Assert.Equal(BackupDeletion.Started, await Backups.StartDeleteAsync(settled.Id, task, ct).Within(Timeouts.Short));
            Assert.Equal(BackupStates.Deleting, await BackupStateAsync(settled.Id));
            Assert.Equal("backup.delete", (await Store.Tasks.GetAsync(task.Id, ct).Within(Timeouts.Short))?.Kind);

            var again = NewTask(settled.Id, "backup.delete");
            Assert.Equal(BackupDeletion.Busy, await Backups.StartDeleteAsync(settled.Id, again, ct).Within(Timeouts.Short));
            Assert.Null(await Store.Tasks.GetAsync(again.Id, ct).Within(Timeouts.Short));
        }

        var parent = await InsertBackupAsync("p1", "i1");
        var child = await InsertBackupAsync("p1", "i1", BackupStates.New, parent.Id);
        var refused = NewTask(parent.Id, "backup.delete");
        Assert.Equal(BackupDeletion.HasChildren, await Backups.StartDeleteAsync(parent.Id, refused, ct).Within(Timeouts.Short));
        Assert.Equal(BackupStates.Completed, await BackupStateAsync(parent.Id));
        Assert.Null(await Store.Tasks.GetAsync(refused.Id, ct).Within(Timeouts.Short));

        // Once the child is gone the parent can go.
        Assert.True(await Backups.UpdateAsync(child.Id, new BackupChange { Deleted = true }, ct).Within(Timeouts.Short));
        Assert.Equal(BackupDeletion.Started, await Backups.StartDeleteAsync(parent.Id, NewTask(parent.Id, "backup.delete"), ct).Within(Timeouts.Short));
        Assert.Equal(BackupStates.Deleting, await BackupStateAsync(parent.Id));
    }

    [Fact]
    public async Task Concurrent_deletes_of_one_backup_start_exactly_one_task()
    {
        var ct = CancellationToken.None;
        var backup = await InsertBackupAsync("p1", "i1");
        var tasks = Enumerable.Range(0, 10).Select(_ => NewTask(backup.Id, "backup.delete")).ToList();
        var outcomes = await Task.WhenAll(tasks.Select(t => Task.Run(() => Backups.StartDeleteAsync(backup.Id, t, ct)))).Within(Timeouts.Settle);

        Assert.Equal(1, outcomes.Count(o => o == BackupDeletion.Started));
        Assert.All(outcomes.Where(o => o != BackupDeletion.Started), o => Assert.Equal(BackupDeletion.Busy, o));
        var written = 0;
        foreach (var task in tasks)
        {
            written += await Store.Tasks.GetAsync(task.Id, ct).Within(Timeouts.Short) is null ? 0 : 1;
        }

        Assert.Equal(1, written);
        Assert.Equal(BackupStates.Deleting, await BackupStateAsync(backup.Id));
    }

    [Fact]
    public async Task An_incremental_backup_racing_its_parents_delete_never_outlives_it()
    {
        var ct = CancellationToken.None;
        for (var round = 0; round < 20; round++)
        {
            var parent = await InsertBackupAsync("p1", "i1");
            var child = NewBackup("p1", "i1", BackupStates.New, parent.Id);
            var insert = Task.Run(() => Backups.InsertWithTaskAsync(child, NewTask(child.Id, "backup.create"), null, ct));
            var delete = Task.Run(() => Backups.StartDeleteAsync(parent.Id, NewTask(parent.Id, "backup.delete"), ct));
            await Task.WhenAll(insert, delete).Within(Timeouts.Short);

            var parentState = await BackupStateAsync(parent.Id);
            var childExists = await Backups.GetAsync(child.Id, ct).Within(Timeouts.Short) is not null;
            if (await insert == BackupInsert.Inserted)
            {
                Assert.True(childExists);
                Assert.Equal(BackupDeletion.HasChildren, await delete);
                Assert.Equal(BackupStates.Completed, parentState);
            }
            else
            {
                Assert.False(childExists);
                Assert.Equal(BackupDeletion.Started, await delete);
                Assert.Equal(BackupStates.Deleting, parentState);
            }
        }
    }

    [Fact]
    public async Task A_backup_over_the_projects_quota_is_refused_and_a_deleting_one_frees_its_place()
    {
        var ct = CancellationToken.None;
        var project = NewName();
        var kept = await InsertBackupAsync(project, "i1");
        var failed = await InsertBackupAsync(project, "i2", BackupStates.Failed);
        _ = await InsertBackupAsync(NewName(), "i3"); // another project's backups never count

        var over = NewBackup(project, "i1", BackupStates.New);
        var overTask = NewTask(over.Id, "backup.create");
        Assert.Equal(BackupInsert.OverQuota, await Backups.InsertWithTaskAsync(over, overTask, BackupQuota(2), ct).Within(Timeouts.Short));
        Assert.Null(await Backups.GetAsync(over.Id, ct).Within(Timeouts.Short));
        Assert.Null(await Store.Tasks.GetAsync(overTask.Id, ct).Within(Timeouts.Short));

        // A quota of none, or a larger one, lets it in.
        Assert.Equal(BackupInsert.Inserted, await Backups.InsertWithTaskAsync(over, overTask, BackupQuota(3), ct).Within(Timeouts.Short));
        var next = NewBackup(project, "i1", BackupStates.New);
        Assert.Equal(BackupInsert.OverQuota, await Backups.InsertWithTaskAsync(next, NewTask(next.Id, "backup.create"), BackupQuota(3), ct).Within(Timeouts.Short));

        // Trove frees the quota when a delete is accepted: a DELETING backup, and a deleted one, no longer count.
        Assert.Equal(BackupDeletion.Started, await Backups.StartDeleteAsync(failed.Id, NewTask(failed.Id, "backup.delete"), ct).Within(Timeouts.Short));
        Assert.Equal(BackupInsert.Inserted, await Backups.InsertWithTaskAsync(next, NewTask(next.Id, "backup.create"), BackupQuota(3), ct).Within(Timeouts.Short));
        var last = NewBackup(project, "i1", BackupStates.New);
        Assert.Equal(BackupInsert.OverQuota, await Backups.InsertWithTaskAsync(last, NewTask(last.Id, "backup.create"), BackupQuota(3), ct).Within(Timeouts.Short));
        Assert.True(await Backups.UpdateAsync(kept.Id, new BackupChange { Deleted = true }, ct).Within(Timeouts.Short));
        Assert.Equal(BackupInsert.Inserted, await Backups.InsertWithTaskAsync(last, NewTask(last.Id, "backup.create"), BackupQuota(3), ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task Concurrent_backup_creates_never_exceed_the_quota()
    {
        var ct = CancellationToken.None;
        const int quota = 3;
        for (var round = 0; round < 5; round++)
        {
            var project = NewName();
            var backups = Enumerable.Range(0, 8).Select(i => NewBackup(project, $"i{i}", BackupStates.New)).ToList();
            var outcomes = await Task.WhenAll(backups.Select(b => Task.Run(() => Backups.InsertWithTaskAsync(b, NewTask(b.Id, "backup.create"), BackupQuota(quota), ct))))
                .Within(Timeouts.Settle);

            Assert.Equal(quota, outcomes.Count(o => o == BackupInsert.Inserted));
            Assert.All(outcomes.Where(o => o != BackupInsert.Inserted), o => Assert.Equal(BackupInsert.OverQuota, o));
            Assert.Equal(quota, (await BackupIdsAsync(project, null)).Count);
        }
    }
    [Fact]
    public async Task A_backup_that_claims_its_instance_and_a_restart_of_it_never_both_win()
    {
        var ct = CancellationToken.None;
        for (var round = 0; round < 10; round++)
        {
            var instance = NewInstance("p1");
            Assert.True(await Store.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), null, ct).Within(Timeouts.Short));
            Assert.True(await Store.Instances.UpdateIfTaskAsync(instance.Id, InstanceTasks.Building, new InstanceChange { TaskStatus = InstanceTasks.None }, ct).Within(Timeouts.Short));

            var backup = NewBackup("p1", instance.Id, BackupStates.New);
            var backupTask = NewTask(backup.Id, "backup.create");
            var restartTask = NewTask(instance.Id, "instance.restart");
            var insert = Task.Run(() => Backups.InsertWithTaskAsync(backup, backupTask, null, claimInstance: true, ct));
            var restart = Task.Run(() => Store.Tasks.InsertForInstanceAsync(restartTask, InstanceTasks.None, InstanceTasks.Rebooting, ct));
            await Task.WhenAll(insert, restart).Within(Timeouts.Short);

            // Exactly one took the instance, and the loser wrote nothing.
            var status = (await Store.Instances.GetAsync(instance.Id, ct).Within(Timeouts.Short))!.TaskStatus;
            if (await insert == BackupInsert.Inserted)
            {
                Assert.False(await restart, $"round {round}: the restart was accepted after the backup claimed the instance");
                Assert.Equal(InstanceTasks.BackingUp, status);
                Assert.Null(await Store.Tasks.GetAsync(restartTask.Id, ct).Within(Timeouts.Short));
            }
            else
            {
                Assert.Equal(BackupInsert.InstanceBusy, await insert);
                Assert.True(await restart);
                Assert.Equal(InstanceTasks.Rebooting, status);
                Assert.Null(await Backups.GetAsync(backup.Id, ct).Within(Timeouts.Short));
                Assert.Null(await Store.Tasks.GetAsync(backupTask.Id, ct).Within(Timeouts.Short));
            }
        }

        // A missing instance is busy too; without the claim, the insert does not look at the instance at all.
        var orphan = NewBackup("p1", "no-such-instance", BackupStates.New);
        Assert.Equal(BackupInsert.InstanceBusy, await Backups.InsertWithTaskAsync(orphan, NewTask(orphan.Id, "backup.create"), null, claimInstance: true, ct).Within(Timeouts.Short));
        Assert.Null(await Backups.GetAsync(orphan.Id, ct).Within(Timeouts.Short));
        Assert.Equal(BackupInsert.Inserted, await Backups.InsertWithTaskAsync(orphan, NewTask(orphan.Id, "backup.create"), null, ct).Within(Timeouts.Short));
    }
}
