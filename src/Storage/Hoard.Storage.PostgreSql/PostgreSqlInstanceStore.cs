using System.Data.Common;
using Hoard.Abstractions.Storage;
using Npgsql;
using static Hoard.Storage.PostgreSql.PostgreSqlDb;

namespace Hoard.Storage.PostgreSql;

internal sealed class PostgreSqlInstanceStore(PostgreSqlDb db) : IInstanceStore
{
    private const string Columns =
        "id, name, project_id, flavor_id, datastore_version_id, volume_size, task_status, service_status, server_status, " +
        "pool, address, port, secret_hash, root_enabled, fault_message, fault_details, fault_at, created_at, updated_at, " +
        "service_status_updated_at, deleted, cluster_id, instance_type, replica_of, cluster_node_id, configuration_id";

    /// <summary>
    /// Counts and inserts under the pool's advisory lock, so concurrent creates into one pool take turns and never exceed
    /// its capacity together; with no capacity to count, under the shared lock (creates run side by side, a pool delete
    /// still waits for them). A quota to check is counted first, under the project's quota lock.
    /// </summary>
    public async Task<QuotaInsert> InsertWithTaskAsync(InstanceRecord instance, TaskRecord task, int? poolCapacity, QuotaLimits quota, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(quota);
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        quota = await PostgreSqlQuotaStore.EffectiveAsync(connection, tx, instance.ProjectId, quota, cancellationToken);
        if (quota.LimitsCreates)
        {
            var over = quota.Overs(
                await PostgreSqlQuotaStore.LockAndCountAsync(connection, tx, instance.ProjectId, cancellationToken),
                await PostgreSqlQuotaStore.AddingAsync(connection, tx, [instance], 0, cancellationToken));
            if (over.Count > 0)
            {
                return QuotaInsert.Over(over); // disposing the transaction rolls it back
            }
        }

        await LockPoolAsync(connection, tx, instance.Pool, cancellationToken, shared: poolCapacity is null);
        if (poolCapacity is { } capacity
            && (long)(await ScalarAsync(connection, tx, "SELECT COUNT(*) FROM catalogue WHERE pool = @pool", cancellationToken, ("pool", instance.Pool)))! >= capacity)
        {
            return QuotaInsert.Refused;
        }

        await InsertAsync(connection, tx, instance, task, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return QuotaInsert.Done;
    }

    /// <summary>Inserts an instance, its task and its catalogue entry inside the caller's transaction.</summary>
    internal static async Task InsertAsync(NpgsqlConnection connection, NpgsqlTransaction tx, InstanceRecord instance, TaskRecord task, CancellationToken cancellationToken)
    {
        await using (var insert = Command(
            connection,
            tx,
            $"INSERT INTO instances ({Columns}) VALUES (@id, @name, @project, @flavor, @dsv, @vol, @task, @svc, @srv, @pool, @addr, @port, @secret, @root, NULL, NULL, NULL, @created, @updated, @created, FALSE, @cluster, @type, @replicaOf, NULL, @configuration)",
            ("id", instance.Id), ("name", instance.Name), ("project", instance.ProjectId), ("flavor", instance.FlavorId),
            ("dsv", instance.DatastoreVersionId), ("vol", instance.VolumeSize), ("task", instance.TaskStatus),
            ("svc", instance.ServiceStatus), ("srv", instance.ServerStatus), ("pool", instance.Pool), ("addr", instance.Address),
            ("port", instance.Port), ("secret", instance.SecretHash), ("root", instance.RootEnabled),
            ("created", Ms(instance.CreatedAt)), ("updated", Ms(instance.UpdatedAt)),
            ("cluster", instance.ClusterId), ("type", instance.InstanceType), ("replicaOf", instance.ReplicaOf),
            ("configuration", instance.ConfigurationId)))
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var insertTask = PostgreSqlTaskStore.InsertCommand(connection, tx, task))
        {
            await insertTask.ExecuteNonQueryAsync(cancellationToken);
        }

        await RunAsync(connection, tx, PostgreSqlCatalogueStore.UpsertSql, cancellationToken, ("cp", instance.ProjectId), ("ci", instance.Id), ("cpool", instance.Pool));
    }

    internal async Task<IReadOnlyList<InstanceRecord>> ListWarmAsync(string datastoreVersionId, string flavorId, CancellationToken cancellationToken) =>
        await db.QueryAsync(
            $"SELECT {Columns} FROM instances WHERE instance_type = 'warm' AND cluster_id IS NULL AND NOT deleted AND datastore_version_id = @v AND flavor_id = @f ORDER BY seq",
            Read,
            cancellationToken,
            ("v", datastoreVersionId), ("f", flavorId));

    /// <summary>Live members of a cluster, oldest first.</summary>
    internal async Task<IReadOnlyList<InstanceRecord>> ListMembersAsync(string clusterId, CancellationToken cancellationToken) =>
        await db.QueryAsync($"SELECT {Columns} FROM instances WHERE cluster_id = @c AND NOT deleted ORDER BY seq", Read, cancellationToken, ("c", clusterId));

    public Task<InstanceRecord?> GetAsync(string id, CancellationToken cancellationToken) =>
        db.QuerySingleAsync($"SELECT {Columns} FROM instances WHERE id = @id AND NOT deleted", Read, cancellationToken, ("id", id));

    public async Task<IReadOnlyList<InstanceRecord>> ListAsync(string? projectId, string? marker, int limit, bool includeClustered, CancellationToken cancellationToken) =>
        await db.QueryAsync(
            $"""
            SELECT {Columns} FROM instances
            WHERE NOT deleted AND (@p::text IS NULL OR project_id = @p) AND (@all OR cluster_id IS NULL)
              AND seq > COALESCE((SELECT seq FROM instances WHERE id = @m::text), 0)
            ORDER BY seq LIMIT @l
            """,
            Read,
            cancellationToken,
            ("p", projectId), ("m", marker), ("l", limit), ("all", includeClustered));

    public Task<bool> UpdateAsync(string id, InstanceChange change, CancellationToken cancellationToken) =>
        UpdateCoreAsync(id, null, change, cancellationToken);

    public Task<bool> UpdateIfTaskAsync(string id, string expectedTask, InstanceChange change, CancellationToken cancellationToken) =>
        UpdateCoreAsync(id, expectedTask, change, cancellationToken);

    private async Task<bool> UpdateCoreAsync(string id, string? expectedTask, InstanceChange change, CancellationToken cancellationToken)
    {
        var now = NowMs();
        var sets = new List<string> { "updated_at = @now" };
        var parameters = new List<(string, object?)> { ("id", id), ("now", now), ("expected", expectedTask) };
        void Set(string column, string parameter, object? value)
        {
            sets.Add($"{column} = @{parameter}");
            parameters.Add((parameter, value));
        }

        if (change.Name is not null) Set("name", "name", change.Name);
        if (change.TaskStatus is not null) Set("task_status", "task", change.TaskStatus);
        if (change.ServiceStatus is not null)
        {
            Set("service_status", "svc", change.ServiceStatus);
            sets.Add("service_status_updated_at = @now");
        }

        if (change.ServerStatus is not null) Set("server_status", "srv", change.ServerStatus);
        if (change.Address is not null) Set("address", "addr", change.Address);
        if (change.Port is not null) Set("port", "port", change.Port);
        if (change.RootEnabled is not null) Set("root_enabled", "root", change.RootEnabled);
        if (change.ClusterNodeId is not null) Set("cluster_node_id", "node", change.ClusterNodeId);
        if (change.FaultMessage is not null)
        {
            var clear = change.FaultMessage.Length == 0;
            Set("fault_message", "fm", clear ? null : change.FaultMessage);
            Set("fault_details", "fd", clear ? null : change.FaultDetails ?? string.Empty);
            Set("fault_at", "fa", clear ? null : now);
        }

        if (change.Deleted is true)
        {
            // A deleted instance gives its address back to the pool.
            sets.Add("deleted = TRUE");
            sets.Add("address = NULL");
        }

        var sql = $"UPDATE instances SET {string.Join(", ", sets)} WHERE id = @id AND NOT deleted AND (@expected::text IS NULL OR task_status = @expected)";
        if (change.Deleted is true)
        {
            // A deleted instance leaves the catalogue in the same statement, so its pool's count drops with it.
            sql = $"""
                WITH marked AS ({sql} RETURNING project_id, id),
                    removed AS (DELETE FROM catalogue c USING marked m WHERE c.project_id = m.project_id AND c.instance_id = m.id)
                SELECT COUNT(*) FROM marked
                """;
            return await db.CountAsync(sql, cancellationToken, [.. parameters]) > 0;
        }

        return await db.ExecuteAsync(sql, cancellationToken, [.. parameters]) > 0;
    }

    public async Task<IReadOnlyList<string>> ListAddressesAsync(string pool, CancellationToken cancellationToken) =>
        await db.QueryAsync(
            "SELECT address FROM instances WHERE pool = @pool AND NOT deleted AND address IS NOT NULL",
            r => r.GetString(0),
            cancellationToken,
            ("pool", pool));

    // The partial unique index (pool, address) of live instances refuses a taken address.
    public Task<bool> TryAssignAddressAsync(string id, string pool, string address, int port, CancellationToken cancellationToken) =>
        db.TryExecuteAsync(
            "UPDATE instances SET address = @a, port = @port, updated_at = @now WHERE id = @id AND pool = @pool AND NOT deleted",
            cancellationToken,
            ("a", address), ("port", port), ("now", NowMs()), ("id", id), ("pool", pool));

    public async Task<int> CountAsync(string? projectId, CancellationToken cancellationToken) =>
        (int)await db.CountAsync(
            "SELECT COUNT(*) FROM instances WHERE NOT deleted AND (@p::text IS NULL OR project_id = @p)",
            cancellationToken,
            ("p", projectId));

    private static InstanceRecord Read(DbDataReader r) => new()
    {
        Id = r.GetString(0),
        Name = r.GetString(1),
        ProjectId = r.GetString(2),
        FlavorId = r.GetString(3),
        DatastoreVersionId = r.GetString(4),
        VolumeSize = IntOrNull(r, 5),
        TaskStatus = r.GetString(6),
        ServiceStatus = r.GetString(7),
        ServerStatus = r.GetString(8),
        Pool = r.GetString(9),
        Address = StringOrNull(r, 10),
        Port = IntOrNull(r, 11),
        SecretHash = r.GetString(12),
        RootEnabled = r.GetBoolean(13),
        FaultMessage = StringOrNull(r, 14),
        FaultDetails = StringOrNull(r, 15),
        FaultAt = TimeOrNull(r, 16),
        CreatedAt = Time(r, 17),
        UpdatedAt = Time(r, 18),
        ServiceStatusUpdatedAt = TimeOrNull(r, 19),
        Deleted = r.GetBoolean(20),
        ClusterId = StringOrNull(r, 21),
        InstanceType = StringOrNull(r, 22),
        ReplicaOf = StringOrNull(r, 23),
        ClusterNodeId = StringOrNull(r, 24),
        ConfigurationId = StringOrNull(r, 25),
    };
}
