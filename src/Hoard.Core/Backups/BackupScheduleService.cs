using Hoard.Abstractions.Storage;
using Hoard.Core.Instances;

namespace Hoard.Core.Backups;

/// <summary>
/// A validated schedule body. On create the instance, the name, the retention and one of the pattern and the interval are
/// given; on update null means "unchanged", and a pattern or an interval replaces the schedule's timing.
/// </summary>
public sealed record BackupScheduleRequest
{
    public string? InstanceId { get; init; }

    public string? Name { get; init; }

    /// <summary>The new description; the empty string clears it.</summary>
    public string? Description { get; init; }

    public CronPattern? Pattern { get; init; }

    public int? IntervalMinutes { get; init; }

    public int? Retention { get; init; }

    public bool? Enabled { get; init; }
}

/// <summary>
/// Backup schedules (Hoard's extension resource): each belongs to one project and one standalone instance, and is run by
/// <see cref="BackupScheduler"/> through <see cref="BackupService"/>, so a scheduled backup obeys the same quota and
/// instance-state rules as one a user asks for.
/// </summary>
public sealed class BackupScheduleService(IManagementStore store, TimeProvider time)
{
    public async Task<BackupScheduleRecord> CreateAsync(string projectId, BackupScheduleRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.InstanceId);
        var instance = await store.Instances.GetAsync(request.InstanceId, cancellationToken);
        if (instance is null || instance.ProjectId != projectId || instance.TaskStatus == InstanceTasks.Deleting)
        {
            throw Invalid("instance", $"'{request.InstanceId}' is not an instance of this project");
        }

        if (instance.ClusterId is not null)
        {
            throw Invalid("instance", $"'{request.InstanceId}' is part of a cluster; schedule backups of a standalone instance");
        }

        var now = time.GetUtcNow();
        var schedule = new BackupScheduleRecord
        {
            Id = Guid.NewGuid().ToString(),
            ProjectId = projectId,
            InstanceId = instance.Id,
            Name = request.Name ?? throw new ArgumentException("a schedule needs a name", nameof(request)),
            Description = string.IsNullOrEmpty(request.Description) ? null : request.Description,
            Pattern = request.Pattern?.Text,
            IntervalMinutes = request.Pattern is null ? request.IntervalMinutes : null,
            Retention = request.Retention ?? throw new ArgumentException("a schedule needs a retention", nameof(request)),
            Enabled = request.Enabled ?? true,
            NextRunAt = now,
            CreatedAt = now,
            UpdatedAt = now,
        };
        schedule = schedule with { NextRunAt = FirstRun(schedule, now) };
        await store.BackupSchedules.InsertAsync(schedule, cancellationToken);
        return schedule;
    }

    public async Task<BackupScheduleRecord> GetAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        var schedule = await store.BackupSchedules.GetAsync(id, cancellationToken);
        return schedule is not null && schedule.ProjectId == projectId
            ? schedule
            : throw ApiException.NotFound($"Backup schedule {id} cannot be found.");
    }

    public Task<IReadOnlyList<BackupScheduleRecord>> ListAsync(string projectId, string? instanceId, CancellationToken cancellationToken) =>
        store.BackupSchedules.ListAsync(projectId, instanceId, cancellationToken);

    public async Task<BackupScheduleRecord> UpdateAsync(string projectId, string id, BackupScheduleRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var old = await GetAsync(projectId, id, cancellationToken);
        if (request.InstanceId is not null && request.InstanceId != old.InstanceId)
        {
            throw Invalid("instance", "cannot be changed; create a schedule for the other instance");
        }

        var now = time.GetUtcNow();
        var retimed = request.Pattern is not null || request.IntervalMinutes is not null;
        var schedule = old with
        {
            Name = request.Name ?? old.Name,
            Description = request.Description is null ? old.Description : request.Description.Length == 0 ? null : request.Description,
            Pattern = retimed ? request.Pattern?.Text : old.Pattern,
            IntervalMinutes = retimed ? (request.Pattern is null ? request.IntervalMinutes : null) : old.IntervalMinutes,
            Retention = request.Retention ?? old.Retention,
            Enabled = request.Enabled ?? old.Enabled,
            UpdatedAt = now,
        };

        // A new timing, or a schedule switched back on, counts from now (a disabled one does not catch up on missed runs).
        // Otherwise the stored next run stays: a replica may be claiming a run right now by moving it.
        var moveNextRun = retimed || (schedule.Enabled && !old.Enabled);
        if (moveNextRun)
        {
            schedule = schedule with { NextRunAt = FirstRun(schedule, now) };
        }

        if (!await store.BackupSchedules.UpdateAsync(schedule, moveNextRun, cancellationToken))
        {
            throw ApiException.NotFound($"Backup schedule {id} cannot be found.");
        }

        return await GetAsync(projectId, id, cancellationToken);
    }

    public async Task DeleteAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        _ = await GetAsync(projectId, id, cancellationToken);
        if (!await store.BackupSchedules.DeleteAsync(id, cancellationToken))
        {
            throw ApiException.NotFound($"Backup schedule {id} cannot be found.");
        }
    }

    /// <summary>An interval schedule first runs right away (then every interval); a cron schedule at its next matching minute.</summary>
    private static DateTimeOffset FirstRun(BackupScheduleRecord schedule, DateTimeOffset now) =>
        schedule.Pattern is null ? now : NextRun(schedule, now);

    /// <summary>When a schedule is due next after a run at <paramref name="now"/>: missed runs are not caught up.</summary>
    public static DateTimeOffset NextRun(BackupScheduleRecord schedule, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        if (schedule.Pattern is { } text)
        {
            // Validated when stored; a pattern that stops matching (none can) would park the schedule far ahead instead of spinning.
            return CronPattern.TryParse(text, out var pattern, out _) && pattern!.NextAfter(now) is { } next ? next : now.AddYears(100);
        }

        return now.AddMinutes(schedule.IntervalMinutes ?? throw new InvalidOperationException($"backup schedule {schedule.Id} has neither a pattern nor an interval"));
    }

    private static ApiException Invalid(string field, string message) =>
        ApiException.BadRequest($"Validation error: backup_schedule['{field}'] {message}");
}
