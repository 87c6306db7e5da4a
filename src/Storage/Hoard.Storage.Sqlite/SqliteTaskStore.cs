using Hoard.Abstractions.Storage;
using Microsoft.Data.Sqlite;
using static Hoard.Storage.Sqlite.SqliteDb;

namespace Hoard.Storage.Sqlite;

internal sealed class SqliteTaskStore(SqliteDb db) : ITaskStore
{
    private const string Columns = "id, kind, instance_id, state, step, lease_owner, lease_until, attempts, error, payload, created_at, updated_at";

    internal static SqliteCommand InsertCommand(SqliteConnection connection, TaskRecord task) => Command(
        connection,
        $"INSERT INTO tasks ({Columns}) VALUES ($id, $kind, $inst, $state, $step, $owner, $lease, $att, $err, $payload, $created, $updated)",
        ("$id", task.Id), ("$kind", task.Kind), ("$inst", task.InstanceId), ("$state", task.State), ("$step", task.Step),
        ("$owner", task.LeaseOwner), ("$lease", Ms(task.LeaseUntil)), ("$att", task.Attempts), ("$err", task.Error),
        ("$payload", task.Payload), ("$created", Ms(task.CreatedAt)), ("$updated", Ms(task.UpdatedAt)));

    public async Task<bool> InsertForInstanceAsync(TaskRecord task, string expectedInstanceTask, string newInstanceTask, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using (var mark = Command(
            connection,
            "UPDATE instances SET task_status = $new, updated_at = $now WHERE id = $id AND deleted = 0 AND task_status = $expected",
            ("$new", newInstanceTask), ("$now", Ms(DateTimeOffset.UtcNow)), ("$id", task.InstanceId), ("$expected", expectedInstanceTask)))
        {
            mark.Transaction = tx;
            if (await mark.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false;
            }
        }

        await using (var insert = InsertCommand(connection, task))
        {
            insert.Transaction = tx;
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return true;
    }

    public Task<TaskRecord?> GetAsync(string id, CancellationToken cancellationToken) =>
        db.QuerySingleAsync($"SELECT {Columns} FROM tasks WHERE id = $id", Read, cancellationToken, ("$id", id));

    public async Task<IReadOnlyList<TaskRecord>> ListUnfinishedAsync(CancellationToken cancellationToken) =>
        await db.QueryAsync($"SELECT {Columns} FROM tasks WHERE state IN ('pending', 'running') ORDER BY created_at", Read, cancellationToken);

    public async Task<bool> TryClaimAsync(string id, string? expectedOwner, DateTimeOffset? expectedLeaseUntil, string owner, DateTimeOffset leaseUntil, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            """
            UPDATE tasks SET lease_owner = $owner, lease_until = $until, state = 'running', attempts = attempts + 1, updated_at = $now
            WHERE id = $id AND state IN ('pending', 'running')
              AND lease_owner IS $eo AND lease_until IS $el
            """,
            cancellationToken,
            ("$owner", owner), ("$until", Ms(leaseUntil)), ("$now", Ms(DateTimeOffset.UtcNow)), ("$id", id),
            ("$eo", expectedOwner), ("$el", Ms(expectedLeaseUntil))) > 0;

    public async Task<bool> RenewAsync(string id, string owner, DateTimeOffset leaseUntil, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            "UPDATE tasks SET lease_until = $until WHERE id = $id AND lease_owner = $owner AND state = 'running'",
            cancellationToken,
            ("$until", Ms(leaseUntil)), ("$id", id), ("$owner", owner)) > 0;

    public async Task<bool> AdvanceAsync(string id, string owner, int step, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            "UPDATE tasks SET step = $step, updated_at = $now WHERE id = $id AND lease_owner = $owner AND state = 'running'",
            cancellationToken,
            ("$step", step), ("$now", Ms(DateTimeOffset.UtcNow)), ("$id", id), ("$owner", owner)) > 0;

    public async Task<bool> AdvanceAsync(string id, string owner, int step, string payload, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            "UPDATE tasks SET step = $step, payload = $payload, updated_at = $now WHERE id = $id AND lease_owner = $owner AND state = 'running'",
            cancellationToken,
            ("$step", step), ("$payload", payload), ("$now", Ms(DateTimeOffset.UtcNow)), ("$id", id), ("$owner", owner)) > 0;

    public async Task<bool> FinishAsync(string id, string owner, string state, string? error, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            "UPDATE tasks SET state = $state, error = $err, lease_owner = NULL, lease_until = NULL, updated_at = $now WHERE id = $id AND lease_owner = $owner",
            cancellationToken,
            ("$state", state), ("$err", error), ("$now", Ms(DateTimeOffset.UtcNow)), ("$id", id), ("$owner", owner)) > 0;

    private static TaskRecord Read(SqliteDataReader r) => new()
    {
        Id = r.GetString(0),
        Kind = r.GetString(1),
        InstanceId = r.GetString(2),
        State = r.GetString(3),
        Step = r.GetInt32(4),
        LeaseOwner = StringOrNull(r, 5),
        LeaseUntil = TimeOrNull(r, 6),
        Attempts = r.GetInt32(7),
        Error = StringOrNull(r, 8),
        Payload = r.GetString(9),
        CreatedAt = Time(r, 10),
        UpdatedAt = Time(r, 11),
    };
}
