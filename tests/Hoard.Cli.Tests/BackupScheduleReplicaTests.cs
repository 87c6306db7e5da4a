using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// Two `hoard serve` replicas over one Redis store both find a backup schedule due at the same moment: the run happens
/// once. Both are paused (SIGSTOP) across the schedule's minute and resumed together, so both look at once.
/// </summary>
public sealed class BackupScheduleReplicaTests
{
    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task Two_replicas_that_see_one_schedule_due_at_once_run_it_once()
    {
        var redis = new RedisTestServer();
        try
        {
            await redis.InitializeAsync();
            var replicas = await HoardServer.StartReplicasAsync(2, new Dictionary<string, string>
            {
                ["HOARD_DATABASE_CONNECTION"] = redis.ConnectionString(await redis.FreshDatabaseAsync()).AbsoluteUri,
                ["HOARD_DEFAULT_BACKUP_SCHEDULE_TICK"] = "1",
            });
            await using var a = replicas[0];
            await using var b = replicas[1];
            var (token, project) = await a.LoginAsync("admin", a.AdminPassword, "admin");
            using var http = new HttpClient { BaseAddress = new Uri($"{a.BaseUrl}/v1.0/{project}/"), Timeout = Timeouts.Short };
            http.DefaultRequestHeaders.Add("X-Auth-Token", token);

            var created = await SendAsync(http, HttpMethod.Post, "instances", JsonNode.Parse("""{"instance": {"name": "shared", "flavorRef": "1", "datastore": {"type": "redis"}}}"""));
            Assert.True(created.Status == HttpStatusCode.OK, created.Body?.ToJsonString());
            var instance = created.Body!["instance"]!["id"]!.GetValue<string>();
            await Timeouts.EventuallyAsync(
                () => SendAsync(http, HttpMethod.Get, $"instances/{instance}"),
                r => r.Body?["instance"]?["status"]?.GetValue<string>() is "ACTIVE" or "ERROR",
                Timeouts.Settle,
                "the instance to settle");
            Assert.Equal("ACTIVE", (await SendAsync(http, HttpMethod.Get, $"instances/{instance}")).Body!["instance"]!["status"]!.GetValue<string>());

            // Every minute; due at the next minute's start, unless that is too close to pause both replicas before it.
            var schedule = await SendAsync(http, HttpMethod.Post, "backup_schedules", new JsonObject
            {
                ["backup_schedule"] = new JsonObject { ["instance"] = instance, ["name"] = "shared", ["pattern"] = "* * * * *", ["retention"] = 5 },
            });
            Assert.True(schedule.Status == HttpStatusCode.OK, schedule.Body?.ToJsonString());
            var id = schedule.Body!["backup_schedule"]!["id"]!.GetValue<string>();
            var due = DateTime.ParseExact(
                schedule.Body["backup_schedule"]!["next_run_at"]!.GetValue<string>(),
                "yyyy-MM-dd'T'HH:mm:ss",
                CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            if (due - DateTime.UtcNow < TimeSpan.FromSeconds(4))
            {
                // Too close: let that run go by, and pause both across the next one.
                await Timeouts.EventuallyAsync(() => ScheduleAsync(http, id), s => s["last_run_at"] is JsonValue, Timeouts.Settle, "the first run");
                due = due.AddMinutes(1);
            }

            var before = (await ScheduleAsync(http, id))["last_backup_id"]?.GetValue<string>();
            await Task.Delay(Until(due.AddSeconds(-2)));
            await SignalAsync("STOP", a, b);
            try
            {
                await Task.Delay(Until(due.AddSeconds(1)));
            }
            finally
            {
                await SignalAsync("CONT", a, b);
            }

            // One of them claimed the run and backed up; the other found it taken, so made no backup and recorded no skip.
            var ran = await Timeouts.EventuallyAsync(
                () => ScheduleAsync(http, id),
                s => s["last_backup_id"]?.GetValue<string>() is { } last && last != before,
                Timeouts.Settle,
                "the run both replicas saw due");
            Assert.Null(ran["last_error"]);
            var madeThen = (await SendAsync(http, HttpMethod.Get, "backups")).Body!["backups"]!.AsArray()
                .Select(x => x!["id"]!.GetValue<string>())
                .Where(x => x != before)
                .ToList();
            Assert.Equal([ran["last_backup_id"]!.GetValue<string>()], madeThen);
            foreach (var replica in new[] { a, b })
            {
                Assert.DoesNotContain($"Backup schedule {id} made no backup", replica.ReadLog(), StringComparison.Ordinal);
            }
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }

    private static TimeSpan Until(DateTime utc) => utc - DateTime.UtcNow is { Ticks: > 0 } left ? left : TimeSpan.Zero;

    private static async Task SignalAsync(string signal, params HoardServer[] servers)
    {
        foreach (var server in servers)
        {
            var result = await ProcessRunner.RunAsync("kill", [$"-{signal}", server.ServePid.ToString(CultureInfo.InvariantCulture)]);
            Assert.True(result.ExitCode == 0, result.ToString());
        }
    }

    private static async Task<JsonObject> ScheduleAsync(HttpClient http, string id) =>
        (await SendAsync(http, HttpMethod.Get, $"backup_schedules/{id}")).Body!["backup_schedule"]!.AsObject();

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
}
