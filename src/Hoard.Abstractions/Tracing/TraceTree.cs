using System.Buffers;
using System.Globalization;
using System.Text;
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
        var buffer = new ArrayBufferWriter<byte>(512);
        WriteJson(buffer, point, start, project);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>
    /// <see cref="ToJson"/>'s event as UTF-8 straight into <paramref name="output"/>: what a driver writing many events
    /// uses, with no intermediate JSON tree or string per event (building those was most of the background writer's time).
    /// </summary>
    public static void WriteJson(IBufferWriter<byte> output, TracePoint point, bool start, string project)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(point);
        ArgumentNullException.ThrowIfNull(project);

        // One writer per thread, re-pointed at each output: a Utf8JsonWriter is a sizeable object to make per event.
        // Its default encoder is the one JsonNode.ToJsonString used, so the bytes are those the format always had.
        var writer = t_writer ??= new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true });
        writer.Reset(output);
        writer.WriteStartObject();
        var suffix = start ? "-start" : "-stop";
        Span<char> name = point.Name.Length <= 200 ? stackalloc char[point.Name.Length + suffix.Length] : new char[point.Name.Length + suffix.Length];
        point.Name.CopyTo(name);
        suffix.CopyTo(name[point.Name.Length..]);
        writer.WriteString(Properties.Name, name);
        writer.WriteString(Properties.BaseId, point.BaseId);
        writer.WriteString(Properties.TraceId, point.Id);
        writer.WriteString(Properties.ParentId, point.ParentId);
        Span<byte> timestamp = stackalloc byte[TimestampLength];
        FormatTimestamp(start ? point.Start : point.Stop, timestamp);
        writer.WriteString(Properties.Timestamp, timestamp);
        writer.WritePropertyName(Properties.Info);
        if (!start)
        {
            writer.WriteStartObject();
            writer.WriteString(Properties.Host, point.Host);
            if (point.ErrorType is not null)
            {
                writer.WriteString(Properties.Etype, point.ErrorType);
                writer.WriteString(Properties.Message, point.ErrorMessage ?? string.Empty);
            }

            writer.WriteEndObject();
        }
        else if (IsFlat(point.Info))
        {
            writer.WriteStartObject();
            writer.WriteString(Properties.Host, point.Host);
            foreach (var (key, value) in point.Info)
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
        }
        else
        {
            InfoObject.Of(point).Write(writer);
        }

        writer.WriteString(Properties.Project, project);
        writer.WriteString(Properties.Service, point.Service);
        writer.WriteEndObject();
        writer.Flush();

        // Let go of the caller's buffer: an idle thread's writer must not keep a driver's batch buffer alive.
        writer.Reset(Detached);
    }

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    private static readonly ArrayBufferWriter<byte> Detached = new(1);

    private const int TimestampLength = 26;

    /// <summary>
    /// <see cref="TimestampFormat"/> as UTF-8, digit by digit: DateTime's custom-format path parses the pattern on
    /// every call and was a third of an event's cost.
    /// </summary>
    private static void FormatTimestamp(DateTime utc, Span<byte> d)
    {
        utc.Deconstruct(out DateOnly date, out TimeOnly time);
        date.Deconstruct(out var year, out var month, out var day);
        Digits(d[..4], year);
        d[4] = (byte)'-';
        Digits(d.Slice(5, 2), month);
        d[7] = (byte)'-';
        Digits(d.Slice(8, 2), day);
        d[10] = (byte)'T';
        Digits(d.Slice(11, 2), time.Hour);
        d[13] = (byte)':';
        Digits(d.Slice(14, 2), time.Minute);
        d[16] = (byte)':';
        Digits(d.Slice(17, 2), time.Second);
        d[19] = (byte)'.';
        Digits(d.Slice(20, 6), (int)(utc.Ticks % TimeSpan.TicksPerSecond / 10));

        static void Digits(Span<byte> into, int value)
        {
            for (var i = into.Length - 1; i >= 0; i--)
            {
                into[i] = (byte)('0' + (value % 10));
                value /= 10;
            }
        }
    }

    /// <summary>No dotted key and no "host" (which would take the host's place): the info is written as it comes.</summary>
    private static bool IsFlat(IReadOnlyDictionary<string, string> info)
    {
        foreach (var (key, _) in info)
        {
            if (key.Contains('.', StringComparison.Ordinal) || key == "host")
            {
                return false;
            }
        }

        return true;
    }

    private static class Properties
    {
        public static readonly JsonEncodedText Name = JsonEncodedText.Encode("name");
        public static readonly JsonEncodedText BaseId = JsonEncodedText.Encode("base_id");
        public static readonly JsonEncodedText TraceId = JsonEncodedText.Encode("trace_id");
        public static readonly JsonEncodedText ParentId = JsonEncodedText.Encode("parent_id");
        public static readonly JsonEncodedText Timestamp = JsonEncodedText.Encode("timestamp");
        public static readonly JsonEncodedText Info = JsonEncodedText.Encode("info");
        public static readonly JsonEncodedText Host = JsonEncodedText.Encode("host");
        public static readonly JsonEncodedText Etype = JsonEncodedText.Encode("etype");
        public static readonly JsonEncodedText Message = JsonEncodedText.Encode("message");
        public static readonly JsonEncodedText Project = JsonEncodedText.Encode("project");
        public static readonly JsonEncodedText Service = JsonEncodedText.Encode("service");
    }

    /// <summary>
    /// A start event's info with dotted keys nested: members keep the place they were first set and a later key
    /// replaces an earlier one, value or object, as the format has always been written.
    /// </summary>
    private sealed class InfoObject
    {
        private readonly List<(string Name, object Value)> _members = [];

        public static InfoObject Of(TracePoint point)
        {
            var root = new InfoObject();
            root.Set("host", point.Host);
            foreach (var (key, value) in point.Info)
            {
                var node = root;
                var rest = key.AsSpan();
                for (var dot = rest.IndexOf('.'); dot >= 0; dot = rest.IndexOf('.'))
                {
                    node = node.Child(rest[..dot].ToString());
                    rest = rest[(dot + 1)..];
                }

                node.Set(rest.ToString(), value);
            }

            return root;
        }

        public void Write(Utf8JsonWriter writer)
        {
            writer.WriteStartObject();
            foreach (var (name, value) in _members)
            {
                if (value is InfoObject child)
                {
                    writer.WritePropertyName(name);
                    child.Write(writer);
                }
                else
                {
                    writer.WriteString(name, (string)value);
                }
            }

            writer.WriteEndObject();
        }

        private InfoObject Child(string name)
        {
            var i = IndexOf(name);
            if (i >= 0 && _members[i].Value is InfoObject existing)
            {
                return existing;
            }

            var child = new InfoObject();
            Set(name, child);
            return child;
        }

        private void Set(string name, object value)
        {
            var i = IndexOf(name);
            if (i >= 0)
            {
                _members[i] = (name, value);
            }
            else
            {
                _members.Add((name, value));
            }
        }

        private int IndexOf(string name) => _members.FindIndex(m => m.Name == name);
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
