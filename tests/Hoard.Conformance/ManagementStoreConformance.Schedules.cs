using Hoard.Abstractions.Storage;
using Hoard.Testing;
using Xunit;

namespace Hoard.Conformance;

/// <summary>
/// Backup schedules: kept and listed per project and instance, found when due, and claimed once per run however many
/// control planes ask (compare and set of the next run time).
/// </summary>
public abstract partial class ManagementStoreConformance
{
    private IBackupScheduleStore Schedules => Store.BackupSchedules;

    private static BackupScheduleRecord NewSchedule(string project, string instance, DateTimeOffset? createdAt = null) => new()
    {
        Id = Guid.NewGuid().ToString(),
        ProjectId = project,
        InstanceId = instance,
        Name = "nightly",
        Pattern = "0 3 * * *",
        Retention = 7,
        Enabled = true,
        NextRunAt = T0.AddHours(1),
        CreatedAt = createdAt ?? T0,
        UpdatedAt = createdAt ?? T0,
    };

    private async Task<BackupScheduleRecord> InsertScheduleAsync(BackupScheduleRecord schedule)
    {
        await Schedules.InsertAsync(schedule, CancellationToken.None).Within(Timeouts.Short);
        return schedule;
    }

    private async Task<List<string>> ScheduleIdsAsync(string? project, string? instance) =>
        (await Schedules.ListAsync(project, instance, CancellationToken.None).Within(Timeouts.Short)).Select(s => s.Id).ToList();

    [Fact]
    public async Task A_backup_schedule_reads_back_as_inserted_and_updates_replace_what_a_user_may_change()
    {
        var ct = CancellationToken.None;
        var schedule = NewSchedule("p1", "i1") with { Description = "keep a week" };
        await InsertScheduleAsync(schedule);
        Assert.Equal(schedule, await Schedules.GetAsync(schedule.Id, ct).Within(Timeouts.Short));
        Assert.Null(await Schedules.GetAsync(Guid.NewGuid().ToString(), ct).Within(Timeouts.Short));

        // From a cron pattern to an interval: the pattern and the description are gone; the last run stays.
        Assert.True(await Schedules.RecordRunAsync(schedule.Id, new BackupScheduleRun(T0.AddMinutes(5), "b1", null), ct).Within(Timeouts.Short));
        var changed = schedule with
        {
            Name = "hourly",
            Description = null,
            Pattern = null,
            IntervalMinutes = 60,
            Retention = 2,
            Enabled = false,
            NextRunAt = T0.AddHours(2),
            UpdatedAt = T0.AddMinutes(10),
            LastRunAt = T0.AddMinutes(5),
            LastBackupId = "b1",
        };
        Assert.True(await Schedules.UpdateAsync(changed with { ProjectId = "p2", LastBackupId = "ignored" }, moveNextRun: true, ct).Within(Timeouts.Short));
        Assert.Equal(changed, await Schedules.GetAsync(schedule.Id, ct).Within(Timeouts.Short));
        Assert.False(await Schedules.UpdateAsync(NewSchedule("p1", "i1"), moveNextRun: true, ct).Within(Timeouts.Short));

        // An update that does not move the next run keeps the stored one (a claim may have just moved it).
        Assert.True(await Schedules.UpdateAsync(changed with { Name = "renamed", NextRunAt = T0 }, moveNextRun: false, ct).Within(Timeouts.Short));
        changed = changed with { Name = "renamed" };
        Assert.Equal(changed, await Schedules.GetAsync(schedule.Id, ct).Within(Timeouts.Short));

        // A run that made no backup says why, and clears the last backup.
        Assert.True(await Schedules.RecordRunAsync(schedule.Id, new BackupScheduleRun(T0.AddMinutes(70), null, "busy"), ct).Within(Timeouts.Short));
        var skipped = await Schedules.GetAsync(schedule.Id, ct).Within(Timeouts.Short);
        Assert.Equal(("busy", (string?)null, T0.AddMinutes(70)), (skipped!.LastError, skipped.LastBackupId, skipped.LastRunAt));
        Assert.False(await Schedules.RecordRunAsync(Guid.NewGuid().ToString(), new BackupScheduleRun(T0, null, "x"), ct).Within(Timeouts.Short));

        Assert.True(await Schedules.DeleteAsync(schedule.Id, ct).Within(Timeouts.Short));
        Assert.False(await Schedules.DeleteAsync(schedule.Id, ct).Within(Timeouts.Short));
        Assert.Null(await Schedules.GetAsync(schedule.Id, ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task Backup_schedules_list_oldest_first_per_project_and_instance_and_go_with_their_instance()
    {
        var ct = CancellationToken.None;
        var project = NewName();
        var a = await InsertScheduleAsync(NewSchedule(project, "i1", T0.AddMinutes(2)));
        var b = await InsertScheduleAsync(NewSchedule(project, "i2", T0.AddMinutes(1)));
        var c = await InsertScheduleAsync(NewSchedule(project, "i1", T0.AddMinutes(3)));
        var other = await InsertScheduleAsync(NewSchedule(NewName(), "i1", T0));

        Assert.Equal([b.Id, a.Id, c.Id], await ScheduleIdsAsync(project, null));
        Assert.Equal([a.Id, c.Id], await ScheduleIdsAsync(project, "i1"));
        Assert.Equal([other.Id, a.Id, c.Id], await ScheduleIdsAsync(null, "i1"));
        Assert.Empty(await ScheduleIdsAsync(NewName(), null));

        Assert.Equal(3, await Schedules.DeleteForInstanceAsync("i1", ct).Within(Timeouts.Short));
        Assert.Equal([b.Id], await ScheduleIdsAsync(project, null));
        Assert.Equal(0, await Schedules.DeleteForInstanceAsync("i1", ct).Within(Timeouts.Short));
    }

    [Fact]
    public async Task Due_schedules_are_the_enabled_ones_whose_next_run_has_come_longest_due_first()
    {
        var ct = CancellationToken.None;
        var now = T0.AddDays(1);
        var late = await InsertScheduleAsync(NewSchedule("p1", "i1") with { NextRunAt = now.AddMinutes(-10) });
        var justDue = await InsertScheduleAsync(NewSchedule("p1", "i2") with { NextRunAt = now });
        _ = await InsertScheduleAsync(NewSchedule("p1", "i3") with { NextRunAt = now.AddMilliseconds(1) });
        var disabled = await InsertScheduleAsync(NewSchedule("p1", "i4") with { NextRunAt = now.AddMinutes(-20), Enabled = false });

        Assert.Equal([late.Id, justDue.Id], (await Schedules.ListDueAsync(now, 10, ct).Within(Timeouts.Short)).Select(s => s.Id));
        Assert.Equal([late.Id], (await Schedules.ListDueAsync(now, 1, ct).Within(Timeouts.Short)).Select(s => s.Id));

        // Claimed, a run is no longer due; a disabled schedule cannot be claimed; enabling one makes it due.
        Assert.True(await Schedules.TryClaimAsync(late.Id, late.NextRunAt, now.AddHours(1), ct).Within(Timeouts.Short));
        Assert.Equal([justDue.Id], (await Schedules.ListDueAsync(now, 10, ct).Within(Timeouts.Short)).Select(s => s.Id));
        Assert.Equal(now.AddHours(1), (await Schedules.GetAsync(late.Id, ct).Within(Timeouts.Short))!.NextRunAt);
        Assert.False(await Schedules.TryClaimAsync(disabled.Id, disabled.NextRunAt, now.AddHours(1), ct).Within(Timeouts.Short));
        Assert.True(await Schedules.UpdateAsync(disabled with { Enabled = true }, moveNextRun: true, ct).Within(Timeouts.Short));
        Assert.Equal([disabled.Id, justDue.Id], (await Schedules.ListDueAsync(now, 10, ct).Within(Timeouts.Short)).Select(s => s.Id));

        // A run that finds the instance gone disables the schedule: it is never due again.
        Assert.True(await Schedules.RecordRunAsync(justDue.Id, new BackupScheduleRun(now, null, "gone") { Disable = true }, ct).Within(Timeouts.Short));
        Assert.False((await Schedules.GetAsync(justDue.Id, ct).Within(Timeouts.Short))!.Enabled);
        Assert.Equal([disabled.Id], (await Schedules.ListDueAsync(now, 10, ct).Within(Timeouts.Short)).Select(s => s.Id));
    }

    [Fact]
    public async Task Of_many_claimers_of_one_due_run_exactly_one_wins()
    {
        var ct = CancellationToken.None;
        for (var round = 0; round < 10; round++)
        {
            var schedule = await InsertScheduleAsync(NewSchedule("p1", "i1"));
            var claims = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
                    Task.Run(() => Schedules.TryClaimAsync(schedule.Id, schedule.NextRunAt, schedule.NextRunAt.AddMinutes(1 + i), ct))))
                .Within(Timeouts.Settle);

            Assert.Equal(1, claims.Count(won => won));
            var winner = Array.IndexOf(claims, true);
            Assert.Equal(schedule.NextRunAt.AddMinutes(1 + winner), (await Schedules.GetAsync(schedule.Id, ct).Within(Timeouts.Short))!.NextRunAt);

            // The same run claimed again, after it was taken, is refused.
            Assert.False(await Schedules.TryClaimAsync(schedule.Id, schedule.NextRunAt, schedule.NextRunAt.AddDays(1), ct).Within(Timeouts.Short));
        }
    }

    [Fact]
    public async Task A_backup_remembers_the_schedule_that_made_it()
    {
        var ct = CancellationToken.None;
        var backup = NewBackup("p1", "i1") with { ScheduleId = "s1" };
        Assert.Equal(BackupInsert.Inserted, await Backups.InsertWithTaskAsync(backup, NewTask(backup.Id, "backup.create"), null, ct).Within(Timeouts.Short));
        Assert.Equal("s1", (await Backups.GetAsync(backup.Id, ct).Within(Timeouts.Short))!.ScheduleId);
        Assert.Equal("s1", Assert.Single(await Backups.ListAsync("p1", "i1", null, 0, ct).Within(Timeouts.Short), b => b.Id == backup.Id).ScheduleId);
    }
}
