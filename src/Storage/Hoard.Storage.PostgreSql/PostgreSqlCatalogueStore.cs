using System.Data.Common;
using Hoard.Abstractions.Storage;
using static Hoard.Storage.PostgreSql.PostgreSqlDb;

namespace Hoard.Storage.PostgreSql;

internal sealed class PostgreSqlCatalogueStore(PostgreSqlDb db) : ICatalogueStore
{
    /// <summary>Records an entry, replacing an earlier one (parameters <c>@cp, @ci, @cpool</c>).</summary>
    internal const string UpsertSql = """
        INSERT INTO catalogue (project_id, instance_id, pool) VALUES (@cp, @ci, @cpool)
        ON CONFLICT (project_id, instance_id) DO UPDATE SET pool = excluded.pool
        """;

    public Task InsertAsync(CatalogueEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return db.ExecuteAsync(UpsertSql, cancellationToken, ("cp", entry.ProjectId), ("ci", entry.InstanceId), ("cpool", entry.Pool));
    }

    public Task<CatalogueEntry?> GetAsync(string projectId, string instanceId, CancellationToken cancellationToken) =>
        db.QuerySingleAsync(
            "SELECT project_id, instance_id, pool FROM catalogue WHERE project_id = @p AND instance_id = @i",
            Read,
            cancellationToken,
            ("p", projectId), ("i", instanceId));

    public async Task<bool> ExistsAsync(string projectId, string instanceId, CancellationToken cancellationToken) =>
        await db.CountAsync(
            "SELECT COUNT(*) FROM catalogue WHERE project_id = @p AND instance_id = @i",
            cancellationToken,
            ("p", projectId), ("i", instanceId)) > 0;

    public async Task<bool> UpdateAsync(string projectId, string instanceId, string pool, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            "UPDATE catalogue SET pool = @pool WHERE project_id = @p AND instance_id = @i",
            cancellationToken,
            ("pool", pool), ("p", projectId), ("i", instanceId)) > 0;

    public Task DeleteAsync(string projectId, string instanceId, CancellationToken cancellationToken) =>
        db.ExecuteAsync("DELETE FROM catalogue WHERE project_id = @p AND instance_id = @i", cancellationToken, ("p", projectId), ("i", instanceId));

    public async Task<IReadOnlyList<CatalogueEntry>> ListAsync(string? projectId, CatalogueKey? after, int limit, CancellationToken cancellationToken)
    {
        // Only the conditions that apply, so the primary key (ordinal, "C") serves both the filter and the order.
        var where = new List<string>();
        var parameters = new List<(string, object?)> { ("l", Limit(limit)) };
        if (projectId is not null)
        {
            where.Add("project_id = @p");
            parameters.Add(("p", projectId));
        }

        if (after is not null)
        {
            where.Add("(project_id, instance_id) > (@ap, @ai)");
            parameters.Add(("ap", after.ProjectId));
            parameters.Add(("ai", after.InstanceId));
        }

        var filter = where.Count == 0 ? string.Empty : "WHERE " + string.Join(" AND ", where);
        return await db.QueryAsync(
            $"SELECT project_id, instance_id, pool FROM catalogue {filter} ORDER BY project_id COLLATE \"C\", instance_id COLLATE \"C\" LIMIT @l::integer",
            Read,
            cancellationToken,
            [.. parameters]);
    }

    public async Task<int> CountInPoolAsync(string pool, CancellationToken cancellationToken) =>
        (int)await db.CountAsync("SELECT COUNT(*) FROM catalogue WHERE pool = @pool", cancellationToken, ("pool", pool));

    public Task DropAllAsync(CancellationToken cancellationToken) => db.ExecuteAsync("DELETE FROM catalogue", cancellationToken);

    private static CatalogueEntry Read(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2));
}
