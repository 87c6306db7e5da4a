using Hoard.Abstractions.Storage;
using Microsoft.Data.Sqlite;
using static Hoard.Storage.Sqlite.SqliteDb;

namespace Hoard.Storage.Sqlite;

internal sealed class SqlitePoolStore(SqliteDb db) : IPoolStore
{
    private const string Columns = "name, uri, weight, flavor, options";

    public Task InsertAsync(PoolRecord pool, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pool);
        return db.ExecuteAsync(
            $"""
            INSERT INTO pools ({Columns}) VALUES ($n, $u, $w, $f, $o)
            ON CONFLICT (name) DO UPDATE SET uri = excluded.uri, weight = excluded.weight, flavor = excluded.flavor, options = excluded.options
            """,
            cancellationToken,
            ("$n", pool.Name), ("$u", pool.Uri), ("$w", pool.Weight), ("$f", string.IsNullOrEmpty(pool.Flavor) ? null : pool.Flavor), ("$o", pool.Options));
    }

    public Task<PoolRecord?> GetAsync(string name, CancellationToken cancellationToken) =>
        db.QuerySingleAsync($"SELECT {Columns} FROM pools WHERE name = $n", Read, cancellationToken, ("$n", name));

    public async Task<bool> ExistsAsync(string name, CancellationToken cancellationToken) =>
        (await db.QueryAsync("SELECT 1 FROM pools WHERE name = $n", r => r.GetInt32(0), cancellationToken, ("$n", name))).Count > 0;

    public async Task<bool> UpdateAsync(string name, PoolChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var sets = new List<string>();
        var parameters = new List<(string, object?)> { ("$n", name) };
        void Set(string column, string parameter, object? value)
        {
            sets.Add($"{column} = {parameter}");
            parameters.Add((parameter, value));
        }

        if (change.Uri is not null) Set("uri", "$u", change.Uri);
        if (change.Weight is not null) Set("weight", "$w", change.Weight);
        if (change.Flavor is not null) Set("flavor", "$f", change.Flavor.Length == 0 ? null : change.Flavor);
        if (change.Options is not null) Set("options", "$o", change.Options);

        // An empty change still says whether the pool exists.
        var sql = sets.Count == 0
            ? "UPDATE pools SET name = name WHERE name = $n"
            : $"UPDATE pools SET {string.Join(", ", sets)} WHERE name = $n";
        return await db.ExecuteAsync(sql, cancellationToken, [.. parameters]) > 0;
    }

    /// <summary>
    /// The checks and the delete share one write transaction (BEGIN IMMEDIATE), so no create can add an instance to the
    /// pool, and no other delete take a flavor's other pool, between them.
    /// </summary>
    public async Task<PoolDeletion> DeleteAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        if (await ScalarAsync(connection, tx, "SELECT COALESCE(flavor, '') FROM pools WHERE name = $n", cancellationToken, ("$n", name)) is not string flavor)
        {
            return PoolDeletion.Missing;
        }

        if (await ScalarAsync(connection, tx, "SELECT 1 FROM catalogue WHERE pool = $n LIMIT 1", cancellationToken, ("$n", name)) is not null)
        {
            return PoolDeletion.HostsInstances;
        }

        if (flavor.Length > 0
            && await ScalarAsync(connection, tx, "SELECT 1 FROM flavors WHERE id = $f", cancellationToken, ("$f", flavor)) is not null
            && await ScalarAsync(connection, tx, "SELECT 1 FROM pools WHERE flavor = $f AND name <> $n LIMIT 1", cancellationToken, ("$f", flavor), ("$n", name)) is null)
        {
            return PoolDeletion.LastOfFlavor;
        }

        await RunAsync(connection, tx, "DELETE FROM pools WHERE name = $n", cancellationToken, ("$n", name));
        await tx.CommitAsync(cancellationToken);
        return PoolDeletion.Deleted;
    }

    public async Task<IReadOnlyList<PoolRecord>> ListAsync(string? flavor, string? marker, int limit, CancellationToken cancellationToken)
    {
        var where = new List<string>();
        if (flavor is not null) where.Add(flavor.Length == 0 ? "flavor IS NULL" : "flavor = $f");
        if (marker is not null) where.Add("name > $m");
        var filter = where.Count == 0 ? string.Empty : "WHERE " + string.Join(" AND ", where);
        return await db.QueryAsync(
            $"SELECT {Columns} FROM pools {filter} ORDER BY name LIMIT $l",
            Read,
            cancellationToken,
            ("$f", flavor), ("$m", marker), ("$l", Limit(limit)));
    }

    public Task DropAllAsync(CancellationToken cancellationToken) => db.ExecuteAsync("DELETE FROM pools", cancellationToken);

    private static PoolRecord Read(SqliteDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetInt32(2))
        {
            Flavor = StringOrNull(r, 3),
            Options = r.GetString(4),
        };
}
