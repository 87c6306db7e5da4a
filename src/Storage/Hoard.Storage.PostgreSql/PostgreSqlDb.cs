using System.Data.Common;
using Npgsql;

namespace Hoard.Storage.PostgreSql;

/// <summary>Hands out pooled connections from one data source and runs parameterised SQL (<c>@name</c> parameters).</summary>
internal sealed class PostgreSqlDb(NpgsqlDataSource dataSource, string description)
{
    /// <summary>Where the store lives, as <c>user@host:port/database</c> (never the password), for error messages.</summary>
    public string Description => description;

    public async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await dataSource.OpenConnectionAsync(cancellationToken);
        }
        catch (NpgsqlException e) when (!cancellationToken.IsCancellationRequested)
        {
            // A wrong password or an unreachable server: say which store, as Npgsql's message names neither.
            throw new InvalidOperationException($"could not connect to the PostgreSQL management store {description}: {e.Message}", e);
        }
    }

    public async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Runs a write that a unique index may refuse; false when it did (the name or address is taken) or nothing matched.</summary>
    public async Task<bool> TryExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        try
        {
            return await ExecuteAsync(sql, cancellationToken, parameters) > 0;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return false;
        }
    }

    public async Task<List<T>> QueryAsync<T>(string sql, Func<DbDataReader, T> map, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(map(reader));
        }

        return rows;
    }

    public async Task<T?> QuerySingleAsync<T>(string sql, Func<DbDataReader, T> map, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
        where T : class
    {
        var rows = await QueryAsync(sql, map, cancellationToken, parameters);
        return rows.Count > 0 ? rows[0] : null;
    }

    public async Task<long> CountAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters) =>
        (await QueryAsync(sql, r => r.GetInt64(0), cancellationToken, parameters))[0];

    /// <summary>Runs one statement of the caller's transaction; how many rows it changed.</summary>
    public static async Task<int> RunAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, tx, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The first column of the first row of a query in the caller's transaction, or null when there is no row.</summary>
    public static async Task<object?> ScalarAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, tx, sql, parameters);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is DBNull ? null : value;
    }

    /// <summary>
    /// Takes the transaction-scoped advisory lock of a pool (a 64-bit hash of its name): creates counting what the pool
    /// hosts, and a delete checking it hosts nothing, take turns. A create with no capacity to count takes it
    /// <paramref name="shared"/>: it only has to wait for a delete, not for other creates.
    /// </summary>
    public static async Task LockPoolAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string pool, CancellationToken cancellationToken, bool shared = false) =>
        await RunAsync(
            connection,
            tx,
            shared
                ? "SELECT pg_advisory_xact_lock_shared(hashtextextended('hoard.pool:' || @lock, 0))"
                : "SELECT pg_advisory_xact_lock(hashtextextended('hoard.pool:' || @lock, 0))",
            cancellationToken,
            ("lock", pool));

    /// <summary>Takes the advisory lock of a flavor's pools: two deletes cannot each leave the other as the flavor's last pool.</summary>
    public static async Task LockFlavorPoolsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string flavor, CancellationToken cancellationToken) =>
        await RunAsync(connection, tx, "SELECT pg_advisory_xact_lock(hashtextextended('hoard.flavor:' || @lock, 0))", cancellationToken, ("lock", flavor));

    /// <summary>A LIMIT for a paged list (<c>LIMIT @l::integer</c>): NULL, no limit, for a limit of 0 or less, as the store contracts say.</summary>
    public static object? Limit(int limit) => limit > 0 ? limit : null;

    public static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? tx, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection, tx);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    public static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();

    public static long? Ms(DateTimeOffset? t) => t?.ToUnixTimeMilliseconds();

    public static long NowMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public static DateTimeOffset Time(DbDataReader r, int i) => DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));

    public static DateTimeOffset? TimeOrNull(DbDataReader r, int i) => r.IsDBNull(i) ? null : Time(r, i);

    public static string? StringOrNull(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    public static int? IntOrNull(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInt32(i);
}
