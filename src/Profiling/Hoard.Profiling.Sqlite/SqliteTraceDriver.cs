using System.Text.Json;
using System.Text.Json.Nodes;
using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Tracing;
using Microsoft.Data.Sqlite;

[assembly: HoardPlugin("sqlite", PluginKind.Trace, typeof(Hoard.Profiling.Sqlite.SqliteTracePlugin))]

namespace Hoard.Profiling.Sqlite;

/// <summary><c>sqlite:///absolute/path/traces.db</c>: trace points in one local SQLite file, the embedded default.</summary>
public sealed class SqliteTracePlugin : ITraceDriverFactory
{
    public ITraceDriver Open(Uri connectionString) => new SqliteTraceDriver(SqliteTraceDriver.Parse(connectionString));
}

/// <summary>
/// Stores trace points in one table of a SQLite file in WAL mode, a row a point (times as UTC ticks, info as a JSON
/// object), and reads a trace back through <see cref="TraceTree.Build"/> from the OSProfiler events each row stands
/// for, so a trace shows the same whichever backend held it. A batch of points is one transaction. The file and
/// table are made on first use, not when the driver is opened.
/// </summary>
public sealed class SqliteTraceDriver : ITraceDriver
{
    /// <summary>OSProfiler's <c>project</c> field: the product that wrote the point.</summary>
    public const string Project = "hoard";

    private const string Usage = "use sqlite:///absolute/path/traces.db (three slashes, then an absolute path)";

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS trace_points (
            base_id TEXT NOT NULL,
            id TEXT NOT NULL,
            parent_id TEXT NOT NULL,
            name TEXT NOT NULL,
            service TEXT NOT NULL,
            host TEXT NOT NULL,
            start INTEGER NOT NULL,
            stop INTEGER NOT NULL,
            error_type TEXT,
            error_message TEXT,
            info TEXT NOT NULL
        );
        CREATE UNIQUE INDEX IF NOT EXISTS trace_points_base_id ON trace_points (base_id, id);
        CREATE INDEX IF NOT EXISTS trace_points_start ON trace_points (start);
        """;

    private readonly string _path;
    private readonly string _connectionString;
    private readonly SemaphoreSlim _creating = new(1, 1);
    private bool _created;

    /// <param name="path">The database file; its directory is made on first use.</param>
    public SqliteTraceDriver(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    /// <summary>
    /// The file of <c>sqlite:///absolute/path/traces.db</c>. Only an absolute path is accepted: in
    /// <c>sqlite://relative/traces.db</c> the first segment is a host, so it is refused rather than read as a path.
    /// A bad string is an <see cref="ArgumentException"/> that repeats neither the string nor any user info.
    /// </summary>
    public static string Parse(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.IsAbsoluteUri || uri.Scheme != "sqlite")
        {
            throw new ArgumentException($"not a sqlite connection string; {Usage}");
        }

        if (uri.UserInfo.Length > 0)
        {
            throw new ArgumentException($"a sqlite trace file takes no user or password; {Usage}");
        }

        if (uri.Host.Length > 0)
        {
            throw new ArgumentException($"'{uri.Host}' after sqlite:// would be a host, and relative paths are not accepted; {Usage}");
        }

        if (uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            throw new ArgumentException($"a sqlite trace connection string takes no query or fragment; {Usage}");
        }

        var path = Uri.UnescapeDataString(uri.AbsolutePath);
        if (path.Length <= 1 || path.EndsWith('/'))
        {
            throw new ArgumentException($"the connection string names no file; {Usage}");
        }

        return path;
    }

    public async Task WriteAsync(IReadOnlyList<TracePoint> points, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (points.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using var insert = connection.CreateCommand();
        insert.Transaction = tx;

        // A retried batch replaces its points rather than doubling them.
        insert.CommandText = """
            INSERT OR REPLACE INTO trace_points (base_id, id, parent_id, name, service, host, start, stop, error_type, error_message, info)
            VALUES ($base_id, $id, $parent_id, $name, $service, $host, $start, $stop, $error_type, $error_message, $info)
            """;
        var parameters = new[] { "$base_id", "$id", "$parent_id", "$name", "$service", "$host", "$start", "$stop", "$error_type", "$error_message", "$info" }
            .Select(n => insert.Parameters.Add(new SqliteParameter { ParameterName = n })).ToArray();
        foreach (var p in points)
        {
            object?[] values =
            [
                p.BaseId, p.Id, p.ParentId, p.Name, p.Service, p.Host, Utc(p.Start).Ticks, Utc(p.Stop).Ticks, p.ErrorType, p.ErrorMessage,
                new JsonObject(p.Info.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))).ToJsonString(),
            ];
            for (var i = 0; i < values.Length; i++)
            {
                parameters[i].Value = values[i] ?? DBNull.Value;
            }

            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
    }

    public async Task<TraceTree?> GetTraceAsync(string baseId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(baseId);
        await using var connection = await OpenAsync(cancellationToken);
        await using var query = connection.CreateCommand();
        query.CommandText = """
            SELECT base_id, id, parent_id, name, service, host, start, stop, error_type, error_message, info
            FROM trace_points WHERE base_id = $base_id
            """;
        query.Parameters.AddWithValue("$base_id", baseId);
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        var events = new List<TraceEvent>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var point = new TracePoint
            {
                BaseId = reader.GetString(0),
                Id = reader.GetString(1),
                ParentId = reader.GetString(2),
                Name = reader.GetString(3),
                Service = reader.GetString(4),
                Host = reader.GetString(5),
                Start = new DateTime(reader.GetInt64(6), DateTimeKind.Utc),
                Stop = new DateTime(reader.GetInt64(7), DateTimeKind.Utc),
                ErrorType = reader.IsDBNull(8) ? null : reader.GetString(8),
                ErrorMessage = reader.IsDBNull(9) ? null : reader.GetString(9),
                Info = ReadInfo(reader.GetString(10)),
            };
            events.Add(Event(point, start: true));
            events.Add(Event(point, start: false));
        }

        return TraceTree.Build(events);
    }

    /// <summary>Each trace with the start of its first point, oldest first.</summary>
    public Task<IReadOnlyList<TraceSummary>> ListTracesAsync(CancellationToken cancellationToken) =>
        ListAsync("SELECT base_id, MIN(start) AS t FROM trace_points GROUP BY base_id ORDER BY t, base_id", cancellationToken);

    /// <summary>Each failed trace with when its first failed point stopped (OSProfiler's error marker time), oldest first.</summary>
    public Task<IReadOnlyList<TraceSummary>> ListErrorTracesAsync(CancellationToken cancellationToken) =>
        ListAsync("SELECT base_id, MIN(stop) AS t FROM trace_points WHERE error_type IS NOT NULL GROUP BY base_id ORDER BY t, base_id", cancellationToken);

    private async Task<IReadOnlyList<TraceSummary>> ListAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var query = connection.CreateCommand();
        query.CommandText = sql;
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        var result = new List<TraceSummary>();
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new TraceSummary(reader.GetString(0), new DateTime(reader.GetInt64(1), DateTimeKind.Utc)));
        }

        return result;
    }

    private static DateTime Utc(DateTime t) => t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : t;

    private static Dictionary<string, string> ReadInfo(string json)
    {
        var info = new Dictionary<string, string>(StringComparer.Ordinal);
        using var doc = JsonDocument.Parse(json);
        foreach (var property in doc.RootElement.EnumerateObject())
        {
            info[property.Name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
        }

        return info;
    }

    /// <summary>One OSProfiler event of a point, in the shape the Redis driver stores (so both read back alike).</summary>
    private static TraceEvent Event(TracePoint point, bool start) =>
        TraceEvent.Parse(TraceEvent.ToJson(point, start, Project)) ?? throw new InvalidOperationException($"trace point {point.Id} makes no event");

    /// <summary>A pooled connection with the pragmas the store uses; the first one makes the file, WAL mode and the table.</summary>
    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (!_created)
        {
            await _creating.WaitAsync(cancellationToken);
            try
            {
                if (!_created)
                {
                    var directory = Path.GetDirectoryName(Path.GetFullPath(_path));
                    if (directory is not null)
                    {
                        Directory.CreateDirectory(directory);
                    }

                    await using var first = await ConnectAsync(cancellationToken);
                    await using var create = first.CreateCommand();
                    create.CommandText = "PRAGMA journal_mode = WAL;" + Schema;
                    await create.ExecuteNonQueryAsync(cancellationToken);
                    _created = true;
                }
            }
            finally
            {
                _creating.Release();
            }
        }

        return await ConnectAsync(cancellationToken);
    }

    private async Task<SqliteConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var pragma = connection.CreateCommand();

            // As the SQLite store: WAL with synchronous=NORMAL survives a crash of the process; a writer and a
            // reader (hoard serve and hoard trace) wait on each other's locks rather than fail at once.
            pragma.CommandText = "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync()
    {
        // Only this file's pool: the management store may be a SQLite file in the same process.
        using (var connection = new SqliteConnection(_connectionString))
        {
            SqliteConnection.ClearPool(connection);
        }

        _creating.Dispose();
        return ValueTask.CompletedTask;
    }
}
