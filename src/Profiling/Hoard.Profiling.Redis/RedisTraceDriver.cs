using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Tracing;
using StackExchange.Redis;

[assembly: HoardPlugin("redis", PluginKind.Trace, typeof(Hoard.Profiling.Redis.RedisTracePlugin))]

namespace Hoard.Profiling.Redis;

/// <summary><c>redis://[:password@]host[:port][/db]</c>: trace points in OSProfiler's Redis layout.</summary>
public sealed class RedisTracePlugin : ITraceDriverFactory
{
    public ITraceDriver Open(Uri connectionString) => new RedisTraceDriver(RedisTraceDriver.Parse(connectionString));
}

/// <summary>
/// Stores trace points exactly as OSProfiler's Redis driver does, so the stock <c>osprofiler trace show|list</c>
/// read Hoard's traces and Hoard reads traces OSProfiler-instrumented services wrote:
/// <list type="bullet">
/// <item><c>osprofiler_opt:&lt;base_id&gt;</c>, a list: each point's <c>&lt;name&gt;-start</c> and <c>&lt;name&gt;-stop</c>
/// events LPUSHed as JSON {name, base_id, trace_id, parent_id, timestamp, info{…, host}, project, service};</item>
/// <item><c>osprofiler_error:&lt;base_id&gt;</c>, a string {base_id, timestamp}, set when a point of the trace failed
/// (its stop event's info carries <c>etype</c> and <c>message</c>).</item>
/// </list>
/// A batch of points is one round trip (pipelined LPUSHes, one per trace).
/// </summary>
public sealed class RedisTraceDriver : ITraceDriver
{
    public const string TraceKeyPrefix = "osprofiler_opt:";
    public const string ErrorKeyPrefix = "osprofiler_error:";

    /// <summary>OSProfiler's <c>project</c> field: the product that wrote the point.</summary>
    public const string Project = "hoard";

    private readonly ConfigurationOptions _options;
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private ConnectionMultiplexer? _connection;
    private ArrayBufferWriter<byte>? _scratch;

    public RedisTraceDriver(ConfigurationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <summary>Parses redis://[[user]:password@]host[:port][/db]; a bad one is an <see cref="ArgumentException"/> that does not repeat the password.</summary>
    public static ConfigurationOptions Parse(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (uri.Scheme != "redis" || string.IsNullOrEmpty(uri.Host))
        {
            throw new ArgumentException("expected redis://[:password@]host[:port][/db]");
        }

        var options = new ConfigurationOptions
        {
            AbortOnConnectFail = false,
            ConnectTimeout = 2000,
            SyncTimeout = 5000,
            AsyncTimeout = 5000,
            ConnectRetry = 1,
            ClientName = "hoard-profiler",
        };
        options.EndPoints.Add(uri.Host, uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port);
        var path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            options.DefaultDatabase = int.TryParse(path, out var db) && db >= 0
                ? db
                : throw new ArgumentException($"database '{path}' is not a number");
        }

        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            var user = Uri.UnescapeDataString(colon < 0 ? string.Empty : uri.UserInfo[..colon]);
            options.Password = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[(colon + 1)..]);
            if (user.Length > 0)
            {
                options.User = user;
            }
        }

        return options;
    }

    public async Task WriteAsync(IReadOnlyList<TracePoint> points, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (points.Count == 0)
        {
            return;
        }

        var db = (await ConnectAsync(cancellationToken)).GetDatabase();

        // Every event of the batch is written as UTF-8 into one reused buffer and pushed as slices of it: no JSON tree,
        // string or byte array per event. The slices are taken once all is written (the buffer may move as it grows).
        var buffer = Interlocked.Exchange(ref _scratch, null) ?? new ArrayBufferWriter<byte>(64 * 1024);
        buffer.ResetWrittenCount();
        var traces = new List<(string BaseId, int First, int Count, TracePoint? Failed)>();
        var ends = new List<int>(2 * points.Count);
        foreach (var trace in points.GroupBy(p => p.BaseId, StringComparer.Ordinal))
        {
            var first = ends.Count;
            TracePoint? failed = null;
            foreach (var point in trace)
            {
                TraceEvent.WriteJson(buffer, point, start: true, Project);
                ends.Add(buffer.WrittenCount);
                TraceEvent.WriteJson(buffer, point, start: false, Project);
                ends.Add(buffer.WrittenCount);
                failed ??= point.ErrorType is null ? null : point;
            }

            traces.Add((trace.Key, first, ends.Count - first, failed));
        }

        var written = buffer.WrittenMemory;
        var batch = db.CreateBatch();
        var writes = new List<Task>(2 * traces.Count);
        foreach (var (baseId, first, count, failed) in traces)
        {
            var events = new RedisValue[count];
            for (var i = 0; i < count; i++)
            {
                var from = first + i == 0 ? 0 : ends[first + i - 1];
                events[i] = written[from..ends[first + i]];
            }

            writes.Add(batch.ListLeftPushAsync(TraceKeyPrefix + baseId, events));
            if (failed is not null)
            {
                var error = new JsonObject { ["base_id"] = baseId, ["timestamp"] = TraceEvent.FormatTimestamp(failed.Stop) };
                writes.Add(batch.StringSetAsync(ErrorKeyPrefix + baseId, error.ToJsonString()));
            }
        }

        batch.Execute();
        await Task.WhenAll(writes).WaitAsync(cancellationToken);

        // Only now is every command sent (its reply came back); after a failure a queued command may still hold the
        // buffer, so it is left to the collector then.
        if (buffer.Capacity <= 4 * 1024 * 1024)
        {
            _scratch = buffer;
        }
    }

    public async Task<TraceTree?> GetTraceAsync(string baseId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(baseId);
        var db = (await ConnectAsync(cancellationToken)).GetDatabase();
        var raw = await db.ListRangeAsync(TraceKeyPrefix + baseId).WaitAsync(cancellationToken);
        return TraceTree.Build(raw.Select(v => TraceEvent.Parse(v.ToString())).OfType<TraceEvent>());
    }

    public async Task<IReadOnlyList<TraceSummary>> ListTracesAsync(CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync(cancellationToken);
        var db = connection.GetDatabase();
        var result = new List<TraceSummary>();
        await foreach (var key in Keys(connection, TraceKeyPrefix).WithCancellation(cancellationToken))
        {
            // The oldest event is the list's tail: the trace's first start (OSProfiler's list shows LINDEX 1 instead).
            if (TraceEvent.Parse((await db.ListGetByIndexAsync(key, -1)).ToString()) is { } first)
            {
                result.Add(new TraceSummary(first.BaseId, first.Timestamp));
            }
        }

        return [.. result.OrderBy(t => t.Timestamp)];
    }

    public async Task<IReadOnlyList<TraceSummary>> ListErrorTracesAsync(CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync(cancellationToken);
        var db = connection.GetDatabase();
        var result = new List<TraceSummary>();
        await foreach (var key in Keys(connection, ErrorKeyPrefix).WithCancellation(cancellationToken))
        {
            var value = await db.StringGetAsync(key);
            try
            {
                using var doc = JsonDocument.Parse(value.ToString());
                if (doc.RootElement.TryGetProperty("base_id", out var id) && id.ValueKind == JsonValueKind.String)
                {
                    var ts = doc.RootElement.TryGetProperty("timestamp", out var t) && t.ValueKind == JsonValueKind.String
                        && TraceEvent.TryParseTimestamp(t.GetString()!, out var parsed)
                        ? parsed
                        : default;
                    result.Add(new TraceSummary(id.GetString()!, ts));
                }
            }
            catch (JsonException)
            {
                // Not a trace's error marker; someone else's key.
            }
        }

        return [.. result.OrderBy(t => t.Timestamp)];
    }

    private static async IAsyncEnumerable<RedisKey> Keys(ConnectionMultiplexer connection, string prefix)
    {
        foreach (var endpoint in connection.GetEndPoints())
        {
            var server = connection.GetServer(endpoint);
            if (!server.IsConnected || server.IsReplica)
            {
                continue;
            }

            await foreach (var key in server.KeysAsync(connection.GetDatabase().Database, prefix + "*", pageSize: 500))
            {
                yield return key;
            }
        }
    }

    private async Task<ConnectionMultiplexer> ConnectAsync(CancellationToken cancellationToken)
    {
        if (_connection is { } existing)
        {
            return existing;
        }

        await _connecting.WaitAsync(cancellationToken);
        try
        {
            // With AbortOnConnectFail off, a backend that is down yields a multiplexer that reconnects by itself;
            // writes meanwhile fail fast and the writer counts them dropped.
            return _connection ??= await ConnectionMultiplexer.ConnectAsync(_options);
        }
        finally
        {
            _connecting.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is { } c)
        {
            await c.DisposeAsync();
        }

        _connecting.Dispose();
    }
}
