using System.Globalization;
using System.Text.Json;

namespace Hoard.Abstractions.Tracing;

/// <summary>One OSProfiler event as a backend stores it: a point's -start or -stop half.</summary>
public sealed record TraceEvent(
    string Name,
    string BaseId,
    string TraceId,
    string ParentId,
    DateTime Timestamp,
    string? Project,
    string? Service,
    string? Host,
    string? ErrorType,
    JsonElement Raw)
{
    /// <summary>OSProfiler's timestamp format (UTC, microseconds).</summary>
    public const string TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff";

    public static string FormatTimestamp(DateTime utc) => utc.ToString(TimestampFormat, CultureInfo.InvariantCulture);

    /// <summary>Reads OSProfiler's timestamp (UTC; Python drops the fraction when it is zero).</summary>
    public static bool TryParseTimestamp(string text, out DateTime utc) =>
        DateTime.TryParseExact(text, ["yyyy-MM-dd'T'HH:mm:ss.FFFFFF", "yyyy-MM-dd'T'HH:mm:ss"], CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out utc);

    /// <summary>Reads an event in OSProfiler's JSON shape, or null when it lacks what a tree needs.</summary>
    public static TraceEvent? Parse(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var e = doc.RootElement;
            if (e.ValueKind != JsonValueKind.Object
                || Text(e, "name") is not { } name || Text(e, "base_id") is not { } baseId
                || Text(e, "trace_id") is not { } traceId || Text(e, "parent_id") is not { } parentId
                || Text(e, "timestamp") is not { } ts
                || !TryParseTimestamp(ts, out var timestamp))
            {
                return null;
            }

            var info = e.TryGetProperty("info", out var i) && i.ValueKind == JsonValueKind.Object ? i : default;
            return new TraceEvent(
                name, baseId, traceId, parentId, timestamp, Text(e, "project"), Text(e, "service"),
                info.ValueKind == JsonValueKind.Object ? Text(info, "host") : null,
                info.ValueKind == JsonValueKind.Object ? Text(info, "etype") : null,
                e.Clone());
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// One OSProfiler event of a point, as OSProfiler's tools read it: dotted info keys become nested objects
    /// (request.path → {"request": {"path"}}) on the start event; the stop event carries etype and message.
    /// </summary>
    public static string ToJson(TracePoint point, bool start, string project)
    {
        ArgumentNullException.ThrowIfNull(point);
        var info = new System.Text.Json.Nodes.JsonObject { ["host"] = point.Host };
        if (start)
        {
            foreach (var (key, value) in point.Info)
            {
                var parts = key.Split('.');
                var node = info;
                for (var i = 0; i < parts.Length - 1; i++)
                {
                    if (node[parts[i]] is not System.Text.Json.Nodes.JsonObject child)
                    {
                        child = [];
                        node[parts[i]] = child;
                    }

                    node = child;
                }

                node[parts[^1]] = value;
            }
        }
        else if (point.ErrorType is not null)
        {
            info["etype"] = point.ErrorType;
            info["message"] = point.ErrorMessage ?? string.Empty;
        }

        return new System.Text.Json.Nodes.JsonObject
        {
            ["name"] = point.Name + (start ? "-start" : "-stop"),
            ["base_id"] = point.BaseId,
            ["trace_id"] = point.Id,
            ["parent_id"] = point.ParentId,
            ["timestamp"] = FormatTimestamp(start ? point.Start : point.Stop),
            ["info"] = info,
            ["project"] = project,
            ["service"] = point.Service,
        }.ToJsonString();
    }

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}

/// <summary>One point in a trace tree; times are whole milliseconds from the trace's first event, as OSProfiler reports them.</summary>
public sealed record TraceNode
{
    public required string TraceId { get; init; }

    public required string ParentId { get; init; }

    /// <summary>The category: the event name up to its first '-'.</summary>
    public required string Name { get; init; }

    public string? Project { get; init; }

    public string? Service { get; init; }

    public string? Host { get; init; }

    public required long Started { get; init; }

    public required long Finished { get; init; }

    /// <summary>The error type of a failed point, or "None".</summary>
    public required string Exception { get; init; }

    /// <summary>The events as stored, by event name (wsgi-start, wsgi-stop).</summary>
    public required IReadOnlyDictionary<string, JsonElement> RawPayloads { get; init; }

    public required IReadOnlyList<TraceNode> Children { get; init; }
}

/// <summary>One trace read back: its points as a forest under "total", with per-category count and summed duration.</summary>
public sealed record TraceTree(
    long Finished,
    long LastTraceStarted,
    IReadOnlyList<TraceNode> Children,
    IReadOnlyDictionary<string, (int Count, long Duration)> Stats)
{
    /// <summary>
    /// Pairs the events by point, ties each point to its parent (a parent not in the trace makes a top-level
    /// point) and orders siblings by start: what OSProfiler's drivers do, so both tools show the same tree.
    /// </summary>
    public static TraceTree? Build(IEnumerable<TraceEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var points = new Dictionary<string, Builder>(StringComparer.Ordinal);
        DateTime? first = null, last = null, lastStart = null;
        foreach (var e in events)
        {
            if (!points.TryGetValue(e.TraceId, out var p))
            {
                p = new Builder(e);
                points[e.TraceId] = p;
            }

            p.Raw[e.Name] = e.Raw;
            if (e.Name.EndsWith("stop", StringComparison.Ordinal))
            {
                p.Finished = e.Timestamp;
                p.Exception = e.ErrorType ?? "None";
            }
            else
            {
                p.Started = e.Timestamp;
                lastStart = lastStart is null || lastStart < e.Timestamp ? e.Timestamp : lastStart;
            }

            first = first is null || first > e.Timestamp ? e.Timestamp : first;
            last = last is null || last < e.Timestamp ? e.Timestamp : last;
        }

        if (first is not { } origin)
        {
            return null;
        }

        long Ms(DateTime t) => (long)((t - origin).Ticks / TimeSpan.TicksPerMillisecond);
        var stats = new Dictionary<string, (int Count, long Duration)>(StringComparer.Ordinal);
        foreach (var p in points.Values)
        {
            var started = Ms(p.Started ?? p.Finished!.Value);
            var finished = Ms(p.Finished ?? p.Started!.Value);
            p.StartedMs = started;
            p.FinishedMs = finished;
            stats[p.Name] = stats.TryGetValue(p.Name, out var s) ? (s.Count + 1, s.Duration + finished - started) : (1, finished - started);
        }

        var children = new Dictionary<string, List<Builder>>(StringComparer.Ordinal);
        var roots = new List<Builder>();
        foreach (var p in points.Values)
        {
            if (points.ContainsKey(p.ParentId) && p.ParentId != p.TraceId)
            {
                (children.TryGetValue(p.ParentId, out var list) ? list : children[p.ParentId] = []).Add(p);
            }
            else
            {
                roots.Add(p);
            }
        }

        TraceNode Node(Builder b, int depth) => new()
        {
            TraceId = b.TraceId,
            ParentId = b.ParentId,
            Name = b.Name,
            Project = b.Project,
            Service = b.Service,
            Host = b.Host,
            Started = b.StartedMs,
            Finished = b.FinishedMs,
            Exception = b.Exception,
            RawPayloads = b.Raw,

            // A cycle in stored data (a point claiming its descendant as parent) cannot recurse forever.
            Children = depth > 256 || !children.TryGetValue(b.TraceId, out var kids) ? [] : [.. kids.OrderBy(k => k.StartedMs).Select(k => Node(k, depth + 1))],
        };

        return new TraceTree(Ms(last!.Value), lastStart is { } ls ? Ms(ls) : 0, [.. roots.OrderBy(r => r.StartedMs).Select(r => Node(r, 0))], stats);
    }

    private sealed class Builder(TraceEvent first)
    {
        public string TraceId { get; } = first.TraceId;

        public string ParentId { get; } = first.ParentId;

        public string Name { get; } = first.Name.Split('-')[0];

        public string? Project { get; } = first.Project;

        public string? Service { get; } = first.Service;

        public string? Host { get; } = first.Host;

        public DateTime? Started { get; set; }

        public DateTime? Finished { get; set; }

        public long StartedMs { get; set; }

        public long FinishedMs { get; set; }

        public string Exception { get; set; } = "None";

        public Dictionary<string, JsonElement> Raw { get; } = new(StringComparer.Ordinal);
    }
}
