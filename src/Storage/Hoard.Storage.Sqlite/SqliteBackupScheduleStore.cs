using Hoard.Abstractions.Storage;
using Microsoft.Data.Sqlite;
using static Hoard.Storage.Sqlite.SqliteDb;

namespace Hoard.Storage.Sqlite;

/// <summary>Backup schedules. A claim is one conditional UPDATE, so of several claimers of one run exactly one changes the row.</summary>
internal sealed class SqliteBackupScheduleStore(SqliteDb db) : IBackupScheduleStore
{
    private const string Columns =
        "id, project_id, instance_id, name, description, pattern, interval_minutes, retention, enabled, next_run_at, " +
        "last_run_at, last_backup_id, last_error, created_at, updated_at";

    public async Task InsertAsync(BackupScheduleRecord schedule, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        await db.ExecuteAsync(
            $"""
            INSERT INTO backup_schedules ({Columns})
            VALUES ($id, $project, $instance, $name, $desc, $pattern, $interval, $retention, $enabled, $next, $last_run,
                    $last_backup, $last_error, $created, $updated)
            """,
            cancellationToken,
            ("$id", schedule.Id), ("$project", schedule.ProjectId), ("$instance", schedule.InstanceId), ("$name", schedule.Name),
            ("$desc", schedule.Description), ("$pattern", schedule.Pattern), ("$interval", schedule.IntervalMinutes),
            ("$retention", schedule.Retention), ("$enabled", schedule.Enabled ? 1 : 0), ("$next", Ms(schedule.NextRunAt)),
            ("$last_run", Ms(schedule.LastRunAt)), ("$last_backup", schedule.LastBackupId), ("$last_error", schedule.LastError),
            ("$created", Ms(schedule.CreatedAt)), ("$updated", Ms(schedule.UpdatedAt)));
    }

    public Task<BackupScheduleRecord?> GetAsync(string id, CancellationToken cancellationToken) =>
        db.QuerySingleAsync($"SELECT {Columns} FROM backup_schedules WHERE id = $id", Read, cancellationToken, ("$id", id));

    public async Task<IReadOnlyList<BackupScheduleRecord>> ListAsync(string? projectId, string? instanceId, CancellationToken cancellationToken)
    {
        var where = new List<string> { "1 = 1" };
        if (projectId is not null) where.Add("project_id = $p");
        if (instanceId is not null) where.Add("instance_id = $i");
        return await db.QueryAsync(
            $"SELECT {Columns} FROM backup_schedules WHERE {string.Join(" AND ", where)} ORDER BY created_at, id",
            Read,
            cancellationToken,
            ("$p", projectId), ("$i", instanceId));
    }

    public async Task<bool> UpdateAsync(BackupScheduleRecord schedule, bool moveNextRun, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        return await db.ExecuteAsync(
            $"""
            UPDATE backup_schedules
            SET name = $name, description = $desc, pattern = $pattern, interval_minutes = $interval, retention = $retention,
                enabled = $enabled, updated_at = $updated{(moveNextRun ? ", next_run_at = $next" : string.Empty)}
            WHERE id = $id
            """,
            cancellationToken,
            ("$id", schedule.Id), ("$name", schedule.Name), ("$desc", schedule.Description), ("$pattern", schedule.Pattern),
            ("$interval", schedule.IntervalMinutes), ("$retention", schedule.Retention), ("$enabled", schedule.Enabled ? 1 : 0),
            ("$next", Ms(schedule.NextRunAt)), ("$updated", Ms(schedule.UpdatedAt))) > 0;
    }

    public async Task<IReadOnlyList<BackupScheduleRecord>> ListDueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken) =>
        await db.QueryAsync(
            $"SELECT {Columns} FROM backup_schedules WHERE enabled = 1 AND next_run_at <= $now ORDER BY next_run_at, id LIMIT $l",
            Read,
            cancellationToken,
            ("$now", Ms(now)), ("$l", Limit(limit)));

    public async Task<bool> TryClaimAsync(string id, DateTimeOffset expectedNextRunAt, DateTimeOffset nextRunAt, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            "UPDATE backup_schedules SET next_run_at = $next WHERE id = $id AND enabled = 1 AND next_run_at = $expected",
            cancellationToken,
            ("$id", id), ("$next", Ms(nextRunAt)), ("$expected", Ms(expectedNextRunAt))) > 0;

    public async Task<bool> RecordRunAsync(string id, BackupScheduleRun run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        return await db.ExecuteAsync(
            $"""
            UPDATE backup_schedules
            SET last_run_at = $at, last_backup_id = $backup, last_error = $error, updated_at = $at{(run.Disable ? ", enabled = 0" : string.Empty)}
            WHERE id = $id
            """,
            cancellationToken,
            ("$id", id), ("$at", Ms(run.At)), ("$backup", run.BackupId), ("$error", run.Error)) > 0;
    }

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken) =>
        await db.ExecuteAsync("DELETE FROM backup_schedules WHERE id = $id", cancellationToken, ("$id", id)) > 0;

    public Task<int> DeleteForInstanceAsync(string instanceId, CancellationToken cancellationToken) =>
        db.ExecuteAsync("DELETE FROM backup_schedules WHERE instance_id = $i", cancellationToken, ("$i", instanceId));

    private static BackupScheduleRecord Read(SqliteDataReader r) => new()
    {
        Id = r.GetString(0),
        ProjectId = r.GetString(1),
        InstanceId = r.GetString(2),
        Name = r.GetString(3),
        Description = StringOrNull(r, 4),
        Pattern = StringOrNull(r, 5),
        IntervalMinutes = IntOrNull(r, 6),
        Retention = r.GetInt32(7),
        Enabled = r.GetBoolean(8),
        NextRunAt = Time(r, 9),
        LastRunAt = TimeOrNull(r, 10),
        LastBackupId = StringOrNull(r, 11),
        LastError = StringOrNull(r, 12),
        CreatedAt = Time(r, 13),
        UpdatedAt = Time(r, 14),
    };
}
