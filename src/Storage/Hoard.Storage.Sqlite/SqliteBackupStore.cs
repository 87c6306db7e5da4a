using System.Globalization;
using Hoard.Abstractions.Storage;
using Microsoft.Data.Sqlite;
using static Hoard.Storage.Sqlite.SqliteDb;

namespace Hoard.Storage.Sqlite;

/// <summary>
/// Backups. Every check-then-write runs in one write transaction (BEGIN IMMEDIATE takes SQLite's single writer lock
/// first), so a child's parent check and its parent's child check take turns: a parent being deleted cannot gain a child.
/// </summary>
internal sealed class SqliteBackupStore(SqliteDb db) : IBackupStore
{
    private const string Columns =
        "id, name, description, project_id, instance_id, parent_id, datastore_version_id, state, size, checksum, location, " +
        "fault_message, created_at, updated_at, deleted, schedule_id";

    public async Task<BackupInsert> InsertWithTaskAsync(BackupRecord backup, TaskRecord task, QuotaLimits? quota, bool claimInstance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(backup);
        ArgumentNullException.ThrowIfNull(task);
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);

        // Read and counted under the writer lock: no other create of the project can insert, and no override change, between
        // this count and the insert below.
        if (quota is not null
            && (await SqliteQuotaStore.EffectiveAsync(connection, tx, backup.ProjectId, quota, cancellationToken)).Backups is { } limit
            && (long)(await ScalarAsync(
                connection,
                tx,
                "SELECT COUNT(*) FROM backups WHERE project_id = $project AND deleted = 0 AND state <> $deleting",
                cancellationToken,
                ("$project", backup.ProjectId), ("$deleting", BackupStates.Deleting)))! >= limit)
        {
            return BackupInsert.OverQuota;
        }

        if (backup.ParentId is not null
            && await ScalarAsync(
                connection,
                tx,
                "SELECT 1 FROM backups WHERE id = $parent AND deleted = 0 AND state = $completed AND instance_id = $instance",
                cancellationToken,
                ("$parent", backup.ParentId), ("$completed", BackupStates.Completed), ("$instance", backup.InstanceId)) is null)
        {
            return BackupInsert.ParentUnusable; // disposing the transaction rolls it back
        }

        if (claimInstance
            && await RunAsync(
                connection,
                tx,
                "UPDATE instances SET task_status = $backup, updated_at = $now WHERE id = $id AND deleted = 0 AND task_status = $none",
                cancellationToken,
                ("$backup", InstanceTasks.BackingUp), ("$now", Ms(DateTimeOffset.UtcNow)), ("$id", backup.InstanceId), ("$none", InstanceTasks.None)) == 0)
        {
            return BackupInsert.InstanceBusy;
        }

        // Rows are never removed (a delete marks them), so the largest seq only grows; the writer lock makes it unique.
        await RunAsync(
            connection,
            tx,
            $"""
            INSERT INTO backups (seq, {Columns})
            VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM backups), $id, $name, $desc, $project, $instance, $parent, $dsv, $state,
                    $size, $checksum, $location, $fault, $created, $updated, 0, $schedule)
            """,
            cancellationToken,
            ("$id", backup.Id), ("$name", backup.Name), ("$desc", backup.Description), ("$project", backup.ProjectId),
            ("$instance", backup.InstanceId), ("$parent", backup.ParentId), ("$dsv", backup.DatastoreVersionId),
            ("$state", backup.State), ("$size", backup.Size), ("$checksum", backup.Checksum), ("$location", backup.Location),
            ("$fault", backup.FaultMessage), ("$created", Ms(backup.CreatedAt)), ("$updated", Ms(backup.UpdatedAt)),
            ("$schedule", backup.ScheduleId));
        await using (var insertTask = SqliteTaskStore.InsertCommand(connection, task))
        {
            insertTask.Transaction = tx;
            await insertTask.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return BackupInsert.Inserted;
    }

    public Task<BackupRecord?> GetAsync(string id, CancellationToken cancellationToken) =>
        db.QuerySingleAsync($"SELECT {Columns} FROM backups WHERE id = $id AND deleted = 0", Read, cancellationToken, ("$id", id));

    public async Task<IReadOnlyList<BackupRecord>> ListAsync(string? projectId, string? instanceId, string? marker, int limit, CancellationToken cancellationToken)
    {
        // Only the filters asked for, so the planner can walk the (project_id, seq) or (instance_id, seq) index backwards.
        var where = new List<string> { "deleted = 0" };
        if (projectId is not null) where.Add("project_id = $p");
        if (instanceId is not null) where.Add("instance_id = $i");

        // Like the instance lists: a marker marked deleted still marks its place; an unknown one starts at the newest.
        if (marker is not null) where.Add($"seq < COALESCE((SELECT seq FROM backups WHERE id = $m), {long.MaxValue.ToString(CultureInfo.InvariantCulture)})");
        return await db.QueryAsync(
            $"SELECT {Columns} FROM backups WHERE {string.Join(" AND ", where)} ORDER BY seq DESC LIMIT $l",
            Read,
            cancellationToken,
            ("$p", projectId), ("$i", instanceId), ("$m", marker), ("$l", Limit(limit)));
    }

    public async Task<bool> UpdateAsync(string id, BackupChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var sets = new List<string> { "updated_at = $now" };
        var parameters = new List<(string, object?)> { ("$id", id), ("$now", Ms(DateTimeOffset.UtcNow)) };
        void Set(string column, object? value)
        {
            sets.Add($"{column} = ${column}");
            parameters.Add(($"${column}", value));
        }

        if (change.State is not null) Set("state", change.State);
        if (change.Size is not null) Set("size", change.Size);
        if (change.Checksum is not null) Set("checksum", change.Checksum);
        if (change.Location is not null) Set("location", change.Location);
        if (change.FaultMessage is not null) Set("fault_message", change.FaultMessage.Length == 0 ? null : change.FaultMessage);
        if (change.Deleted is true) sets.Add("deleted = 1");
        return await db.ExecuteAsync($"UPDATE backups SET {string.Join(", ", sets)} WHERE id = $id AND deleted = 0", cancellationToken, [.. parameters]) > 0;
    }

    public async Task<BackupDeletion> StartDeleteAsync(string id, TaskRecord task, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(task);
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var state = (string?)await ScalarAsync(connection, tx, "SELECT state FROM backups WHERE id = $id AND deleted = 0", cancellationToken, ("$id", id));
        if (state is null)
        {
            return BackupDeletion.Missing;
        }

        if (BackupStates.IsRunning(state) || state == BackupStates.Deleting)
        {
            return BackupDeletion.Busy;
        }

        if (await ScalarAsync(connection, tx, "SELECT 1 FROM backups WHERE parent_id = $id AND deleted = 0 LIMIT 1", cancellationToken, ("$id", id)) is not null)
        {
            return BackupDeletion.HasChildren;
        }

        await RunAsync(
            connection,
            tx,
            "UPDATE backups SET state = $state, updated_at = $now WHERE id = $id",
            cancellationToken,
            ("$state", BackupStates.Deleting), ("$now", Ms(DateTimeOffset.UtcNow)), ("$id", id));
        await using (var insertTask = SqliteTaskStore.InsertCommand(connection, task))
        {
            insertTask.Transaction = tx;
            await insertTask.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return BackupDeletion.Started;
    }

    public async Task<int> CountAsync(string projectId, CancellationToken cancellationToken)
    {
        var rows = await db.QueryAsync(
            "SELECT COUNT(*) FROM backups WHERE project_id = $p AND deleted = 0",
            r => r.GetInt32(0),
            cancellationToken,
            ("$p", projectId));
        return rows[0];
    }

    private static BackupRecord Read(SqliteDataReader r) => new()
    {
        Id = r.GetString(0),
        Name = r.GetString(1),
        Description = StringOrNull(r, 2),
        ProjectId = r.GetString(3),
        InstanceId = r.GetString(4),
        ParentId = StringOrNull(r, 5),
        DatastoreVersionId = r.GetString(6),
        State = r.GetString(7),
        Size = r.IsDBNull(8) ? null : r.GetInt64(8),
        Checksum = StringOrNull(r, 9),
        Location = StringOrNull(r, 10),
        FaultMessage = StringOrNull(r, 11),
        CreatedAt = Time(r, 12),
        UpdatedAt = Time(r, 13),
        Deleted = r.GetBoolean(14),
        ScheduleId = StringOrNull(r, 15),
    };
}
