using System.Text.Json;
using System.Text.Json.Nodes;
using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Tracing;
using Npgsql;
using NpgsqlTypes;

[assembly: HoardPlugin("postgresql", PluginKind.Trace, typeof(Hoard.Profiling.PostgreSql.PostgreSqlTracePlugin))]

namespace Hoard.Profiling.PostgreSql;

/// <summary><c>postgresql://user:password@host:port/database</c>: trace points in one table of a PostgreSQL database.</summary>
public sealed class PostgreSqlTracePlugin : ITraceDriverFactory
{
    public ITraceDriver Open(Uri connectionString) => new PostgreSqlTraceDriver(PostgreSqlTraceDriver.Parse(connectionString));
}

/// <summary>
/// Stores trace points in the table <c>hoard_trace_points</c>, a row a point keyed by (base_id, id), times as
/// <c>timestamptz</c> and info as <c>jsonb</c>, and reads a trace back through <see cref="TraceTree.Build"/> from the
/// OSProfiler events each row stands for, so a trace shows the same whichever backend held it. A batch is one
/// statement (arrays unnested into one multi-row upsert), so it is stored whole or not at all and a retried batch
/// replaces its rows rather than doubling them. The table is made on first use, not when the driver is opened.
/// </summary>
public sealed class PostgreSqlTraceDriver : ITraceDriver
{
    /// <summary>OSProfiler's <c>project</c> field: the product that wrote the point.</summary>
    public const string Project = "hoard";

    public const string Table = "hoard_trace_points";

    public const int DefaultPort = 5432;

    private const string Usage = "use postgresql://user:password@host:port/database";

    // Made under an advisory lock: two processes' CREATE TABLE IF NOT EXISTS can otherwise race on the catalogue.
    private const string Schema = $"""
        SELECT pg_advisory_xact_lock(hashtext('{Table}'));
        CREATE TABLE IF NOT EXISTS {Table} (
            base_id text NOT NULL,
            id text NOT NULL,
            parent_id text NOT NULL,
            name text NOT NULL,
            service text NOT NULL,
            host text NOT NULL,
            start_at timestamptz NOT NULL,
            stop_at timestamptz NOT NULL,
            error_type text,
            error_message text,
            info jsonb NOT NULL,
            PRIMARY KEY (base_id, id)
        );
        CREATE INDEX IF NOT EXISTS {Table}_start ON {Table} (start_at);
        CREATE INDEX IF NOT EXISTS {Table}_failed ON {Table} (stop_at) WHERE error_type IS NOT NULL;
        """;

    private const string Upsert = $"""
        INSERT INTO {Table} (base_id, id, parent_id, name, service, host, start_at, stop_at, error_type, error_message, info)
        SELECT b, i, p, n, s, h, t0, t1, et, em, inf::jsonb
        FROM unnest(@base_id, @id, @parent_id, @name, @service, @host, @start_at, @stop_at, @error_type, @error_message, @info)
            AS u(b, i, p, n, s, h, t0, t1, et, em, inf)
        ON CONFLICT (base_id, id) DO UPDATE SET
            parent_id = EXCLUDED.parent_id, name = EXCLUDED.name, service = EXCLUDED.service, host = EXCLUDED.host,
            start_at = EXCLUDED.start_at, stop_at = EXCLUDED.stop_at, error_type = EXCLUDED.error_type,
            error_message = EXCLUDED.error_message, info = EXCLUDED.info
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly SemaphoreSlim _creating = new(1, 1);
    private bool _created;

    public PostgreSqlTraceDriver(NpgsqlConnectionStringBuilder connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _dataSource = NpgsqlDataSource.Create(connection);
    }

    /// <summary>
    /// Npgsql's settings for <c>postgresql://user:password@host[:port]/database[?keyword=value…]</c> (user and password
    /// percent-decoded; query keywords are Npgsql's, such as <c>sslmode=require</c>). A bad string is an
    /// <see cref="ArgumentException"/> that repeats neither the string nor its password.
    /// </summary>
    public static NpgsqlConnectionStringBuilder Parse(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.IsAbsoluteUri || uri.Scheme is not ("postgresql" or "postgres"))
        {
            throw new ArgumentException($"not a postgresql connection string; {Usage}");
        }

        if (string.IsNullOrEmpty(uri.IdnHost))
        {
            throw new ArgumentException($"the connection string names no host; {Usage}");
        }

        var database = Uri.UnescapeDataString(uri.AbsolutePath.Trim('/'));
        if (database.Length == 0)
        {
            throw new ArgumentException($"the connection string names no database; {Usage}");
        }

        if (database.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{database}' is not a database name (one path segment only); {Usage}");
        }

        if (uri.Fragment.Length > 0)
        {
            throw new ArgumentException($"a postgresql trace connection string takes no fragment; {Usage}");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.IdnHost,
            Port = uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port,
            Database = database,
            ApplicationName = "hoard-profiler",

            // The writer must not hang on a backend that is gone: it counts the batch dropped and moves on.
            Timeout = 5,
            CommandTimeout = 15,
        };

        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            var value = equals < 0 ? string.Empty : Uri.UnescapeDataString(pair[(equals + 1)..].Replace('+', ' '));
            try
            {
                builder[key] = value;
            }
            catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException or InvalidCastException)
            {
                // Npgsql's message names the keyword, never another setting's value.
                throw new ArgumentException($"connection string option '{key}' is not one Npgsql accepts: {e.Message}", e);
            }
        }

        return builder;
    }

    public async Task WriteAsync(IReadOnlyList<TracePoint> points, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (points.Count == 0)
        {
            return;
        }

        // One upsert cannot touch a row twice: a point repeated within the batch is stored as its last copy.
        var batch = points.GroupBy(p => (p.BaseId, p.Id)).Select(g => g.Last()).ToList();
        await using var connection = await OpenAsync(cancellationToken);
        await using var insert = new NpgsqlCommand(Upsert, connection);
        Add(insert, "base_id", NpgsqlDbType.Text, batch.Select(p => p.BaseId));
        Add(insert, "id", NpgsqlDbType.Text, batch.Select(p => p.Id));
        Add(insert, "parent_id", NpgsqlDbType.Text, batch.Select(p => p.ParentId));
        Add(insert, "name", NpgsqlDbType.Text, batch.Select(p => p.Name));
        Add(insert, "service", NpgsqlDbType.Text, batch.Select(p => p.Service));
        Add(insert, "host", NpgsqlDbType.Text, batch.Select(p => p.Host));
        Add(insert, "start_at", NpgsqlDbType.TimestampTz, batch.Select(p => Utc(p.Start)));
        Add(insert, "stop_at", NpgsqlDbType.TimestampTz, batch.Select(p => Utc(p.Stop)));
        Add(insert, "error_type", NpgsqlDbType.Text, batch.Select(p => p.ErrorType));
        Add(insert, "error_message", NpgsqlDbType.Text, batch.Select(p => p.ErrorMessage));
        Add(insert, "info", NpgsqlDbType.Text, batch.Select(p => new JsonObject(p.Info.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))).ToJsonString()));
        await insert.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<TraceTree?> GetTraceAsync(string baseId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(baseId);
        await using var connection = await OpenAsync(cancellationToken);
        await using var query = new NpgsqlCommand(
            $"SELECT base_id, id, parent_id, name, service, host, start_at, stop_at, error_type, error_message, info::text FROM {Table} WHERE base_id = @base_id",
            connection);
        query.Parameters.AddWithValue("base_id", NpgsqlDbType.Text, baseId);
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
                Start = reader.GetFieldValue<DateTime>(6),
                Stop = reader.GetFieldValue<DateTime>(7),
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
        ListAsync($"SELECT base_id, MIN(start_at) AS t FROM {Table} GROUP BY base_id ORDER BY t, base_id", cancellationToken);

    /// <summary>Each failed trace with when its first failed point stopped (OSProfiler's error marker time), oldest first.</summary>
    public Task<IReadOnlyList<TraceSummary>> ListErrorTracesAsync(CancellationToken cancellationToken) =>
        ListAsync($"SELECT base_id, MIN(stop_at) AS t FROM {Table} WHERE error_type IS NOT NULL GROUP BY base_id ORDER BY t, base_id", cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        _creating.Dispose();
    }

    private async Task<IReadOnlyList<TraceSummary>> ListAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var query = new NpgsqlCommand(sql, connection);
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        var result = new List<TraceSummary>();
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new TraceSummary(reader.GetString(0), reader.GetFieldValue<DateTime>(1)));
        }

        return result;
    }

    private static void Add<T>(NpgsqlCommand command, string name, NpgsqlDbType type, IEnumerable<T> values) =>
        command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | type) { Value = values.ToArray() });

    /// <summary>timestamptz takes only UTC: a local time is converted, an unspecified one is taken as UTC (as points are).</summary>
    private static DateTime Utc(DateTime t) => t.Kind switch
    {
        DateTimeKind.Local => t.ToUniversalTime(),
        DateTimeKind.Unspecified => DateTime.SpecifyKind(t, DateTimeKind.Utc),
        _ => t,
    };

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

    /// <summary>One OSProfiler event of a point, in the shape the Redis driver stores (so every backend reads back alike).</summary>
    private static TraceEvent Event(TracePoint point, bool start) =>
        TraceEvent.Parse(TraceEvent.ToJson(point, start, Project)) ?? throw new InvalidOperationException($"trace point {point.Id} makes no event");

    /// <summary>A pooled connection; the first one makes the table.</summary>
    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        if (_created)
        {
            return connection;
        }

        try
        {
            await _creating.WaitAsync(cancellationToken);
            try
            {
                if (!_created)
                {
                    await using var tx = await connection.BeginTransactionAsync(cancellationToken);
                    await using (var create = new NpgsqlCommand(Schema, connection, tx))
                    {
                        await create.ExecuteNonQueryAsync(cancellationToken);
                    }

                    await tx.CommitAsync(cancellationToken);
                    _created = true;
                }
            }
            finally
            {
                _creating.Release();
            }

            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}
