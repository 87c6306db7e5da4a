using System.Data.Common;
using Hoard.Abstractions.Storage;
using Npgsql;
using static Hoard.Storage.PostgreSql.PostgreSqlDb;

namespace Hoard.Storage.PostgreSql;

internal sealed class PostgreSqlClusterStore(PostgreSqlDb db, PostgreSqlInstanceStore instances) : IClusterStore
{
    private const string Columns = "id, name, project_id, datastore_version_id, task_status, root_secret, created_at, updated_at, deleted";

    public async Task<QuotaInsert> InsertAsync(ClusterRecord cluster, IReadOnlyList<NewMember> members, TaskRecord clusterTask, QuotaLimits quota, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(quota);
        IReadOnlyList<string> over = [];
        async Task<bool> WithinQuotaAsync(NpgsqlConnection connection, NpgsqlTransaction tx)
        {
            // Counted under the project's quota lock, before anything is written: adopted warm members join the project too.
            var limits = await PostgreSqlQuotaStore.EffectiveAsync(connection, tx, cluster.ProjectId, quota, cancellationToken);
            if (!limits.LimitsCreates)
            {
                return true;
            }

            over = limits.Overs(
                await PostgreSqlQuotaStore.LockAndCountAsync(connection, tx, cluster.ProjectId, cancellationToken),
                await PostgreSqlQuotaStore.AddingAsync(connection, tx, members.Select(m => m.Instance), 1, cancellationToken));
            return over.Count == 0;
        }

        var inserted = await WriteWithMembersAsync(
            $"INSERT INTO clusters ({Columns}) VALUES (@id, @name, @project, @dsv, @task, @root, @created, @updated, FALSE)",
            [("id", cluster.Id), ("name", cluster.Name), ("project", cluster.ProjectId), ("dsv", cluster.DatastoreVersionId),
             ("task", cluster.TaskStatus), ("root", cluster.RootSecret), ("created", Ms(cluster.CreatedAt)), ("updated", Ms(cluster.UpdatedAt))],
            clusterTask,
            members,
            cancellationToken,
            quota.ChecksCreates ? WithinQuotaAsync : null);
        return inserted ? QuotaInsert.Done : over.Count > 0 ? QuotaInsert.Over(over) : QuotaInsert.Refused;
    }

    public Task<IReadOnlyList<InstanceRecord>> ListWarmAsync(string datastoreVersionId, string flavorId, CancellationToken cancellationToken) =>
        instances.ListWarmAsync(datastoreVersionId, flavorId, cancellationToken);

    public Task<ClusterRecord?> GetAsync(string id, CancellationToken cancellationToken) =>
        db.QuerySingleAsync($"SELECT {Columns} FROM clusters WHERE id = @id AND NOT deleted", Read, cancellationToken, ("id", id));

    public async Task<IReadOnlyList<ClusterRecord>> ListAsync(string projectId, string? marker, int limit, CancellationToken cancellationToken) =>
        await db.QueryAsync(
            $"""
            SELECT {Columns} FROM clusters
            WHERE NOT deleted AND project_id = @p AND seq > COALESCE((SELECT seq FROM clusters WHERE id = @m::text), 0)
            ORDER BY seq LIMIT @l
            """,
            Read,
            cancellationToken,
            ("p", projectId), ("m", marker), ("l", limit));

    public Task<IReadOnlyList<InstanceRecord>> ListMembersAsync(string clusterId, CancellationToken cancellationToken) =>
        instances.ListMembersAsync(clusterId, cancellationToken);

    public async Task<QuotaInsert> StartTaskAsync(string clusterId, string expectedTask, string newTask, TaskRecord clusterTask, IReadOnlyList<NewMember> newMembers, QuotaLimits quota, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(newMembers);
        ArgumentNullException.ThrowIfNull(quota);
        IReadOnlyList<string> over = [];
        async Task<bool> WithinQuotaAsync(NpgsqlConnection connection, NpgsqlTransaction tx)
        {
            // The members join the cluster's project; a cluster that is gone has no project, and the update below matches nothing.
            if (await ScalarAsync(connection, tx, "SELECT project_id FROM clusters WHERE id = @id", cancellationToken, ("id", clusterId)) is not string project)
            {
                return true;
            }

            var limits = await PostgreSqlQuotaStore.EffectiveAsync(connection, tx, project, quota, cancellationToken);
            if (!limits.LimitsCreates)
            {
                return true;
            }

            over = limits.Overs(
                await PostgreSqlQuotaStore.LockAndCountAsync(connection, tx, project, cancellationToken),
                await PostgreSqlQuotaStore.AddingAsync(connection, tx, newMembers.Select(m => m.Instance), 0, cancellationToken));
            return over.Count == 0;
        }

        var started = await WriteWithMembersAsync(
            "UPDATE clusters SET task_status = @new, updated_at = @now WHERE id = @id AND NOT deleted AND task_status = @expected",
            [("new", newTask), ("now", NowMs()), ("id", clusterId), ("expected", expectedTask)],
            clusterTask,
            newMembers,
            cancellationToken,
            quota.ChecksCreates && newMembers.Count > 0 ? WithinQuotaAsync : null);
        return started ? QuotaInsert.Done : over.Count > 0 ? QuotaInsert.Over(over) : QuotaInsert.Refused;
    }

    /// <summary>
    /// One transaction: the cluster write (which must touch its row), then the members and the cluster's task; false, and
    /// nothing written, when the write matched no row or a warm member was no longer there to adopt.
    /// </summary>
    private async Task<bool> WriteWithMembersAsync(
        string sql,
        (string Name, object? Value)[] parameters,
        TaskRecord clusterTask,
        IReadOnlyList<NewMember> members,
        CancellationToken cancellationToken,
        Func<NpgsqlConnection, NpgsqlTransaction, Task<bool>>? check = null)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        if (check is not null && !await check(connection, tx))
        {
            return false;
        }

        await using (var write = Command(connection, tx, sql, parameters))
        {
            if (await write.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false;
            }
        }

        // New members land in their pools as a create with no capacity does: a pool delete waits for them (shared locks,
        // taken in one order).
        foreach (var pool in members.Where(m => m.Task is not null).Select(m => m.Instance.Pool).Distinct().Order(StringComparer.Ordinal))
        {
            await LockPoolAsync(connection, tx, pool, cancellationToken, shared: true);
        }

        if (!await InsertTasksAsync(connection, tx, clusterTask, members, cancellationToken))
        {
            return false; // disposing the transaction rolls it back
        }

        await tx.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<bool> SetTaskAsync(string clusterId, string? expectedTask, string newTask, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            "UPDATE clusters SET task_status = @new, updated_at = @now WHERE id = @id AND NOT deleted AND (@expected::text IS NULL OR task_status = @expected)",
            cancellationToken,
            ("new", newTask), ("now", NowMs()), ("id", clusterId), ("expected", expectedTask)) > 0;

    public async Task<bool> SetRootSecretAsync(string clusterId, string sealedSecret, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            "UPDATE clusters SET root_secret = @root, updated_at = @now WHERE id = @id AND NOT deleted",
            cancellationToken,
            ("root", sealedSecret), ("now", NowMs()), ("id", clusterId)) > 0;

    public async Task<bool> DeleteAsync(string clusterId, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            "UPDATE clusters SET deleted = TRUE, updated_at = @now WHERE id = @id AND NOT deleted",
            cancellationToken,
            ("now", NowMs()), ("id", clusterId)) > 0;

    public async Task<int> CountAsync(string projectId, CancellationToken cancellationToken) =>
        (int)await db.CountAsync("SELECT COUNT(*) FROM clusters WHERE NOT deleted AND project_id = @p", cancellationToken, ("p", projectId));

    /// <summary>Inserts new members with their tasks and adopts warm ones; false when a warm one is no longer there to adopt.</summary>
    private static async Task<bool> InsertTasksAsync(NpgsqlConnection connection, NpgsqlTransaction tx, TaskRecord clusterTask, IReadOnlyList<NewMember> members, CancellationToken cancellationToken)
    {
        foreach (var member in members)
        {
            if (member.Task is { } task)
            {
                await PostgreSqlInstanceStore.InsertAsync(connection, tx, member.Instance, task, cancellationToken);
                continue;
            }

            // The warm member's catalogue entry moves to the project that adopts it: off its old project first (read
            // before the adoption rewrites it), then under the new one once the adoption matched.
            var i = member.Instance;
            await RunAsync(
                connection,
                tx,
                "DELETE FROM catalogue WHERE project_id = (SELECT project_id FROM instances WHERE id = @id) AND instance_id = @id",
                cancellationToken,
                ("id", i.Id));

            // A racing adoption of the same warm instance waits on its row lock, then finds cluster_id set and matches nothing.
            await using var adopt = Command(
                connection,
                tx,
                """
                UPDATE instances SET name = @name, project_id = @project, cluster_id = @cluster, instance_type = @type,
                    replica_of = @replicaOf, root_enabled = @root, updated_at = @now
                WHERE id = @id AND NOT deleted AND cluster_id IS NULL AND instance_type = 'warm'
                """,
                ("name", i.Name), ("project", i.ProjectId), ("cluster", i.ClusterId), ("type", i.InstanceType),
                ("replicaOf", i.ReplicaOf), ("root", i.RootEnabled), ("now", NowMs()), ("id", i.Id));
            if (await adopt.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return false;
            }

            await RunAsync(
                connection,
                tx,
                """
                INSERT INTO catalogue (project_id, instance_id, pool) SELECT project_id, id, pool FROM instances WHERE id = @id
                ON CONFLICT (project_id, instance_id) DO UPDATE SET pool = excluded.pool
                """,
                cancellationToken,
                ("id", i.Id));
        }

        await using var insertTask = PostgreSqlTaskStore.InsertCommand(connection, tx, clusterTask);
        await insertTask.ExecuteNonQueryAsync(cancellationToken);
        return true;
    }

    private static ClusterRecord Read(DbDataReader r) => new()
    {
        Id = r.GetString(0),
        Name = r.GetString(1),
        ProjectId = r.GetString(2),
        DatastoreVersionId = r.GetString(3),
        TaskStatus = r.GetString(4),
        RootSecret = StringOrNull(r, 5),
        CreatedAt = Time(r, 6),
        UpdatedAt = Time(r, 7),
        Deleted = r.GetBoolean(8),
    };
}
