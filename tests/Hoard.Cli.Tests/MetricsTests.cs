using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// /metrics as Prometheus scrapes it from a real hoard serve: no token, the text format, request counts by route
/// template, a real Redis instance's create task and status, the guest's heartbeat age, store latency, the profiler's
/// lost points; and a 404 when [DEFAULT] metrics_enabled is off.
/// </summary>
public sealed class MetricsTests
{
    private const string InstanceRoute = "/v1.0/{tenant}/instances/{id}";
    private const string HmacKey = "metrics-hmac-key";

    [RequiresBinaryFact("redis-server")]
    public async Task A_scrape_shows_requests_by_route_template_the_create_task_the_live_instance_and_store_latency()
    {
        // The per-instance heartbeat series are exported only when asked for (/metrics needs no token).
        await using var server = await HoardServer.StartAsync(new Dictionary<string, string> { ["HOARD_DEFAULT_METRICS_INSTANCE_LABELS"] = "true" });
        var (token, project) = await server.LoginAsync("admin", server.AdminPassword, "admin");
        using var api = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = Timeouts.Short };
        api.DefaultRequestHeaders.Add("X-Auth-Token", token);

        using var created = await api.PostAsync(
            $"/v1.0/{project}/instances",
            new StringContent("{\"instance\":{\"name\":\"measured\",\"flavorRef\":\"2\",\"datastore\":{\"type\":\"redis\"}}}", Encoding.UTF8, "application/json")).Within(Timeouts.Short);
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var id = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["instance"]!["id"]!.GetValue<string>();
        await Timeouts.EventuallyAsync(() => StatusAsync(api, project, id), s => s is "ACTIVE" or "ERROR", Timeouts.Settle, "the instance to become ACTIVE");
        Assert.Equal("ACTIVE", await StatusAsync(api, project, id));

        // Known calls to one route, two of them 404s: the route's counters go up by exactly these.
        var before = await ScrapeAsync(server);
        for (var i = 0; i < 3; i++)
        {
            await StatusAsync(api, project, id);
        }

        for (var i = 0; i < 2; i++)
        {
            using var missing = await api.GetAsync($"/v1.0/{project}/instances/no-such-instance").Within(Timeouts.Short);
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        // The exporter may answer from its cache for a moment: wait until the calls show, then they must show exactly.
        var after = await Timeouts.EventuallyAsync(
            () => ScrapeAsync(server),
            p => RequestCount(p, "404") - RequestCount(before, "404") >= 2 && RequestCount(p, "200") - RequestCount(before, "200") >= 3,
            Timeouts.Settle,
            "the instance route's requests to be counted");
        Assert.Equal(2, RequestCount(after, "404") - RequestCount(before, "404"));
        Assert.Equal(3, RequestCount(after, "200") - RequestCount(before, "200"));

        // A latency histogram per route: buckets up to +Inf, whose count is the request count.
        var buckets = after.Samples("http_server_request_duration_seconds_bucket", ("http_route", InstanceRoute), ("http_response_status_code", "404")).ToList();
        Assert.True(buckets.Count > 5, $"expected latency buckets for {InstanceRoute}, got {buckets.Count}");
        Assert.Equal(RequestCount(after, "404"), buckets.Single(b => b.Labels["le"] == "+Inf").Value);

        // Routes are templates: no id, project or name of a request is a label value.
        var routes = after.All.Where(s => s.Labels.ContainsKey("http_route")).Select(s => s.Labels["http_route"]).Distinct().ToList();
        Assert.Contains(InstanceRoute, routes);
        Assert.All(routes, r =>
        {
            Assert.DoesNotContain(id, r, StringComparison.Ordinal);
            Assert.DoesNotContain(project, r, StringComparison.Ordinal);
            Assert.DoesNotContain("no-such-instance", r, StringComparison.Ordinal);
        });

        // The create ran once, to the end; the store was called and timed.
        Assert.Equal(1, after.Value("hoard_task_duration_seconds_count", ("task_kind", "instance.create"), ("task_outcome", "done")));
        Assert.True(after.Value("hoard_store_call_duration_seconds_count", ("store_call", "instances.GetAsync")) > 0, "store calls are timed");
        Assert.True(after.Samples("hoard_store_call_duration_seconds_bucket").Any(), "store latency buckets");
        Assert.Equal(0, after.Value("hoard_tasks_unfinished", ("task_state", "pending")));

        // The instance gauge counts from the store at most every few seconds.
        var counted = await Timeouts.EventuallyAsync(
            () => ScrapeAsync(server),
            p => p.Samples("hoard_instances", ("datastore", "redis"), ("status", "ACTIVE")).Any(),
            Timeouts.Settle,
            "the instance count to include the new instance");
        Assert.Equal(1, counted.Value("hoard_instances", ("datastore", "redis"), ("status", "ACTIVE")));
        Assert.Equal(1, counted.Samples("hoard_instances").Sum(s => s.Value));

        // The live guest heartbeats every second (the fixture's interval): its silence stays far below the expiry.
        var age = counted.Value("hoard_guest_heartbeat_age_seconds", ("instance_id", id));
        Assert.InRange(age, 0, 10);

        // The page holds no secret.
        Assert.DoesNotContain(token, counted.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(server.AdminPassword, counted.Text, StringComparison.Ordinal);

        // A guest that falls silent shows: its age grows past a few heartbeats, which is what an operator alerts on.
        var agent = server.AgentPid() ?? throw new InvalidOperationException("no agent runs");
        ProcessRunner.Kill(agent, 19); // SIGSTOP: alive but silent
        try
        {
            await Timeouts.EventuallyAsync(
                () => ScrapeAsync(server),
                p => p.Value("hoard_guest_heartbeat_age_seconds", ("instance_id", id)) > 3,
                Timeouts.Settle,
                "the silent guest's heartbeat age to grow");
        }
        finally
        {
            ProcessRunner.Kill(agent, 18); // SIGCONT
        }

        // Deleted, the instance leaves the gauges: its status series drops to 0 rather than vanishing, its heartbeat
        // series goes, and the delete task is observed once.
        using (var deleted = await api.DeleteAsync($"/v1.0/{project}/instances/{id}").Within(Timeouts.Short))
        {
            Assert.Equal(HttpStatusCode.Accepted, deleted.StatusCode);
        }

        var gone = await Timeouts.EventuallyAsync(
            () => ScrapeAsync(server),
            p => p.Samples("hoard_instances").Sum(s => s.Value) == 0 && p.Samples("hoard_task_duration_seconds_count", ("task_kind", "instance.delete")).Any(),
            Timeouts.Settle,
            "the deleted instance to leave the count");
        Assert.Equal(0, gone.Value("hoard_instances", ("datastore", "redis"), ("status", "ACTIVE")));
        Assert.Equal(1, gone.Value("hoard_task_duration_seconds_count", ("task_kind", "instance.delete"), ("task_outcome", "done")));
        Assert.Empty(gone.Samples("hoard_guest_heartbeat_age_seconds", ("instance_id", id)));
    }

    [RequiresBinaryFact("redis-server")]
    public async Task With_the_management_store_frozen_a_scrape_still_answers_and_shows_the_store_failing()
    {
        var redis = new RedisTestServer();
        await redis.InitializeAsync();
        try
        {
            await using var server = await HoardServer.StartAsync(new Dictionary<string, string>
            {
                ["HOARD_DATABASE_CONNECTION"] = redis.ConnectionString(await redis.FreshDatabaseAsync()).AbsoluteUri,
            });
            await Timeouts.EventuallyAsync(() => ScrapeAsync(server), p => p.Samples("hoard_instances_count_age_seconds").Any(), Timeouts.Settle, "a first instance count");

            ProcessRunner.Kill(redis.Pid, 19); // SIGSTOP: the store accepts connections and never answers
            try
            {
                // Every scrape answers at once (ScrapeAsync's deadline is short) while the count behind the gauge goes
                // stale and the store's failures show as store calls with an error type.
                var page = await Timeouts.EventuallyAsync(
                    () => ScrapeAsync(server),
                    p => p.Value("hoard_instances_count_age_seconds") > 2 * 5
                        && p.Samples("hoard_store_call_duration_seconds_count").Any(s => s.Labels.ContainsKey("error_type")),
                    Timeouts.Settle,
                    "the stale count and the failing store calls to show");
                Assert.DoesNotContain(redis.Password, page.Text, StringComparison.Ordinal);
                Assert.DoesNotContain(Uri.EscapeDataString(redis.Password), page.Text, StringComparison.Ordinal);
            }
            finally
            {
                ProcessRunner.Kill(redis.Pid, 18); // SIGCONT
            }

            // Back, the next count is fresh again.
            await Timeouts.EventuallyAsync(() => ScrapeAsync(server), p => p.Value("hoard_instances_count_age_seconds") < 5, Timeouts.Settle, "a fresh count once the store is back");
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }

    [RequiresBinaryFact("redis-server")]
    public async Task By_default_the_page_names_no_instance()
    {
        // metrics_instance_labels is off by default: a live instance is counted, but no series names it.
        await using var server = await HoardServer.StartAsync();
        var (token, project) = await server.LoginAsync("admin", server.AdminPassword, "admin");
        using var api = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = Timeouts.Short };
        api.DefaultRequestHeaders.Add("X-Auth-Token", token);
        using var created = await api.PostAsync(
            $"/v1.0/{project}/instances",
            new StringContent("{\"instance\":{\"name\":\"unnamed\",\"flavorRef\":\"2\",\"datastore\":{\"type\":\"redis\"}}}", Encoding.UTF8, "application/json")).Within(Timeouts.Short);
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var id = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["instance"]!["id"]!.GetValue<string>();
        await Timeouts.EventuallyAsync(() => StatusAsync(api, project, id), s => s is "ACTIVE" or "ERROR", Timeouts.Settle, "the instance to become ACTIVE");

        var page = await Timeouts.EventuallyAsync(
            () => ScrapeAsync(server),
            p => p.Samples("hoard_instances", ("datastore", "redis"), ("status", "ACTIVE")).Any(),
            Timeouts.Settle,
            "the instance count to include the new instance");
        Assert.Empty(page.Samples("hoard_guest_heartbeat_age_seconds"));
        Assert.DoesNotContain(id, page.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_metrics_disabled_metrics_is_a_trove_404()
    {
        await using var server = await HoardServer.StartAsync(new Dictionary<string, string> { ["HOARD_DEFAULT_METRICS_ENABLED"] = "false" });
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = Timeouts.Short };
        using var response = await http.GetAsync("/metrics").Within(Timeouts.Short);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(404, body["itemNotFound"]!["code"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_scrape_needs_no_token_is_never_traced_and_shows_trace_points_lost_to_a_dead_backend()
    {
        // A trace backend on a port nothing listens on: every point written is lost, and counted.
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var deadPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using var server = await HoardServer.StartAsync(null, ["--profiler-connection-string", $"redis://127.0.0.1:{deadPort}/0", "--profiler-hmac-keys", HmacKey]);
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = Timeouts.Short };

        // A signed request is traced (it names its trace); a signed scrape is served but never traced.
        using (var traced = await SignedGetAsync(http, "/"))
        {
            Assert.True(traced.Headers.Contains("X-Trace-ID"), "a rightly signed request is traced");
        }

        using (var scrape = await SignedGetAsync(http, "/metrics"))
        {
            Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
            Assert.False(scrape.Headers.Contains("X-Trace-ID"), "a scrape must not be traced");
            Assert.StartsWith("text/plain", scrape.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        }

        var page = await Timeouts.EventuallyAsync(
            () => ScrapeAsync(server),
            p => p.Samples("hoard_profiler_dropped_total").Sum(s => s.Value) > 0,
            Timeouts.Settle,
            "the lost trace points to be counted");
        Assert.Equal(0, page.Samples("hoard_profiler_written_total").Sum(s => s.Value));
        Assert.DoesNotContain(HmacKey, page.Text, StringComparison.Ordinal);
    }

    private static double RequestCount(PrometheusPage page, string status) =>
        page.Samples("http_server_request_duration_seconds_count", ("http_route", InstanceRoute), ("http_request_method", "GET"), ("http_response_status_code", status)).Sum(s => s.Value);

    private static async Task<string?> StatusAsync(HttpClient api, string project, string id)
    {
        using var response = await api.GetAsync($"/v1.0/{project}/instances/{id}").Within(Timeouts.Short);
        return response.IsSuccessStatusCode
            ? JsonNode.Parse(await response.Content.ReadAsStringAsync())!["instance"]!["status"]!.GetValue<string>()
            : null;
    }

    /// <summary>GET /metrics as Prometheus does: no token, no Accept header beyond the default.</summary>
    private static async Task<PrometheusPage> ScrapeAsync(HoardServer server)
    {
        using var http = new HttpClient { Timeout = Timeouts.Short };
        using var response = await http.GetAsync($"{server.BaseUrl}/metrics").Within(Timeouts.Short);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        return PrometheusPage.Parse(text);
    }

    /// <summary>A GET signed as OSProfiler signs (base64url JSON, HMAC-SHA1 hex) with the configured key.</summary>
    private static async Task<HttpResponseMessage> SignedGetAsync(HttpClient http, string path)
    {
        var baseId = Guid.NewGuid().ToString();
        var info = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{{\"base_id\": \"{baseId}\", \"parent_id\": \"{baseId}\"}}")).Replace('+', '-').Replace('/', '_');
#pragma warning disable CA5350 // OSProfiler's header format is HMAC-SHA1
        var hmac = Convert.ToHexStringLower(HMACSHA1.HashData(Encoding.UTF8.GetBytes(HmacKey), Encoding.UTF8.GetBytes(info)));
#pragma warning restore CA5350
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Trace-Info", info);
        request.Headers.Add("X-Trace-HMAC", hmac);
        return await http.SendAsync(request).Within(Timeouts.Short);
    }
}

/// <summary>One sample line of the Prometheus text format: name, labels, value.</summary>
internal sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>The Prometheus text exposition format (0.0.4), parsed strictly enough that a malformed page fails the test.</summary>
internal sealed class PrometheusPage
{
    private PrometheusPage(string text, List<PrometheusSample> samples)
    {
        Text = text;
        All = samples;
    }

    public string Text { get; }

    public IReadOnlyList<PrometheusSample> All { get; }

    public IEnumerable<PrometheusSample> Samples(string name, params (string Key, string Value)[] labels) =>
        All.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value));

    /// <summary>The one sample of <paramref name="name"/> with <paramref name="labels"/>; fails when there is none or several.</summary>
    public double Value(string name, params (string Key, string Value)[] labels)
    {
        var matches = Samples(name, labels).ToList();
        Assert.True(matches.Count == 1, $"expected one {name} with {string.Join(',', labels)}, found {matches.Count}");
        return matches[0].Value;
    }

    public static PrometheusPage Parse(string text)
    {
        var samples = new List<PrometheusSample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var i = 0;
            while (i < line.Length && line[i] != '{' && line[i] != ' ')
            {
                i++;
            }

            var name = line[..i];
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (i < line.Length && line[i] == '{')
            {
                i++;
                while (line[i] != '}')
                {
                    var eq = line.IndexOf('=', i);
                    var key = line[i..eq];
                    Assert.True(line[eq + 1] == '"', $"unquoted label value in: {line}");
                    var value = new StringBuilder();
                    var j = eq + 2;
                    for (; line[j] != '"'; j++)
                    {
                        if (line[j] == '\\')
                        {
                            j++;
                            value.Append(line[j] == 'n' ? '\n' : line[j]);
                        }
                        else
                        {
                            value.Append(line[j]);
                        }
                    }

                    labels[key] = value.ToString();
                    i = j + 1;
                    if (line[i] == ',')
                    {
                        i++;
                    }
                }

                i++;
            }

            var rest = line[i..].Trim().Split(' ');
            var number = rest[0] switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                var v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
            samples.Add(new PrometheusSample(name, labels, number));
        }

        return new PrometheusPage(text, samples);
    }
}
