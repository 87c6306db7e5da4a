using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Hoard.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Hoard.Cli.Tests;

/// <summary>
/// Every route that reads a body, fuzzed against one real <c>hoard serve</c>: wrong types, missing and extra keys, nulls,
/// huge strings and numbers, deep nesting, an over-size body, invalid UTF-8, a non-JSON content type, and path
/// traversal, SQL, NUL bytes and very long segments in names and ids. No case may answer 5xx or hang, every 4xx carries
/// the error shape (Trove's <c>{"badRequest":{"code":400,"message":...}}</c>, Keystone's <c>{"error":{...}}</c> under
/// /identity), the server stays up, and a refused request changes nothing.
/// <para>
/// The routes come from the source: <see cref="Every_body_route_in_the_source_has_fuzz_cases"/> reads every
/// MapPost / MapPut / MapPatch (and MapMethods with one of them) of src/Hoard.Api and fails when one has no entry in
/// <see cref="Routes"/> (or an entry names a route that is gone).
/// </para>
/// Each template is refused for at least two independent reasons where the route has them (an unknown flavor and an
/// unknown version, say), so no single mutation turns it into a request that is carried out. A case that is accepted
/// anyway must have been harmless: the state snapshot taken after each route must not move, except where the route
/// says how to undo it (a project that a hostile but legal name created is read back verbatim, then deleted).
/// </summary>
public sealed partial class HostileInputTests(HostileInputTests.Target target, ITestOutputHelper output) : IClassFixture<HostileInputTests.Target>
{
    private const string Sql = "'; DROP TABLE instances; --";
    private const string Traversal = "../../etc/passwd";
    private const string Nul = "a\u0000b";
    private const string NoSuchUuid = "00000000-0000-0000-0000-000000000000";
    private static readonly string HugeString = new('x', 1_000_000);

    /// <summary>The deadline for one case: far above a normal answer (milliseconds), far below a hang.</summary>
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(10);

    private HoardServer Server => target.Server;

    private HttpClient Http => target.Http;

    private string Project => target.Project;

    private string Instance => target.Instance;

    private string Schedule => target.Schedule;

    private sealed record BodyRoute(
        string Source,
        string Method,
        Func<HostileInputTests, string> Path,
        string Template,
        IReadOnlyList<string> PathParameters,
        Func<JsonObject, string>? UndoAccepted = null,
        bool ReadsBody = true);

    /// <summary>
    /// Every body route, keyed "File.cs METHOD pattern" as written in the source (group prefixes in comments). Paths
    /// point at a real instance or schedule only where the route looks its target up before it reads the body.
    /// </summary>
    private static readonly BodyRoute[] Routes =
    [
        new("IdentityApi.cs POST /auth/tokens", "POST", _ => "/identity/v3/auth/tokens",
            """{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"fuzz-nobody","domain":{"name":"Default"},"password":"fz-wrong"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}""", []),
        // A project's only refusal is a taken name, so a case that names another project creates it: that one is read back and deleted.
        new("IdentityApi.cs POST /projects", "POST", _ => "/identity/v3/projects",
            """{"project":{"name":"admin","description":"fz","enabled":true,"domain_id":"default"}}""", [],
            created => $"/identity/v3/projects/{created["project"]!["id"]!.GetValue<string>()}"),
        new("IdentityApi.cs POST /users", "POST", _ => "/identity/v3/users",
            """{"user":{"name":"admin","password":"fz-pass","default_project_id":"fuzz-no-such-project","enabled":true}}""", []),
        new("IdentityApi.cs PUT /projects/{project}/users/{user}/roles/{role}", "PUT", _ => "/identity/v3/projects/fuzz-no-such-project/users/fuzz-no-such-user/roles/fuzz-no-such-role",
            """{"role":{"name":"admin"}}""", ["fuzz-no-such-project", "fuzz-no-such-user", "fuzz-no-such-role"], ReadsBody: false),
        new("InstancesApi.cs POST /instances", "POST", t => $"/v1.0/{t.Project}/instances",
            $$$$"""{"instance":{"name":"fz","flavorRef":"fuzz-no-such-flavor","volume":{"size":1},"datastore":{"type":"redis","version":"fuzz-none"},"databases":[{"name":"db1"}],"users":[{"name":"u1","password":"p1"}],"nics":[{"net-id":"n"}],"configuration":"{{{{NoSuchUuid}}}}","restorePoint":{"backupRef":"{{{{NoSuchUuid}}}}"}}}""", []),
        new("InstancesApi.cs PUT /instances/{id}", "PUT", t => $"/v1.0/{t.Project}/instances/fuzz-no-such-instance",
            $$$"""{"instance":{"name":"fz","configuration":"{{{NoSuchUuid}}}","replica_of":"{{{NoSuchUuid}}}"}}""", ["fuzz-no-such-instance"]),
        new("InstancesApi.cs PATCH /instances/{id}", "PATCH", t => $"/v1.0/{t.Project}/instances/fuzz-no-such-instance",
            $$$"""{"instance":{"name":"fz","configuration":"{{{NoSuchUuid}}}","replica_of":"{{{NoSuchUuid}}}"}}""", ["fuzz-no-such-instance"]),
        new("InstancesApi.cs POST /instances/{id}/action", "POST", t => $"/v1.0/{t.Project}/instances/fuzz-no-such-instance/action",
            """{"resize":{"flavorRef":"fuzz-no-such-flavor"}}""", ["fuzz-no-such-instance"]),
        new("InstancesApi.cs POST /instances/{id}/root", "POST", t => $"/v1.0/{t.Project}/instances/fuzz-no-such-instance/root",
            """{"password":"fz-pass"}""", ["fuzz-no-such-instance"]),
        new("LogsApi.cs POST /instances/{id}/log", "POST", t => $"/v1.0/{t.Project}/instances/{t.Instance}/log",
            """{"name":"fuzz-no-such-log","enable":1,"disable":1}""", ["{instance}"]),
        new("SchemaApi.cs POST /databases", "POST", t => $"/v1.0/{t.Project}/instances/fuzz-no-such-instance/databases", // group /instances/{id}
            """{"databases":[{"name":"fz","character_set":"utf8","collate":"utf8_general_ci"}]}""", ["fuzz-no-such-instance"]),
        new("SchemaApi.cs POST /users", "POST", t => $"/v1.0/{t.Project}/instances/fuzz-no-such-instance/users",
            """{"users":[{"name":"fz","password":"fz-pass","host":"%","databases":[{"name":"db1"}]}]}""", ["fuzz-no-such-instance"]),
        new("SchemaApi.cs PUT /users", "PUT", t => $"/v1.0/{t.Project}/instances/fuzz-no-such-instance/users",
            """{"users":[{"name":"fz","password":"fz-pass"}]}""", ["fuzz-no-such-instance"]),
        new("SchemaApi.cs PUT /users/{user}", "PUT", t => $"/v1.0/{t.Project}/instances/fuzz-no-such-instance/users/fz",
            """{"user":{"name":"fz2","password":"fz-pass","host":"%"}}""", ["fuzz-no-such-instance", "fz"]),
        new("SchemaApi.cs PUT /users/{user}/databases", "PUT", t => $"/v1.0/{t.Project}/instances/fuzz-no-such-instance/users/fz/databases",
            """{"databases":[{"name":"db1"}]}""", ["fuzz-no-such-instance", "fz"]),
        new("ClustersApi.cs POST /clusters", "POST", t => $"/v1.0/{t.Project}/clusters",
            $$$"""{"cluster":{"name":"fz","datastore":{"type":"redis","version":"fuzz-none"},"instances":[{"flavorRef":"fuzz-no-such-flavor","volume":{"size":1}}],"configuration":"{{{NoSuchUuid}}}"}}""", []),
        new("ClustersApi.cs POST /clusters/{id}", "POST", t => $"/v1.0/{t.Project}/clusters/fuzz-no-such-cluster",
            """{"grow":[{"flavorRef":"fuzz-no-such-flavor","volume":{"size":1},"type":"member","name":"m1"}]}""", ["fuzz-no-such-cluster"]),
        new("ClustersApi.cs POST /clusters/{id}/root", "POST", t => $"/v1.0/{t.Project}/clusters/fuzz-no-such-cluster/root",
            """{"password":"fz-pass"}""", ["fuzz-no-such-cluster"]),
        new("ConfigurationsApi.cs POST /configurations", "POST", t => $"/v1.0/{t.Project}/configurations",
            """{"configuration":{"name":"fz","description":"fz","values":{"maxmemory-policy":"fuzz-bad-value"},"datastore":{"type":"redis","version":"fuzz-none"}}}""", []),
        new("ConfigurationsApi.cs PUT /configurations/{id}", "PUT", t => $"/v1.0/{t.Project}/configurations/{NoSuchUuid}",
            """{"configuration":{"name":"fz","description":"fz","values":{"fuzz-no-such-parameter":"1"}}}""", [NoSuchUuid]),
        new("ConfigurationsApi.cs PATCH /configurations/{id}", "PATCH", t => $"/v1.0/{t.Project}/configurations/{NoSuchUuid}",
            """{"configuration":{"name":"fz","description":"fz","values":{"fuzz-no-such-parameter":"1"}}}""", [NoSuchUuid]),
        new("BackupsApi.cs POST /backups", "POST", t => $"/v1.0/{t.Project}/backups",
            $$$"""{"backup":{"name":"fz","description":"fz","instance":"fuzz-no-such-instance","parent_id":"{{{NoSuchUuid}}}","incremental":1}}""", []),
        new("BackupSchedulesApi.cs POST /backup_schedules", "POST", t => $"/v1.0/{t.Project}/backup_schedules",
            $$$"""{"backup_schedule":{"instance":"{{{NoSuchUuid}}}","name":"fz","description":"fz","interval_minutes":60,"retention":0,"enabled":false}}""", []),
        new("BackupSchedulesApi.cs PUT /backup_schedules/{id}", "PUT", t => $"/v1.0/{t.Project}/backup_schedules/{t.Schedule}",
            """{"backup_schedule":{"name":"fz","pattern":"0 0 * * *","interval_minutes":60,"retention":0}}""", ["{schedule}"]),
        new("MgmtApi.cs POST /pools", "POST", t => $"/v1.0/{t.Project}/mgmt/pools", // group /mgmt
            """{"pool":{"name":"default","uri":"local://","weight":1,"flavor":"fuzz-no-such-flavor","options":{"capacity":1}}}""", []),
        new("MgmtApi.cs PATCH /pools/{name}", "PATCH", t => $"/v1.0/{t.Project}/mgmt/pools/fuzz-no-such-pool",
            """{"pool":{"uri":"local://","weight":1,"flavor":"fuzz-no-such-flavor","options":{"capacity":1}}}""", ["fuzz-no-such-pool"]),
        new("MgmtApi.cs POST /flavors", "POST", t => $"/v1.0/{t.Project}/mgmt/flavors",
            """{"flavor":{"id":"1","name":"fz","ram":1,"vcpus":1,"disk":1,"capabilities":{},"project":"fuzz-no-such-project"}}""", []),
        new("MgmtApi.cs PATCH /flavors/{id}", "PATCH", t => $"/v1.0/{t.Project}/mgmt/flavors/fuzz-no-such-flavor",
            """{"flavor":{"name":"fz","ram":1,"vcpus":1,"disk":1}}""", ["fuzz-no-such-flavor"]),
        new("QuotasApi.cs PUT /mgmt/quotas/{project}", "PUT", t => $"/v1.0/{t.Project}/mgmt/quotas/fuzz-no-such-project",
            """{"quotas":{"instances":5,"volumes":5,"backups":5,"clusters":5}}""", ["fuzz-no-such-project"]),
    ];

    /// <summary>Body-method routes that read no body, and why they need no fuzz cases.</summary>
    private static readonly Dictionary<string, string> Unread = new(StringComparer.Ordinal)
    {
        ["ObjectStoreApi.cs PUT,POST,DELETE,COPY /{**rest}"] = "the read-only object store answers every write with Swift's 405 before any body is read",
    };

    /// <summary>One server for the class, with the targets some routes look up before they read the body: a Redis instance, a schedule.</summary>
    public sealed class Target : IAsyncLifetime
    {
        public HoardServer Server { get; private set; } = null!;

        public HttpClient Http { get; private set; } = null!;

        public string Project { get; private set; } = null!;

        public string Instance { get; private set; } = null!;

        public string Schedule { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Server = await HoardServer.StartAsync();
            var (token, project) = await Server.LoginAsync("admin", Server.AdminPassword, "admin");
            Project = project;
            Http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl), Timeout = CaseTimeout };
            Http.DefaultRequestHeaders.Add("X-Auth-Token", token);

            var created = await SendAsync(HttpMethod.Post, $"/v1.0/{Project}/instances", """{"instance":{"name":"target","flavorRef":"1","datastore":{"type":"redis"}}}""");
            Assert.True(created.Status == HttpStatusCode.OK, created.Text);
            Instance = JsonNode.Parse(created.Text)!["instance"]!["id"]!.GetValue<string>();
            await Timeouts.EventuallyAsync(
                () => SendAsync(HttpMethod.Get, $"/v1.0/{Project}/instances/{Instance}"),
                r => r.Text.Contains("\"ACTIVE\"", StringComparison.Ordinal), Timeouts.Settle, "the target instance ACTIVE");
            var schedule = await SendAsync(HttpMethod.Post, $"/v1.0/{Project}/backup_schedules",
                $$$"""{"backup_schedule":{"instance":"{{{Instance}}}","name":"target","interval_minutes":10080,"retention":1,"enabled":false}}""");
            Assert.True(schedule.Status == HttpStatusCode.OK, schedule.Text);
            Schedule = JsonNode.Parse(schedule.Text)!["backup_schedule"]!["id"]!.GetValue<string>();
        }

        public async Task DisposeAsync()
        {
            Http.Dispose();
            await Server.DisposeAsync();
        }

        private async Task<(HttpStatusCode Status, string Text)> SendAsync(HttpMethod method, string path, string? json = null)
        {
            using var request = new HttpRequestMessage(method, path);
            if (json is not null)
            {
                request.Content = new StringContent(json, Encoding.UTF8, "application/json");
            }

            using var response = await Http.SendAsync(request).Within(Timeouts.Short);
            return (response.StatusCode, await response.Content.ReadAsStringAsync().Within(Timeouts.Short));
        }
    }

    [Fact]
    public void Every_body_route_in_the_source_has_fuzz_cases()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Hoard.slnx")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var api = Path.Combine(root!.FullName, "src", "Hoard.Api");
        var found = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(api, "*.cs", SearchOption.AllDirectories))
        {
            var text = File.ReadAllText(file);
            foreach (Match m in MapWithBody().Matches(text))
            {
                found.Add($"{Path.GetFileName(file)} {m.Groups["verb"].Value.ToUpperInvariant()} {m.Groups["pattern"].Value}");
            }

            foreach (Match m in MapMethods().Matches(text))
            {
                var verbs = m.Groups["verbs"].Value.Replace("\"", string.Empty, StringComparison.Ordinal).Replace(" ", string.Empty, StringComparison.Ordinal);
                if (verbs.Split(',').Any(v => v is "POST" or "PUT" or "PATCH"))
                {
                    found.Add($"{Path.GetFileName(file)} {verbs} {m.Groups["pattern"].Value}");
                }
            }
        }

        var covered = new SortedSet<string>(Routes.Select(r => r.Source).Concat(Unread.Keys), StringComparer.Ordinal);
        Assert.True(found.Count >= 25, $"only {found.Count} body routes found under {api}: is the pattern still right?");
        Assert.True(found.SetEquals(covered), $"body routes without fuzz cases: [{string.Join("; ", found.Except(covered))}]; fuzz entries for routes that are gone: [{string.Join("; ", covered.Except(found))}]");
    }

    [Fact]
    public async Task Hostile_bodies_and_paths_get_4xx_with_the_error_shape_never_5xx_and_change_nothing()
    {
        var total = Stopwatch.StartNew();
        var statuses = new SortedDictionary<int, int>();
        var failures = new List<string>();
        var accepted = new List<string>();
        var cases = 0;
        var before = await SnapshotAsync();
        foreach (var route in Routes)
        {
            var routeStatuses = new SortedDictionary<int, int>();
            var keys = Walk(JsonNode.Parse(route.Template), string.Empty).Select(n => n.Path.Split('/')[^1]).Where(k => k.Length > 1 && !char.IsDigit(k[0])).ToHashSet(StringComparer.Ordinal);
            var judged = false;
            foreach (var c in CasesFor(route))
            {
                cases++;
                var (status, text, elapsed) = await RunAsync(route.Method, c.Path, c.Body, c.ContentType, c.ExpectContinue, c.Chunked);
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
                routeStatuses[status] = routeStatuses.GetValueOrDefault(status) + 1;
                judged |= status == 400 && keys.Any(k => text.Contains(k, StringComparison.Ordinal));
                var problem = Judge(route, c, status, text);
                if (problem is null && status is >= 200 and < 300)
                {
                    // Taken, so it must have been harmless: undone where the route says how, and the snapshot below must not move.
                    problem = route.UndoAccepted is null ? null : await UndoAsync(route, c, text);
                    accepted.Add($"{route.Source} [{c.Label}] {status}");
                }

                if (problem is not null)
                {
                    failures.Add($"{route.Source} [{c.Label}] {problem} ({elapsed.TotalMilliseconds:0} ms)");
                }
            }

            // A route whose every case died at a lookup would fuzz nothing: some 400 must name a key of its body.
            output.WriteLine($"{route.Source}: {string.Join(", ", routeStatuses.Select(x => $"{x.Key}×{x.Value}"))}");
            if (route.ReadsBody && !judged)
            {
                failures.Add($"{route.Source}: no 400 named any of its keys ({string.Join(", ", keys)}); is the body judged at all?");
            }

            // After each route: still alive, still answering, and nothing changed.
            if (!Directory.Exists($"/proc/{Server.ServePid}"))
            {
                var log = Server.ReadLog();
                Assert.Fail($"hoard serve died during {route.Source}:\n{log[^Math.Min(4000, log.Length)..]}");
            }

            var alive = await RunAsync("GET", "/", null, null, false);
            Assert.True(alive.Status == 200, $"GET / answered {alive.Status} after {route.Source}");
            var after = await SnapshotAsync();
            if (after != before)
            {
                failures.Add($"{route.Source}: the state changed:\nbefore {before}\nafter  {after}");
                before = after;
            }
        }

        var summary = $"hostile inputs: {Routes.Length} body routes, {cases} cases, statuses {string.Join(", ", statuses.Select(s => $"{s.Key}×{s.Value}"))}, " +
            $"{statuses.Where(s => s.Key >= 500).Sum(s => s.Value)} 5xx, {accepted.Count} accepted (no-ops, or read back and undone), {total.Elapsed.TotalSeconds:0.0} s";
        output.WriteLine(summary);
        const string suite = "hostile inputs";
        Figures.Record(suite, "body routes fuzzed", Routes.Length);
        Figures.Record(suite, "cases sent", cases);
        Figures.Record(suite, "answers by status", string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key} × {s.Value:N0}")));
        Figures.Record(suite, "5xx answers", statuses.Where(s => s.Key >= 500).Sum(s => s.Value));
        Figures.Record(suite, "accepted (no-ops, or read back and undone)", accepted.Count);
        Figures.Record(suite, "failures (slow, 5xx, wrong shape, state changed)", failures.Count);
        Figures.Record(suite, "seconds for all cases", Math.Round(total.Elapsed.TotalSeconds, 1));
        foreach (var a in accepted)
        {
            output.WriteLine("accepted: " + a);
        }

        foreach (var f in failures)
        {
            output.WriteLine("FAILED: " + Shorten(f));
        }

        if (failures.Count > 0)
        {
            // The server's own account of each 5xx: the exception types and where they came from.
            foreach (var line in Server.ReadLog().Split('\n').Where(l => l.Contains("Exception", StringComparison.Ordinal) || l.TrimStart().StartsWith("at Hoard.", StringComparison.Ordinal)).Distinct().Take(80))
            {
                output.WriteLine("server: " + Shorten(line));
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} failures:\n{string.Join("\n", failures.Take(60))}\n{summary}");
        Assert.True(cases > Routes.Length * 40, summary);
    }

    /// <summary>
    /// Actions Hoard does not carry out yet answer 501 (Trove's own status for an operation a datastore does not support),
    /// but only for a well-formed body: a malformed one is the caller's 400, judged before the instance is looked up.
    /// </summary>
    [Fact]
    public async Task Malformed_bodies_of_actions_not_carried_out_yet_are_400_on_a_real_instance()
    {
        var path = $"/v1.0/{Project}/instances/{Instance}/action";
        var before = await SnapshotAsync();
        foreach (var (body, named) in new[]
        {
            ("""{"resize":7777}""", "resize 7777 is not of type 'object'"),
            ("""{"resize":{}}""", "exactly one of 'flavorRef' and 'volume'"),
            ("""{"resize":{"flavorRef":"2","volume":{"size":1}}}""", "exactly one of 'flavorRef' and 'volume'"),
            ("""{"resize":{"flavorRef":true}}""", "resize['flavorRef'] True is not valid"),
            ("""{"resize":{"volume":{"size":1e309}}}""", "resize['volume']['size'] 1e309 is not valid"),
            ("""{"resize":{"volume":{"size":9223372036854775808}}}""", "resize['volume']['size'] 9223372036854775808 is not valid"),
            ("""{"resize":{"volume":"x"}}""", "resize['volume'] 'x' is not of type 'object'"),
            ("""{"promote_to_replica_source":null}""", "promote_to_replica_source None is not of type 'object'"),
            ("""{"eject_replica_source":[]}""", "eject_replica_source [] is not of type 'object'"),
            ("""{"reset_status":"x"}""", "reset_status 'x' is not of type 'object'"),
        })
        {
            var (status, text, _) = await RunAsync("POST", path, Encoding.UTF8.GetBytes(body), "application/json", false);
            var message = status == 400 ? JsonNode.Parse(text)?["badRequest"]?["message"]?.GetValue<string>() : null;
            Assert.True(message is not null && message.Contains(named, StringComparison.Ordinal), $"{body}: {status} {text}");
        }

        var (wellFormed, answer, _) = await RunAsync("POST", path, Encoding.UTF8.GetBytes("""{"resize":{"flavorRef":"2"}}"""), "application/json", false);
        Assert.True(wellFormed == 501 && answer.Contains("notImplemented", StringComparison.Ordinal), $"a well-formed resize: {wellFormed} {answer}");
        Assert.Equal(before, await SnapshotAsync());
    }

    /// <summary>A hostile name that is legal (Trove asks only for a letter or digit) is stored and shown verbatim, never interpreted.</summary>
    [Fact]
    public async Task Hostile_but_legal_instance_names_are_stored_and_shown_verbatim()
    {
        var path = $"/v1.0/{Project}/instances/{Instance}";
        try
        {
            foreach (var name in new[] { Sql, Traversal, Nul, "fz-\u202e\ud83d\ude00-\u00e9", "x\\\"'%_*?[]{}$`;|&<>" })
            {
                var body = new JsonObject { ["instance"] = new JsonObject { ["name"] = name } }.ToJsonString();
                var (status, text, _) = await RunAsync("PUT", path, Encoding.UTF8.GetBytes(body), "application/json", false);
                Assert.True(status == 202, $"rename to {name}: {status} {text}");
                var (shown, view, _) = await RunAsync("GET", path, null, null, false);
                Assert.True(shown == 200, view);
                Assert.Equal(name, JsonNode.Parse(view)!["instance"]!["name"]!.GetValue<string>());
                var (listed, list, _) = await RunAsync("GET", $"/v1.0/{Project}/instances", null, null, false);
                Assert.True(listed == 200, list);
                Assert.Contains(JsonNode.Parse(list)!["instances"]!.AsArray(), i => i!["name"]!.GetValue<string>() == name);
            }
        }
        finally
        {
            await RunAsync("PUT", path, Encoding.UTF8.GetBytes("""{"instance":{"name":"target"}}"""), "application/json", false);
        }
    }

    private sealed record Case(string Label, string Path, byte[]? Body, string? ContentType, bool ExpectContinue = false, bool Depth = false, bool Oversize = false, bool Chunked = false);

    private IEnumerable<Case> CasesFor(BodyRoute route)
    {
        var path = route.Path(this);
        var template = JsonNode.Parse(route.Template)!.AsObject();
        const string json = "application/json";
        Case Body(string label, string body) => new(label, path, Encoding.UTF8.GetBytes(body), json);

        // Whole bodies.
        yield return new Case("no body", path, null, null);
        yield return Body("empty body", string.Empty);
        foreach (var whole in new[] { "null", "{}", "[]", "\"x\"", "7", "true", "{\"", "not json", "{\"a\":1,}", "{'a':1}" })
        {
            yield return Body($"body {whole}", whole);
        }

        var wrapper = template.First().Key;
        yield return new Case("depth 33", path, Encoding.UTF8.GetBytes(Nest(wrapper, 33)), json, Depth: true);
        yield return new Case("depth 5000", path, Encoding.UTF8.GetBytes(Nest(wrapper, 5000)), json, Depth: true);
        yield return new Case("2 MB body", path, Encoding.UTF8.GetBytes($"{{\"{wrapper}\":\"{new string('x', 2 * 1024 * 1024)}\"}}"), json, ExpectContinue: true, Oversize: true);
        yield return new Case("2 MB chunked body", path, Encoding.UTF8.GetBytes($"{{\"{wrapper}\":\"{new string('x', 2 * 1024 * 1024)}\"}}"), json, ExpectContinue: true, Oversize: true, Chunked: true);
        yield return new Case("invalid UTF-8 in a value", path, [.. Encoding.UTF8.GetBytes($"{{\"{wrapper}\":\""), 0xFF, 0xFE, 0xC3, 0x28, .. Encoding.UTF8.GetBytes("\"}")], json);
        yield return new Case("overlong UTF-8 in a key", path, [.. Encoding.UTF8.GetBytes("{\""), 0xC0, 0xAF, .. Encoding.UTF8.GetBytes($"\":1,\"{wrapper}\":{{}}}}")], json);
        yield return new Case("raw NUL byte", path, [.. Encoding.UTF8.GetBytes($"{{\"{wrapper}\":\"a"), 0x00, .. Encoding.UTF8.GetBytes("\"}")], json);
        yield return new Case("text/plain form body", path, Encoding.UTF8.GetBytes("name=x&flavorRef=1"), "text/plain");
        yield return new Case("form content type", path, Encoding.UTF8.GetBytes("name=x&flavorRef=1"), "application/x-www-form-urlencoded");
        yield return new Case("template as text/plain", path, Encoding.UTF8.GetBytes(route.Template), "text/plain");
        yield return new Case("template as xml type", path, Encoding.UTF8.GetBytes(route.Template), "application/xml");

        // Every key at every depth: each wrong JSON type, huge numbers, hostile strings, removed; every object gets an extra key.
        foreach (var (node, pathToNode) in Walk(template, string.Empty))
        {
            if (node is JsonObject obj)
            {
                yield return Body($"extra key in {pathToNode}", Mutate(template, pathToNode, n => { ((JsonObject)n!)["fuzz_extra"] = "x"; return n; }));
            }

            if (pathToNode.Length == 0)
            {
                continue;
            }

            yield return Body($"{pathToNode} removed", Remove(template, pathToNode));
            foreach (var (label, raw) in new (string, string)[]
            {
                ("null", "null"), ("true", "true"), ("7777", "7777"), ("-1", "-1"), ("1.5", "1.5"), ("\"fuzz\"", "\"fuzz\""), ("\"\"", "\"\""),
                ("[]", "[]"), ("{}", "{}"), ("[{}]", "[{}]"), ("[null]", "[null]"),
                ("1e309", "1e309"), ("2^63", "9223372036854775808"), ("-2^63-1", "-9223372036854775809"), ("1e-400", "1e-400"), ("huge integer", new string('9', 400)),
            })
            {
                yield return Body($"{pathToNode} = {label}", ReplaceRaw(template, pathToNode, raw));
            }

            foreach (var (label, hostile) in new (string, string)[] { ("SQL", Sql), ("traversal", Traversal), ("NUL", Nul), ("1 MB string", HugeString), ("unicode", "fz-\u202e\ud83d\ude00-\u00e9") })
            {
                yield return Body($"{pathToNode} = {label}", Mutate(template, pathToNode, _ => JsonValue.Create(hostile)));
            }
        }

        // Hostile path segments in place of every id and name in the path.
        foreach (var parameter in route.PathParameters)
        {
            var real = parameter switch { "{instance}" => Instance, "{schedule}" => Schedule, _ => parameter };
            foreach (var (label, segment) in new (string, string)[]
            {
                ("SQL", Uri.EscapeDataString(Sql)), ("encoded traversal", Uri.EscapeDataString(Traversal)), ("dot segments", "..%2F..%2F..%2Fetc%2Fpasswd"),
                ("NUL", "a%00b"), ("4 KB segment", new string('a', 4096)), ("20 KB segment", new string('a', 20_000)), ("bad escape", "%zz%"), ("invalid UTF-8 escape", "%FF%FE"),
            })
            {
                yield return new Case($"path {parameter} = {label}", ReplaceSegment(path, real, segment), Encoding.UTF8.GetBytes(route.Template), json);
            }
        }
    }

    /// <summary>Null when the answer is acceptable for a hostile input, else what is wrong with it.</summary>
    private static string? Judge(BodyRoute route, Case c, int status, string text)
    {
        if (status >= 500)
        {
            return $"answered {status}: {Shorten(text)}";
        }

        if (status is >= 200 and < 300)
        {
            return null;
        }

        // Kestrel's own refusals, before any of Hoard's code runs (so without a body): a request line over 8 KB, a NUL in the path.
        if (text.Length == 0 && ((status == 414 && c.Label.Contains("20 KB", StringComparison.Ordinal)) || (status == 400 && c.Label.EndsWith("= NUL", StringComparison.Ordinal) && c.Label.StartsWith("path ", StringComparison.Ordinal))))
        {
            return null;
        }

        if (status is < 400 or >= 500)
        {
            return $"answered {status}";
        }

        JsonObject? body;
        try
        {
            body = JsonNode.Parse(text) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            return $"{status} without a JSON error body: {Shorten(text)}";
        }

        if (body is null || body.Count != 1 || body.First().Value is not JsonObject fault
            || fault["code"] is not JsonValue code || !code.TryGetValue<int>(out var number) || number != status
            || fault["message"] is not JsonValue message || !message.TryGetValue<string>(out var words) || words.Length == 0)
        {
            return $"{status} without the error shape: {Shorten(text)}";
        }

        if (c.Depth && route.ReadsBody && (status != 400 || !words.Contains("depth", StringComparison.OrdinalIgnoreCase)))
        {
            return $"deep nesting answered {status} '{Shorten(words)}', not a 400 naming the depth";
        }

        if (c.Oversize && route.ReadsBody && status != 413)
        {
            return $"an over-size body answered {status} '{Shorten(words)}', not 413";
        }

        // Trove reads a body only as application/json: text/plain, a form or XML is its 415 naming the type sent (the
        // identity routes follow Keystone's rules instead).
        if (route.ReadsBody && !route.Source.StartsWith("IdentityApi.cs", StringComparison.Ordinal) && c.ContentType is { } type && !type.StartsWith("application/json", StringComparison.Ordinal)
            && (status != 415 || !words.Contains(type, StringComparison.Ordinal)))
        {
            return $"a body sent as {type} answered {status} '{Shorten(words)}', not a 415 naming it";
        }

        return null;
    }

    /// <summary>An accepted hostile name must read back verbatim; the resource is then deleted so the state is as before.</summary>
    private async Task<string?> UndoAsync(BodyRoute route, Case c, string text)
    {
        var created = JsonNode.Parse(text)!.AsObject();
        var sent = JsonNode.Parse(c.Body!)!.AsObject().First().Value!["name"]?.GetValue<string>();
        var stored = created.First().Value!["name"]?.GetValue<string>();
        if (sent != stored)
        {
            return $"accepted, but the name reads back as '{Shorten(stored ?? "null")}', not '{Shorten(sent ?? "null")}'";
        }

        var deleted = await RunAsync("DELETE", route.UndoAccepted!(created), null, null, false);
        return deleted.Status is 202 or 204 ? null : $"could not undo the accepted case: {deleted.Status}";
    }

    private async Task<(int Status, string Text, TimeSpan Elapsed)> RunAsync(string method, string path, byte[]? body, string? contentType, bool expectContinue, bool chunked = false)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(Server.BaseUrl + path, UriKind.Absolute));
        request.Headers.ExpectContinue = expectContinue;
        request.Headers.TransferEncodingChunked = chunked ? true : null; // no Content-Length: the cap is met while reading
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            if (contentType is not null)
            {
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            }
        }

        var watch = Stopwatch.StartNew();
        try
        {
            using var response = await Http.SendAsync(request).WaitAsync(CaseTimeout);
            var text = await response.Content.ReadAsStringAsync().WaitAsync(CaseTimeout);
            return ((int)response.StatusCode, text, watch.Elapsed);
        }
        catch (Exception e) when (e is TaskCanceledException or TimeoutException)
        {
            return (599, $"no answer within {CaseTimeout.TotalSeconds:0} s", watch.Elapsed);
        }
        catch (HttpRequestException e)
        {
            return (598, $"connection failed: {e.Message}", watch.Elapsed);
        }
    }

    private async Task<(HttpStatusCode Status, string Text)> SendJsonAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await Http.SendAsync(request).Within(Timeouts.Short);
        return (response.StatusCode, await response.Content.ReadAsStringAsync().Within(Timeouts.Short));
    }

    /// <summary>What a refused request must not change: ids, names, limits and settings of everything a body route can touch.</summary>
    private async Task<string> SnapshotAsync()
    {
        var keys = new HashSet<string>(StringComparer.Ordinal) { "id", "name", "limit", "resource", "ram", "vcpus", "disk", "weight", "uri", "capacity", "enabled", "retention", "pattern", "interval_minutes", "configuration", "description", "values", "password_expires_at", "default_project_id" };
        var parts = new List<string>();
        foreach (var path in new[]
        {
            $"/v1.0/{Project}/instances", $"/v1.0/{Project}/instances/{Instance}", $"/v1.0/{Project}/flavors", $"/v1.0/{Project}/backups",
            $"/v1.0/{Project}/configurations", $"/v1.0/{Project}/clusters", $"/v1.0/{Project}/backup_schedules", $"/v1.0/{Project}/mgmt/pools",
            $"/v1.0/{Project}/mgmt/flavors", $"/v1.0/{Project}/mgmt/quotas/{Project}", $"/v1.0/{Project}/instances/{Instance}/log",
            "/identity/v3/projects", "/identity/v3/users", "/identity/v3/role_assignments",
        })
        {
            var (status, text) = await SendJsonAsync(HttpMethod.Get, path);
            Assert.True(status == HttpStatusCode.OK, $"GET {path}: {(int)status} {Shorten(text)}");
            var found = new List<string>();
            Collect(JsonNode.Parse(text), keys, string.Empty, found);
            found.Sort(StringComparer.Ordinal);
            parts.Add($"{path}: {string.Join(",", found)}");
        }

        return string.Join(" | ", parts);
    }

    private static void Collect(JsonNode? node, HashSet<string> keys, string key, List<string> found)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o)
                {
                    Collect(v, keys, k, found);
                }

                break;
            case JsonArray a:
                foreach (var item in a)
                {
                    Collect(item, keys, key, found);
                }

                break;
            case JsonValue v when keys.Contains(key):
                found.Add($"{key}={v.ToJsonString()}");
                break;
        }
    }

    private static IEnumerable<(JsonNode? Node, string Path)> Walk(JsonNode? node, string path)
    {
        yield return (node, path);
        if (node is JsonObject o)
        {
            foreach (var (k, v) in o)
            {
                foreach (var inner in Walk(v, path + "/" + k))
                {
                    yield return inner;
                }
            }
        }
        else if (node is JsonArray a)
        {
            for (var i = 0; i < a.Count; i++)
            {
                foreach (var inner in Walk(a[i], path + "/" + i))
                {
                    yield return inner;
                }
            }
        }
    }

    /// <summary>The template with the node at <paramref name="path"/> replaced by what <paramref name="change"/> returns (or changed in place).</summary>
    private static string Mutate(JsonObject template, string path, Func<JsonNode?, JsonNode?> change)
    {
        var copy = template.DeepClone();
        var steps = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (steps.Length == 0)
        {
            change(copy);
            return copy.ToJsonString();
        }

        var parent = copy;
        foreach (var step in steps[..^1])
        {
            parent = parent is JsonArray pa ? pa[int.Parse(step, System.Globalization.CultureInfo.InvariantCulture)]! : parent[step]!;
        }

        var last = steps[^1];
        if (parent is JsonArray array)
        {
            var index = int.Parse(last, System.Globalization.CultureInfo.InvariantCulture);
            var current = array[index];
            var replacement = change(current);
            if (!ReferenceEquals(replacement, current))
            {
                array[index] = replacement;
            }
        }
        else
        {
            var obj = parent.AsObject();
            var current = obj[last];
            var replacement = change(current);
            if (!ReferenceEquals(replacement, current))
            {
                obj[last] = replacement;
            }
        }

        return copy.ToJsonString();
    }

    private const string RawMarker = "\"__fuzz_raw__\"";

    /// <summary>Replaces a node with raw JSON text, so values JsonNode cannot hold (1e309, 400 digits) are sent as written.</summary>
    private static string ReplaceRaw(JsonObject template, string path, string raw) =>
        Mutate(template, path, _ => JsonValue.Create("__fuzz_raw__")).Replace(RawMarker, raw, StringComparison.Ordinal);

    private static string Remove(JsonObject template, string path)
    {
        var copy = template.DeepClone();
        var steps = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var parent = copy;
        foreach (var step in steps[..^1])
        {
            parent = parent is JsonArray pa ? pa[int.Parse(step, System.Globalization.CultureInfo.InvariantCulture)]! : parent[step]!;
        }

        if (parent is JsonArray array)
        {
            array.RemoveAt(int.Parse(steps[^1], System.Globalization.CultureInfo.InvariantCulture));
        }
        else
        {
            parent.AsObject().Remove(steps[^1]);
        }

        return copy.ToJsonString();
    }

    private static string Nest(string wrapper, int depth) =>
        $"{{\"{wrapper}\":{string.Concat(Enumerable.Repeat("{\"a\":", depth))}1{new string('}', depth)}}}";

    private static string ReplaceSegment(string path, string real, string segment)
    {
        var parts = path.Split('/');
        var index = Array.IndexOf(parts, real);
        Assert.True(index >= 0, $"{real} is not a segment of {path}");
        parts[index] = segment;
        return string.Join('/', parts);
    }

    private static string Shorten(string text) => text.Length > 200 ? text[..200] + "..." : text;

    [GeneratedRegex("""\.Map(?<verb>Post|Put|Patch)\(\s*"(?<pattern>[^"]*)""")]
    private static partial Regex MapWithBody();

    [GeneratedRegex("""\.MapMethods\(\s*"(?<pattern>[^"]*)"\s*,\s*\[(?<verbs>[^\]]*)\]""")]
    private static partial Regex MapMethods();
}
