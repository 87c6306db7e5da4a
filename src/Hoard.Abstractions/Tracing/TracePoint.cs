using System.Diagnostics;
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

    /// <summary>The point a stopped activity stands for.</summary>
    public static TracePoint From(Activity activity, string service)
    {
        ArgumentNullException.ThrowIfNull(activity);
        var trace = activity.TraceId.ToHexString();
        var info = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in activity.EnumerateTagObjects())
        {
            if (key != HoardTracing.ErrorTypeTag && value is not null)
            {
                info[key] = Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty;
            }
        }

        var failed = activity.Status == ActivityStatusCode.Error;
        return new TracePoint
        {
            BaseId = TraceIds.ToUuid(trace),
            Id = TraceIds.PointId(trace, activity.SpanId.ToHexString()),
            ParentId = activity.GetCustomProperty(HoardTracing.ParentIdProperty) as string
                ?? TraceIds.PointId(trace, activity.ParentSpanId.ToHexString()),
            Name = activity.OperationName,
            Service = service,
            Host = LocalHost,
            Start = activity.StartTimeUtc,
            Stop = activity.StartTimeUtc + activity.Duration,
            Info = info,
            ErrorType = failed ? activity.GetTagItem(HoardTracing.ErrorTypeTag) as string ?? "Error" : null,
            ErrorMessage = failed ? activity.StatusDescription : null,
        };
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
