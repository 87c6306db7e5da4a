using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// SIGKILL of the control plane, the guest agent and a database: acknowledged requests are honoured,
/// nothing is orphaned, databases outlive the processes that manage them.
/// </summary>
public sealed class ResilienceTests
{
    private sealed class Api(HoardServer server, string token, string project) : IDisposable
    {
        private readonly HttpClient _http = new() { BaseAddress = new Uri(server.BaseUrl), Timeout = Timeouts.Short };

        public static async Task<Api> LoginAsync(HoardServer server)
        {
            var (token, project) = await server.LoginAsync("admin", server.AdminPassword, "admin");
            return new Api(server, token, project);
        }

        public async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpMethod method, string path, string? json = null)
        {
            using var request = new HttpRequestMessage(method, $"/v1.0/{project}{path}");
            request.Headers.Add("X-Auth-Token", token);
            if (json is not null)
            {
                request.Content = new StringContent(json, Encoding.UTF8, "application/json");
            }

            using var response = await _http.SendAsync(request).Within(Timeouts.Short);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
        }

        public async Task<string> CreateAsync(string name)
        {
            var created = await SendAsync(HttpMethod.Post, "/instances", $"{{\"instance\":{{\"name\":\"{name}\",\"flavorRef\":\"1\",\"datastore\":{{\"type\":\"redis\"}}}}}}");
            Assert.Equal(HttpStatusCode.OK, created.Status);
            return created.Body!["instance"]!["id"]!.GetValue<string>();
        }

        public async Task<string?> StatusAsync(string id)
        {
            var shown = await SendAsync(HttpMethod.Get, $"/instances/{id}");
            return shown.Status == HttpStatusCode.NotFound ? null : shown.Body!["instance"]!["status"]!.GetValue<string>();
        }

        public async Task<JsonObject> WaitForAsync(string id, string status)
        {
            await Timeouts.EventuallyAsync(() => StatusAsync(id), s => s == status, Timeouts.Settle, $"{id} to be {status}");
            return (await SendAsync(HttpMethod.Get, $"/instances/{id}")).Body!["instance"]!.AsObject();
        }

        public Task WaitGoneAsync(string id) => Timeouts.EventuallyAsync(() => StatusAsync(id), s => s is null, Timeouts.Settle, $"{id} to be gone");

        public void Dispose() => _http.Dispose();
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task Killing_the_control_plane_mid_creates_and_deletes_loses_no_acknowledged_request_and_orphans_nothing()
    {
        await using var server = await HoardServer.StartAsync(new Dictionary<string, string> { ["HOARD_DEFAULT_TASK_LEASE"] = "3" });
        var api = await Api.LoginAsync(server);
        var live = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            live.Add(await api.CreateAsync($"old{i}"));
        }

        foreach (var id in live)
        {
            await api.WaitForAsync(id, "ACTIVE");
        }

        var deleted = new List<string>();
        for (var round = 0; round < 2; round++)
        {
            // A burst of creates and deletes; whatever was acknowledged before the kill must happen.
            var creates = Enumerable.Range(0, 4).Select(i => api.CreateAsync($"r{round}-{i}")).ToList();
            var victims = live.Take(2).ToList();
            var deletes = victims.Select(id => api.SendAsync(HttpMethod.Delete, $"/instances/{id}")).ToList();
            await Task.Delay(15 + (round * 25));
            await server.KillAsync();

            foreach (var create in creates)
            {
                try
                {
                    live.Add(await create);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or Xunit.Sdk.XunitException)
                {
                    // not acknowledged: the control plane died first
                }
            }

            for (var i = 0; i < victims.Count; i++)
            {
                try
                {
                    if ((await deletes[i]).Status == HttpStatusCode.Accepted)
                    {
                        deleted.Add(victims[i]);
                        live.Remove(victims[i]);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                }
            }

            await server.StartProcessAsync();
            api.Dispose();
            api = await Api.LoginAsync(server);
            foreach (var id in deleted)
            {
                await api.WaitGoneAsync(id);
            }

            // An unacknowledged delete may still have landed; an instance is either gone or comes back ACTIVE.
            foreach (var id in live.ToList())
            {
                await Timeouts.EventuallyAsync(() => api.StatusAsync(id), s => s is null or "ACTIVE" or "ERROR", Timeouts.Settle, $"{id} to settle");
                var status = await api.StatusAsync(id);
                if (status is null)
                {
                    live.Remove(id);
                }
                else
                {
                    Assert.Equal("ACTIVE", status);
                }
            }
        }

        // A create whose answer was lost in the kill may still have been committed: it must settle too.
        // So the truth is the server's own list: it holds every acknowledged create and no acknowledged delete.
        var listed = new List<string>();
        string? marker = null;
        do
        {
            var page = (await api.SendAsync(HttpMethod.Get, "/instances" + (marker is null ? string.Empty : $"?marker={marker}"))).Body!;
            listed.AddRange(page["instances"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()));
            marker = page["links"]?[0]?["href"]?.GetValue<string>().Split("marker=")[1];
        }
        while (marker is not null);

        Assert.Empty(live.Except(listed));
        Assert.Empty(deleted.Intersect(listed));

        // Exactly one database process per instance, one directory each, none for deleted ones.
        var addresses = new List<string>();
        foreach (var id in listed)
        {
            addresses.Add((await api.WaitForAsync(id, "ACTIVE"))["ip"]![0]!.GetValue<string>());
        }

        Assert.Equal(addresses.Count, addresses.Distinct().Count());
        var pids = server.DatabasePids();
        Assert.Equal(listed.Count, pids.Count);
        foreach (var address in addresses)
        {
            Assert.Single(ProcessRunner.FindProcesses("redis-server", address + ":"));
        }

        var dirs = Directory.GetDirectories(Path.Combine(server.PoolDir, "instances")).Select(d => Path.GetFileName(d)!).Order().ToList();
        Assert.Equal(listed.Order().ToList(), dirs);
        const string suite = "control plane killed mid creates and deletes";
        Figures.Record(suite, "control-plane SIGKILLs", 2);
        Figures.Record(suite, "creates and deletes sent", 2 * 6);
        Figures.Record(suite, "acknowledged deletes carried out", deleted.Count);
        Figures.Record(suite, "instances at the end, each ACTIVE with one redis-server and one directory", listed.Count);
        api.Dispose();
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task Databases_outlive_a_killed_agent_and_a_killed_database_comes_back_with_its_data()
    {
        await using var server = await HoardServer.StartAsync(new Dictionary<string, string> { ["HOARD_DEFAULT_AGENT_RESTART_AFTER"] = "2" });
        using var api = await Api.LoginAsync(server);
        var id = await api.CreateAsync("sturdy");
        var address = (await api.WaitForAsync(id, "ACTIVE"))["ip"]![0]!.GetValue<string>();
        var root = await api.SendAsync(HttpMethod.Post, $"/instances/{id}/root");
        var password = root.Body!["user"]!["password"]!.GetValue<string>();
        string[] auth = ["-h", address, "--user", "root", "--pass", password, "--no-auth-warning"];
        Assert.Equal("OK", (await ProcessRunner.RunAsync("redis-cli", [.. auth, "SET", "kept", "yes"])).Stdout.Trim());

        var agent = server.AgentPid() ?? throw new InvalidOperationException("no agent runs");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        ProcessRunner.Kill(agent);
        Assert.Equal("yes", (await ProcessRunner.RunAsync("redis-cli", [.. auth, "GET", "kept"])).Stdout.Trim());
        await Timeouts.EventuallyAsync(() => Task.FromResult(server.AgentPid()), p => p is not null && p != agent, Timeouts.Settle, "a new agent");
        Figures.Record("agent and database SIGKILL (Redis)", "seconds from agent SIGKILL to a new agent (agent_restart_after 2 s)", Math.Round(clock.Elapsed.TotalSeconds, 1));

        // The new agent re-adopted the instance: guest calls work again.
        await Timeouts.EventuallyAsync(() => api.SendAsync(HttpMethod.Post, $"/instances/{id}/root"), r => r.Status == HttpStatusCode.OK, Timeouts.Settle, "root enable through the new agent");
        password = (await api.SendAsync(HttpMethod.Post, $"/instances/{id}/root", "{\"password\":\"ChosenPassword42\"}")).Body!["user"]!["password"]!.GetValue<string>();
        Assert.Equal("ChosenPassword42", password);
        auth = ["-h", address, "--user", "root", "--pass", password, "--no-auth-warning"];

        var database = Assert.Single(ProcessRunner.FindProcesses("redis-server", address + ":"));
        clock.Restart();
        ProcessRunner.Kill(database);
        await Timeouts.EventuallyAsync(
            async () => (await ProcessRunner.RunAsync("redis-cli", [.. auth, "GET", "kept"])).Stdout.Trim(),
            v => v == "yes",
            Timeouts.Settle,
            "the restarted database to serve the key written before the kill");
        Assert.NotEqual(database, Assert.Single(ProcessRunner.FindProcesses("redis-server", address + ":")));
        await api.WaitForAsync(id, "ACTIVE");
        Figures.Record("agent and database SIGKILL (Redis)", "seconds from redis-server SIGKILL to the key read back and the instance ACTIVE", Math.Round(clock.Elapsed.TotalSeconds, 1));
    }

    [RequiresBinaryFact("redis-server")]
    public async Task A_silent_guest_shows_as_error_until_it_reports_again()
    {
        await using var server = await HoardServer.StartAsync(new Dictionary<string, string>
        {
            ["HOARD_DEFAULT_AGENT_HEARTBEAT_EXPIRY"] = "3",
            ["HOARD_DEFAULT_AGENT_RESTART_AFTER"] = "600",
        });
        using var api = await Api.LoginAsync(server);
        var id = await api.CreateAsync("watched");
        await api.WaitForAsync(id, "ACTIVE");
        var agent = server.AgentPid() ?? throw new InvalidOperationException("no agent runs");
        ProcessRunner.Kill(agent, 19); // SIGSTOP: alive but silent
        try
        {
            var failed = await api.WaitForAsync(id, "ERROR");
            Assert.Equal("ERROR", failed["operating_status"]!.GetValue<string>());
        }
        finally
        {
            ProcessRunner.Kill(agent, 18); // SIGCONT
        }

        await api.WaitForAsync(id, "ACTIVE");
    }
}
