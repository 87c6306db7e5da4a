using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// The backup quota and backup schedules against a real hoard serve and real Redis instances: over quota is Trove's 413,
/// a schedule backs up on its own, records a run it had to skip, keeps only its newest backups and never a user's.
/// </summary>
public sealed class BackupScheduleTests : IAsyncLifetime
{
    /// <summary>One run a minute, then its retention: two runs and a delete fit well inside this.</summary>
    private static readonly TimeSpan TwoRuns = TimeSpan.FromSeconds(110);

    private HoardServer _server = null!;
    private HttpClient _http = null!;
    private string _project = null!;

    public async Task InitializeAsync()
    {
        // A quota of 3, and due schedules looked for every second, so a 1-minute schedule runs on time.
        _server = await HoardServer.StartAsync(new Dictionary<string, string>
        {
            ["HOARD_DEFAULT_MAX_BACKUPS_PER_TENANT"] = "3",
            ["HOARD_DEFAULT_BACKUP_SCHEDULE_TICK"] = "1",
        });
        var (token, project) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        _project = project;
        _http = Client(token, project);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private HttpClient Client(string token, string project)
    {
        var http = new HttpClient { BaseAddress = new Uri($"{_server.BaseUrl}/v1.0/{project}/"), Timeout = Timeouts.Short };
        http.DefaultRequestHeaders.Add("X-Auth-Token", token);
        return http;
    }

    private Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpMethod method, string path, JsonNode? body = null) =>
        SendAsync(_http, method, path, body);

    private static async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpClient http, HttpMethod method, string path, JsonNode? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request).Within(Timeouts.Short);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
    }

    private async Task<string> CreateInstanceAsync(string name)
    {
        var body = new JsonObject { ["instance"] = new JsonObject { ["name"] = name, ["flavorRef"] = "1", ["datastore"] = new JsonObject { ["type"] = "redis" } } };
        var created = await SendAsync(HttpMethod.Post, "instances", body);
        Assert.True(created.Status == HttpStatusCode.OK, created.Body?.ToJsonString());
        var id = created.Body!["instance"]!["id"]!.GetValue<string>();
        var settled = await Timeouts.EventuallyAsync(
            () => SendAsync(HttpMethod.Get, $"instances/{id}"),
            r => r.Body?["instance"]?["status"]?.GetValue<string>() is "ACTIVE" or "ERROR",
            Timeouts.Settle,
            $"{name} to settle");
        Assert.True(settled.Body!["instance"]!["status"]!.GetValue<string>() == "ACTIVE", settled.Body.ToJsonString());
        return id;
    }

    private async Task<string> BackupAsync(string instanceId, string name)
    {
        var created = await SendAsync(HttpMethod.Post, "backups", new JsonObject { ["backup"] = new JsonObject { ["name"] = name, ["instance"] = instanceId } });
        Assert.True(created.Status == HttpStatusCode.Accepted, created.Body?.ToJsonString());
        var id = created.Body!["backup"]!["id"]!.GetValue<string>();
        await CompletedAsync(id, $"backup {name}");
        return id;
    }

    private async Task<JsonObject> CompletedAsync(string backupId, string what)
    {
        var done = await Timeouts.EventuallyAsync(
            () => SendAsync(HttpMethod.Get, $"backups/{backupId}"),
            r => r.Body?["backup"]?["status"]?.GetValue<string>() is "COMPLETED" or "FAILED",
            Timeouts.Settle,
            $"{what} to finish");
        Assert.True(done.Body!["backup"]!["status"]!.GetValue<string>() == "COMPLETED", done.Body.ToJsonString());
        return done.Body["backup"]!.AsObject();
    }

    private async Task<JsonObject> CreateScheduleAsync(string instanceId, string name, int retention)
    {
        var body = new JsonObject
        {
            ["backup_schedule"] = new JsonObject { ["instance"] = instanceId, ["name"] = name, ["interval_minutes"] = 1, ["retention"] = retention },
        };
        var created = await SendAsync(HttpMethod.Post, "backup_schedules", body);
        Assert.True(created.Status == HttpStatusCode.OK, created.Body?.ToJsonString());
        return created.Body!["backup_schedule"]!.AsObject();
    }

    private async Task<JsonObject> ScheduleAsync(string id)
    {
        var shown = await SendAsync(HttpMethod.Get, $"backup_schedules/{id}");
        Assert.True(shown.Status == HttpStatusCode.OK, shown.Body?.ToJsonString());
        return shown.Body!["backup_schedule"]!.AsObject();
    }

    private async Task<List<JsonObject>> BackupsAsync() =>
        [.. (await SendAsync(HttpMethod.Get, "backups")).Body!["backups"]!.AsArray().OfType<JsonObject>()];

    private static string Id(JsonNode? node) => node?.GetValue<string>() ?? string.Empty;

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task A_schedule_backs_up_on_its_own_keeps_its_newest_and_the_quota_holds_for_users_and_schedules_alike()
    {
        var instance = await CreateInstanceAsync("scheduled");
        var mine = await BackupAsync(instance, "by-hand");

        // The schedule's first run is right away (interval schedules start now, then every minute).
        var every = await CreateScheduleAsync(instance, "every-minute", retention: 1);
        var first = await Timeouts.EventuallyAsync(
            () => ScheduleAsync(Id(every["id"])),
            s => s["last_backup_id"] is JsonValue,
            Timeouts.Settle,
            "the schedule's first run");
        var firstBackup = Id(first["last_backup_id"]);
        var made = await CompletedAsync(firstBackup, "the first scheduled backup");
        Assert.StartsWith("every-minute ", Id(made["name"]), StringComparison.Ordinal);
        Assert.Null(first["last_error"]);

        // The quota (3) is full: a user's create is Trove's 413 ...
        var filler = await BackupAsync(instance, "filler");
        var over = await SendAsync(HttpMethod.Post, "backups", new JsonObject { ["backup"] = new JsonObject { ["name"] = "one-too-many", ["instance"] = instance } });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, over.Status);
        Assert.Equal(413, over.Body!["overLimit"]!["code"]!.GetValue<int>());
        Assert.Equal("Quota exceeded for resources: ['backups'].", over.Body["overLimit"]!["message"]!.GetValue<string>());
        var limits = await SendAsync(HttpMethod.Get, "limits");
        Assert.Equal(3, limits.Body!["limits"]![0]!["max_backups"]!.GetValue<int>());

        // ... and a schedule's run is skipped, saying why on the schedule.
        var overflow = await CreateScheduleAsync(instance, "overflow", retention: 1);
        var skipped = await Timeouts.EventuallyAsync(
            () => ScheduleAsync(Id(overflow["id"])),
            s => s["last_run_at"] is JsonValue,
            Timeouts.Settle,
            "the overflow schedule's run");
        Assert.Null(skipped["last_backup_id"]);
        Assert.Contains("Quota exceeded for resources: ['backups']", Id(skipped["last_error"]), StringComparison.Ordinal);
        Assert.Equal(3, (await BackupsAsync()).Count);
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(HttpMethod.Delete, $"backup_schedules/{overflow["id"]}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"backup_schedules/{overflow["id"]}")).Status);

        // A deleted backup frees its place at once.
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(HttpMethod.Delete, $"backups/{filler}")).Status);
        await Timeouts.EventuallyAsync(() => SendAsync(HttpMethod.Get, $"backups/{filler}"), r => r.Status == HttpStatusCode.NotFound, Timeouts.Settle, "the filler backup to go");

        // The next run, a minute after the first, makes a second backup; retention 1 then deletes the first, and only it.
        var second = await Timeouts.EventuallyAsync(
            () => ScheduleAsync(Id(every["id"])),
            s => s["last_backup_id"] is JsonValue v && v.GetValue<string>() != firstBackup,
            TwoRuns,
            "the schedule's second run");
        var secondBackup = Id(second["last_backup_id"]);
        await CompletedAsync(secondBackup, "the second scheduled backup");
        await Timeouts.EventuallyAsync(
            () => SendAsync(HttpMethod.Get, $"backups/{firstBackup}"),
            r => r.Status == HttpStatusCode.NotFound,
            Timeouts.Settle,
            "retention to delete the first scheduled backup");
        Assert.Equal([secondBackup, mine], (await BackupsAsync()).Select(b => Id(b["id"])));

        // Listed, for the project and for the instance; deleting the instance deletes its schedules (its backups stay).
        var listed = await SendAsync(HttpMethod.Get, $"backup_schedules?instance_id={instance}");
        Assert.Equal([Id(every["id"])], listed.Body!["backup_schedules"]!.AsArray().Select(s => Id(s!["id"])));
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(HttpMethod.Delete, $"instances/{instance}")).Status);
        await Timeouts.EventuallyAsync(
            () => SendAsync(HttpMethod.Get, $"backup_schedules/{every["id"]}"),
            r => r.Status == HttpStatusCode.NotFound,
            Timeouts.Settle,
            "the instance's schedule to go with it");
        Assert.Equal(2, (await BackupsAsync()).Count);
    }

    [Fact]
    public async Task Bad_schedules_are_refused_naming_the_field_and_another_project_sees_none()
    {
        var unknown = Guid.NewGuid().ToString();
        async Task RefusedAsync(string body, string field, string why)
        {
            var refused = await SendAsync(HttpMethod.Post, "backup_schedules", JsonNode.Parse(body));
            Assert.True(refused.Status == HttpStatusCode.BadRequest, refused.Body?.ToJsonString());
            var message = refused.Body!["badRequest"]!["message"]!.GetValue<string>();
            Assert.Contains(field, message, StringComparison.Ordinal);
            Assert.Contains(why, message, StringComparison.Ordinal);
        }

        await RefusedAsync($$$"""{"backup_schedule": {"instance": "{{{unknown}}}", "name": "n", "pattern": "61 * * * *", "retention": 1}}""", "backup_schedule['pattern']", "minute '61' is outside 0-59");
        await RefusedAsync($$$"""{"backup_schedule": {"instance": "{{{unknown}}}", "name": "n", "pattern": "0 0 31 2 *", "retention": 1}}""", "backup_schedule['pattern']", "matches no date");
        await RefusedAsync($$$"""{"backup_schedule": {"instance": "{{{unknown}}}", "name": "n", "pattern": 5, "retention": 1}}""", "backup_schedule['pattern']", "is not of type 'string'");
        await RefusedAsync($$$"""{"backup_schedule": {"instance": "{{{unknown}}}", "name": "n", "interval_minutes": 5, "retention": 0}}""", "backup_schedule['retention']", "less than the minimum of 1");
        await RefusedAsync($$$"""{"backup_schedule": {"instance": "{{{unknown}}}", "name": "n", "interval_minutes": 0, "retention": 1}}""", "backup_schedule['interval_minutes']", "less than the minimum of 1");
        await RefusedAsync($$$"""{"backup_schedule": {"instance": "{{{unknown}}}", "name": "n", "interval_minutes": "5", "retention": 1}}""", "backup_schedule['interval_minutes']", "is not of type 'integer'");
        await RefusedAsync($$$"""{"backup_schedule": {"instance": "{{{unknown}}}", "name": "n", "interval_minutes": 5, "pattern": "* * * * *", "retention": 1}}""", "backup_schedule", "not both");
        await RefusedAsync($$$"""{"backup_schedule": {"instance": "{{{unknown}}}", "name": "n", "retention": 1}}""", "backup_schedule", "needs 'pattern'");
        await RefusedAsync($$$"""{"backup_schedule": {"instance": "{{{unknown}}}", "name": "n", "interval_minutes": 5, "retention": 1, "enabled": "yes"}}""", "backup_schedule['enabled']", "is not of type 'boolean'");
        await RefusedAsync($$$"""{"backup_schedule": {"instance": "{{{unknown}}}", "name": "n", "interval_minutes": 5, "retention": 1}}""", "backup_schedule['instance']", "is not an instance of this project");
        await RefusedAsync("""{"backup_schedule": {"instance": "nope", "name": "n", "interval_minutes": 5, "retention": 1}}""", "backup_schedule['instance']", "is not a 'uuid'");
        await RefusedAsync("""{"backup_schedule": {"name": "n", "interval_minutes": 5, "retention": 1, "color": "red"}}""", "backup_schedule", "'instance' is a required property");
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"backup_schedules/{unknown}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Delete, $"backup_schedules/{unknown}")).Status);
        Assert.Empty((await SendAsync(HttpMethod.Get, "backup_schedules")).Body!["backup_schedules"]!.AsArray());
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task Another_projects_schedule_is_not_found_and_an_update_retimes_a_schedule()
    {
        var instance = await CreateInstanceAsync("mine");
        var body = new JsonObject
        {
            ["backup_schedule"] = new JsonObject { ["instance"] = instance, ["name"] = "nightly", ["pattern"] = "0 3 * * *", ["retention"] = 7, ["enabled"] = false },
        };
        var created = await SendAsync(HttpMethod.Post, "backup_schedules", body);
        Assert.True(created.Status == HttpStatusCode.OK, created.Body?.ToJsonString());
        var id = Id(created.Body!["backup_schedule"]!["id"]);
        Assert.Null(created.Body["backup_schedule"]!["next_run_at"]); // disabled: never due

        // Enabled, with a cron pattern: due at the next 03:00 UTC.
        var updated = await SendAsync(HttpMethod.Put, $"backup_schedules/{id}", JsonNode.Parse("""{"backup_schedule": {"enabled": true, "retention": 3}}"""));
        Assert.True(updated.Status == HttpStatusCode.OK, updated.Body?.ToJsonString());
        var schedule = updated.Body!["backup_schedule"]!;
        Assert.Equal(("0 3 * * *", 3, true), (Id(schedule["pattern"]), schedule["retention"]!.GetValue<int>(), schedule["enabled"]!.GetValue<bool>()));
        Assert.EndsWith("T03:00:00", Id(schedule["next_run_at"]), StringComparison.Ordinal);
        var badUpdate = await SendAsync(HttpMethod.Put, $"backup_schedules/{id}", JsonNode.Parse("""{"backup_schedule": {"pattern": "* * *"}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, badUpdate.Status);
        Assert.Contains("backup_schedule['pattern']", badUpdate.Body!["badRequest"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // Another project (a member of its own) finds none of it.
        using var admin = Client((await _server.LoginAsync("admin", _server.AdminPassword, "admin")).Token, string.Empty);
        var made = await SendAsync(admin, HttpMethod.Post, $"{_server.BaseUrl}/identity/v3/projects", JsonNode.Parse("""{"project": {"name": "other", "domain_id": "default"}}"""));
        Assert.True(made.Status == HttpStatusCode.Created, made.Body?.ToJsonString());
        var otherId = Id(made.Body!["project"]!["id"]);
        var user = await SendAsync(admin, HttpMethod.Post, $"{_server.BaseUrl}/identity/v3/users", new JsonObject { ["user"] = new JsonObject { ["name"] = "olga", ["password"] = "pw-olga-1", ["default_project_id"] = otherId, ["domain_id"] = "default" } });
        Assert.True(user.Status == HttpStatusCode.Created, user.Body?.ToJsonString());
        var member = Id((await SendAsync(admin, HttpMethod.Get, $"{_server.BaseUrl}/identity/v3/roles?name=member")).Body!["roles"]![0]!["id"]);
        await SendAsync(admin, HttpMethod.Put, $"{_server.BaseUrl}/identity/v3/projects/{otherId}/users/{Id(user.Body!["user"]!["id"])}/roles/{member}");
        var (otherToken, otherProject) = await _server.LoginAsync("olga", "pw-olga-1", "other");
        using var other = Client(otherToken, otherProject);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(other, HttpMethod.Get, $"backup_schedules/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(other, HttpMethod.Put, $"backup_schedules/{id}", JsonNode.Parse("""{"backup_schedule": {"enabled": false}}"""))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(other, HttpMethod.Delete, $"backup_schedules/{id}")).Status);
        Assert.Empty((await SendAsync(other, HttpMethod.Get, "backup_schedules")).Body!["backup_schedules"]!.AsArray());
        var theirs = await SendAsync(other, HttpMethod.Post, "backup_schedules", new JsonObject { ["backup_schedule"] = new JsonObject { ["instance"] = instance, ["name"] = "steal", ["interval_minutes"] = 5, ["retention"] = 1 } });
        Assert.Equal(HttpStatusCode.BadRequest, theirs.Status);
        Assert.True((await ScheduleAsync(id))["enabled"]!.GetValue<bool>());
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task The_cli_creates_lists_shows_and_deletes_schedules_by_name()
    {
        _ = await CreateInstanceAsync("cli-db");
        Task<ProcessResult> HoardAsync(params string[] args) =>
            ProcessRunner.RunAsync(HoardServer.Executable, args, new Dictionary<string, string>(_server.AdminEnvironment) { ["COLUMNS"] = "200" });

        var created = await HoardAsync("backup", "schedule", "create", "daily", "--instance", "cli-db", "--pattern", "0 3 * * *", "--retention", "7");
        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Contains("0 3 * * *", created.Stdout, StringComparison.Ordinal);
        var hourly = await HoardAsync("backup", "schedule", "create", "hourly", "--instance", "cli-db", "--interval", "60", "--retention", "24", "--disabled");
        Assert.True(hourly.ExitCode == 0, hourly.ToString());

        var listed = await HoardAsync("backup", "schedule", "list", "--instance", "cli-db");
        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.Contains("daily", listed.Stdout, StringComparison.Ordinal);
        Assert.Contains("every 60 min", listed.Stdout, StringComparison.Ordinal);
        var shown = await HoardAsync("backup", "schedule", "show", "daily");
        Assert.True(shown.ExitCode == 0, shown.ToString());
        Assert.Contains("T03:00:00", shown.Stdout, StringComparison.Ordinal);

        var refused = await HoardAsync("backup", "schedule", "create", "bad", "--instance", "cli-db", "--pattern", "61 * * * *", "--retention", "1");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("backup_schedule['pattern']", refused.Stdout + refused.Stderr, StringComparison.Ordinal);

        var deleted = await HoardAsync("backup", "schedule", "delete", "daily");
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        var after = (await HoardAsync("backup", "schedule", "list")).Stdout;
        Assert.DoesNotContain("daily", after, StringComparison.Ordinal);
        Assert.Contains("hourly", after, StringComparison.Ordinal);
    }
}
