using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// Passwords users hand to Hoard (instance users at create, a chosen root password, users made and re-passworded
/// later, on Redis and PostgreSQL) never stay in clear anywhere Hoard writes: not the management store, the control
/// plane's or the agent's log, the trace store (every request traced, store calls too), task payloads, instance
/// directories or the engines' own files. Only the admin-openrc file holds the admin password, by design, 0600.
/// </summary>
public sealed class SecretScanTests
{
    private const string TraceKey = "scan-trace-key";

    [RequiresBinaryFact("redis-server", "psql", "/usr/lib/postgresql/15/bin/postgres")]
    public async Task No_password_a_user_gave_is_kept_in_clear_in_any_log_trace_store_or_instance_file()
    {
        await using var server = await HoardServer.StartAsync(
            new Dictionary<string, string> { ["HOARD_PROFILER_TRACE_STORE"] = "true" }, ["--profiler-hmac-keys", TraceKey]);
        var (token, project) = await server.LoginAsync("admin", server.AdminPassword, "admin");
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = Timeouts.Cli };

        async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpMethod method, string path, string? json = null)
        {
            using var request = new HttpRequestMessage(method, $"/v1.0/{project}{path}");
            request.Headers.Add("X-Auth-Token", token);
            var (info, hmac) = ProfilerTests.Sign(Guid.NewGuid().ToString(), TraceKey);
            request.Headers.Add("X-Trace-Info", info);
            request.Headers.Add("X-Trace-HMAC", hmac);
            if (json is not null)
            {
                request.Content = new StringContent(json, Encoding.UTF8, "application/json");
            }

            using var response = await http.SendAsync(request).Within(Timeouts.Cli);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
        }

        async Task<string> CreateAsync(string name, string datastore, string user, string password)
        {
            var created = await SendAsync(
                HttpMethod.Post,
                "/instances",
                $"{{\"instance\":{{\"name\":\"{name}\",\"flavorRef\":\"1\",\"datastore\":{{\"type\":\"{datastore}\"}},\"users\":[{{\"name\":\"{user}\",\"password\":\"{password}\"}}]}}}}");
            Assert.True(created.Status == HttpStatusCode.OK, $"{created.Status} {created.Body}");
            var id = created.Body!["instance"]!["id"]!.GetValue<string>();
            await Timeouts.EventuallyAsync(
                async () => (await SendAsync(HttpMethod.Get, $"/instances/{id}")).Body?["instance"]?["status"]?.GetValue<string>(),
                s => s is "ACTIVE" or "ERROR",
                Timeouts.Settle,
                $"{name} to settle");
            return id;
        }

        // Each password distinct and unlikely to occur by chance, so a hit means that password.
        string Secret(string what) => $"Scan-{what}-{Guid.NewGuid():N}";
        var secrets = new Dictionary<string, string>
        {
            ["redis user at create"] = Secret("ru"),
            ["redis root"] = Secret("rr"),
            ["redis user made later"] = Secret("rl"),
            ["postgresql user at create"] = Secret("pu"),
            ["postgresql user made later"] = Secret("pl"),
            ["postgresql changed password"] = Secret("pc"),
            ["postgresql root"] = Secret("pr"),
        };

        var redis = await CreateAsync("scan-redis", "redis", "cache", secrets["redis user at create"]);
        var pg = await CreateAsync("scan-pg", "postgresql", "app", secrets["postgresql user at create"]);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, $"/instances/{redis}/root", $"{{\"password\":\"{secrets["redis root"]}\"}}")).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(HttpMethod.Post, $"/instances/{redis}/users", $"{{\"users\":[{{\"name\":\"later\",\"password\":\"{secrets["redis user made later"]}\"}}]}}")).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(HttpMethod.Post, $"/instances/{pg}/users", $"{{\"users\":[{{\"name\":\"later\",\"password\":\"{secrets["postgresql user made later"]}\"}}]}}")).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(HttpMethod.Put, $"/instances/{pg}/users", $"{{\"users\":[{{\"name\":\"app\",\"password\":\"{secrets["postgresql changed password"]}\"}}]}}")).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, $"/instances/{pg}/root", $"{{\"password\":\"{secrets["postgresql root"]}\"}}")).Status);

        // The passwords work: they reached the engines (a scan that found nothing because nothing happened proves nothing).
        var redisAddress = (await SendAsync(HttpMethod.Get, $"/instances/{redis}")).Body!["instance"]!["ip"]![0]!.GetValue<string>();
        var ping = await ProcessRunner.RunAsync("redis-cli", ["-h", redisAddress, "--user", "later", "--pass", secrets["redis user made later"], "--no-auth-warning", "PING"]);
        Assert.Equal("PONG", ping.Stdout.Trim());

        // Let the trace writer, the store and the engines put down what they will, then stop everything that writes.
        await Task.Delay(TimeSpan.FromSeconds(2));
        await server.KillAsync();

        var scanned = 0L;
        var files = 0;
        var hits = new List<string>();
        var needles = secrets.ToDictionary(s => s.Key, s => Encoding.UTF8.GetBytes(s.Value));
        foreach (var file in Directory.EnumerateFiles(server.DataDir, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 }))
        {
            if (Path.GetFileName(file) == "admin-openrc" || new FileInfo(file).LinkTarget is not null)
            {
                continue; // the admin's own credentials file (checked below); links point at what is scanned anyway
            }

            byte[] bytes;
            try
            {
                bytes = await File.ReadAllBytesAsync(file).Within(Timeouts.Short);
            }
            catch (IOException)
            {
                continue; // a socket or a file removed meanwhile
            }

            files++;
            scanned += bytes.Length;
            foreach (var (what, needle) in needles)
            {
                if (bytes.AsSpan().IndexOf(needle) >= 0)
                {
                    hits.Add($"{what} in {Path.GetRelativePath(server.DataDir, file)}");
                }
            }
        }

        Assert.True(files > 50 && scanned > 1_000_000, $"scanned only {files} files, {scanned} bytes under {server.DataDir}");
        Assert.Empty(hits);
        var openrc = Path.Combine(server.DataDir, "admin-openrc");
        if (File.Exists(openrc))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(openrc));
        }
    }
}
