using Hoard.Abstractions.Storage;
using Microsoft.Data.Sqlite;
using static Hoard.Storage.Sqlite.SqliteDb;

namespace Hoard.Storage.Sqlite;

internal sealed class SqliteCatalogueStore(SqliteDb db) : ICatalogueStore
{
    /// <summary>Records an entry, replacing an earlier one, inside the caller's transaction.</summary>
    internal const string UpsertSql = """
        INSERT INTO catalogue (project_id, instance_id, pool) VALUES ($cp, $ci, $cpool)
        ON CONFLICT (project_id, instance_id) DO UPDATE SET pool = excluded.pool
        """;

    public Task InsertAsync(CatalogueEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return db.ExecuteAsync(UpsertSql, cancellationToken, ("$cp", entry.ProjectId), ("$ci", entry.InstanceId), ("$cpool", entry.Pool));
    }

    public Task<CatalogueEntry?> GetAsync(string projectId, string instanceId, CancellationToken cancellationToken) =>
        db.QuerySingleAsync(
            "SELECT project_id, instance_id, pool FROM catalogue WHERE project_id = $p AND instance_id = $i",
            Read,
            cancellationToken,
            ("$p", projectId), ("$i", instanceId));

    public async Task<bool> ExistsAsync(string projectId, string instanceId, CancellationToken cancellationToken) =>
        (await db.QueryAsync(
            "SELECT 1 FROM catalogue WHERE project_id = $p AND instance_id = $i",
            r => r.GetInt32(0),
            cancellationToken,
            ("$p", projectId), ("$i", instanceId))).Count > 0;

    public async Task<bool> UpdateAsync(string projectId, string instanceId, string pool, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            "UPDATE catalogue SET pool = $pool WHERE project_id = $p AND instance_id = $i",
            cancellationToken,
            ("$pool", pool), ("$p", projectId), ("$i", instanceId)) > 0;

    public Task DeleteAsync(string projectId, string instanceId, CancellationToken cancellationToken) =>
        db.ExecuteAsync("DELETE FROM catalogue WHERE project_id = $p AND instance_id = $i", cancellationToken, ("$p", projectId), ("$i", instanceId));

    public async Task<IReadOnlyList<CatalogueEntry>> ListAsync(string? projectId, CatalogueKey? after, int limit, CancellationToken cancellationToken)
    {
        // Only the conditions that apply, so the primary key serves both the filter and the order.
        var where = new List<string>();
        if (projectId is not null) where.Add("project_id = $p");
        if (after is not null) where.Add("(project_id, instance_id) > ($ap, $ai)");
        var filter = where.Count == 0 ? string.Empty : "WHERE " + string.Join(" AND ", where);
        return await db.QueryAsync(
            $"SELECT project_id, instance_id, pool FROM catalogue {filter} ORDER BY project_id, instance_id LIMIT $l",
            Read,
            cancellationToken,
            ("$p", projectId), ("$ap", after?.ProjectId), ("$ai", after?.InstanceId), ("$l", Limit(limit)));
    }

    public async Task<int> CountInPoolAsync(string pool, CancellationToken cancellationToken) =>
        (await db.QueryAsync("SELECT COUNT(*) FROM catalogue WHERE pool = $pool", r => r.GetInt32(0), cancellationToken, ("$pool", pool)))[0];

    public Task DropAllAsync(CancellationToken cancellationToken) => db.ExecuteAsync("DELETE FROM catalogue", cancellationToken);

    private static CatalogueEntry Read(SqliteDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2));
}
