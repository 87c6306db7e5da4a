using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Abstractions.Tracing;

namespace Hoard.Profiling.Otlp;

/// <summary>
/// Trace points as OTLP spans in the OTLP/JSON encoding of <c>ExportTraceServiceRequest</c>: ids as lowercase hex,
/// times as Unix nanoseconds (strings, as proto3 JSON writes 64-bit integers), enums as numbers.
/// <list type="bullet">
/// <item>trace id: the 16 bytes of the OSProfiler base id UUID (the W3C trace id Hoard took it from);</item>
/// <item>span id: the last 8 bytes of the point's UUID (for Hoard's own points, the W3C span id it was made from);
/// the parent span id likewise from the parent's, none when the parent is the trace root (the base id);</item>
/// <item>an id that is not a UUID (another tool's) is hashed (SHA-256) to a stable id of the right size;</item>
/// <item>the original OSProfiler ids, service, host, info and error as <c>osprofiler.*</c> attributes, so reading
/// back is lossless; a failed point's status is ERROR with its message.</item>
/// </list>
/// One ResourceSpans a host, with the resource attributes <c>service.name</c> and <c>host.name</c>.
/// </summary>
public static class OtlpSpans
{
    public const string BaseIdAttribute = "osprofiler.base_id";
    public const string IdAttribute = "osprofiler.trace_id";
    public const string ParentIdAttribute = "osprofiler.parent_id";
    public const string ServiceAttribute = "osprofiler.service";
    public const string HostAttribute = "osprofiler.host";
    public const string ErrorTypeAttribute = "osprofiler.etype";
    public const string ErrorMessageAttribute = "osprofiler.message";

    /// <summary>Each info key is kept under this prefix, apart from attributes a backend adds of its own.</summary>
    public const string InfoPrefix = "osprofiler.info.";

    public const string ScopeName = "Hoard.Profiling";

    private const int KindInternal = 1;
    private const int StatusError = 2;

    /// <summary>The request body of <c>POST /v1/traces</c> for <paramref name="points"/>.</summary>
    public static JsonObject Request(IEnumerable<TracePoint> points, string service)
    {
        ArgumentNullException.ThrowIfNull(points);
        var resources = new JsonArray();
        foreach (var host in points.GroupBy(p => p.Host, StringComparer.Ordinal))
        {
            resources.Add(new JsonObject
            {
                ["resource"] = new JsonObject { ["attributes"] = new JsonArray(Attribute("service.name", service), Attribute("host.name", host.Key)) },
                ["scopeSpans"] = new JsonArray(new JsonObject
                {
                    ["scope"] = new JsonObject { ["name"] = ScopeName },
                    ["spans"] = new JsonArray([.. host.Select(Span)]),
                }),
            });
        }

        return new JsonObject { ["resourceSpans"] = resources };
    }

    /// <summary>The OTLP trace id (32 hex digits) of an OSProfiler base id.</summary>
    public static string TraceId(string baseId) =>
        Guid.TryParseExact(baseId, "D", out var guid) && guid != Guid.Empty ? guid.ToString("N") : Hash(baseId, 16);

    /// <summary>The OTLP span id (16 hex digits) of an OSProfiler point id.</summary>
    public static string SpanId(string pointId)
    {
        if (Guid.TryParseExact(pointId, "D", out var guid))
        {
            var tail = guid.ToString("N")[16..];
            if (tail != "0000000000000000")
            {
                return tail;
            }
        }

        return Hash(pointId, 8);
    }

    /// <summary>Unix nanoseconds of a UTC time (an unspecified kind is taken as UTC, as points are).</summary>
    public static long UnixNanos(DateTime t) =>
        ((t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : t).Ticks - DateTime.UnixEpoch.Ticks) * 100;

    private static JsonObject Span(TracePoint p)
    {
        var attributes = new JsonArray(
            Attribute(BaseIdAttribute, p.BaseId),
            Attribute(IdAttribute, p.Id),
            Attribute(ParentIdAttribute, p.ParentId),
            Attribute(ServiceAttribute, p.Service),
            Attribute(HostAttribute, p.Host));
        foreach (var (key, value) in p.Info)
        {
            attributes.Add(Attribute(InfoPrefix + key, value));
        }

        var span = new JsonObject
        {
            ["traceId"] = TraceId(p.BaseId),
            ["spanId"] = SpanId(p.Id),
            ["name"] = p.Name,
            ["kind"] = KindInternal,
            ["startTimeUnixNano"] = UnixNanos(p.Start).ToString(CultureInfo.InvariantCulture),
            ["endTimeUnixNano"] = UnixNanos(p.Stop).ToString(CultureInfo.InvariantCulture),
            ["attributes"] = attributes,
        };
        if (p.ParentId != p.BaseId)
        {
            span["parentSpanId"] = SpanId(p.ParentId);
        }

        if (p.ErrorType is not null)
        {
            attributes.Add(Attribute(ErrorTypeAttribute, p.ErrorType));
            attributes.Add(Attribute(ErrorMessageAttribute, p.ErrorMessage ?? string.Empty));
            span["status"] = new JsonObject { ["code"] = StatusError, ["message"] = p.ErrorMessage ?? p.ErrorType };
        }

        return span;
    }

    private static JsonObject Attribute(string key, string value) =>
        new() { ["key"] = key, ["value"] = new JsonObject { ["stringValue"] = value } };

    private static string Hash(string id, int bytes) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id)).AsSpan(0, bytes));
}
