using Hoard.Abstractions.Storage;
using Hoard.Core.Configuration;
using Hoard.Core.Tasks;
using Microsoft.Extensions.Logging;

namespace Hoard.Core.Backups;

/// <summary>
/// Runs due backup schedules, every [DEFAULT] backup_schedule_tick. Each replica of the control plane runs one; a due run
/// is claimed in the store (compare and set of its next run time) before its backup is asked for, so it happens once
/// however many replicas see it due. A run is at most once: a replica that dies between the claim and the create loses
/// that run, and the schedule carries on at its next one.
/// </summary>
public sealed partial class BackupScheduler(
    IManagementStore store,
    BackupService backups,
    HoardOptions options,
    TimeProvider time,
    ILogger<BackupScheduler> logger)
{
    /// <summary>Most runs started in one tick; the rest are still due at the next.</summary>
    private const int RunsPerTick = 100;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.BackupScheduleTick, time);
        do
        {
            try
            {
                await RunDueAsync(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogTickFailed(e);
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken));
    }

    /// <summary>Claims and runs every schedule due now; returns how many this replica ran.</summary>
    public async Task<int> RunDueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var ran = 0;
        foreach (var schedule in await store.BackupSchedules.ListDueAsync(now, RunsPerTick, cancellationToken))
        {
            if (!await store.BackupSchedules.TryClaimAsync(schedule.Id, schedule.NextRunAt, BackupScheduleService.NextRun(schedule, now), cancellationToken))
            {
                continue; // another replica claimed this run, or the schedule changed meanwhile
            }

            ran++;
            BackupScheduleRun run;
            try
            {
                var request = new CreateBackupRequest(
                    $"{schedule.Name} {now.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}",
                    schedule.InstanceId,
                    $"Made by backup schedule {schedule.Id}.",
                    ParentId: null,
                    Incremental: false,
                    ScheduleId: schedule.Id);
                var backup = await backups.CreateAsync(schedule.ProjectId, request, cancellationToken);
                run = new BackupScheduleRun(now, backup.Id, null);
                LogRan(schedule.Id, backup.Id);
            }
            catch (ApiException e) when (e.Status == 404)
            {
                // The instance is gone: the schedule has nothing left to back up.
                run = new BackupScheduleRun(now, null, e.Message) { Disable = true };
                LogSkipped(schedule.Id, e.Message);
            }
            catch (ApiException e)
            {
                // Busy (a backup or another action is running), over quota, ...: say so on the schedule and try next time.
                run = new BackupScheduleRun(now, null, e.Message);
                LogSkipped(schedule.Id, e.Message);
            }

            await store.BackupSchedules.RecordRunAsync(schedule.Id, run, cancellationToken);
        }

        return ran;
    }

    [LoggerMessage(1900, LogLevel.Information, "Backup schedule {Schedule} started backup {Backup}")]
    private partial void LogRan(string schedule, string backup);

    [LoggerMessage(1901, LogLevel.Warning, "Backup schedule {Schedule} made no backup this time: {Why}")]
    private partial void LogSkipped(string schedule, string why);

    [LoggerMessage(1902, LogLevel.Warning, "Could not run the due backup schedules; trying again at the next tick")]
    private partial void LogTickFailed(Exception error);
}

/// <summary>
/// A schedule's retention: after one of its backups completes, deletes its COMPLETED backups beyond the newest
/// <see cref="BackupScheduleRecord.Retention"/>. Only backups the schedule made are counted or deleted, and the store
/// refuses to delete one an incremental backup builds on.
/// </summary>
public sealed class BackupRetention(IManagementStore store, TimeProvider time)
{
    /// <summary>Starts the deletes; returns how many were started. A schedule that is gone keeps what it made.</summary>
    public async Task<int> ApplyAsync(string scheduleId, CancellationToken cancellationToken)
    {
        var schedule = await store.BackupSchedules.GetAsync(scheduleId, cancellationToken);
        if (schedule is null)
        {
            return 0;
        }

        // Newest first, so what is beyond the retention is the oldest.
        var made = (await store.Backups.ListAsync(schedule.ProjectId, schedule.InstanceId, null, 0, cancellationToken))
            .Where(b => b.ScheduleId == schedule.Id && b.State == BackupStates.Completed)
            .ToList();
        var started = 0;
        foreach (var backup in made.Skip(schedule.Retention))
        {
            var task = TaskRecords.Pending(BackupTaskKinds.Delete, backup.Id, time.GetUtcNow());
            started += await store.Backups.StartDeleteAsync(backup.Id, task, cancellationToken) == BackupDeletion.Started ? 1 : 0;
        }

        return started;
    }
}
