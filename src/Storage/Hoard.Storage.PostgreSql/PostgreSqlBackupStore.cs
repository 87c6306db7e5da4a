using System.Data.Common;
using Hoard.Abstractions.Storage;
using Npgsql;
using static Hoard.Storage.PostgreSql.PostgreSqlDb;

namespace Hoard.Storage.PostgreSql;

/// <summary>
/// Backups. A child's insert and its parent's delete both lock the parent's row first (SELECT ... FOR UPDATE), so they
/// take turns: whichever comes second sees what the first committed (the parent DELETING, or the live child), and a
/// parent being deleted cannot gain a child.
/// </summary>
internal sealed class PostgreSqlBackupStore(PostgreSqlDb db) : IBackupStore
{
    private const string Columns =
        "id, name, description, project_id, instance_id, parent_id, datastore_version_id, state, size, checksum, location, " +
        "fault_message, created_at, updated_at, deleted, schedule_id";

    public async Task<BackupInsert> InsertWithTaskAsync(BackupRecord backup, TaskRecord task, QuotaLimits? quota, bool claimInstance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(backup);
        ArgumentNullException.ThrowIfNull(task);
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        // The project's override is read under its quota lock (taken first, as every insert takes it before its others).
        if (quota is not null
            && (await PostgreSqlQuotaStore.EffectiveAsync(connection, tx, backup.ProjectId, quota, cancellationToken)).Backups is { } limit)
        {
            // Creates of one project that count its quota take turns on the project's advisory lock: under READ COMMITTED
            // two of them would otherwise both count one below the quota and both insert.
            await RunAsync(
                connection,
                tx,
                "SELECT pg_advisory_xact_lock(hashtextextended('hoard.backup-quota:' || @lock, 0))",
                cancellationToken,
                ("lock", backup.ProjectId));
            var held = (long)(await ScalarAsync(
                connection,
                tx,
                "SELECT COUNT(*) FROM backups WHERE project_id = @p AND NOT deleted AND state <> @deleting",
                cancellationToken,
                ("p", backup.ProjectId), ("deleting", BackupStates.Deleting)))!;
            if (held >= limit)
            {
                return BackupInsert.OverQuota;
            }
        }

        if (backup.ParentId is not null)
        {
            // Under READ COMMITTED a row lock waited for re-reads the row as its holder committed it, so a parent another
            // transaction has just moved to DELETING (or marked deleted) is seen as such here.
            await using var parent = Command(
                connection,
                tx,
                "SELECT state, instance_id FROM backups WHERE id = @parent AND NOT deleted FOR UPDATE",
                ("parent", backup.ParentId));
            await using var reader = await parent.ExecuteReaderAsync(cancellationToken);
            var usable = await reader.ReadAsync(cancellationToken)
                && reader.GetString(0) == BackupStates.Completed
                && reader.GetString(1) == backup.InstanceId;
            await reader.CloseAsync();
            if (!usable)
            {
                return BackupInsert.ParentUnusable; // disposing the transaction rolls it back
            }
        }

        // The conditional update takes the instance's row lock: a restart or delete of it waits, then finds BACKUP.
        if (claimInstance
            && await RunAsync(
                connection,
                tx,
                "UPDATE instances SET task_status = @backup, updated_at = @now WHERE id = @id AND NOT deleted AND task_status = @none",
                cancellationToken,
                ("backup", InstanceTasks.BackingUp), ("now", NowMs()), ("id", backup.InstanceId), ("none", InstanceTasks.None)) == 0)
        {
            return BackupInsert.InstanceBusy;
        }

        await RunAsync(
            connection,
            tx,
            $"""
            INSERT INTO backups ({Columns})
            VALUES (@id, @name, @desc, @project, @instance, @parent, @dsv, @state, @size, @checksum, @location, @fault, @created, @updated, FALSE, @schedule)
            """,
            cancellationToken,
            ("id", backup.Id), ("name", backup.Name), ("desc", backup.Description), ("project", backup.ProjectId),
            ("instance", backup.InstanceId), ("parent", backup.ParentId), ("dsv", backup.DatastoreVersionId),
            ("state", backup.State), ("size", backup.Size), ("checksum", backup.Checksum), ("location", backup.Location),
            ("fault", backup.FaultMessage), ("created", Ms(backup.CreatedAt)), ("updated", Ms(backup.UpdatedAt)),
            ("schedule", backup.ScheduleId));
        await using (var insertTask = PostgreSqlTaskStore.InsertCommand(connection, tx, task))
        {
            await insertTask.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return BackupInsert.Inserted;
    }

    public Task<BackupRecord?> GetAsync(string id, CancellationToken cancellationToken) =>
        db.QuerySingleAsync($"SELECT {Columns} FROM backups WHERE id = @id AND NOT deleted", Read, cancellationToken, ("id", id));

    public async Task<IReadOnlyList<BackupRecord>> ListAsync(string? projectId, string? instanceId, string? marker, int limit, CancellationToken cancellationToken)
    {
        // Only the filters asked for, so the planner can walk the (project_id, seq) or (instance_id, seq) index backwards.
        var where = new List<string> { "NOT deleted" };
        var parameters = new List<(string, object?)> { ("l", Limit(limit)) };
        if (projectId is not null)
        {
            where.Add("project_id = @p");
            parameters.Add(("p", projectId));
        }

        if (instanceId is not null)
        {
            where.Add("instance_id = @i");
            parameters.Add(("i", instanceId));
        }

        if (marker is not null)
        {
            // Like the instance lists: a marker marked deleted still marks its place; an unknown one starts at the newest.
            where.Add("seq < COALESCE((SELECT seq FROM backups WHERE id = @m), 9223372036854775807)");
            parameters.Add(("m", marker));
        }

        return await db.QueryAsync(
            $"SELECT {Columns} FROM backups WHERE {string.Join(" AND ", where)} ORDER BY seq DESC LIMIT @l::integer",
            Read,
            cancellationToken,
            [.. parameters]);
    }

    public async Task<bool> UpdateAsync(string id, BackupChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var sets = new List<string> { "updated_at = @now" };
        var parameters = new List<(string, object?)> { ("id", id), ("now", NowMs()) };
        void Set(string column, object? value)
        {
            sets.Add($"{column} = @{column}");
            parameters.Add((column, value));
        }

        if (change.State is not null) Set("state", change.State);
        if (change.Size is not null) Set("size", change.Size);
        if (change.Checksum is not null) Set("checksum", change.Checksum);
        if (change.Location is not null) Set("location", change.Location);
        if (change.FaultMessage is not null)
        {
            if (change.FaultMessage.Length == 0)
            {
                sets.Add("fault_message = NULL");
            }
            else
            {
                Set("fault_message", change.FaultMessage);
            }
        }

        if (change.Deleted is true) sets.Add("deleted = TRUE");
        return await db.ExecuteAsync($"UPDATE backups SET {string.Join(", ", sets)} WHERE id = @id AND NOT deleted", cancellationToken, [.. parameters]) > 0;
    }

    public async Task<BackupDeletion> StartDeleteAsync(string id, TaskRecord task, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(task);
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);

        // The lock a child's insert takes too: the child check below sees every child committed before it.
        var state = (string?)await ScalarAsync(connection, tx, "SELECT state FROM backups WHERE id = @id AND NOT deleted FOR UPDATE", cancellationToken, ("id", id));
        if (state is null)
        {
            return BackupDeletion.Missing;
        }

        if (BackupStates.IsRunning(state) || state == BackupStates.Deleting)
        {
            return BackupDeletion.Busy;
        }

        if (await ScalarAsync(connection, tx, "SELECT 1 FROM backups WHERE parent_id = @id AND NOT deleted LIMIT 1", cancellationToken, ("id", id)) is not null)
        {
            return BackupDeletion.HasChildren;
        }

        await RunAsync(
            connection,
            tx,
            "UPDATE backups SET state = @state, updated_at = @now WHERE id = @id",
            cancellationToken,
            ("state", BackupStates.Deleting), ("now", NowMs()), ("id", id));
        await using (var insertTask = PostgreSqlTaskStore.InsertCommand(connection, tx, task))
        {
            await insertTask.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return BackupDeletion.Started;
    }

    public async Task<int> CountAsync(string projectId, CancellationToken cancellationToken) =>
        (int)await db.CountAsync("SELECT COUNT(*) FROM backups WHERE project_id = @p AND NOT deleted", cancellationToken, ("p", projectId));

    private static BackupRecord Read(DbDataReader r) => new()
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
