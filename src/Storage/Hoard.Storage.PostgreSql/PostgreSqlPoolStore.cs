using System.Data.Common;
using Hoard.Abstractions.Storage;
using static Hoard.Storage.PostgreSql.PostgreSqlDb;

namespace Hoard.Storage.PostgreSql;

internal sealed class PostgreSqlPoolStore(PostgreSqlDb db) : IPoolStore
{
    private const string Columns = "name, uri, weight, flavor, options";

    public Task InsertAsync(PoolRecord pool, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pool);
        return db.ExecuteAsync(
            $"""
            INSERT INTO pools ({Columns}) VALUES (@n, @u, @w, @f, @o)
            ON CONFLICT (name) DO UPDATE SET uri = excluded.uri, weight = excluded.weight, flavor = excluded.flavor, options = excluded.options
            """,
            cancellationToken,
            ("n", pool.Name), ("u", pool.Uri), ("w", pool.Weight), ("f", string.IsNullOrEmpty(pool.Flavor) ? null : pool.Flavor), ("o", pool.Options));
    }

    public Task<PoolRecord?> GetAsync(string name, CancellationToken cancellationToken) =>
        db.QuerySingleAsync($"SELECT {Columns} FROM pools WHERE name = @n", Read, cancellationToken, ("n", name));

    public async Task<bool> ExistsAsync(string name, CancellationToken cancellationToken) =>
        await db.CountAsync("SELECT COUNT(*) FROM pools WHERE name = @n", cancellationToken, ("n", name)) > 0;

    public async Task<bool> UpdateAsync(string name, PoolChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var sets = new List<string>();
        var parameters = new List<(string, object?)> { ("n", name) };
        void Set(string column, string parameter, object? value)
        {
            sets.Add($"{column} = @{parameter}");
            parameters.Add((parameter, value));
        }

        if (change.Uri is not null) Set("uri", "u", change.Uri);
        if (change.Weight is not null) Set("weight", "w", change.Weight);
        if (change.Flavor is not null) Set("flavor", "f", change.Flavor.Length == 0 ? null : change.Flavor);
        if (change.Options is not null) Set("options", "o", change.Options);

        // An empty change still says whether the pool exists.
        var sql = sets.Count == 0
            ? "UPDATE pools SET name = name WHERE name = @n"
            : $"UPDATE pools SET {string.Join(", ", sets)} WHERE name = @n";
        return await db.ExecuteAsync(sql, cancellationToken, [.. parameters]) > 0;
    }

    /// <summary>
    /// One transaction under two advisory locks: the pool's (creates counting its instances take it too) and its flavor's
    /// (another delete of that flavor's pools takes it too), so the checks still hold when the delete commits.
    /// </summary>
    public async Task<PoolDeletion> DeleteAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await LockPoolAsync(connection, tx, name, cancellationToken);
        if (await ScalarAsync(connection, tx, "SELECT COALESCE(flavor, '') FROM pools WHERE name = @n FOR UPDATE", cancellationToken, ("n", name)) is not string flavor)
        {
            return PoolDeletion.Missing;
        }

        if (await ScalarAsync(connection, tx, "SELECT 1 FROM catalogue WHERE pool = @n LIMIT 1", cancellationToken, ("n", name)) is not null)
        {
            return PoolDeletion.HostsInstances;
        }

        if (flavor.Length > 0)
        {
            // Each statement below reads what committed before the lock was granted (READ COMMITTED).
            await LockFlavorPoolsAsync(connection, tx, flavor, cancellationToken);
            if (await ScalarAsync(connection, tx, "SELECT 1 FROM flavors WHERE id = @f", cancellationToken, ("f", flavor)) is not null
                && await ScalarAsync(connection, tx, "SELECT 1 FROM pools WHERE flavor = @f AND name <> @n LIMIT 1", cancellationToken, ("f", flavor), ("n", name)) is null)
            {
                return PoolDeletion.LastOfFlavor;
            }
        }

        await RunAsync(connection, tx, "DELETE FROM pools WHERE name = @n", cancellationToken, ("n", name));
        await tx.CommitAsync(cancellationToken);
        return PoolDeletion.Deleted;
    }

    public async Task<IReadOnlyList<PoolRecord>> ListAsync(string? flavor, string? marker, int limit, CancellationToken cancellationToken)
    {
        var where = new List<string>();
        var parameters = new List<(string, object?)> { ("l", Limit(limit)) };
        if (flavor is { Length: 0 })
        {
            where.Add("flavor IS NULL");
        }
        else if (flavor is not null)
        {
            where.Add("flavor = @f");
            parameters.Add(("f", flavor));
        }

        if (marker is not null)
        {
            where.Add("name > @m");
            parameters.Add(("m", marker));
        }

        var filter = where.Count == 0 ? string.Empty : "WHERE " + string.Join(" AND ", where);
        return await db.QueryAsync(
            $"SELECT {Columns} FROM pools {filter} ORDER BY name COLLATE \"C\" LIMIT @l::integer",
            Read,
            cancellationToken,
            [.. parameters]);
    }

    public Task DropAllAsync(CancellationToken cancellationToken) => db.ExecuteAsync("DELETE FROM pools", cancellationToken);

    private static PoolRecord Read(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetInt32(2))
        {
            Flavor = StringOrNull(r, 3),
            Options = r.GetString(4),
        };
}
