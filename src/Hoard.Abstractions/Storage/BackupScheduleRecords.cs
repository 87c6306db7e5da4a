namespace Hoard.Abstractions.Storage;

/// <summary>
/// A backup schedule (Hoard's extension beyond Trove): backs an instance up on a five-field cron pattern (UTC) or every
/// <see cref="IntervalMinutes"/> minutes, and keeps the newest <see cref="Retention"/> COMPLETED backups it made.
/// Exactly one of <see cref="Pattern"/> and <see cref="IntervalMinutes"/> is set.
/// </summary>
public sealed record BackupScheduleRecord
{
    public required string Id { get; init; }

    public required string ProjectId { get; init; }

    public required string InstanceId { get; init; }

    public required string Name { get; init; }

    public string? Description { get; init; }

    /// <summary>A five-field cron pattern, in UTC.</summary>
    public string? Pattern { get; init; }

    public int? IntervalMinutes { get; init; }

    /// <summary>How many of its COMPLETED backups the schedule keeps; older ones it deletes.</summary>
    public required int Retention { get; init; }

    public required bool Enabled { get; init; }

    /// <summary>When the schedule is next due; a replica runs it by moving this forward first (compare and set).</summary>
    public required DateTimeOffset NextRunAt { get; init; }

    public DateTimeOffset? LastRunAt { get; init; }

    /// <summary>The backup the last run started, if it started one.</summary>
    public string? LastBackupId { get; init; }

    /// <summary>Why the last run made no backup (the instance was busy, the quota was full, ...); null when it made one.</summary>
    public string? LastError { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>What one run of a schedule did: the backup it started, or why it started none.</summary>
public sealed record BackupScheduleRun(DateTimeOffset At, string? BackupId, string? Error)
{
    /// <summary>Also disable the schedule (its instance is gone).</summary>
    public bool Disable { get; init; }
}

/// <summary>
/// Backup schedules. Lists are oldest first (by creation time, then id). Several control planes share the store: a due run
/// is claimed by moving its next run time forward with compare and set, so exactly one of them runs it.
/// </summary>
public interface IBackupScheduleStore
{
    /// <summary>Inserts the schedule; an id that exists is an error.</summary>
    Task InsertAsync(BackupScheduleRecord schedule, CancellationToken cancellationToken);

    /// <summary>The schedule, or null.</summary>
    Task<BackupScheduleRecord?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Schedules of a project (all projects when null), of one instance when <paramref name="instanceId"/> is given.</summary>
    Task<IReadOnlyList<BackupScheduleRecord>> ListAsync(string? projectId, string? instanceId, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces what a user may change (name, description, pattern, interval, retention, enabled) with
    /// <paramref name="schedule"/>'s, and its next run time only when <paramref name="moveNextRun"/> (a new timing, or a
    /// schedule switched on): otherwise the stored one stays, as a replica may have just claimed a run by moving it. The
    /// project, instance, creation time and last run stay. False when there is no such schedule.
    /// </summary>
    Task<bool> UpdateAsync(BackupScheduleRecord schedule, bool moveNextRun, CancellationToken cancellationToken);

    /// <summary>Enabled schedules whose next run is at or before <paramref name="now"/>, the longest due first; at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<BackupScheduleRecord>> ListDueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Claims a due run: moves the next run time from <paramref name="expectedNextRunAt"/> to <paramref name="nextRunAt"/>
    /// only while the schedule is enabled and still due at <paramref name="expectedNextRunAt"/>. Of several claimers of one
    /// run, exactly one gets true.
    /// </summary>
    Task<bool> TryClaimAsync(string id, DateTimeOffset expectedNextRunAt, DateTimeOffset nextRunAt, CancellationToken cancellationToken);

    /// <summary>Records what a run did (and disables the schedule when the run says so); false when there is no such schedule.</summary>
    Task<bool> RecordRunAsync(string id, BackupScheduleRun run, CancellationToken cancellationToken);

    /// <summary>Deletes the schedule (its backups stay); false when there was none.</summary>
    Task<bool> DeleteAsync(string id, CancellationToken cancellationToken);

    /// <summary>Deletes every schedule of an instance (it is being deleted); returns how many.</summary>
    Task<int> DeleteForInstanceAsync(string instanceId, CancellationToken cancellationToken);
}
