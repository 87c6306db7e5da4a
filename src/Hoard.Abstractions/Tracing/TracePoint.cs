using System.Collections;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Text.Json.Serialization;

namespace Hoard.Abstractions.Tracing;

/// <summary>
/// One finished trace point: OSProfiler's pair of -start and -stop events in one record. Ids are OSProfiler's
/// UUID strings: <see cref="BaseId"/> is the trace (the W3C trace id written as a UUID), <see cref="Id"/> this point
/// and <see cref="ParentId"/> the point it ran under.
/// </summary>
public sealed record TracePoint
{
    [JsonPropertyName("base_id")]
    public required string BaseId { get; init; }

    [JsonPropertyName("trace_id")]
    public required string Id { get; init; }

    [JsonPropertyName("parent_id")]
    public required string ParentId { get; init; }

    [JsonPropertyName("name")]
    public required string Name { get; init; }

    /// <summary>The component that made it: api, task, guest (OSProfiler's <c>service</c>).</summary>
    [JsonPropertyName("service")]
    public required string Service { get; init; }

    [JsonPropertyName("host")]
    public required string Host { get; init; }

    [JsonPropertyName("start")]
    public required DateTime Start { get; init; }

    [JsonPropertyName("stop")]
    public required DateTime Stop { get; init; }

    /// <summary>What the point is about (method, path, task kind); never a secret.</summary>
    [JsonPropertyName("info")]
    public IReadOnlyDictionary<string, string> Info { get; init; } = new Dictionary<string, string>();

    /// <summary>The error's type name when the work failed (OSProfiler's <c>etype</c>), else null.</summary>
    [JsonPropertyName("etype")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ErrorType { get; init; }

    [JsonPropertyName("message")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ErrorMessage { get; init; }

    private static readonly string LocalHost = Dns.GetHostName();

    // The last trace and parent seen on this thread, with their UUID strings: a burst of points (a guest's commands,
    // a task's store calls) shares both, and every string saved is one less object for the GC to carry while the
    // point waits in the writer's buffer.
    [ThreadStatic]
    private static (ActivityTraceId Trace, string Uuid)? t_lastTrace;

    [ThreadStatic]
    private static (ActivityTraceId Trace, ActivitySpanId Span, string Uuid)? t_lastParent;

    /// <summary>The point a stopped activity stands for.</summary>
    public static TracePoint From(Activity activity, string service)
    {
        ArgumentNullException.ThrowIfNull(activity);

        // Ids straight from the ids' bytes, not through hex strings: one new string a point where there were eight.
        Span<byte> trace = stackalloc byte[16];
        Span<byte> span = stackalloc byte[8];
        var traceId = activity.TraceId;
        traceId.CopyTo(trace);
        if (t_lastTrace is not { } lastTrace || lastTrace.Trace != traceId)
        {
            lastTrace = (traceId, TraceIds.Uuid(trace[..8], trace[8..]));
            t_lastTrace = lastTrace;
        }

        activity.SpanId.CopyTo(span);
        var id = TraceIds.Uuid(trace[..8], span);
        var parentId = activity.GetCustomProperty(HoardTracing.ParentIdProperty) as string;
        if (parentId is null)
        {
            var parentSpan = activity.ParentSpanId;
            if (t_lastParent is not { } lastParent || lastParent.Trace != traceId || lastParent.Span != parentSpan)
            {
                parentSpan.CopyTo(span);
                lastParent = (traceId, parentSpan, TraceIds.Uuid(trace[..8], span));
                t_lastParent = lastParent;
            }

            parentId = lastParent.Uuid;
        }

        var failed = activity.Status == ActivityStatusCode.Error;
        return new TracePoint
        {
            BaseId = lastTrace.Uuid,
            Id = id,
            ParentId = parentId,
            Name = activity.OperationName,
            Service = service,
            Host = LocalHost,
            Start = activity.StartTimeUtc,
            Stop = activity.StartTimeUtc + activity.Duration,
            Info = TagInfo.From(activity),
            ErrorType = failed ? activity.GetTagItem(HoardTracing.ErrorTypeTag) as string ?? "Error" : null,
            ErrorMessage = failed ? activity.StatusDescription : null,
        };
    }

    /// <summary>
    /// A point's info as one small array (a point has a handful of tags): a third of a Dictionary's memory, which
    /// matters while thousands of points wait in the writer's buffer. Keys keep the order they were first set in, a
    /// tag set twice keeps its last value, as a Dictionary filled in order would.
    /// </summary>
    private sealed class TagInfo(KeyValuePair<string, string>[] items, int count) : IReadOnlyDictionary<string, string>
    {
        public static TagInfo From(Activity activity)
        {
            var size = 0;
            foreach (var _ in activity.EnumerateTagObjects())
            {
                size++;
            }

            var items = size == 0 ? [] : new KeyValuePair<string, string>[size];
            var count = 0;
            foreach (var (key, value) in activity.EnumerateTagObjects())
            {
                if (key == HoardTracing.ErrorTypeTag || value is null)
                {
                    continue;
                }

                var text = value as string ?? Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty;
                var at = IndexOf(items, count, key);
                items[at < 0 ? count++ : at] = new(key, text);
            }

            return new TagInfo(items, count);
        }

        public int Count => count;

        public IEnumerable<string> Keys => items.Take(count).Select(i => i.Key);

        public IEnumerable<string> Values => items.Take(count).Select(i => i.Value);

        public string this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException(key);

        public bool ContainsKey(string key) => IndexOf(items, count, key) >= 0;

        public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
        {
            var at = IndexOf(items, count, key);
            value = at < 0 ? null : items[at].Value;
            return at >= 0;
        }

        public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
        {
            for (var i = 0; i < count; i++)
            {
                yield return items[i];
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        private static int IndexOf(KeyValuePair<string, string>[] items, int count, string key)
        {
            for (var i = 0; i < count; i++)
            {
                if (items[i].Key == key)
                {
                    return i;
                }
            }

            return -1;
        }
    }
}

/// <summary>Between W3C trace context ids (hex) and OSProfiler's UUID strings.</summary>
public static class TraceIds
{
    /// <summary>32 hex digits as a UUID string (8-4-4-4-12).</summary>
    public static string ToUuid(string hex32) =>
        string.Create(36, hex32, static (span, hex) =>
        {
            var j = 0;
            for (var i = 0; i < 32; i++)
            {
                if (i is 8 or 12 or 16 or 20)
                {
                    span[j++] = '-';
                }

                span[j++] = hex[i];
            }
        });

    /// <summary>
    /// A point's UUID: the first half of its trace id and its 8-byte span id, so the parent of any point is known from
    /// its W3C parent span id alone, in whichever process it ran.
    /// </summary>
    public static string PointId(string traceHex, string spanHex) => ToUuid(string.Concat(traceHex.AsSpan(0, 16), spanHex));

    /// <summary>Sixteen bytes (given as two halves of 8) as a lower-case UUID string.</summary>
    internal static string Uuid(ReadOnlySpan<byte> high, ReadOnlySpan<byte> low)
    {
        Span<char> text = stackalloc char[36];
        Convert.TryToHexStringLower(high[..4], text[..8], out _);
        text[8] = '-';
        Convert.TryToHexStringLower(high[4..6], text[9..13], out _);
        text[13] = '-';
        Convert.TryToHexStringLower(high[6..8], text[14..18], out _);
        text[18] = '-';
        Convert.TryToHexStringLower(low[..2], text[19..23], out _);
        text[23] = '-';
        Convert.TryToHexStringLower(low[2..8], text[24..], out _);
        return new string(text);
    }

    /// <summary>The W3C trace id of an OSProfiler base id, or false when it is not a UUID.</summary>
    public static bool TryTraceId(string baseId, out ActivityTraceId traceId)
    {
        traceId = default;
        if (!Guid.TryParseExact(baseId, "D", out var guid))
        {
            return false;
        }

        traceId = ActivityTraceId.CreateFromString(guid.ToString("N"));
        return true;
    }
}
