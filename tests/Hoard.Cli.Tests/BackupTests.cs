using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>Backups of real Redis instances through Trove's API: taken, restored into new instances, refused when tampered with.</summary>
public sealed class BackupTests : IAsyncLifetime
{
    private HoardServer _server = null!;
    private HttpClient _http = null!;
    private string _project = null!;

    public async Task InitializeAsync()
    {
        _server = await HoardServer.StartAsync();
        var (token, project) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        _project = project;
        _http = new HttpClient { BaseAddress = new Uri($"{_server.BaseUrl}/v1.0/{project}/"), Timeout = Timeouts.Short };
        _http.DefaultRequestHeaders.Add("X-Auth-Token", token);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpMethod method, string path, JsonNode? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request).Within(Timeouts.Short);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
    }

    private async Task<JsonObject> CreateInstanceAsync(string name, string? backupId = null, string expect = "ACTIVE", string flavor = "1")
    {
        var instance = new JsonObject { ["name"] = name, ["flavorRef"] = flavor, ["datastore"] = new JsonObject { ["type"] = "redis" } };
        if (backupId is not null)
        {
            instance["restorePoint"] = new JsonObject { ["backupRef"] = backupId };
        }

        var created = await SendAsync(HttpMethod.Post, "instances", new JsonObject { ["instance"] = instance });
        Assert.True(created.Status == HttpStatusCode.OK, created.Body?.ToJsonString());
        var id = created.Body!["instance"]!["id"]!.GetValue<string>();
        var settled = await Timeouts.EventuallyAsync(
            () => SendAsync(HttpMethod.Get, $"instances/{id}"),
            r => r.Body?["instance"]?["status"]?.GetValue<string>() is "ACTIVE" or "ERROR",
            Timeouts.Settle,
            $"{name} to settle");
        var shown = settled.Body!["instance"]!.AsObject();
        Assert.True(shown["status"]!.GetValue<string>() == expect, shown.ToJsonString());
        return shown;
    }

    private async Task<(string Address, string Password)> RootAsync(JsonObject instance)
    {
        var root = await SendAsync(HttpMethod.Post, $"instances/{instance["id"]}/root");
        Assert.True(root.Status == HttpStatusCode.OK, root.Body?.ToJsonString());
        return (instance["ip"]![0]!.GetValue<string>(), root.Body!["user"]!["password"]!.GetValue<string>());
    }

    private static async Task<string> RedisCliAsync((string Address, string Password) to, params string[] command)
    {
        var result = await ProcessRunner.RunAsync("redis-cli", ["-h", to.Address, "--user", "root", "--pass", to.Password, "--no-auth-warning", .. command]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout.Trim();
    }

    private async Task<JsonObject> BackupAsync(string instanceId, string name)
    {
        var created = await SendAsync(HttpMethod.Post, "backups", new JsonObject { ["backup"] = new JsonObject { ["name"] = name, ["instance"] = instanceId } });
        Assert.True(created.Status == HttpStatusCode.Accepted, created.Body?.ToJsonString());
        var id = created.Body!["backup"]!["id"]!.GetValue<string>();
        var done = await Timeouts.EventuallyAsync(
            () => SendAsync(HttpMethod.Get, $"backups/{id}"),
            r => r.Body?["backup"]?["status"]?.GetValue<string>() is "COMPLETED" or "FAILED",
            Timeouts.Settle,
            $"backup {name} to finish");
        var backup = done.Body!["backup"]!.AsObject();
        Assert.True(backup["status"]!.GetValue<string>() == "COMPLETED", backup.ToJsonString());
        return backup;
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task A_backup_restores_into_a_new_instance_and_a_tampered_one_is_refused_with_a_fault_that_says_so()
    {
        var source = await CreateInstanceAsync("src");
        var sourceRoot = await RootAsync(source);
        for (var i = 0; i < 500; i++)
        {
            await RedisCliAsync(sourceRoot, "SET", $"key:{i}", $"value {i}");
        }

        var backup = await BackupAsync(source["id"]!.GetValue<string>(), "first");
        Assert.Equal("ACTIVE", (await SendAsync(HttpMethod.Get, $"instances/{source["id"]}")).Body!["instance"]!["status"]!.GetValue<string>()); // BACKUP only while it ran
        Assert.Equal("redis", backup["datastore"]!["type"]!.GetValue<string>());
        var stored = new Uri(backup["locationRef"]!.GetValue<string>()).LocalPath;
        Assert.True(File.Exists(stored), stored);
        Assert.StartsWith(Path.Combine(_server.DataDir, "backups"), stored, StringComparison.Ordinal);
        Assert.DoesNotContain("value 1", Encoding.Latin1.GetString(await File.ReadAllBytesAsync(stored)), StringComparison.Ordinal); // encrypted at rest

        // Listed for the project and for its instance.
        var listed = await SendAsync(HttpMethod.Get, "backups");
        Assert.Contains(listed.Body!["backups"]!.AsArray(), b => b!["id"]!.GetValue<string>() == backup["id"]!.GetValue<string>());
        var ofInstance = await SendAsync(HttpMethod.Get, $"instances/{source["id"]}/backups");
        Assert.Single(ofInstance.Body!["backups"]!.AsArray());

        // Restored: a new instance starts with the data.
        var restored = await CreateInstanceAsync("restored", backup["id"]!.GetValue<string>());
        var restoredRoot = await RootAsync(restored);
        Assert.Equal("500", await RedisCliAsync(restoredRoot, "DBSIZE"));
        Assert.Equal("value 321", await RedisCliAsync(restoredRoot, "GET", "key:321"));

        // Tampered with at rest: one byte flipped. The restore is refused and the instance says why.
        await using (var file = new FileStream(stored, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = file.Length / 2;
            var b = file.ReadByte();
            file.Position = file.Length / 2;
            file.WriteByte((byte)(b ^ 0x01));
        }

        var refused = await CreateInstanceAsync("tampered", backup["id"]!.GetValue<string>(), expect: "ERROR");
        var fault = refused["fault"]?["message"]?.GetValue<string>() ?? string.Empty;
        Assert.Contains($"Backup {backup["id"]} was not restored", fault, StringComparison.Ordinal);
        Assert.Contains("SHA-256", refused["fault"]?["details"]?.GetValue<string>() ?? fault, StringComparison.Ordinal);

        // Deleted: gone from the API and from storage.
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(HttpMethod.Delete, $"backups/{backup["id"]}")).Status);
        await Timeouts.EventuallyAsync(() => SendAsync(HttpMethod.Get, $"backups/{backup["id"]}"), r => r.Status == HttpStatusCode.NotFound, Timeouts.Settle, "the backup to be deleted");
        Assert.False(Directory.Exists(Path.GetDirectoryName(stored)));
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task A_guest_killed_mid_backup_leaves_it_failed_with_nothing_stored_and_the_next_backup_works()
    {
        var source = await CreateInstanceAsync("big", flavor: "2");
        var root = await RootAsync(source);

        // About 400 MB, so the backup is still running when the agent is killed.
        await RedisCliAsync(root, "EVAL", "for i = 1, 2000000 do redis.call('SET', 'k' .. i, string.rep('v', 180)) end return 1", "0");
        var created = await SendAsync(HttpMethod.Post, "backups", new JsonObject { ["backup"] = new JsonObject { ["name"] = "doomed", ["instance"] = source["id"]!.GetValue<string>() } });
        Assert.Equal(HttpStatusCode.Accepted, created.Status);
        var id = created.Body!["backup"]!["id"]!.GetValue<string>();
        await Timeouts.EventuallyAsync(() => SendAsync(HttpMethod.Get, $"backups/{id}"), r => r.Body?["backup"]?["status"]?.GetValue<string>() != "NEW", Timeouts.Settle, "the backup to start");
        Assert.Equal("BACKUP", (await SendAsync(HttpMethod.Get, $"instances/{source["id"]}")).Body!["instance"]!["status"]!.GetValue<string>());
        ProcessRunner.Kill(_server.AgentPid() ?? throw new InvalidOperationException("no agent"));

        var failed = await Timeouts.EventuallyAsync(
            () => SendAsync(HttpMethod.Get, $"backups/{id}"),
            r => r.Body?["backup"]?["status"]?.GetValue<string>() is "FAILED" or "COMPLETED",
            Timeouts.Settle,
            "the backup to end");
        Assert.True(failed.Body!["backup"]!["status"]!.GetValue<string>() == "FAILED", failed.Body.ToJsonString());
        Assert.False(string.IsNullOrEmpty(failed.Body["backup"]!["fail_reason"]?.GetValue<string>()));
        var folder = Path.Combine(_server.DataDir, "backups", id);
        Assert.False(File.Exists(Path.Combine(folder, "backup.hbk")), "a failed backup left stored bytes");

        // The agent comes back, the instance is ACTIVE again, and the next backup is whole.
        await Timeouts.EventuallyAsync(
            () => SendAsync(HttpMethod.Get, $"instances/{source["id"]}"),
            r => r.Body?["instance"]?["status"]?.GetValue<string>() == "ACTIVE",
            Timeouts.Settle,
            "the instance to be ACTIVE again");
        var next = await BackupAsync(source["id"]!.GetValue<string>(), "after");
        Assert.True(next["size"]!.GetValue<double>() > 0, next.ToJsonString());
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task A_backup_sealed_with_another_key_is_refused_naming_the_keys()
    {
        var source = await CreateInstanceAsync("keyed");
        await RedisCliAsync(await RootAsync(source), "SET", "k", "v");
        var backup = await BackupAsync(source["id"]!.GetValue<string>(), "old-key");

        // The operator configures a new key: backups sealed with the old one are refused, never restored silently.
        await _server.RestartWithAsync(new Dictionary<string, string> { ["HOARD_DEFAULT_BACKUP_ENCRYPTION_KEY"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)) });
        var refused = await CreateInstanceAsync("wrong-key", backup["id"]!.GetValue<string>(), expect: "ERROR");
        var details = refused["fault"]?["details"]?.GetValue<string>() ?? refused["fault"]?["message"]?.GetValue<string>() ?? string.Empty;
        Assert.Contains("encrypted with another key", details, StringComparison.Ordinal);
        Assert.Contains($"Backup {backup["id"]} was not restored", refused["fault"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_backup_requests_are_refused_clearly()
    {
        var missing = await SendAsync(HttpMethod.Post, "backups", JsonNode.Parse("""{"backup": {"name": "b"}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, missing.Status);
        Assert.Contains("'instance' is a required property", missing.Body!["badRequest"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        var notUuid = await SendAsync(HttpMethod.Post, "backups", JsonNode.Parse("""{"backup": {"name": "b", "instance": "nope"}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, notUuid.Status);
        var unknown = await SendAsync(HttpMethod.Post, "backups", new JsonObject { ["backup"] = new JsonObject { ["name"] = "b", ["instance"] = Guid.NewGuid().ToString() } });
        Assert.Equal(HttpStatusCode.NotFound, unknown.Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"backups/{Guid.NewGuid()}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Delete, $"backups/{Guid.NewGuid()}")).Status);
        var restoreMissing = await SendAsync(HttpMethod.Post, "instances", new JsonObject { ["instance"] = new JsonObject { ["name"] = "r", ["flavorRef"] = "1", ["restorePoint"] = new JsonObject { ["backupRef"] = Guid.NewGuid().ToString() } } });
        Assert.Equal(HttpStatusCode.NotFound, restoreMissing.Status);
        Assert.Empty((await SendAsync(HttpMethod.Get, "backups")).Body!["backups"]!.AsArray());
    }
}
