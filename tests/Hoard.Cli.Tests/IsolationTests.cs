using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Storage;
using Hoard.Core.Configuration;
using Hoard.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Xunit;
using Xunit.Abstractions;

namespace Hoard.Cli.Tests;

/// <summary>
/// The isolation matrix: project A owns one of every resource; a member of project B calls every route of the API
/// against them (with B's tenant in the URL, with A's, and with no token at all) and gets nothing of A's and changes
/// nothing of A's. The route table is checked against the routes the application really maps, so a new route cannot
/// be added without a row here.
/// </summary>
public sealed class IsolationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private HoardServer _server = null!;

    /// <summary>The ids the route table's placeholders stand for: A's resources, and B's user and instance ({bUser}, {bInst}).</summary>
    private readonly Dictionary<string, string> _a = new(StringComparer.Ordinal);
    private string _aToken = null!;
    private string _bToken = null!;
    private string _bProject = null!;

    /// <summary>
    /// One row per route template and method, as the application maps them. A path holds placeholders for A's
    /// resources ({inst}, {bk}, ...) and for the caller's tenant ({T}); the expected status is the one a member of
    /// project B gets with B's own tenant in the URL.
    /// </summary>
    private static readonly Route[] Routes =
    [
        new("GET", "/", "/", Public: 200),
        new("GET", "/identity", "/identity", Public: 300),
        new("GET", "/identity/v3", "/identity/v3", Public: 200),
        new("POST", "/identity/v3/auth/tokens", "/identity/v3/auth/tokens", Public: 401, Body: """{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "alice", "domain": {"name": "Default"}, "password": "wrong-1"}}}, "scope": {"project": {"name": "alphamark-proj", "domain": {"name": "Default"}}}}}"""),
        new("GET", "/identity/v3/auth/tokens", "/identity/v3/auth/tokens", 403, SubjectToken: true),
        new("DELETE", "/identity/v3/auth/tokens", "/identity/v3/auth/tokens", 403, SubjectToken: true),
        new("GET", "/identity/v3/domains", "/identity/v3/domains", 200),
        new("GET", "/identity/v3/domains/{id}", "/identity/v3/domains/default", 200),
        new("GET", "/identity/v3/projects", "/identity/v3/projects", 200),
        new("GET", "/identity/v3/projects/{id}", "/identity/v3/projects/{projA}", 404),
        new("POST", "/identity/v3/projects", "/identity/v3/projects", 403, Body: """{"project": {"name": "b-made", "domain_id": "default"}}"""),
        new("DELETE", "/identity/v3/projects/{id}", "/identity/v3/projects/{projA}", 403),
        new("GET", "/identity/v3/users", "/identity/v3/users", 200),
        new("GET", "/identity/v3/users/{id}", "/identity/v3/users/{alice}", 404),
        new("POST", "/identity/v3/users", "/identity/v3/users", 403, Body: """{"user": {"name": "b-made", "password": "pw-b-made-1", "domain_id": "default"}}"""),
        new("DELETE", "/identity/v3/users/{id}", "/identity/v3/users/{alice}", 403),
        new("GET", "/identity/v3/roles", "/identity/v3/roles", 200),
        new("GET", "/identity/v3/roles/{id}", "/identity/v3/roles/{role}", 200),
        new("PUT", "/identity/v3/projects/{project}/users/{user}/roles/{role}", "/identity/v3/projects/{projA}/users/{bUser}/roles/{role}", 403),
        new("DELETE", "/identity/v3/projects/{project}/users/{user}/roles/{role}", "/identity/v3/projects/{projA}/users/{alice}/roles/{role}", 403),
        new("HEAD", "/identity/v3/projects/{project}/users/{user}/roles/{role}", "/identity/v3/projects/{projA}/users/{alice}/roles/{role}", 403),
        new("GET", "/identity/v3/projects/{project}/users/{user}/roles", "/identity/v3/projects/{projA}/users/{alice}/roles", 403),
        new("GET", "/identity/v3/role_assignments", "/identity/v3/role_assignments?scope.project.id={projA}", 200),
        // Any method (app.Map); only an agent's WebSocket with its pool's key gets further.
        new("*", "/guest/v1", "/guest/v1", Public: 400),
        // Prometheus scrapes without a token; docs/METRICS.md says the page names every instance id, whatever its project.
        new("GET", "/metrics", "/metrics", Public: 200, NamesInstances: true),
        new("HEAD", "/metrics", "/metrics", Public: 200, NamesInstances: true),
        // Swift answers an empty account listing with 204.
        new("GET", "/swift/v1/{account}/", "/swift/v1/AUTH_{T}", 204, Swift: true),
        new("HEAD", "/swift/v1/{account}/", "/swift/v1/AUTH_{T}", 204, Swift: true),
        new("GET", "/swift/v1/{account}/{container}", "/swift/v1/AUTH_{T}/database_logs", 404, Swift: true),
        new("HEAD", "/swift/v1/{account}/{container}", "/swift/v1/AUTH_{T}/database_logs", 404, Swift: true),
        new("GET", "/swift/v1/{account}/{container}/{**name}", "/swift/v1/AUTH_{T}/database_logs/{logObject}", 404, Swift: true),
        new("HEAD", "/swift/v1/{account}/{container}/{**name}", "/swift/v1/AUTH_{T}/database_logs/{logObject}", 404, Swift: true),
        new("PUT", "/swift/v1/{account}/{**rest}", "/swift/v1/AUTH_{T}/database_logs/{logObject}", 405, Swift: true),
        new("POST", "/swift/v1/{account}/{**rest}", "/swift/v1/AUTH_{T}/database_logs/{logObject}", 405, Swift: true),
        new("DELETE", "/swift/v1/{account}/{**rest}", "/swift/v1/AUTH_{T}/database_logs/{logObject}", 405, Swift: true),
        new("COPY", "/swift/v1/{account}/{**rest}", "/swift/v1/AUTH_{T}/database_logs/{logObject}", 405, Swift: true),

        new("GET", "/v1.0/{tenant}/instances", "instances", 200),
        new("GET", "/v1.0/{tenant}/instances/detail", "instances/detail", 200),
        new("POST", "/v1.0/{tenant}/instances", "instances", 404, Body: """{"instance": {"name": "b-restore", "flavorRef": "1", "datastore": {"type": "redis"}, "restorePoint": {"backupRef": "{bk}"}}}"""),
        new("GET", "/v1.0/{tenant}/instances/{id}", "instances/{inst}", 404),
        new("PUT", "/v1.0/{tenant}/instances/{id}", "instances/{inst}", 404, Body: """{"instance": {"configuration": null}}"""),
        new("PATCH", "/v1.0/{tenant}/instances/{id}", "instances/{inst}", 404, Body: """{"instance": {"name": "b-renamed"}}"""),
        new("DELETE", "/v1.0/{tenant}/instances/{id}", "instances/{inst}", 404),
        new("POST", "/v1.0/{tenant}/instances/{id}/action", "instances/{inst}/action", 404, Body: """{"restart": {}}"""),
        new("GET", "/v1.0/{tenant}/instances/{id}/root", "instances/{inst}/root", 404),
        new("POST", "/v1.0/{tenant}/instances/{id}/root", "instances/{inst}/root", 404, Body: "{}"),
        new("DELETE", "/v1.0/{tenant}/instances/{id}/root", "instances/{inst}/root", 404),
        new("GET", "/v1.0/{tenant}/instances/{id}/log", "instances/{inst}/log", 404),
        new("POST", "/v1.0/{tenant}/instances/{id}/log", "instances/{inst}/log", 404, Body: """{"name": "server", "discard": 1}"""),
        new("GET", "/v1.0/{tenant}/instances/{id}/databases", "instances/{inst}/databases", 404),
        new("POST", "/v1.0/{tenant}/instances/{id}/databases", "instances/{inst}/databases", 404, Body: """{"databases": [{"name": "bdb"}]}"""),
        // Not implemented for any instance, so the answer tells nothing about A's.
        new("GET", "/v1.0/{tenant}/instances/{id}/databases/{name}", "instances/{inst}/databases/bdb", 501),
        new("DELETE", "/v1.0/{tenant}/instances/{id}/databases/{name}", "instances/{inst}/databases/bdb", 404),
        new("GET", "/v1.0/{tenant}/instances/{id}/users", "instances/{inst}/users", 404),
        new("POST", "/v1.0/{tenant}/instances/{id}/users", "instances/{inst}/users", 404, Body: """{"users": [{"name": "bob-user", "password": "Bob-pass-1"}]}"""),
        new("PUT", "/v1.0/{tenant}/instances/{id}/users", "instances/{inst}/users", 404, Body: """{"users": [{"name": "alphamarkuser", "password": "Stolen-pass-1"}]}"""),
        new("GET", "/v1.0/{tenant}/instances/{id}/users/{user}", "instances/{inst}/users/alphamarkuser", 404),
        new("PUT", "/v1.0/{tenant}/instances/{id}/users/{user}", "instances/{inst}/users/alphamarkuser", 404, Body: """{"user": {"password": "Stolen-pass-1"}}"""),
        new("DELETE", "/v1.0/{tenant}/instances/{id}/users/{user}", "instances/{inst}/users/alphamarkuser", 404),
        new("GET", "/v1.0/{tenant}/instances/{id}/users/{user}/databases", "instances/{inst}/users/alphamarkuser/databases", 404),
        new("PUT", "/v1.0/{tenant}/instances/{id}/users/{user}/databases", "instances/{inst}/users/alphamarkuser/databases", 404, Body: """{"databases": [{"name": "bdb"}]}"""),
        new("DELETE", "/v1.0/{tenant}/instances/{id}/users/{user}/databases/{database}", "instances/{inst}/users/alphamarkuser/databases/bdb", 404),
        new("GET", "/v1.0/{tenant}/instances/{id}/backups", "instances/{inst}/backups", 404),
        new("GET", "/v1.0/{tenant}/instances/{id}/configuration", "instances/{inst}/configuration", 404),

        new("GET", "/v1.0/{tenant}/clusters", "clusters", 200),
        new("POST", "/v1.0/{tenant}/clusters", "clusters", 400, Body: "{}"),
        new("GET", "/v1.0/{tenant}/clusters/{id}", "clusters/{cl}", 404),
        new("DELETE", "/v1.0/{tenant}/clusters/{id}", "clusters/{cl}", 404),
        new("POST", "/v1.0/{tenant}/clusters/{id}", "clusters/{cl}", 404, Body: """{"shrink": [{"id": "{member}"}]}"""),
        new("GET", "/v1.0/{tenant}/clusters/{id}/instances/{instanceId}", "clusters/{cl}/instances/{member}", 404),
        new("GET", "/v1.0/{tenant}/clusters/{id}/root", "clusters/{cl}/root", 404),
        new("POST", "/v1.0/{tenant}/clusters/{id}/root", "clusters/{cl}/root", 404, Body: "{}"),

        new("GET", "/v1.0/{tenant}/datastores", "datastores", 200),
        new("GET", "/v1.0/{tenant}/datastores/{ds}", "datastores/redis", 200),
        new("GET", "/v1.0/{tenant}/datastores/{ds}/versions", "datastores/redis/versions", 200),
        new("GET", "/v1.0/{tenant}/datastores/{ds}/versions/{version}", "datastores/redis/versions/{ver}", 200),
        new("GET", "/v1.0/{tenant}/datastores/versions/{id}", "datastores/versions/{verId}", 200),
        new("GET", "/v1.0/{tenant}/flavors", "flavors", 200),
        new("GET", "/v1.0/{tenant}/flavors/{id}", "flavors/1", 200),
        new("GET", "/v1.0/{tenant}/limits", "limits", 200),
        new("GET", "/v1.0/{tenant}/datastores/{datastore}/versions/{version}/parameters", "datastores/redis/versions/{ver}/parameters", 200),
        new("GET", "/v1.0/{tenant}/datastores/{datastore}/versions/{version}/parameters/{name}", "datastores/redis/versions/{ver}/parameters/maxmemory-policy", 200),
        new("GET", "/v1.0/{tenant}/datastores/versions/{version}/parameters", "datastores/versions/{verId}/parameters", 200),
        new("GET", "/v1.0/{tenant}/datastores/versions/{version}/parameters/{name}", "datastores/versions/{verId}/parameters/maxmemory-policy", 200),

        new("POST", "/v1.0/{tenant}/configurations", "configurations", 400, Body: "{}"),
        new("GET", "/v1.0/{tenant}/configurations", "configurations", 200),
        new("GET", "/v1.0/{tenant}/configurations/{id}", "configurations/{cfg}", 404),
        new("PUT", "/v1.0/{tenant}/configurations/{id}", "configurations/{cfg}", 404, Body: """{"configuration": {"values": {"maxmemory-policy": "noeviction"}}}"""),
        new("PATCH", "/v1.0/{tenant}/configurations/{id}", "configurations/{cfg}", 404, Body: """{"configuration": {"values": {"maxmemory-policy": "noeviction"}}}"""),
        new("DELETE", "/v1.0/{tenant}/configurations/{id}", "configurations/{cfg}", 404),
        new("GET", "/v1.0/{tenant}/configurations/{id}/instances", "configurations/{cfg}/instances", 404),

        new("POST", "/v1.0/{tenant}/backups", "backups", 404, Body: """{"backup": {"name": "b-steal", "instance": "{inst}"}}"""),
        new("GET", "/v1.0/{tenant}/backups", "backups", 200),
        new("GET", "/v1.0/{tenant}/backups/{id}", "backups/{bk}", 404),
        new("DELETE", "/v1.0/{tenant}/backups/{id}", "backups/{bk}", 404),

        new("POST", "/v1.0/{tenant}/backup_schedules", "backup_schedules", 400, Body: """{"backup_schedule": {"instance": "{inst}", "name": "b-steal", "interval_minutes": 5, "retention": 1}}"""),
        new("GET", "/v1.0/{tenant}/backup_schedules", "backup_schedules", 200),
        new("GET", "/v1.0/{tenant}/backup_schedules/{id}", "backup_schedules/{sch}", 404),
        new("PUT", "/v1.0/{tenant}/backup_schedules/{id}", "backup_schedules/{sch}", 404, Body: """{"backup_schedule": {"enabled": true}}"""),
        new("DELETE", "/v1.0/{tenant}/backup_schedules/{id}", "backup_schedules/{sch}", 404),

        new("GET", "/v1.0/{tenant}/mgmt/pools", "mgmt/pools", 403),
        new("POST", "/v1.0/{tenant}/mgmt/pools", "mgmt/pools", 403, Body: """{"pool": {"name": "b-pool", "uri": "local:///tmp/b-pool"}}"""),
        new("GET", "/v1.0/{tenant}/mgmt/pools/{name}", "mgmt/pools/default", 403),
        new("PATCH", "/v1.0/{tenant}/mgmt/pools/{name}", "mgmt/pools/default", 403, Body: """{"pool": {"enabled": false}}"""),
        new("DELETE", "/v1.0/{tenant}/mgmt/pools/{name}", "mgmt/pools/default", 403),
        new("GET", "/v1.0/{tenant}/mgmt/flavors", "mgmt/flavors", 403),
        new("POST", "/v1.0/{tenant}/mgmt/flavors", "mgmt/flavors", 403, Body: """{"flavor": {"name": "b-flavor", "ram": 64, "vcpus": 1}}"""),
        new("GET", "/v1.0/{tenant}/mgmt/flavors/{id}", "mgmt/flavors/1", 403),
        new("PATCH", "/v1.0/{tenant}/mgmt/flavors/{id}", "mgmt/flavors/1", 403, Body: """{"flavor": {"ram": 1}}"""),
        new("DELETE", "/v1.0/{tenant}/mgmt/flavors/{id}", "mgmt/flavors/1", 403),
        new("GET", "/v1.0/{tenant}/mgmt/catalogue", "mgmt/catalogue", 403),
        new("GET", "/v1.0/{tenant}/mgmt/quotas/{project}", "mgmt/quotas/{projA}", 403),
        new("PUT", "/v1.0/{tenant}/mgmt/quotas/{project}", "mgmt/quotas/{T}", 403, Body: """{"quotas": {"instances": 100}}"""),

        // What no route matches.
        new("*", "{*path:nonfile}", "/v1.0/{T}/no-such-thing", 404),
    ];

    /// <summary>
    /// Calls on B's own resources (or creates) that name one of A's in the body or query: B's instance {bInst}. Any 2xx
    /// here would copy, attach or restore something of A's into B.
    /// </summary>
    private static readonly (string Method, string Path, string? Body, int Expected)[] CrossReferences =
    [
        ("POST", "instances", """{"instance": {"name": "b-cfg", "flavorRef": "1", "datastore": {"type": "redis"}, "configuration": "{cfg}"}}""", 404),
        ("PUT", "instances/{bInst}", """{"instance": {"configuration": "{cfg}"}}""", 404),
        // Redis has no incremental backups, so this is refused before the parent is looked at (IncrementalBackupTests
        // checks another instance's parent on PostgreSQL).
        ("POST", "backups", """{"backup": {"name": "b-incr", "instance": "{bInst}", "parent_id": "{bk}"}}""", 422),
        ("GET", "backups?instance_id={inst}", null, 200),
        ("GET", "backup_schedules?instance_id={inst}", null, 200),
        ("GET", "instances/{bInst}/configuration", null, 200),
    ];

    public async Task InitializeAsync()
    {
        _server = await HoardServer.StartAsync();
        var (adminToken, _) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        var member = Id((await SendAsync(adminToken, "GET", "/identity/v3/roles?name=member")).Body!["roles"]![0]!["id"]);
        _a["role"] = member;
        (_a["projA"], _a["alice"]) = await ProjectWithMemberAsync(adminToken, "alphamark-proj", "alice", member);
        (_bProject, _a["bUser"]) = await ProjectWithMemberAsync(adminToken, "beta-proj", "bob", member);
        (_aToken, _) = await _server.LoginAsync("alice", "pw-alice-1", "alphamark-proj");
        (_bToken, _) = await _server.LoginAsync("bob", "pw-bob-1", "beta-proj");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task A_member_of_another_project_reaches_nothing_of_a_project_and_changes_nothing()
    {
        await CreateProjectAResourcesAsync();
        var before = await SnapshotAsync(_aToken);
        var callers = new (string Name, string? Token, string Tenant)[]
        {
            ("B, B's tenant", _bToken, _bProject),
            ("B, A's tenant", _bToken, _a["projA"]),
            ("no token", null, _bProject),
        };

        var leaks = new List<string>();
        var summary = new StringBuilder();
        summary.AppendLine(FormattableString.Invariant($"{"method",-7} {"route",-78} {callers[0].Name,14} {callers[1].Name,14} {callers[2].Name,10}"));
        foreach (var route in Routes)
        {
            var statuses = new List<int>();
            foreach (var (name, token, tenant) in callers)
            {
                var path = Expand(route.Path, tenant);
                var expected = Expected(route, name);
                var body = route.Body is null ? null : Fill(route.Body, tenant);
                var response = await SendAsync(token, route.Method == "*" ? "GET" : route.Method, path, body, route.SubjectToken ? _aToken : null);
                statuses.Add(response.Status);
                if (response.Status != expected)
                {
                    leaks.Add($"{name}: {route.Method} {path} answered {response.Status}, expected {expected}: {Truncate(response.Text)}");
                }

                // Nothing of A's in any answer, unless the caller itself put it in the request.
                leaks.AddRange(Disclosed(name, route.Method, path, body, response, route.NamesInstances ? [_a["inst"], _a["member"]] : []));
            }

            summary.AppendLine(FormattableString.Invariant($"{route.Method,-7} {route.Template,-78} {statuses[0],14} {statuses[1],14} {statuses[2],10}"));
        }

        summary.AppendLine("B's own calls naming A's resources:");
        foreach (var (method, rawPath, rawBody, expected) in CrossReferences)
        {
            var path = Expand(rawPath, _bProject);
            var body = rawBody is null ? null : Fill(rawBody, _bProject);
            var response = await SendAsync(_bToken, method, path, body);
            if (response.Status != expected)
            {
                leaks.Add($"B, B's tenant: {method} {path} {body} answered {response.Status}, expected {expected}: {Truncate(response.Text)}");
            }

            leaks.AddRange(Disclosed("B, B's tenant", method, path, body, response, []));
            summary.AppendLine(FormattableString.Invariant($"{method,-7} {rawPath + " " + rawBody,-150} {response.Status,4}"));
        }

        // Nothing of the above made anything in B either: B still has its one instance, no backup, no cluster.
        foreach (var (kind, expected) in new[] { ("instances", 1), ("backups", 0), ("clusters", 0) })
        {
            var made = (await SendAsync(_bToken, "GET", $"/v1.0/{_bProject}/{kind}")).Body![kind]!.AsArray();
            if (made.Count != expected)
            {
                leaks.Add($"B has {made.Count} {kind} after the calls, not {expected}: {made.ToJsonString()}");
            }
        }

        // The one /mgmt route a member may call: its own project's quotas.
        var ownQuotas = await SendAsync(_bToken, "GET", $"/v1.0/{_bProject}/mgmt/quotas/{_bProject}");
        Assert.True(ownQuotas.Status == 200, ownQuotas.Text);

        summary.AppendLine(FormattableString.Invariant($"{Routes.Length} routes x {callers.Length} callers, {leaks.Count} leaks"));
        output.WriteLine(summary.ToString());
        output.WriteLine(string.Join('\n', leaks));
        Figures.Record("isolation", "routes (template × method)", Routes.Length);
        Figures.Record("isolation", "callers per route (other project's tenant, owner's tenant, no token)", callers.Length);
        Figures.Record("isolation", "leaks", leaks.Count);

        // Read with a fresh token of A's, so a revoked one shows as a difference (the last line), not as a failed read.
        var original = _aToken;
        (_aToken, _) = await _server.LoginAsync("alice", "pw-alice-1", "alphamark-proj");
        var after = await SnapshotAsync(original);

        // The token checks refuse only others: a user still validates its own token, an admin anyone's.
        Assert.Equal(200, (await SendAsync(_aToken, "GET", "/identity/v3/auth/tokens", subjectToken: _aToken)).Status);
        var (adminToken, _) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        Assert.Equal(200, (await SendAsync(adminToken, "GET", "/identity/v3/auth/tokens", subjectToken: _aToken)).Status);
        Assert.True(leaks.Count == 0, string.Join('\n', leaks));
        Assert.Equal(before, after);
    }

    /// <summary>
    /// Every route the application maps has a row above. The application is built in this process (not started: a
    /// store that is never called, a temp data dir) and its endpoint data sources listed, which is what routing
    /// itself matches against; scanning source text or attributes would miss routes made in loops or groups.
    /// </summary>
    [Fact]
    public async Task The_route_table_covers_every_route_the_application_maps()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "hoard-routes-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dataDir);
        try
        {
            var configuration = HoardConfiguration.Load(null, new Dictionary<string, string?>(StringComparer.Ordinal) { ["HOARD_DEFAULT_DATA_DIR"] = dataDir });
            var options = HoardOptions.From(configuration);
            var store = DispatchProxy.Create<IManagementStore, UncalledStore>();
            await using var app = Hoard.Api.Hosting.HoardServer.Build(options, store, new PluginRegistry([]));
            var mapped = ((IEndpointRouteBuilder)app).DataSources
                .SelectMany(s => s.Endpoints)
                .OfType<RouteEndpoint>()
                .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"]).Select(m => (m, "/" + e.RoutePattern.RawText!.TrimStart('/'))))
                .Select(r => $"{r.m} {r.Item2}")
                .ToHashSet(StringComparer.Ordinal);
            var table = Routes.Select(r => $"{r.Method} {(r.Template.StartsWith('{') ? "/" + r.Template : r.Template)}").ToHashSet(StringComparer.Ordinal);
            Assert.Equal(Routes.Length, table.Count);
            Assert.Empty(mapped.Except(table).Order(StringComparer.Ordinal));
            Assert.Empty(table.Except(mapped).Order(StringComparer.Ordinal));
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static int Expected(Route route, string caller) => caller switch
    {
        _ when route.Public is { } open => open,
        "no token" when route.Template.StartsWith('{') => 404,
        "no token" => 401,
        "B, A's tenant" when route.Template.StartsWith("/v1.0/{tenant}", StringComparison.Ordinal) || route.Swift => 403,
        _ => route.Own,
    };

    /// <summary>What of A's an answer holds that the caller did not send itself.</summary>
    private IEnumerable<string> Disclosed(string caller, string method, string path, string? body, Response response, string[] allowed) =>
        Secrets()
            .Except(allowed)
            .Where(s => !path.Contains(s, StringComparison.Ordinal) && !(body ?? string.Empty).Contains(s, StringComparison.Ordinal))
            .Where(s => response.Text.Contains(s, StringComparison.Ordinal))
            .Select(s => $"{caller}: {method} {path} answered with A's '{s}': {Truncate(response.Text)}");

    private IEnumerable<string> Secrets() =>
        ["alphamark", _aToken, _a["projA"], _a["alice"], _a["inst"], _a["bk"], _a["cl"], _a["member"], _a["cfg"], _a["sch"], _a["logObject"]];

    /// <summary>A row's path: under /v1.0/{tenant}/ unless it starts with '/', its placeholders filled.</summary>
    private string Expand(string path, string tenant) =>
        Fill(path.StartsWith('/') ? path : $"/v1.0/{tenant}/{path}", tenant);

    private string Fill(string text, string tenant)
    {
        text = text.Replace("{T}", tenant, StringComparison.Ordinal);
        foreach (var (key, value) in _a)
        {
            text = text.Replace("{" + key + "}", value, StringComparison.Ordinal);
        }

        return text;
    }

    private async Task CreateProjectAResourcesAsync()
    {
        var versions = (await OkAsync("GET", "datastores/redis/versions")).Body!["versions"]!.AsArray();
        _a["ver"] = Id(versions[0]!["name"]);
        _a["verId"] = Id(versions[0]!["id"]);

        var configuration = await OkAsync("POST", "configurations", """{"configuration": {"name": "alphamark-cfg", "values": {"maxmemory-policy": "allkeys-lru"}, "datastore": {"type": "redis"}}}""");
        _a["cfg"] = Id(configuration.Body!["configuration"]!["id"]);
        var instance = await OkAsync("POST", "instances", $$$"""{"instance": {"name": "alphamark-db", "flavorRef": "1", "datastore": {"type": "redis"}, "configuration": "{{{_a["cfg"]}}}", "users": [{"name": "alphamarkuser", "password": "Alpha-pass-1"}]}}""");
        _a["inst"] = Id(instance.Body!["instance"]!["id"]);
        var cluster = await OkAsync("POST", "clusters", $$$"""{"cluster": {"name": "alphamark-cl", "datastore": {"type": "redis", "version": "{{{_a["ver"]}}}"}, "instances": [{"flavorRef": "1"}, {"flavorRef": "1"}, {"flavorRef": "1"}]}}""");
        _a["cl"] = Id(cluster.Body!["cluster"]!["id"]);

        // B's own instance, for the calls that name A's resources in a body about B's.
        var bInstance = await SendAsync(_bToken, "POST", $"/v1.0/{_bProject}/instances", """{"instance": {"name": "b-db", "flavorRef": "1", "datastore": {"type": "redis"}}}""");
        Assert.True(bInstance.Status == 200, bInstance.Text);
        _a["bInst"] = Id(bInstance.Body!["instance"]!["id"]);
        await Timeouts.EventuallyAsync(() => ASendAsync("GET", $"instances/{_a["inst"]}"), r => Status(r, "instance") is "ACTIVE" or "ERROR", Timeouts.Settle, "A's instance to settle");
        Assert.Equal("ACTIVE", Status(await ASendAsync("GET", $"instances/{_a["inst"]}"), "instance"));

        var backup = await OkAsync("POST", "backups", $$$"""{"backup": {"name": "alphamark-bk", "instance": "{{{_a["inst"]}}}"}}""", 202);
        _a["bk"] = Id(backup.Body!["backup"]!["id"]);
        var schedule = await OkAsync("POST", "backup_schedules", $$$"""{"backup_schedule": {"instance": "{{{_a["inst"]}}}", "name": "alphamark-sch", "pattern": "0 3 * * *", "retention": 7, "enabled": false}}""");
        _a["sch"] = Id(schedule.Body!["backup_schedule"]!["id"]);
        await Timeouts.EventuallyAsync(() => SendAsync(_bToken, "GET", $"/v1.0/{_bProject}/instances/{_a["bInst"]}"), r => Status(r, "instance") is "ACTIVE", Timeouts.Settle, "B's instance to be ACTIVE");
        await Timeouts.EventuallyAsync(() => ASendAsync("GET", $"backups/{_a["bk"]}"), r => Status(r, "backup") is "COMPLETED" or "FAILED", Timeouts.Settle, "A's backup to finish");
        Assert.Equal("COMPLETED", Status(await ASendAsync("GET", $"backups/{_a["bk"]}"), "backup"));
        await Timeouts.EventuallyAsync(() => ASendAsync("GET", $"instances/{_a["inst"]}"), r => Status(r, "instance") is "ACTIVE", Timeouts.Settle, "A's instance to be ACTIVE after its backup");

        // Published while the instance is ACTIVE (a log action on an instance mid-backup is refused).
        var log = await OkAsync("POST", $"instances/{_a["inst"]}/log", """{"name": "server", "publish": 1}""");
        var prefix = Uri.EscapeDataString(Id(log.Body!["log"]!["prefix"]));
        var parts = await OkAsync("GET", $"/swift/v1/AUTH_{_a["projA"]}/database_logs?format=json&prefix={prefix}");
        _a["logObject"] = Id(Assert.Single(JsonNode.Parse(parts.Text)!.AsArray())!["name"]);
        var settled = await Timeouts.EventuallyAsync(
            () => ASendAsync("GET", $"clusters/{_a["cl"]}"),
            r => r.Body?["cluster"]?["task"]?["name"]?.GetValue<string>() == "NONE" && r.Body["cluster"]!["instances"]!.AsArray().Count == 3,
            Timeouts.Settle,
            "A's cluster to settle");
        _a["member"] = Id(settled.Body!["cluster"]!["instances"]![0]!["id"]);
    }

    /// <summary>What A sees of its resources: the parts a change by another project would show in.</summary>
    private async Task<string> SnapshotAsync(string firstToken)
    {
        var instance = (await OkAsync("GET", $"instances/{_a["inst"]}")).Body!["instance"]!;
        var users = (await OkAsync("GET", $"instances/{_a["inst"]}/users")).Body!["users"]!.AsArray().Select(u => Id(u!["name"]));
        var backups = (await OkAsync("GET", "backups")).Body!["backups"]!.AsArray().Select(b => $"{Id(b!["id"])}:{Id(b["name"])}:{Id(b["status"])}");
        var configuration = (await OkAsync("GET", $"configurations/{_a["cfg"]}")).Body!["configuration"]!;
        var schedule = (await OkAsync("GET", $"backup_schedules/{_a["sch"]}")).Body!["backup_schedule"]!;
        var cluster = (await OkAsync("GET", $"clusters/{_a["cl"]}")).Body!["cluster"]!;
        var logs = (await OkAsync("GET", $"instances/{_a["inst"]}/log")).Body!["logs"]!.AsArray().Select(l => Id(l!["name"]));
        var objects = JsonNode.Parse((await OkAsync("GET", $"/swift/v1/AUTH_{_a["projA"]}/database_logs?format=json")).Text)!.AsArray().Select(o => Id(o!["name"]));
        var instances = (await OkAsync("GET", "instances")).Body!["instances"]!.AsArray().Select(i => Id(i!["id"])).Order(StringComparer.Ordinal);
        var projects = (await SendAsync(firstToken, "GET", $"/identity/v3/projects/{_a["projA"]}")).Status;
        return string.Join('\n',
            $"instance {instance["name"]} {instance["status"]} configuration={instance["configuration"]?["id"]}",
            $"users {string.Join(',', users)}",
            $"backups {string.Join(',', backups)}",
            $"configuration {configuration["name"]} {configuration["values"]!.ToJsonString()}",
            $"schedule {schedule["name"]} {schedule["enabled"]} {schedule["pattern"]} {schedule["retention"]}",
            $"cluster {cluster["name"]} {cluster["task"]!["name"]} {string.Join(',', cluster["instances"]!.AsArray().Select(m => $"{m!["id"]}:{m["status"]}"))}",
            $"logs {string.Join(',', logs)} objects {string.Join(',', objects)}",
            $"instances {string.Join(',', instances)}",
            $"A's token and project: {projects}");
    }

    private async Task<(string ProjectId, string UserId)> ProjectWithMemberAsync(string adminToken, string project, string user, string role)
    {
        var made = await SendAsync(adminToken, "POST", "/identity/v3/projects", $$$"""{"project": {"name": "{{{project}}}", "domain_id": "default"}}""");
        Assert.True(made.Status == 201, made.Text);
        var projectId = Id(made.Body!["project"]!["id"]);
        var madeUser = await SendAsync(adminToken, "POST", "/identity/v3/users", $$$"""{"user": {"name": "{{{user}}}", "password": "pw-{{{user}}}-1", "default_project_id": "{{{projectId}}}", "domain_id": "default"}}""");
        Assert.True(madeUser.Status == 201, madeUser.Text);
        var userId = Id(madeUser.Body!["user"]!["id"]);
        var assigned = await SendAsync(adminToken, "PUT", $"/identity/v3/projects/{projectId}/users/{userId}/roles/{role}");
        Assert.True(assigned.Status == 204, assigned.Text);
        return (projectId, userId);
    }

    private Task<Response> ASendAsync(string method, string path, string? body = null) =>
        SendAsync(_aToken, method, path.StartsWith('/') ? path : $"/v1.0/{_a["projA"]}/{path}", body);

    private async Task<Response> OkAsync(string method, string path, string? body = null, int status = 200)
    {
        var response = await ASendAsync(method, path, body);
        Assert.True(response.Status == status || (status == 202 && response.Status == 200), $"{method} {path}: {response.Status} {response.Text}");
        return response;
    }

    private async Task<Response> SendAsync(string? token, string method, string path, string? body = null, string? subjectToken = null)
    {
        using var http = new HttpClient { BaseAddress = new Uri(_server.BaseUrl), Timeout = Timeouts.Short };
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (token is not null)
        {
            request.Headers.Add("X-Auth-Token", token);
        }

        if (subjectToken is not null)
        {
            request.Headers.Add("X-Subject-Token", subjectToken);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request).Within(Timeouts.Short);
        var text = await response.Content.ReadAsStringAsync().Within(Timeouts.Short);
        JsonObject? json = null;
        if (text.StartsWith('{'))
        {
            json = JsonNode.Parse(text) as JsonObject;
        }

        return new Response((int)response.StatusCode, text, json);
    }

    private static string? Status(Response r, string kind) => r.Body?[kind]?["status"]?.GetValue<string>();

    private static string Id(JsonNode? node) => node!.GetValue<string>();

    private static string Truncate(string text) => text.Length > 200 ? text[..200] + "..." : text;

    private sealed record Response(int Status, string Text, JsonObject? Body);

    /// <param name="Method">The HTTP method.</param>
    /// <param name="Template">The route pattern as the application maps it.</param>
    /// <param name="Path">The call made: a path under /v1.0/{tenant}/ unless it starts with '/'.</param>
    /// <param name="Own">What B gets with B's own tenant (or account) in the URL.</param>
    /// <param name="Public">What every caller gets, token or none, where the route takes no token.</param>
    /// <param name="Body">The request body, with placeholders.</param>
    /// <param name="SubjectToken">Sends A's token as X-Subject-Token.</param>
    /// <param name="Swift">An object-store route, whose account is a project's.</param>
    /// <param name="NamesInstances">An operator's page that lists instance ids by design (and nothing else of A's).</param>
    private sealed record Route(string Method, string Template, string Path, int Own = 0, int? Public = null, string? Body = null, bool SubjectToken = false, bool Swift = false, bool NamesInstances = false);

    /// <summary>A store the route listing never calls; building the application only registers it.</summary>
    public class UncalledStore : DispatchProxy
    {
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            throw new InvalidOperationException($"the store was called: {targetMethod?.Name}");
    }
}
