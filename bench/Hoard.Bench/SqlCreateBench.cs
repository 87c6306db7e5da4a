using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Hoard.Testing;
using MySqlConnector;
using Npgsql;

namespace Hoard.Bench;

/// <summary>
/// Issue 3's benchmark: PostgreSQL and MariaDB create -> ACTIVE through Hoard, beside bootstrapping the same
/// engine by hand in the same run (initdb + start, mariadb-install-db + start, until a query answers).
/// </summary>
internal static class SqlCreateBench
{
    private const string PgBin = "/usr/lib/postgresql/15/bin";

    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(3);

    public static async Task RunAsync(int count, Action<string> line)
    {
        var rawPg = new List<double>();
        var rawMaria = new List<double>();
        for (var i = 0; i < count; i++)
        {
            rawPg.Add(await RawPostgresAsync($"127.251.1.{i + 1}"));
            rawMaria.Add(await RawMariaDbAsync($"127.251.2.{i + 1}"));
        }

        line($"raw initdb + postgres start -> SELECT 1: median {Stats.Median(rawPg):0} ms, p90 {Stats.Percentile(rawPg, 0.9):0} ms over {count}");
        line($"raw mariadb-install-db + mariadbd start -> SELECT 1: median {Stats.Median(rawMaria):0} ms, p90 {Stats.Percentile(rawMaria, 0.9):0} ms over {count}");

        await using var server = await HoardServer.StartAsync();
        var (token, project) = await server.LoginAsync("admin", server.AdminPassword, "admin");
        using var http = new HttpClient { BaseAddress = new Uri($"{server.BaseUrl}/v1.0/{project}/") };
        http.DefaultRequestHeaders.Add("X-Auth-Token", token);
        foreach (var datastore in new[] { "postgresql", "mariadb" })
        {
            // Warm-up create: starts the pool's agent and builds the engine's template data directory once.
            var first = await CreateAndWaitAsync(http, datastore, $"{datastore}-warmup");
            // One create at a time, as users make them: between creates the agent remakes its spare copies of the
            // template (a second or so on this disk). Then the same count back to back, faster than the disk can
            // remake the spares, where creates fall back to copying.
            var creates = new List<double>();
            for (var i = 0; i < count; i++)
            {
                await Task.Delay(Settle);
                creates.Add(await CreateAndWaitAsync(http, datastore, $"{datastore}-{i}"));
            }

            line($"hoard {datastore} create -> ACTIVE, one at a time: median {Stats.Median(creates):0} ms, p90 {Stats.Percentile(creates, 0.9):0} ms over {count} (first create, building the template: {first:0} ms; target median <= 500 ms)");
            await Task.Delay(Settle);
            var burst = new List<double>();
            for (var i = 0; i < count; i++)
            {
                burst.Add(await CreateAndWaitAsync(http, datastore, $"{datastore}-burst-{i}"));
            }

            line($"hoard {datastore} create -> ACTIVE, back to back: median {Stats.Median(burst):0} ms, p90 {Stats.Percentile(burst, 0.9):0} ms over {count}");
        }
    }

    private static async Task<double> CreateAndWaitAsync(HttpClient http, string datastore, string name)
    {
        var clock = Stopwatch.StartNew();
        using var response = await http.PostAsJsonAsync("instances", new { instance = new { name, flavorRef = "1", datastore = new { type = datastore } } });
        response.EnsureSuccessStatusCode();
        var id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["instance"]!["id"]!.GetValue<string>();
        while (true)
        {
            var instance = (await http.GetFromJsonAsync<JsonObject>($"instances/{id}"))!["instance"]!;
            switch (instance["status"]!.GetValue<string>())
            {
                case "ACTIVE":
                    return clock.Elapsed.TotalMilliseconds;
                case "ERROR":
                    throw new InvalidOperationException($"{name} went to ERROR: {instance.ToJsonString()}");
            }

            // 5 ms: fine enough for figures in the hundreds of ms, and light enough not to slow the create it measures.
            await Task.Delay(5);
        }
    }

    /// <summary>initdb, then postgres on its own address, until SELECT 1 answers; as the postgres user when root.</summary>
    private static async Task<double> RawPostgresAsync(string address)
    {
        var dir = Path.Combine(Path.GetTempPath(), "hoard-bench-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        AsEngineUser("postgres", dir);
        var clock = Stopwatch.StartNew();
        var init = await ProcessRunner.RunAsync(Runner(), [.. AsUser("postgres"), $"{PgBin}/initdb", "-D", dir + "/data", "-U", "postgres", "--auth=trust", "--no-sync"], timeout: TimeSpan.FromSeconds(60));
        if (init.ExitCode != 0)
        {
            throw new InvalidOperationException($"initdb failed: {init}");
        }

        using var server = Process.Start(new ProcessStartInfo(Runner(), [.. AsUser("postgres"), $"{PgBin}/postgres", "-D", dir + "/data", "-c", $"listen_addresses={address}", "-c", "unix_socket_directories=", "-p", "5432"]) { UseShellExecute = false, RedirectStandardError = true })!;
        await UntilAsync(async () =>
        {
            await using var connection = new NpgsqlConnection($"Host={address};Port=5432;Username=postgres;Database=postgres;Pooling=false;Timeout=2");
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync();
        });
        var ms = clock.Elapsed.TotalMilliseconds;
        server.Kill(entireProcessTree: true);
        await server.WaitForExitAsync();
        Directory.Delete(dir, recursive: true);
        return ms;
    }

    /// <summary>mariadb-install-db, then mariadbd on its own address, until SELECT 1 answers.</summary>
    private static async Task<double> RawMariaDbAsync(string address)
    {
        var dir = Path.Combine(Path.GetTempPath(), "hoard-bench-maria-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        AsEngineUser("mysql", dir);
        var user = Environment.IsPrivilegedProcess ? "--user=mysql" : $"--user={Environment.UserName}";
        var clock = Stopwatch.StartNew();
        var init = await ProcessRunner.RunAsync("mariadb-install-db", ["--no-defaults", $"--datadir={dir}/data", user, "--auth-root-authentication-method=normal", "--skip-test-db"], timeout: TimeSpan.FromSeconds(60));
        if (init.ExitCode != 0)
        {
            throw new InvalidOperationException($"mariadb-install-db failed: {init}");
        }

        using var server = Process.Start(new ProcessStartInfo(Binaries.Require("mariadbd"), ["--no-defaults", $"--datadir={dir}/data", user, $"--bind-address={address}", "--port=3306", $"--socket={dir}/s", $"--pid-file={dir}/pid", "--skip-name-resolve=0"]) { UseShellExecute = false, RedirectStandardError = true })!;
        await UntilAsync(async () =>
        {
            // install-db's root@localhost: reached over TCP from 127.0.0.1, which resolves to localhost.
            await using var connection = new MySqlConnection($"Server={address};Port=3306;User ID=root;Pooling=false;Connection Timeout=2");
            await connection.OpenAsync();
            await using var command = new MySqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync();
        });
        var ms = clock.Elapsed.TotalMilliseconds;
        server.Kill(entireProcessTree: true);
        await server.WaitForExitAsync();
        Directory.Delete(dir, recursive: true);
        return ms;
    }

    private static async Task UntilAsync(Func<Task> probe)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await probe();
                return;
            }
            catch (Exception) when (deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(2);
            }
        }
    }

    private static string Runner() => Environment.IsPrivilegedProcess ? Binaries.Require("setpriv") : Binaries.Require("env");

    private static string[] AsUser(string user) =>
        Environment.IsPrivilegedProcess ? [$"--reuid={user}", $"--regid={user}", "--init-groups", "--"] : [];

    private static void AsEngineUser(string user, string dir)
    {
        if (Environment.IsPrivilegedProcess)
        {
            using var chown = Process.Start("chown", [$"{user}:{user}", dir])!;
            chown.WaitForExit();
        }
    }
}
