using System.Globalization;
using Hoard.Abstractions.Storage;
using Npgsql;
using static Hoard.Storage.PostgreSql.PostgreSqlDb;

namespace Hoard.Storage.PostgreSql;

/// <summary>Quota overrides, and the usage count the inserts that enforce them run under the project's quota lock.</summary>
internal sealed class PostgreSqlQuotaStore(PostgreSqlDb db) : IQuotaStore
{
    /// <summary>What a project holds (<see cref="QuotaUsage"/>): what is being deleted no longer counts.</summary>
    private const string UsageSql = """
        SELECT
          (SELECT COUNT(*) FROM instances WHERE project_id = @qp AND NOT deleted AND task_status <> 'DELETING')::integer,
          (SELECT COALESCE(SUM(volume_size), 0) FROM instances WHERE project_id = @qp AND NOT deleted AND task_status <> 'DELETING')::integer,
          (SELECT COALESCE(SUM(f.ram_mb), 0) FROM instances i JOIN flavors f ON f.id = i.flavor_id
             WHERE i.project_id = @qp AND NOT i.deleted AND i.task_status <> 'DELETING')::integer,
          (SELECT COUNT(*) FROM backups WHERE project_id = @qp AND NOT deleted AND state <> 'DELETING')::integer,
          (SELECT COUNT(*) FROM clusters WHERE project_id = @qp AND NOT deleted AND task_status <> 'DELETING')::integer
        """;

    public async Task<IReadOnlyDictionary<string, int>> GetLimitsAsync(string projectId, CancellationToken cancellationToken)
    {
        var rows = await db.QueryAsync(
            "SELECT resource, hard_limit FROM quotas WHERE project_id = @p",
            r => (Resource: r.GetString(0), Limit: r.GetInt32(1)),
            cancellationToken,
            ("p", projectId));
        return rows.ToDictionary(r => r.Resource, r => r.Limit, StringComparer.Ordinal);
    }

    public async Task SetLimitsAsync(string projectId, IReadOnlyDictionary<string, int> limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(limits);
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);

        // Under the project's quota lock: an insert that has read the old overrides commits before this does, and one
        // that reads after this commits sees the new ones.
        await LockAsync(connection, tx, projectId, cancellationToken);
        foreach (var (resource, limit) in limits)
        {
            await RunAsync(
                connection,
                tx,
                """
                INSERT INTO quotas (project_id, resource, hard_limit, updated_at) VALUES (@p, @r, @l, @now)
                ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit, updated_at = excluded.updated_at
                """,
                cancellationToken,
                ("p", projectId), ("r", resource), ("l", limit), ("now", NowMs()));
        }

        await tx.CommitAsync(cancellationToken);
    }

    public async Task<QuotaUsage> GetUsageAsync(string projectId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var command = Command(connection, null, UsageSql, ("qp", projectId));
        return await ReadUsageAsync(command, cancellationToken);
    }

    /// <summary>
    /// Takes the project's quota lock, then counts its usage. Inserts that check a project's quota take turns on the lock:
    /// under READ COMMITTED two of them would otherwise both count one below the limit and both insert. Each statement
    /// after the lock sees what the previous holder committed. Taken before any pool lock, in every insert, so the locks
    /// are always taken in one order.
    /// </summary>
    internal static async Task<QuotaUsage> LockAndCountAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string projectId, CancellationToken cancellationToken)
    {
        await LockAsync(connection, tx, projectId, cancellationToken);
        await using var command = Command(connection, tx, UsageSql, ("qp", projectId));
        return await ReadUsageAsync(command, cancellationToken);
    }

    /// <summary>
    /// <paramref name="quota"/> with the project's overrides in place of its defaults, when it asks for them
    /// (<see cref="QuotaLimits.ProjectOverrides"/>), read under the project's quota lock (which the caller's transaction then
    /// holds to its end; taking it again to count is free): <see cref="SetLimitsAsync"/> takes it too, so an override
    /// change is wholly before this insert's check or wholly after its commit.
    /// </summary>
    internal static async Task<QuotaLimits> EffectiveAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string projectId, QuotaLimits quota, CancellationToken cancellationToken)
    {
        if (!quota.ProjectOverrides)
        {
            return quota;
        }

        await LockAsync(connection, tx, projectId, cancellationToken);
        var overrides = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var command = Command(connection, tx, "SELECT resource, hard_limit FROM quotas WHERE project_id = @p", ("p", projectId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            overrides[reader.GetString(0)] = reader.GetInt32(1);
        }

        return quota.With(overrides);
    }

    private static Task LockAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string projectId, CancellationToken cancellationToken) =>
        RunAsync(connection, tx, "SELECT pg_advisory_xact_lock(hashtextextended('hoard.quota:' || @lock, 0))", cancellationToken, ("lock", projectId));

    /// <summary>What the instances add: one each, their volumes, and their flavors' RAM (a flavor that is gone adds none).</summary>
    internal static async Task<QuotaUsage> AddingAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IEnumerable<InstanceRecord> instances, int clusters, CancellationToken cancellationToken)
    {
        var count = 0;
        var volumes = 0;
        var ram = 0;
        var flavorRam = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var instance in instances)
        {
            count++;
            volumes += instance.VolumeSize ?? 0;
            if (!flavorRam.TryGetValue(instance.FlavorId, out var mb))
            {
                var found = await ScalarAsync(connection, tx, "SELECT ram_mb FROM flavors WHERE id = @f", cancellationToken, ("f", instance.FlavorId));
                mb = found is null ? 0 : Convert.ToInt32(found, CultureInfo.InvariantCulture);
                flavorRam[instance.FlavorId] = mb;
            }

            ram += mb;
        }

        return new QuotaUsage(count, volumes, ram, 0, clusters);
    }

    private static async Task<QuotaUsage> ReadUsageAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new QuotaUsage(reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4));
    }
}
