using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Hoard.Testing;

namespace Hoard.Bench;

/// <summary>
/// Instance creates sustained by one `hoard serve` and by two replicas over the same shared store (Redis, then
/// PostgreSQL): CLIENTS concurrent clients, spread over the replicas, each creating until COUNT creates are acknowledged;
/// the figures are acknowledged creates/s (the API) and ACTIVE/s (create to running redis-server, end to end).
/// </summary>
internal static class ReplicaBench
{
    private const int Clients = 8;

    public static async Task RunAsync(int count, Action<string> line, CancellationToken cancellationToken)
    {
        line($"machine: {Environment.ProcessorCount} cores, {File.ReadLines("/proc/meminfo").First().Split(':')[1].Trim()}, {File.ReadAllText("/proc/version").Split(' ')[2]}");
        line($"instance creates, {Clients} concurrent clients, {count} Redis instances per run, all on this machine");
        line("store       replicas  acknowledged/s  ACTIVE/s");

        var redis = new RedisTestServer();
        await redis.InitializeAsync();
        try
        {
            foreach (var replicas in new[] { 1, 2 })
            {
                var store = redis.ConnectionString(await redis.FreshDatabaseAsync()).AbsoluteUri;
                var (ack, active) = await MeasureAsync(store, replicas, count, cancellationToken);
                line($"redis       {replicas,8}  {ack,14:0.0}  {active,8:0.0}");
            }
        }
        finally
        {
            await redis.DisposeAsync();
        }

        var postgres = new PostgreSqlTestServer();
        await postgres.InitializeAsync();
        try
        {
            foreach (var replicas in new[] { 1, 2 })
            {
                var store = (await postgres.CreateDatabaseAsync()).AbsoluteUri;
                var (ack, active) = await MeasureAsync(store, replicas, count, cancellationToken);
                line($"postgresql  {replicas,8}  {ack,14:0.0}  {active,8:0.0}");
            }
        }
        finally
        {
            await postgres.DisposeAsync();
        }
    }

    private static async Task<(double Acknowledged, double Active)> MeasureAsync(string store, int replicas, int count, CancellationToken cancellationToken)
    {
        var servers = await HoardServer.StartReplicasAsync(replicas, new Dictionary<string, string> { ["HOARD_DATABASE_CONNECTION"] = store });
        try
        {
            var clients = new List<HttpClient>();
            foreach (var server in servers)
            {
                var (token, project) = await server.LoginAsync("admin", server.AdminPassword, "admin");
                var http = new HttpClient { BaseAddress = new Uri($"{server.BaseUrl}/v1.0/{project}/"), Timeout = TimeSpan.FromSeconds(60) };
                http.DefaultRequestHeaders.Add("X-Auth-Token", token);
                clients.Add(http);
            }

            // One create through each replica first, so the pool's agent runs and no replica answers its first request cold.
            var warm = new List<string>();
            for (var i = 0; i < clients.Count; i++)
            {
                warm.Add(await CreateAsync(clients[i], $"warm-{i}", cancellationToken));
            }

            await WaitActiveAsync(clients[0], warm, cancellationToken);

            var ids = new System.Collections.Concurrent.ConcurrentBag<string>();
            var next = 0;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, Clients).Select(async c =>
            {
                var http = clients[c % clients.Count];
                while (Interlocked.Increment(ref next) <= count)
                {
                    ids.Add(await CreateAsync(http, $"r{c}-{ids.Count}", cancellationToken));
                }
            }));
            var acknowledged = clock.Elapsed.TotalSeconds;
            await WaitActiveAsync(clients[^1], [.. ids], cancellationToken);
            var active = clock.Elapsed.TotalSeconds;
            foreach (var http in clients)
            {
                http.Dispose();
            }

            return (count / acknowledged, count / active);
        }
        finally
        {
            await servers[0].DisposeAsync();
        }
    }

    private static async Task<string> CreateAsync(HttpClient http, string name, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync("instances", new { instance = new { name, flavorRef = "1", datastore = new { type = "redis" } } }, cancellationToken);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken))!["instance"]!["id"]!.GetValue<string>();
    }

    /// <summary>Polls the list (pages of the API's size) until every id is ACTIVE; fails on ERROR or after 5 minutes.</summary>
    private static async Task WaitActiveAsync(HttpClient http, IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        var pending = ids.ToHashSet(StringComparer.Ordinal);
        while (pending.Count > 0)
        {
            foreach (var id in pending.ToList())
            {
                var status = (await http.GetFromJsonAsync<JsonObject>($"instances/{id}", cancellationToken))!["instance"]!["status"]!.GetValue<string>();
                if (status == "ACTIVE")
                {
                    pending.Remove(id);
                }
                else if (status == "ERROR")
                {
                    throw new InvalidOperationException($"instance {id} went to ERROR");
                }
            }

            if (deadline.Elapsed > TimeSpan.FromMinutes(5))
            {
                throw new TimeoutException($"{pending.Count} instances not ACTIVE after 5 minutes");
            }

            await Task.Delay(50, cancellationToken);
        }
    }
}
