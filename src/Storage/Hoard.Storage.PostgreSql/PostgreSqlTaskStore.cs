using System.Data.Common;
using Hoard.Abstractions.Storage;
using Npgsql;
using static Hoard.Storage.PostgreSql.PostgreSqlDb;

namespace Hoard.Storage.PostgreSql;

internal sealed class PostgreSqlTaskStore(PostgreSqlDb db) : ITaskStore
{
    private const string Columns = "id, kind, instance_id, state, step, lease_owner, lease_until, attempts, error, payload, created_at, updated_at";

    internal static NpgsqlCommand InsertCommand(NpgsqlConnection connection, NpgsqlTransaction tx, TaskRecord task) => Command(
        connection,
        tx,
        $"INSERT INTO tasks ({Columns}) VALUES (@id, @kind, @inst, @state, @step, @owner, @lease, @att, @err, @payload, @created, @updated)",
        ("id", task.Id), ("kind", task.Kind), ("inst", task.InstanceId), ("state", task.State), ("step", task.Step),
        ("owner", task.LeaseOwner), ("lease", Ms(task.LeaseUntil)), ("att", task.Attempts), ("err", task.Error),
        ("payload", task.Payload), ("created", Ms(task.CreatedAt)), ("updated", Ms(task.UpdatedAt)));

    public async Task<bool> InsertForInstanceAsync(TaskRecord task, string expectedInstanceTask, string newInstanceTask, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var mark = Command(
            connection,
            tx,
            "UPDATE instances SET task_status = @new, updated_at = @now WHERE id = @id AND NOT deleted AND task_status = @expected",
            ("new", newInstanceTask), ("now", NowMs()), ("id", task.InstanceId), ("expected", expectedInstanceTask)))
        {
            if (await mark.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false; // disposing the transaction rolls it back
            }
        }

        await using (var insert = InsertCommand(connection, tx, task))
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return true;
    }

    public Task<TaskRecord?> GetAsync(string id, CancellationToken cancellationToken) =>
        db.QuerySingleAsync($"SELECT {Columns} FROM tasks WHERE id = @id", Read, cancellationToken, ("id", id));

    public async Task<IReadOnlyList<TaskRecord>> ListUnfinishedAsync(CancellationToken cancellationToken) =>
        await db.QueryAsync($"SELECT {Columns} FROM tasks WHERE state IN ('pending', 'running') ORDER BY created_at, id", Read, cancellationToken);

    // Under READ COMMITTED a racing claim waits for the row, then re-checks the WHERE against the winner's write: one wins.
    public async Task<bool> TryClaimAsync(string id, string? expectedOwner, DateTimeOffset? expectedLeaseUntil, string owner, DateTimeOffset leaseUntil, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            """
            UPDATE tasks SET lease_owner = @owner, lease_until = @until, state = 'running', attempts = attempts + 1, updated_at = @now
            WHERE id = @id AND state IN ('pending', 'running')
              AND lease_owner IS NOT DISTINCT FROM @eo::text AND lease_until IS NOT DISTINCT FROM @el::bigint
            """,
            cancellationToken,
            ("owner", owner), ("until", Ms(leaseUntil)), ("now", NowMs()), ("id", id),
            ("eo", expectedOwner), ("el", Ms(expectedLeaseUntil))) > 0;

    public async Task<bool> RenewAsync(string id, string owner, DateTimeOffset leaseUntil, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            "UPDATE tasks SET lease_until = @until WHERE id = @id AND lease_owner = @owner AND state = 'running'",
            cancellationToken,
            ("until", Ms(leaseUntil)), ("id", id), ("owner", owner)) > 0;

    public async Task<bool> AdvanceAsync(string id, string owner, int step, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            "UPDATE tasks SET step = @step, updated_at = @now WHERE id = @id AND lease_owner = @owner AND state = 'running'",
            cancellationToken,
            ("step", step), ("now", NowMs()), ("id", id), ("owner", owner)) > 0;

    public async Task<bool> AdvanceAsync(string id, string owner, int step, string payload, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            "UPDATE tasks SET step = @step, payload = @payload, updated_at = @now WHERE id = @id AND lease_owner = @owner AND state = 'running'",
            cancellationToken,
            ("step", step), ("payload", payload), ("now", NowMs()), ("id", id), ("owner", owner)) > 0;

    public async Task<bool> FinishAsync(string id, string owner, string state, string? error, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            "UPDATE tasks SET state = @state, error = @err, lease_owner = NULL, lease_until = NULL, updated_at = @now WHERE id = @id AND lease_owner = @owner",
            cancellationToken,
            ("state", state), ("err", error), ("now", NowMs()), ("id", id), ("owner", owner)) > 0;

    private static TaskRecord Read(DbDataReader r) => new()
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
