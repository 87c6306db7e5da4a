using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Abstractions.Tracing;
using Hoard.Conformance;
using Hoard.Profiling.Otlp;
using Hoard.Testing;
using Xunit;

namespace Hoard.Profiling.Otlp.Tests;

[CollectionDefinition(Name)]
public sealed class OtlpReceiverCollection : ICollectionFixture<OtlpTestReceiver>
{
    public const string Name = "otlp receiver";
}

/// <summary>The trace-driver contract over OTLP/HTTP export and Jaeger query reads; a service.name of its own each test is an empty backend.</summary>
[Collection(OtlpReceiverCollection.Name)]
public sealed class OtlpTraceDriverConformance(OtlpTestReceiver receiver) : TraceDriverConformance
{
    protected override Task<ITraceDriver> OpenEmptyAsync() =>
        Task.FromResult(new OtlpTracePlugin().Open(receiver.ConnectionString("conformance-" + Guid.NewGuid().ToString("N")[..8])));
}

public sealed class OtlpConnectionStringTests
{
    [Theory]
    [InlineData("otlp://tracer:s3cret@collector:4318", "takes no user or password")]
    [InlineData("otlp://collector:4318/v1/traces", "takes no path")]
    [InlineData("otlp://collector:4318?query=jaeger:16686", "query must be the http:// or https:// address")]
    [InlineData("otlp://collector:4318?query=ftp://u:s3cret@jaeger", "query must be the http:// or https:// address")]
    [InlineData("otlp://collector:4318?timeout=soon", "timeout 'soon' is not a number of seconds")]
    [InlineData("otlp://collector:4318?tls=maybe", "tls 'maybe' is not true or false")]
    [InlineData("otlp://collector:4318?password=s3cret", "unknown otlp connection option 'password'")]
    [InlineData("otlp://collector:4318#x", "takes no fragment")]
    public void A_malformed_connection_string_is_refused_with_what_is_accepted_and_no_password(string connection, string problem)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new OtlpTracePlugin().Open(new Uri(connection)));
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.Contains("otlp://host[:port][?query=http://jaeger-host:16686]", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_port_is_the_otlp_http_receiver_4318_by_default_and_options_are_read()
    {
        var plain = OtlpTraceSettings.Parse(new Uri("otlp://collector"));
        Assert.Equal((new Uri("http://collector:4318/v1/traces"), null, "hoard", TimeSpan.FromSeconds(10)), (plain.Endpoint, plain.Query, plain.Service, plain.Timeout));
        var all = OtlpTraceSettings.Parse(new Uri("otlp://collector:4320?query=https%3A%2F%2Fjaeger%3A16686&service=db-api&timeout=2.5&tls=true"));
        Assert.Equal((new Uri("https://collector:4320/v1/traces"), new Uri("https://jaeger:16686"), "db-api", TimeSpan.FromSeconds(2.5)), (all.Endpoint, all.Query, all.Service, all.Timeout));
    }
}

[Collection(OtlpReceiverCollection.Name)]
public sealed class OtlpTraceDriverTests(OtlpTestReceiver receiver)
{
    private static readonly DateTime T0 = new(2026, 12, 6, 12, 0, 0, DateTimeKind.Utc);
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task A_batch_is_one_otlp_json_export_with_w3c_ids_parents_times_and_the_service_as_a_resource()
    {
        var service = "shape-" + Guid.NewGuid().ToString("N")[..8];
        await using var driver = new OtlpTracePlugin().Open(receiver.ConnectionString(service));
        var trace = Guid.NewGuid();
        Guid root = Guid.NewGuid(), child = Guid.NewGuid();
        var start = T0.AddTicks(1234567); // 123.4567 ms: OTLP keeps it to the nanosecond
        await driver.WriteAsync(
            [
                new TracePoint
                {
                    BaseId = trace.ToString(), Id = root.ToString(), ParentId = trace.ToString(), Name = "wsgi", Service = "api", Host = "h1",
                    Start = start, Stop = start.AddMilliseconds(40),
                    Info = new Dictionary<string, string> { ["request.method"] = "POST" },
                },
                new TracePoint
                {
                    BaseId = trace.ToString(), Id = child.ToString(), ParentId = root.ToString(), Name = "task", Service = "taskmanager", Host = "h1",
                    Start = start.AddMilliseconds(5), Stop = start.AddMilliseconds(30), ErrorType = "GuestCallException", ErrorMessage = "guest gone",
                },
            ],
            Ct).Within(Timeouts.Short);

        var export = Assert.Single(receiver.Exports, e => e.Body.ToJsonString().Contains(service, StringComparison.Ordinal));
        Assert.Equal(("/v1/traces", "application/json"), (export.Path, export.ContentType));
        var resource = Assert.Single(export.Body["resourceSpans"]!.AsArray())!;
        Assert.Equal(service, Attribute(resource["resource"]!, "service.name"));
        Assert.Equal("h1", Attribute(resource["resource"]!, "host.name"));
        var spans = resource["scopeSpans"]![0]!["spans"]!.AsArray().Select(s => s!).ToList();
        var wsgi = Assert.Single(spans, s => s["name"]!.GetValue<string>() == "wsgi");
        var task = Assert.Single(spans, s => s["name"]!.GetValue<string>() == "task");

        // The trace id is the base id's 16 bytes; a span id the point id's last 8; the root hangs from no span.
        Assert.Equal(trace.ToString("N"), wsgi["traceId"]!.GetValue<string>());
        Assert.Equal(root.ToString("N")[16..], wsgi["spanId"]!.GetValue<string>());
        Assert.Null(wsgi["parentSpanId"]);
        Assert.Equal(root.ToString("N")[16..], task["parentSpanId"]!.GetValue<string>());
        Assert.Equal(child.ToString("N")[16..], task["spanId"]!.GetValue<string>());
        var startNanos = (start - DateTime.UnixEpoch).Ticks * 100;
        Assert.Equal((startNanos + 5_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture), task["startTimeUnixNano"]!.GetValue<string>());
        Assert.Equal((startNanos + 30_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture), task["endTimeUnixNano"]!.GetValue<string>());
        Assert.Equal((startNanos + 40_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture), wsgi["endTimeUnixNano"]!.GetValue<string>());

        // A failure is status ERROR; the OSProfiler fields ride along as attributes.
        Assert.Equal((2, "guest gone"), (task["status"]!["code"]!.GetValue<int>(), task["status"]!["message"]!.GetValue<string>()));
        Assert.Null(wsgi["status"]);
        Assert.Equal("POST", Attribute(wsgi, "osprofiler.info.request.method"));
        Assert.Equal((root.ToString(), "taskmanager", "GuestCallException"), (Attribute(task, "osprofiler.parent_id"), Attribute(task, "osprofiler.service"), Attribute(task, "osprofiler.etype")));

        // Read back through the query API, the nanoseconds OSProfiler's tree does not keep aside, nothing is lost.
        var tree = await driver.GetTraceAsync(trace.ToString(), Ct).Within(Timeouts.Short);
        var top = Assert.Single(tree!.Children);
        Assert.Equal(("wsgi", root.ToString(), trace.ToString(), "api", "h1"), (top.Name, top.TraceId, top.ParentId, top.Service, top.Host));
        Assert.Equal("POST", top.RawPayloads["wsgi-start"].GetProperty("info").GetProperty("request").GetProperty("method").GetString());
        var failed = Assert.Single(top.Children);
        Assert.Equal(("task", 5L, 30L, "GuestCallException", "taskmanager"), (failed.Name, failed.Started, failed.Finished, failed.Exception, failed.Service));
        Assert.Equal("guest gone", failed.RawPayloads["task-stop"].GetProperty("info").GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_span_another_service_exported_into_the_trace_reads_back_under_the_point_it_hangs_from()
    {
        await using var driver = new OtlpTracePlugin().Open(receiver.ConnectionString("mixed-" + Guid.NewGuid().ToString("N")[..8]));
        var trace = Guid.NewGuid();
        var root = Guid.NewGuid();
        await driver.WriteAsync(
            [new TracePoint { BaseId = trace.ToString(), Id = root.ToString(), ParentId = trace.ToString(), Name = "wsgi", Service = "api", Host = "h1", Start = T0, Stop = T0.AddMilliseconds(50) }],
            Ct).Within(Timeouts.Short);

        // A plain OpenTelemetry service (no osprofiler.* attributes) called from that request, failing.
        var nanos = (T0 - DateTime.UnixEpoch).Ticks * 100;
        var foreign = new JsonObject
        {
            ["resourceSpans"] = new JsonArray(new JsonObject
            {
                ["resource"] = new JsonObject { ["attributes"] = new JsonArray(new JsonObject { ["key"] = "service.name", ["value"] = new JsonObject { ["stringValue"] = "billing" } }) },
                ["scopeSpans"] = new JsonArray(new JsonObject
                {
                    ["spans"] = new JsonArray(new JsonObject
                    {
                        ["traceId"] = trace.ToString("N"), ["spanId"] = "00f067aa0ba902b7", ["parentSpanId"] = root.ToString("N")[16..], ["name"] = "charge",
                        ["startTimeUnixNano"] = (nanos + 10_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture),
                        ["endTimeUnixNano"] = (nanos + 20_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture),
                        ["status"] = new JsonObject { ["code"] = 2 },
                    }),
                }),
            }),
        };
        using var http = new HttpClient { Timeout = Timeouts.Short };
        using var content = new StringContent(foreign.ToJsonString(), Encoding.UTF8);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        (await http.PostAsync(new Uri($"http://127.0.0.1:{receiver.Port}/v1/traces"), content).Within(Timeouts.Short)).EnsureSuccessStatusCode();

        var top = Assert.Single((await driver.GetTraceAsync(trace.ToString(), Ct).Within(Timeouts.Short))!.Children);
        var charge = Assert.Single(top.Children);
        Assert.Equal(("charge", "billing", 10L, 20L, "Error"), (charge.Name, charge.Service, charge.Started, charge.Finished, charge.Exception));
    }

    [Fact]
    public async Task User_info_in_the_query_address_is_sent_as_basic_auth_and_kept_out_of_errors()
    {
        var uri = new Uri($"otlp://127.0.0.1:{receiver.Port}?query=" + Uri.EscapeDataString($"http://reader:Qu3ry-pw@127.0.0.1:{receiver.Port}"));
        await using var driver = new OtlpTracePlugin().Open(uri);
        Assert.Null(await driver.GetTraceAsync(Guid.NewGuid().ToString(), Ct).Within(Timeouts.Short));
        Assert.Equal("Basic " + Convert.ToBase64String("reader:Qu3ry-pw"u8), receiver.LastQueryAuthorization);

        var dead = DeadPort();
        await using var down = new OtlpTracePlugin().Open(new Uri($"otlp://127.0.0.1:{dead}?query=" + Uri.EscapeDataString($"http://reader:Qu3ry-pw@127.0.0.1:{dead}")));
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => down.ListTracesAsync(Ct).Within(Timeouts.Short));
        Assert.Contains($"the Jaeger query service at 127.0.0.1:{dead} cannot be reached", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Qu3ry-pw", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_receiver_that_is_down_makes_a_write_fail_at_once_naming_the_receiver()
    {
        var port = DeadPort();
        await using var driver = new OtlpTracePlugin().Open(new Uri($"otlp://127.0.0.1:{port}"));
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => driver.WriteAsync([Point()], Ct).Within(Timeouts.Short));
        Assert.Contains($"the OTLP receiver at 127.0.0.1:{port} cannot be reached", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_receiver_that_never_answers_makes_a_write_fail_after_the_timeout_rather_than_hang()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var accepted = silent.AcceptTcpClientAsync(); // takes the connection, never answers
        await using var driver = new OtlpTracePlugin().Open(new Uri($"otlp://127.0.0.1:{port}?timeout=1"));
        var e = await Assert.ThrowsAsync<TimeoutException>(() => driver.WriteAsync([Point()], Ct).Within(Timeouts.Short));
        Assert.Contains("did not answer within 1 s", e.Message, StringComparison.Ordinal);
        (await accepted.Within(Timeouts.Short)).Dispose();
    }

    [Fact]
    public async Task A_receiver_that_refuses_or_rejects_spans_makes_the_write_fail()
    {
        await using var driver = new OtlpTracePlugin().Open(receiver.ConnectionString("refused-" + Guid.NewGuid().ToString("N")[..8]));
        receiver.FailNext = HttpStatusCode.ServiceUnavailable;
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => driver.WriteAsync([Point()], Ct).Within(Timeouts.Short));
        Assert.Contains("answered 503", refused.Message, StringComparison.Ordinal);

        receiver.RejectNext = 1;
        var rejected = await Assert.ThrowsAsync<InvalidOperationException>(() => driver.WriteAsync([Point(), Point()], Ct).Within(Timeouts.Short));
        Assert.Contains("rejected 1 of 2 spans: span too large", rejected.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_query_address_reads_say_where_the_traces_can_be_read()
    {
        await using var driver = new OtlpTracePlugin().Open(receiver.ConnectionString("write-only", withQuery: false));
        await driver.WriteAsync([Point()], Ct).Within(Timeouts.Short); // writing needs no query service
        var e = await Assert.ThrowsAsync<NotSupportedException>(() => driver.GetTraceAsync(Guid.NewGuid().ToString(), Ct).Within(Timeouts.Short));
        Assert.Contains("?query=http://JAEGER-HOST:16686", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<NotSupportedException>(() => driver.ListTracesAsync(Ct).Within(Timeouts.Short));
    }

    /// <summary>
    /// hoard serve given an otlp:// trace backend: a request signed as OSProfiler signs is exported as spans to the
    /// receiver, `hoard trace show` reads it back through the Jaeger query API, and without one says where to look.
    /// </summary>
    [Fact]
    public async Task Hoard_serve_exports_a_signed_request_as_spans_and_hoard_trace_reads_it_back_through_jaeger()
    {
        var connection = $"otlp://127.0.0.1:{receiver.Port}?query=http://127.0.0.1:{receiver.Port}";
        await using var hoard = await HoardServer.StartAsync(null, ["--profiler-connection-string", connection, "--profiler-hmac-keys", "k1"]);
        var baseId = Guid.NewGuid().ToString();
        await SignedGetAsync(hoard, baseId, "k1");

        var shown = await Timeouts.EventuallyAsync(
            () => ProcessRunner.RunAsync(HoardServer.Executable, ["trace", "show", baseId, "--json", "--connection-string", connection], timeout: Timeouts.Cli),
            r => r.ExitCode == 0,
            Timeouts.Settle,
            "the request's spans to be exported");
        var wsgi = Assert.Single(JsonNode.Parse(shown.Stdout)!["children"]!.AsArray())!;
        Assert.Equal(("wsgi", baseId), (wsgi["info"]!["name"]!.GetValue<string>(), wsgi["parent_id"]!.GetValue<string>()));
        Assert.Equal("GET", wsgi["info"]!["meta.raw_payload.wsgi-start"]!["info"]!["request"]!["method"]!.GetValue<string>());
        var export = Assert.Single(receiver.Exports, e => e.Body.ToJsonString().Contains(baseId, StringComparison.Ordinal));
        Assert.Equal("hoard", Attribute(export.Body["resourceSpans"]![0]!["resource"]!, "service.name"));
        var listed = await ProcessRunner.RunAsync(HoardServer.Executable, ["trace", "list", "--connection-string", connection], timeout: Timeouts.Cli);
        Assert.Contains(baseId, listed.Stdout, StringComparison.Ordinal);

        var writeOnly = await ProcessRunner.RunAsync(HoardServer.Executable, ["trace", "show", baseId, "--connection-string", $"otlp://127.0.0.1:{receiver.Port}"], timeout: Timeouts.Cli);
        Assert.Equal(2, writeOnly.ExitCode);
        Assert.Contains("?query=http://JAEGER-HOST:16686", writeOnly.Stderr, StringComparison.Ordinal);
    }

    /// <summary>A GET / signed as OSProfiler signs (base64url JSON, HMAC-SHA1 hex); it must be served and name its trace.</summary>
    private static async Task SignedGetAsync(HoardServer server, string baseId, string key)
    {
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = Timeouts.Cli };
        var info = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{{\"base_id\": \"{baseId}\", \"parent_id\": \"{baseId}\"}}")).Replace('+', '-').Replace('/', '_');
#pragma warning disable CA5350 // OSProfiler's header format is HMAC-SHA1.
        var hmac = Convert.ToHexStringLower(HMACSHA1.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(info)));
#pragma warning restore CA5350
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("X-Trace-Info", info);
        request.Headers.Add("X-Trace-HMAC", hmac);
        using var response = await http.SendAsync(request).Within(Timeouts.Cli);
        Assert.True(response.IsSuccessStatusCode, $"{response.StatusCode}");
        Assert.Equal([baseId], response.Headers.GetValues("X-Trace-ID"));
    }

    private static string? Attribute(JsonNode owner, string key) =>
        owner["attributes"]!.AsArray().FirstOrDefault(a => a!["key"]!.GetValue<string>() == key)?["value"]!["stringValue"]!.GetValue<string>();

    private static int DeadPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static TracePoint Point()
    {
        var trace = Guid.NewGuid().ToString();
        return new TracePoint
        {
            BaseId = trace, Id = Guid.NewGuid().ToString(), ParentId = trace, Name = "wsgi", Service = "api", Host = "test-host",
            Start = T0, Stop = T0.AddMilliseconds(1),
        };
    }
}
