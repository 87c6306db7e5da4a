using System.Data.Common;
using Hoard.Abstractions.Storage;
using static Hoard.Storage.PostgreSql.PostgreSqlDb;

namespace Hoard.Storage.PostgreSql;

internal sealed class PostgreSqlFlavorStore(PostgreSqlDb db) : IFlavorStore
{
    private const string Columns = "id, name, ram_mb, vcpus, disk_gb, project_id, capabilities";

    public Task InsertAsync(FlavorRecord flavor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(flavor);
        return db.ExecuteAsync(
            $"""
            INSERT INTO flavors ({Columns}) VALUES (@id, @n, @r, @v, @d, @p, @c)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, ram_mb = excluded.ram_mb, vcpus = excluded.vcpus,
                disk_gb = excluded.disk_gb, project_id = excluded.project_id, capabilities = excluded.capabilities
            """,
            cancellationToken,
            ("id", flavor.Id), ("n", flavor.Name), ("r", flavor.RamMb), ("v", flavor.Vcpus), ("d", flavor.DiskGb),
            ("p", string.IsNullOrEmpty(flavor.ProjectId) ? null : flavor.ProjectId), ("c", flavor.Capabilities));
    }

    public Task<FlavorRecord?> GetAsync(string id, CancellationToken cancellationToken) =>
        db.QuerySingleAsync($"SELECT {Columns} FROM flavors WHERE id = @id", Read, cancellationToken, ("id", id));

    public async Task<bool> ExistsAsync(string id, CancellationToken cancellationToken) =>
        await db.CountAsync("SELECT COUNT(*) FROM flavors WHERE id = @id", cancellationToken, ("id", id)) > 0;

    public async Task<bool> UpdateAsync(string id, FlavorChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var sets = new List<string>();
        var parameters = new List<(string, object?)> { ("id", id) };
        void Set(string column, string parameter, object? value)
        {
            sets.Add($"{column} = @{parameter}");
            parameters.Add((parameter, value));
        }

        if (change.Name is not null) Set("name", "n", change.Name);
        if (change.RamMb is not null) Set("ram_mb", "r", change.RamMb);
        if (change.Vcpus is not null) Set("vcpus", "v", change.Vcpus);
        if (change.DiskGb is not null) Set("disk_gb", "d", change.DiskGb);
        if (change.ProjectId is not null) Set("project_id", "p", change.ProjectId.Length == 0 ? null : change.ProjectId);
        if (change.Capabilities is not null) Set("capabilities", "c", change.Capabilities);

        // An empty change still says whether the flavor exists.
        var sql = sets.Count == 0
            ? "UPDATE flavors SET id = id WHERE id = @id"
            : $"UPDATE flavors SET {string.Join(", ", sets)} WHERE id = @id";
        return await db.ExecuteAsync(sql, cancellationToken, [.. parameters]) > 0;
    }

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        if (await RunAsync(connection, tx, "DELETE FROM flavors WHERE id = @id", cancellationToken, ("id", id)) == 0)
        {
            return false;
        }

        // Its pools now host any flavor without pools of its own.
        await RunAsync(connection, tx, "UPDATE pools SET flavor = NULL WHERE flavor = @id", cancellationToken, ("id", id));
        await tx.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<IReadOnlyList<FlavorRecord>> ListAsync(string? projectId, string? marker, int limit, CancellationToken cancellationToken)
    {
        var where = new List<string>();
        var parameters = new List<(string, object?)> { ("l", Limit(limit)) };
        if (projectId is not null)
        {
            where.Add("project_id = @p");
            parameters.Add(("p", projectId));
        }

        if (marker is not null)
        {
            where.Add("id COLLATE \"C\" > @m");
            parameters.Add(("m", marker));
        }

        var filter = where.Count == 0 ? string.Empty : "WHERE " + string.Join(" AND ", where);
        return await db.QueryAsync(
            $"SELECT {Columns} FROM flavors {filter} ORDER BY id COLLATE \"C\" LIMIT @l::integer",
            Read,
            cancellationToken,
            [.. parameters]);
    }

    public async Task DropAllAsync(CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await RunAsync(connection, tx, "DELETE FROM flavors", cancellationToken);
        await RunAsync(connection, tx, "UPDATE pools SET flavor = NULL WHERE flavor IS NOT NULL", cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    private static FlavorRecord Read(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetInt32(2), r.GetInt32(3), r.GetInt32(4))
        {
            ProjectId = StringOrNull(r, 5),
            Capabilities = r.GetString(6),
        };
}
