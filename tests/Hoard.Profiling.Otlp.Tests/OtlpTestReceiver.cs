using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Hoard.Profiling.Otlp.Tests;

/// <summary>One request the receiver took: what a real OTLP/HTTP receiver would see.</summary>
public sealed record ReceivedExport(string Path, string? ContentType, JsonObject Body);

/// <summary>
/// A small OTLP/HTTP receiver on 127.0.0.1 (a Kestrel server in the test): it takes <c>POST /v1/traces</c> in the
/// OTLP/JSON encoding, as an OpenTelemetry Collector or Jaeger does (415 for another content type, 400 for a body that
/// is not an ExportTraceServiceRequest), and answers the subset of Jaeger's HTTP query API the driver reads
/// (<c>GET /api/traces/{id}</c>, <c>GET /api/traces?service=&amp;limit=&amp;start=&amp;end=[&amp;tags=]</c>) from the
/// spans it took, translated as Jaeger translates OTLP (micro-second times, CHILD_OF references, tags with
/// <c>error=true</c> for status ERROR, a process per resource).
/// </summary>
public sealed class OtlpTestReceiver : IAsyncLifetime
{
    private readonly List<ReceivedExport> _exports = [];
    private readonly List<(string Service, string Host, JsonObject Span)> _spans = [];
    private WebApplication? _app;

    public int Port { get; private set; }

    /// <summary>The Authorization header of the last query, if any.</summary>
    public string? LastQueryAuthorization { get; private set; }

    /// <summary>When set, the next export is answered with this status and stored nowhere.</summary>
    public HttpStatusCode? FailNext { get; set; }

    /// <summary>When set, the next export is stored but answered as a partial success rejecting this many spans.</summary>
    public int? RejectNext { get; set; }

    /// <summary><c>otlp://</c> for this receiver, reading back through its Jaeger API; a service of its own keeps each test's traces apart.</summary>
    public Uri ConnectionString(string service, bool withQuery = true) =>
        new($"otlp://127.0.0.1:{Port}?service={service}" + (withQuery ? $"&query=http://127.0.0.1:{Port}" : string.Empty));

    public IReadOnlyList<ReceivedExport> Exports
    {
        get
        {
            lock (_exports)
            {
                return [.. _exports];
            }
        }
    }

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.MapPost("/v1/traces", ExportAsync);
        _app.MapGet("/api/traces/{traceId}", (string traceId, HttpRequest request) =>
        {
            LastQueryAuthorization = request.Headers.Authorization.ToString();
            return GetTrace(traceId);
        });
        _app.MapGet("/api/traces", (HttpRequest request) => FindTraces(request));
        await _app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Port = new Uri(address).Port;
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
            await _app.DisposeAsync();
        }
    }

    private async Task<IResult> ExportAsync(HttpRequest request)
    {
        if (request.ContentType is not "application/json")
        {
            return Results.StatusCode(StatusCodes.Status415UnsupportedMediaType);
        }

        JsonObject body;
        try
        {
            body = (await JsonNode.ParseAsync(request.Body)) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException)
        {
            return Results.BadRequest();
        }

        lock (_exports)
        {
            _exports.Add(new ReceivedExport(request.Path, request.ContentType, body));
            if (FailNext is { } status)
            {
                FailNext = null;
                return Results.Text("receiver overloaded", statusCode: (int)status);
            }

            if (body["resourceSpans"] is not JsonArray resources)
            {
                return Results.BadRequest();
            }

            foreach (var resource in resources.OfType<JsonObject>())
            {
                var attributes = Attributes(resource["resource"]?["attributes"]);
                foreach (var span in (resource["scopeSpans"] as JsonArray ?? []).SelectMany(s => s?["spans"] as JsonArray ?? []).OfType<JsonObject>())
                {
                    _spans.Add((attributes.GetValueOrDefault("service.name") ?? "unknown_service", attributes.GetValueOrDefault("host.name") ?? string.Empty, span));
                }
            }

            if (RejectNext is { } rejected)
            {
                RejectNext = null;
                return Results.Json(new JsonObject { ["partialSuccess"] = new JsonObject { ["rejectedSpans"] = rejected.ToString(CultureInfo.InvariantCulture), ["errorMessage"] = "span too large" } });
            }
        }

        return Results.Json(new JsonObject());
    }

    private IResult GetTrace(string traceId)
    {
        lock (_exports)
        {
            var spans = _spans.Where(s => s.Span["traceId"]?.GetValue<string>() == traceId).ToList();
            return spans.Count == 0
                ? Results.Json(new JsonObject { ["data"] = null, ["errors"] = new JsonArray(new JsonObject { ["code"] = 404, ["msg"] = "trace not found" }) }, statusCode: 404)
                : Results.Json(new JsonObject { ["data"] = new JsonArray(JaegerTrace(traceId, spans)) });
        }
    }

    private IResult FindTraces(HttpRequest request)
    {
        // As Jaeger: the service is required, the time window must be numbers.
        var q = request.Query;
        if (string.IsNullOrEmpty(q["service"]) || !long.TryParse(q["start"], out var start) || !long.TryParse(q["end"], out var end) || start >= end || !int.TryParse(q["limit"], out var limit))
        {
            return Results.Json(new JsonObject { ["data"] = null, ["errors"] = new JsonArray(new JsonObject { ["code"] = 400, ["msg"] = "service, start, end and limit are required" }) }, statusCode: 400);
        }

        var errorsOnly = q["tags"].ToString() is { Length: > 0 } tags && JsonNode.Parse(tags)?["error"]?.GetValue<string>() == "true";
        lock (_exports)
        {
            var traces = _spans.Where(s => s.Service == q["service"])
                .GroupBy(s => s.Span["traceId"]!.GetValue<string>())
                .Where(g => !errorsOnly || g.Any(s => s.Span["status"]?["code"]?.GetValue<int>() == 2))
                .Take(limit)
                .Select(g => (JsonNode)JaegerTrace(g.Key, [.. g]));
            return Results.Json(new JsonObject { ["data"] = new JsonArray([.. traces]) });
        }
    }

    private static JsonObject JaegerTrace(string traceId, List<(string Service, string Host, JsonObject Span)> spans)
    {
        var processes = new JsonObject();
        var jaegerSpans = new JsonArray();
        foreach (var (service, host, span) in spans)
        {
            var processId = "p" + (processes.Count + 1).ToString(CultureInfo.InvariantCulture);
            processes[processId] = new JsonObject
            {
                ["serviceName"] = service,
                ["tags"] = new JsonArray(Tag("host.name", host)),
            };
            var tags = new JsonArray([.. Attributes(span["attributes"]).Select(a => Tag(a.Key, a.Value))]);
            tags.Add(Tag("span.kind", "internal"));
            if (span["status"]?["code"]?.GetValue<int>() == 2)
            {
                tags.Add(new JsonObject { ["key"] = "error", ["type"] = "bool", ["value"] = true });
                tags.Add(Tag("otel.status_code", "ERROR"));
            }

            var startNanos = long.Parse(span["startTimeUnixNano"]!.GetValue<string>(), CultureInfo.InvariantCulture);
            var endNanos = long.Parse(span["endTimeUnixNano"]!.GetValue<string>(), CultureInfo.InvariantCulture);
            jaegerSpans.Add(new JsonObject
            {
                ["traceID"] = traceId,
                ["spanID"] = span["spanId"]!.GetValue<string>(),
                ["operationName"] = span["name"]!.GetValue<string>(),
                ["references"] = span["parentSpanId"] is JsonValue parent
                    ? new JsonArray(new JsonObject { ["refType"] = "CHILD_OF", ["traceID"] = traceId, ["spanID"] = parent.GetValue<string>() })
                    : new JsonArray(),
                ["startTime"] = startNanos / 1000,
                ["duration"] = (endNanos - startNanos) / 1000,
                ["tags"] = tags,
                ["logs"] = new JsonArray(),
                ["processID"] = processId,
            });
        }

        return new JsonObject { ["traceID"] = traceId, ["spans"] = jaegerSpans, ["processes"] = processes };
    }

    private static JsonObject Tag(string key, string value) => new() { ["key"] = key, ["type"] = "string", ["value"] = value };

    private static Dictionary<string, string> Attributes(JsonNode? attributes) =>
        (attributes as JsonArray ?? []).OfType<JsonObject>()
            .Where(a => a["value"]?["stringValue"] is JsonValue)
            .ToDictionary(a => a["key"]!.GetValue<string>(), a => a["value"]!["stringValue"]!.GetValue<string>(), StringComparer.Ordinal);
}
