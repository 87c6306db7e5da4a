using System.Globalization;
using Hoard.Abstractions.Storage;
using Microsoft.Data.Sqlite;
using static Hoard.Storage.Sqlite.SqliteDb;

namespace Hoard.Storage.Sqlite;

/// <summary>Quota overrides, and the usage count the inserts that enforce them run inside their write transaction.</summary>
internal sealed class SqliteQuotaStore(SqliteDb db) : IQuotaStore
{
    /// <summary>What a project holds (<see cref="QuotaUsage"/>): what is being deleted no longer counts.</summary>
    private const string UsageSql = """
        SELECT
          (SELECT COUNT(*) FROM instances WHERE project_id = $qp AND deleted = 0 AND task_status <> 'DELETING'),
          (SELECT COALESCE(SUM(volume_size), 0) FROM instances WHERE project_id = $qp AND deleted = 0 AND task_status <> 'DELETING'),
          (SELECT COALESCE(SUM(f.ram_mb), 0) FROM instances i JOIN flavors f ON f.id = i.flavor_id
             WHERE i.project_id = $qp AND i.deleted = 0 AND i.task_status <> 'DELETING'),
          (SELECT COUNT(*) FROM backups WHERE project_id = $qp AND deleted = 0 AND state <> 'DELETING'),
          (SELECT COUNT(*) FROM clusters WHERE project_id = $qp AND deleted = 0 AND task_status <> 'DELETING')
        """;

    public async Task<IReadOnlyDictionary<string, int>> GetLimitsAsync(string projectId, CancellationToken cancellationToken)
    {
        var rows = await db.QueryAsync(
            "SELECT resource, hard_limit FROM quotas WHERE project_id = $p",
            r => (Resource: r.GetString(0), Limit: r.GetInt32(1)),
            cancellationToken,
            ("$p", projectId));
        return rows.ToDictionary(r => r.Resource, r => r.Limit, StringComparer.Ordinal);
    }

    public async Task SetLimitsAsync(string projectId, IReadOnlyDictionary<string, int> limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(limits);
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        foreach (var (resource, limit) in limits)
        {
            await RunAsync(
                connection,
                tx,
                """
                INSERT INTO quotas (project_id, resource, hard_limit, updated_at) VALUES ($p, $r, $l, $now)
                ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit, updated_at = excluded.updated_at
                """,
                cancellationToken,
                ("$p", projectId), ("$r", resource), ("$l", limit), ("$now", Ms(DateTimeOffset.UtcNow)));
        }

        await tx.CommitAsync(cancellationToken);
    }

    public async Task<QuotaUsage> GetUsageAsync(string projectId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenForReadAsync(cancellationToken);
        await using var command = Command(connection, UsageSql, ("$qp", projectId));
        return await ReadUsageAsync(command, cancellationToken);
    }

    /// <summary>
    /// <paramref name="quota"/> with the project's overrides in place of its defaults, when it asks for them
    /// (<see cref="QuotaLimits.ProjectOverrides"/>), read in the caller's write transaction: a concurrent set of the
    /// overrides waits for the writer lock, so it is wholly before this insert's check or wholly after its commit.
    /// </summary>
    internal static async Task<QuotaLimits> EffectiveAsync(SqliteConnection connection, SqliteTransaction tx, string projectId, QuotaLimits quota, CancellationToken cancellationToken)
    {
        if (!quota.ProjectOverrides)
        {
            return quota;
        }

        var overrides = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var command = Command(connection, "SELECT resource, hard_limit FROM quotas WHERE project_id = $p", ("$p", projectId));
        command.Transaction = tx;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            overrides[reader.GetString(0)] = reader.GetInt32(1);
        }

        return quota.With(overrides);
    }

    /// <summary>The project's usage, read in the caller's (write) transaction so no other insert can change it meanwhile.</summary>
    internal static async Task<QuotaUsage> UsageAsync(SqliteConnection connection, SqliteTransaction tx, string projectId, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, UsageSql, ("$qp", projectId));
        command.Transaction = tx;
        return await ReadUsageAsync(command, cancellationToken);
    }

    /// <summary>What the instances add: one each, their volumes, and their flavors' RAM (a flavor that is gone adds none).</summary>
    internal static async Task<QuotaUsage> AddingAsync(SqliteConnection connection, SqliteTransaction tx, IEnumerable<InstanceRecord> instances, int clusters, CancellationToken cancellationToken)
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
                var found = await ScalarAsync(connection, tx, "SELECT ram_mb FROM flavors WHERE id = $f", cancellationToken, ("$f", instance.FlavorId));
                mb = found is null ? 0 : Convert.ToInt32(found, CultureInfo.InvariantCulture);
                flavorRam[instance.FlavorId] = mb;
            }

            ram += mb;
        }

        return new QuotaUsage(count, volumes, ram, 0, clusters);
    }

    private static async Task<QuotaUsage> ReadUsageAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new QuotaUsage(reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4));
    }
}
