using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Tracing;

[assembly: HoardPlugin("otlp", PluginKind.Trace, typeof(Hoard.Profiling.Otlp.OtlpTracePlugin))]

namespace Hoard.Profiling.Otlp;

/// <summary><c>otlp://host:4318[?query=http://jaeger:16686]</c>: trace points exported as OpenTelemetry spans.</summary>
public sealed class OtlpTracePlugin : ITraceDriverFactory
{
    public ITraceDriver Open(Uri connectionString) => new OtlpTraceDriver(OtlpTraceSettings.Parse(connectionString));
}

/// <summary>
/// Exports trace points as OpenTelemetry spans to an OTLP/HTTP receiver (Jaeger, Tempo, an OpenTelemetry Collector):
/// a batch is one <c>POST /v1/traces</c> in OTLP's JSON encoding (see <see cref="OtlpSpans"/>), bounded by a timeout,
/// and fails (so the profiler's writer counts it dropped) on any answer but 2xx or when the receiver rejects spans.
/// The spans are written here rather than through OpenTelemetry's exporter because that exporter takes
/// <see cref="System.Diagnostics.Activity"/> objects, whose span ids cannot be set: a point's span id must follow from
/// its OSProfiler id, or a child written in a later batch than its parent could not name it.
/// OTLP has no query protocol, so reading back goes through a Jaeger query service's HTTP API
/// (<c>GET /api/traces/{id}</c>, <c>GET /api/traces?service=…</c>) when the connection string names one
/// (<c>?query=</c>); without it the read methods throw <see cref="NotSupportedException"/>.
/// </summary>
public sealed class OtlpTraceDriver : ITraceDriver
{
    /// <summary>OSProfiler's <c>project</c> field: the product that wrote the point.</summary>
    public const string Project = "hoard";

    /// <summary>How far back a listing looks and how many traces it asks for (Jaeger needs both bounded).</summary>
    public static readonly TimeSpan ListLookback = TimeSpan.FromDays(7);

    public const int ListLimit = 1000;

    private readonly OtlpTraceSettings _settings;
    private readonly HttpClient _http;
    private readonly AuthenticationHeaderValue? _queryAuthorization;
    private readonly string _receiver;
    private readonly string _queryBase;

    public OtlpTraceDriver(OtlpTraceSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectTimeout = settings.Timeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        })
        {
            // Each call has its own deadline (Send), so a timeout is told apart from the caller cancelling.
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };
        _receiver = $"{settings.Endpoint.Host}:{settings.Endpoint.Port}";
        if (settings.Query is { } query)
        {
            // User info in the query address is HTTP basic auth; it is kept out of every URL and message.
            if (query.UserInfo.Length > 0)
            {
                var basic = Encoding.UTF8.GetBytes(Uri.UnescapeDataString(query.UserInfo));
                _queryAuthorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(basic));
            }

            _queryBase = new UriBuilder(query.Scheme, query.Host, query.Port, query.AbsolutePath.TrimEnd('/')).Uri.ToString().TrimEnd('/');
        }
        else
        {
            _queryBase = string.Empty;
        }
    }

    public async Task WriteAsync(IReadOnlyList<TracePoint> points, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (points.Count == 0)
        {
            return;
        }

        var body = OtlpSpans.Request(points, _settings.Service).ToJsonString();
        using var request = new HttpRequestMessage(HttpMethod.Post, _settings.Endpoint)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Content.Headers.ContentType!.CharSet = null; // OTLP/HTTP names the type bare
        var (status, answer) = await SendAsync(request, $"the OTLP receiver at {_receiver}", cancellationToken);
        if ((int)status is < 200 or > 299)
        {
            throw new HttpRequestException($"the OTLP receiver at {_receiver} answered {(int)status} {status} to POST /v1/traces: {Shorten(answer)}", null, status);
        }

        // A 2xx may still carry a partial success: spans the receiver refused are points lost.
        if (answer.Length > 0 && TryParse(answer) is { } doc)
        {
            using (doc)
            {
                if (doc.RootElement.ValueKind == JsonValueKind.Object
                    && doc.RootElement.TryGetProperty("partialSuccess", out var partial)
                    && partial.TryGetProperty("rejectedSpans", out var rejected)
                    && Int64(rejected) is > 0 and var count)
                {
                    var why = partial.TryGetProperty("errorMessage", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : "no reason given";
                    throw new InvalidOperationException($"the OTLP receiver at {_receiver} rejected {count} of {points.Count} spans: {why}");
                }
            }
        }
    }

    public async Task<TraceTree?> GetTraceAsync(string baseId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(baseId);
        using var doc = await QueryAsync($"/api/traces/{OtlpSpans.TraceId(baseId)}", allowNotFound: true, cancellationToken);
        if (doc is null)
        {
            return null;
        }

        var events = new List<TraceEvent>();
        foreach (var trace in Traces(doc))
        {
            foreach (var point in Points(trace, baseId))
            {
                events.Add(Event(point, start: true));
                events.Add(Event(point, start: false));
            }
        }

        return TraceTree.Build(events);
    }

    /// <summary>Each trace of the service within <see cref="ListLookback"/> with the start of its first point, oldest first.</summary>
    public Task<IReadOnlyList<TraceSummary>> ListTracesAsync(CancellationToken cancellationToken) =>
        ListAsync(errorsOnly: false, cancellationToken);

    /// <summary>Each failed trace with when its first failed point stopped (OSProfiler's error marker time), oldest first.</summary>
    public Task<IReadOnlyList<TraceSummary>> ListErrorTracesAsync(CancellationToken cancellationToken) =>
        ListAsync(errorsOnly: true, cancellationToken);

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<IReadOnlyList<TraceSummary>> ListAsync(bool errorsOnly, CancellationToken cancellationToken)
    {
        var now = DateTime.UtcNow;
        var path = new StringBuilder("/api/traces?service=").Append(Uri.EscapeDataString(_settings.Service))
            .Append("&limit=").Append(ListLimit.ToString(CultureInfo.InvariantCulture))
            .Append("&start=").Append(Micros(now - ListLookback).ToString(CultureInfo.InvariantCulture))
            .Append("&end=").Append(Micros(now + TimeSpan.FromHours(1)).ToString(CultureInfo.InvariantCulture));
        if (errorsOnly)
        {
            // OTLP status ERROR is Jaeger's tag error=true.
            path.Append("&tags=").Append(Uri.EscapeDataString("{\"error\":\"true\"}"));
        }

        using var doc = await QueryAsync(path.ToString(), allowNotFound: false, cancellationToken);
        var result = new List<TraceSummary>();
        foreach (var trace in Traces(doc!))
        {
            var points = Points(trace, baseId: null).ToList();
            var failed = points.Where(p => p.ErrorType is not null).ToList();
            if (points.Count == 0 || (errorsOnly && failed.Count == 0))
            {
                continue;
            }

            result.Add(new TraceSummary(points[0].BaseId, errorsOnly ? failed.Min(p => p.Stop) : points.Min(p => p.Start)));
        }

        return [.. result.OrderBy(t => t.Timestamp).ThenBy(t => t.BaseId, StringComparer.Ordinal)];
    }

    private async Task<JsonDocument?> QueryAsync(string pathAndQuery, bool allowNotFound, CancellationToken cancellationToken)
    {
        if (_settings.Query is null)
        {
            throw new NotSupportedException(
                "otlp:// exports spans to an OTLP receiver, which cannot be read back: read the traces in your tracing UI "
                + $"(Jaeger, Tempo; service.name '{_settings.Service}', trace id = the trace id without dashes), or add "
                + "?query=http://JAEGER-HOST:16686 to the connection string to read them through Jaeger's query API");
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, _queryBase + pathAndQuery);
        request.Headers.Authorization = _queryAuthorization;
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        var what = $"the Jaeger query service at {_settings.Query.Host}:{_settings.Query.Port}";
        var (status, answer) = await SendAsync(request, what, cancellationToken);
        if (status == HttpStatusCode.NotFound && allowNotFound)
        {
            return null;
        }

        if ((int)status is < 200 or > 299)
        {
            throw new HttpRequestException($"{what} answered {(int)status} {status} to GET {pathAndQuery.Split('?')[0]}: {Shorten(answer)}", null, status);
        }

        return TryParse(answer) ?? throw new InvalidOperationException($"{what} answered something that is not JSON: {Shorten(answer)}");
    }

    /// <summary>Sends with the settings' deadline; a deadline passed is a <see cref="TimeoutException"/>, never a hang.</summary>
    private async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpRequestMessage request, string what, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_settings.Timeout);
        try
        {
            using var response = await _http.SendAsync(request, deadline.Token);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(deadline.Token));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{what} did not answer within {_settings.Timeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException e)
        {
            throw new HttpRequestException($"{what} cannot be reached: {e.Message}", e, e.StatusCode);
        }
    }

    private static IEnumerable<JsonElement> Traces(JsonDocument doc) =>
        doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array
            ? data.EnumerateArray().Where(t => t.ValueKind == JsonValueKind.Object)
            : [];

    /// <summary>
    /// The points of one Jaeger trace. Hoard's spans come back exactly from their <c>osprofiler.*</c> tags; a span
    /// another service wrote into the same trace becomes a point whose id is made as Hoard makes its own (the trace
    /// id's first half and the span id, <see cref="TraceIds.PointId"/>) and whose parent is the point of the span it
    /// references, so it hangs in the tree where it ran.
    /// </summary>
    private static IEnumerable<TracePoint> Points(JsonElement trace, string? baseId)
    {
        if (!trace.TryGetProperty("spans", out var spans) || spans.ValueKind != JsonValueKind.Array)
        {
            yield break;
        }

        var processes = trace.TryGetProperty("processes", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
        var pointOfSpan = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var span in spans.EnumerateArray())
        {
            if (Text(span, "spanID") is { } spanId && Tags(span).TryGetValue(OtlpSpans.IdAttribute, out var pointId))
            {
                pointOfSpan[spanId] = pointId;
            }
        }

        foreach (var span in spans.EnumerateArray())
        {
            var tags = Tags(span);
            var start = DateTime.UnixEpoch.AddTicks(Micros(span, "startTime") * 10);
            var stop = start.AddTicks(Micros(span, "duration") * 10);
            var info = tags.Where(t => t.Key.StartsWith(OtlpSpans.InfoPrefix, StringComparison.Ordinal))
                .ToDictionary(t => t.Key[OtlpSpans.InfoPrefix.Length..], t => t.Value, StringComparer.Ordinal);
            if (tags.TryGetValue(OtlpSpans.IdAttribute, out var id))
            {
                yield return new TracePoint
                {
                    BaseId = tags.GetValueOrDefault(OtlpSpans.BaseIdAttribute) ?? baseId ?? ForeignBaseId(span),
                    Id = id,
                    ParentId = tags.GetValueOrDefault(OtlpSpans.ParentIdAttribute) ?? baseId ?? ForeignBaseId(span),
                    Name = Text(span, "operationName") ?? "span",
                    Service = tags.GetValueOrDefault(OtlpSpans.ServiceAttribute) ?? string.Empty,
                    Host = tags.GetValueOrDefault(OtlpSpans.HostAttribute) ?? string.Empty,
                    Start = start,
                    Stop = stop,
                    Info = info,
                    ErrorType = tags.GetValueOrDefault(OtlpSpans.ErrorTypeAttribute),
                    ErrorMessage = tags.GetValueOrDefault(OtlpSpans.ErrorMessageAttribute),
                };
                continue;
            }

            var process = processes.ValueKind == JsonValueKind.Object && Text(span, "processID") is { } pid && processes.TryGetProperty(pid, out var proc) ? proc : default;
            var root = baseId ?? ForeignBaseId(span);
            var traceHex = TraceHex(span);
            var failed = tags.TryGetValue("error", out var error) && error == "true";
            var parent = ParentSpan(span);
            yield return new TracePoint
            {
                BaseId = root,
                Id = PointId(traceHex, Text(span, "spanID")),
                ParentId = parent is null ? root : pointOfSpan.GetValueOrDefault(parent) ?? PointId(traceHex, parent),
                Name = Text(span, "operationName") ?? "span",
                Service = process.ValueKind == JsonValueKind.Object ? Text(process, "serviceName") ?? string.Empty : string.Empty,
                Host = process.ValueKind == JsonValueKind.Object ? Tags(process).GetValueOrDefault("host.name") ?? string.Empty : string.Empty,
                Start = start,
                Stop = stop,
                Info = tags,
                ErrorType = failed ? "Error" : null,
                ErrorMessage = failed ? tags.GetValueOrDefault("otel.status_description") : null,
            };
        }
    }

    /// <summary>A trace no Hoard span is in goes by its Jaeger trace id written as a UUID.</summary>
    private static string ForeignBaseId(JsonElement span) => TraceHex(span) is { } hex ? TraceIds.ToUuid(hex) : string.Empty;

    /// <summary>A span's trace id as 32 hex digits (Jaeger drops leading zeros), or null when it has none.</summary>
    private static string? TraceHex(JsonElement span) =>
        Text(span, "traceID") is { Length: > 0 and <= 32 } hex && hex.All(char.IsAsciiHexDigit) ? hex.ToLowerInvariant().PadLeft(32, '0') : null;

    private static string PointId(string? traceHex, string? spanHex) =>
        traceHex is not null && spanHex is { Length: > 0 and <= 16 } && spanHex.All(char.IsAsciiHexDigit)
            ? TraceIds.PointId(traceHex, spanHex.ToLowerInvariant().PadLeft(16, '0'))
            : spanHex ?? string.Empty;

    private static string? ParentSpan(JsonElement span) =>
        span.TryGetProperty("references", out var refs) && refs.ValueKind == JsonValueKind.Array
            ? refs.EnumerateArray().Where(r => Text(r, "refType") == "CHILD_OF").Select(r => Text(r, "spanID")).FirstOrDefault(s => s is not null)
            : null;

    private static Dictionary<string, string> Tags(JsonElement owner)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        if (owner.TryGetProperty("tags", out var array) && array.ValueKind == JsonValueKind.Array)
        {
            foreach (var tag in array.EnumerateArray())
            {
                if (Text(tag, "key") is { } key && tag.TryGetProperty("value", out var value))
                {
                    tags[key] = value.ValueKind switch
                    {
                        JsonValueKind.String => value.GetString()!,
                        JsonValueKind.True => "true",
                        JsonValueKind.False => "false",
                        _ => value.GetRawText(),
                    };
                }
            }
        }

        return tags;
    }

    private static long Micros(JsonElement span, string name) =>
        span.TryGetProperty(name, out var v) ? Int64(v) ?? 0 : 0;

    private static long Micros(DateTime utc) => (utc.Ticks - DateTime.UnixEpoch.Ticks) / 10;

    private static long? Int64(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Number when v.TryGetInt64(out var n) => n,
        JsonValueKind.String when long.TryParse(v.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) => n,
        _ => null,
    };

    private static string? Text(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static JsonDocument? TryParse(string json)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "…";

    /// <summary>One OSProfiler event of a point, in the shape the Redis driver stores (so every backend reads back alike).</summary>
    private static TraceEvent Event(TracePoint point, bool start) =>
        TraceEvent.Parse(TraceEvent.ToJson(point, start, Project)) ?? throw new InvalidOperationException($"trace point {point.Id} makes no event");
}
