using Microsoft.Data.Sqlite;

namespace Hoard.Storage.Sqlite;

/// <summary>Opens pooled connections with the pragmas Hoard relies on, and runs parameterised SQL.</summary>
internal sealed class SqliteDb(string connectionString)
{
    /// <summary>A connection for reads: no pragmas to run, as reads need none of them (hot path of every list).</summary>
    public async Task<SqliteConnection> OpenForReadAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var pragma = connection.CreateCommand();
        // WAL with synchronous=NORMAL survives a crash of the process (what Hoard promises for
        // acknowledged requests); only losing power may lose the last transactions.
        pragma.CommandText = "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    public async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Runs a write that a unique index may refuse; false when it did (the name or address is taken).</summary>
    public async Task<bool> TryExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        try
        {
            return await ExecuteAsync(sql, cancellationToken, parameters) > 0;
        }
        catch (SqliteException e) when (IsUniqueViolation(e))
        {
            return false;
        }
    }

    public async Task<List<T>> QueryAsync<T>(string sql, Func<SqliteDataReader, T> map, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenForReadAsync(cancellationToken);
        await using var command = Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(map(reader));
        }

        return rows;
    }

    public async Task<T?> QuerySingleAsync<T>(string sql, Func<SqliteDataReader, T> map, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
        where T : class
    {
        var rows = await QueryAsync(sql, map, cancellationToken, parameters);
        return rows.Count > 0 ? rows[0] : null;
    }

    /// <summary>Runs one statement of the caller's transaction; how many rows it changed.</summary>
    public static async Task<int> RunAsync(SqliteConnection connection, SqliteTransaction tx, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        command.Transaction = tx;
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The first column of the first row of a query in the caller's transaction, or null when there is no row.</summary>
    public static async Task<object?> ScalarAsync(SqliteConnection connection, SqliteTransaction tx, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        command.Transaction = tx;
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is DBNull ? null : value;
    }

    /// <summary>A LIMIT for a paged list: SQLite's -1 (no limit) for a limit of 0 or less, as the store contracts say.</summary>
    public static int Limit(int limit) => limit > 0 ? limit : -1;

    public static SqliteCommand Command(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    public static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();

    public static long? Ms(DateTimeOffset? t) => t?.ToUnixTimeMilliseconds();

    public static DateTimeOffset Time(SqliteDataReader r, int i) => DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));

    public static DateTimeOffset? TimeOrNull(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : Time(r, i);

    public static string? StringOrNull(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    public static int? IntOrNull(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetInt32(i);

    public static bool IsUniqueViolation(SqliteException e) => e.SqliteErrorCode == 19; // SQLITE_CONSTRAINT
}
