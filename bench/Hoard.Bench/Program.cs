using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Hoard.Testing;

// Benchmarks for issue 2, each beside the reference it is compared with (see docs/PERFORMANCE.md):
//   create   Redis create -> ACTIVE, median of N, beside raw redis-server start -> PING on the same machine
//   list     GET /instances with 100 instances, 16 concurrent clients (wrk), default and full-page sizes
//   memory   resident size of hoard serve and of the guest agent with 100 Redis instances
//   sql      (bench/run.sh sql N) PostgreSQL and MariaDB create -> ACTIVE beside initdb/mariadb-install-db + start
//   cluster  (bench/run.sh cluster N [R]) Redis Cluster create -> ready and rebalance keys/s beside redis-cli --cluster;
//            cluster-raw runs the redis-cli half alone
//   store    (bench/run.sh store N [R]) the management store's pools, flavors and catalogue on SQLite, PostgreSQL and Redis,
//            beside Zaqar's Redis controllers (ZaqarStoreBench.py) in the same run
//   replicas (bench/run.sh replicas N) instance creates/s with one hoard serve and with two replicas over one Redis and
//            one PostgreSQL store
//   backup   (bench/run.sh backup [MB] [R]) backup and restore of about MB (default 1024) per datastore through the API beside
//            redis-cli BGSAVE + cp, pg_basebackup and mariadb-backup on the same data; medians over R (default 3)
//   seal     (bench/run.sh seal [MB] [R]) the sealer's stages (Deflate and the BCL's other codecs, AES-256-GCM, SHA-256,
//            copies) timed apart on one thread, then the whole sealer and opener, memory to memory; best of R (default 3)
//   trace    (bench/run.sh trace [N] [PN]) issue 7's cost per trace point (start + stop): sampled into the Redis driver (and a
//            no-op driver), enabled but not sampled, and off, N points a round (default 200000), beside OSProfiler measured the
//            same way by bench/osprofiler_cost.py (PN points, default 20000) against the same redis-server
//   metrics  (bench/run.sh metrics [S] [R]) what /metrics costs a request: GET /instances under wrk against hoard serve with
//            metrics on and off, S seconds a run (default 10), R rounds alternating (default 3); and one scrape's time and size
if (args.Length > 0 && args[0] == "trace")
{
    using var stop = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        // Stop cleanly, so the redis-server and the Python script are killed on the way out.
        e.Cancel = true;
        stop.Cancel();
    };
    var traceReport = new StringBuilder();
    await Hoard.Bench.TraceBench.RunAsync(
        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200_000,
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20_000,
        text =>
        {
            Console.WriteLine(text);
            traceReport.AppendLine(text);
        },
        stop.Token);
    var traceOut = Environment.GetEnvironmentVariable("HOARD_BENCH_OUT") ?? "artifacts/bench-trace-latest.txt";
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(traceOut))!);
    File.WriteAllText(traceOut, traceReport.ToString());
    Console.WriteLine($"written to {traceOut}");
    return 0;
}

if (args.Length > 0 && args[0] == "metrics")
{
    using var stop = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        stop.Cancel();
    };
    var metricsReport = new StringBuilder();
    await Hoard.Bench.MetricsBench.RunAsync(
        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10,
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3,
        text =>
        {
            Console.WriteLine(text);
            metricsReport.AppendLine(text);
        },
        stop.Token);
    var metricsOut = Environment.GetEnvironmentVariable("HOARD_BENCH_OUT") ?? "artifacts/bench-metrics-latest.txt";
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(metricsOut))!);
    File.WriteAllText(metricsOut, metricsReport.ToString());
    Console.WriteLine($"written to {metricsOut}");
    return 0;
}

if (args.Length > 0 && args[0] == "replicas")
{
    using var stop = new CancellationTokenSource();
    var replicaReport = new StringBuilder();
    await Hoard.Bench.ReplicaBench.RunAsync(
        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100,
        text =>
        {
            Console.WriteLine(text);
            replicaReport.AppendLine(text);
        },
        stop.Token);
    var replicaOut = Environment.GetEnvironmentVariable("HOARD_BENCH_OUT") ?? "artifacts/bench-replicas-latest.txt";
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(replicaOut))!);
    File.WriteAllText(replicaOut, replicaReport.ToString());
    Console.WriteLine($"written to {replicaOut}");
    return 0;
}

if (args.Length > 0 && args[0] == "backup")
{
    using var stop = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        // Stop cleanly, so hoard serve, its instances and the temp files go on the way out.
        e.Cancel = true;
        stop.Cancel();
    };
    var backupReport = new StringBuilder();
    await Hoard.Bench.BackupBench.RunAsync(
        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1024,
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3,
        text =>
        {
            Console.WriteLine(text);
            backupReport.AppendLine(text);
        },
        stop.Token);
    var backupOut = Environment.GetEnvironmentVariable("HOARD_BENCH_OUT") ?? "artifacts/bench-backup-latest.txt";
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(backupOut))!);
    File.WriteAllText(backupOut, backupReport.ToString());
    Console.WriteLine($"written to {backupOut}");
    return 0;
}

if (args.Length > 0 && args[0] == "seal")
{
    using var stop = new CancellationTokenSource();
    var sealReport = new StringBuilder();
    await Hoard.Bench.SealStageBench.RunAsync(
        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1024,
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3,
        text =>
        {
            Console.WriteLine(text);
            sealReport.AppendLine(text);
        },
        stop.Token);
    var sealOut = Environment.GetEnvironmentVariable("HOARD_BENCH_OUT") ?? "artifacts/bench-seal-latest.txt";
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(sealOut))!);
    File.WriteAllText(sealOut, sealReport.ToString());
    Console.WriteLine($"written to {sealOut}");
    return 0;
}

if (args.Length > 0 && args[0] == "store")
{
    using var stop = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        stop.Cancel();
    };
    var storeReport = new StringBuilder();
    await Hoard.Bench.StoreBench.RunAsync(
        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5000,
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3,
        text =>
        {
            Console.WriteLine(text);
            storeReport.AppendLine(text);
        },
        stop.Token);
    var storeOut = Environment.GetEnvironmentVariable("HOARD_BENCH_OUT") ?? "artifacts/bench-store-latest.txt";
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(storeOut))!);
    File.WriteAllText(storeOut, storeReport.ToString());
    Console.WriteLine($"written to {storeOut}");
    return 0;
}

if (args.Length > 0 && args[0] is "cluster" or "cluster-raw")
{
    using var stop = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        // Stop cleanly, so the raw servers and hoard serve are killed on the way out.
        e.Cancel = true;
        stop.Cancel();
    };
    var clusterReport = new StringBuilder();
    await Hoard.Bench.ClusterBench.RunAsync(
        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5,
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1,
        withHoard: args[0] == "cluster",
        text =>
        {
            Console.WriteLine(text);
            clusterReport.AppendLine(text);
        },
        stop.Token);
    var clusterOut = Environment.GetEnvironmentVariable("HOARD_BENCH_OUT") ?? "artifacts/bench-cluster-latest.txt";
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(clusterOut))!);
    File.WriteAllText(clusterOut, clusterReport.ToString());
    Console.WriteLine($"written to {clusterOut}");
    return 0;
}

if (args.Length > 0 && args[0] == "sql")
{
    var sqlReport = new StringBuilder();
    await Hoard.Bench.SqlCreateBench.RunAsync(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10, text =>
    {
        Console.WriteLine(text);
        sqlReport.AppendLine(text);
    });
    var sqlOut = Environment.GetEnvironmentVariable("HOARD_BENCH_OUT") ?? "artifacts/bench-sql-latest.txt";
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(sqlOut))!);
    File.WriteAllText(sqlOut, sqlReport.ToString());
    return 0;
}

var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20;
var instances = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100;
var report = new StringBuilder();
void Line(string text)
{
    Console.WriteLine(text);
    report.AppendLine(text);
}

Line($"machine: {Environment.ProcessorCount} cores, {new FileInfo("/proc/meminfo").Exists switch { true => File.ReadLines("/proc/meminfo").First().Split(':')[1].Trim(), false => "?" }}, {File.ReadAllText("/proc/version").Split(' ')[2]}, redis {RedisVersion()}");

var rawStarts = new List<double>();
for (var i = 0; i < count; i++)
{
    rawStarts.Add(await RawRedisStartAsync($"127.250.1.{i + 1}"));
}

Line($"raw redis-server start -> PING: median {Median(rawStarts):0.0} ms, p90 {Percentile(rawStarts, 0.9):0.0} ms over {count}");

await using (var server = await HoardServer.StartAsync(new Dictionary<string, string> { ["HOARD_DEFAULT_INSTANCES_PAGE_SIZE"] = "20" }))
{
    var (token, project) = await server.LoginAsync("admin", server.AdminPassword, "admin");
    using var http = new HttpClient { BaseAddress = new Uri($"{server.BaseUrl}/v1.0/{project}/") };
    http.DefaultRequestHeaders.Add("X-Auth-Token", token);

    // Warm-up create: starts the pool's agent, which the measured creates then reuse.
    await CreateAndWaitAsync(http, "warmup");
    var creates = new List<double>();
    for (var i = 0; i < count; i++)
    {
        creates.Add(await CreateAndWaitAsync(http, $"bench-{i}"));
    }

    Line($"hoard create -> ACTIVE: median {Median(creates):0.0} ms, p90 {Percentile(creates, 0.9):0.0} ms over {count} (target <= 100 ms)");

    for (var i = count + 1; i < instances; i++)
    {
        await CreateAsync(http, $"fill-{i}");
    }

    await WaitAllActiveAsync(http, instances);
    Line($"instances ACTIVE: {instances}");
    Line($"GET /instances (page of 20, Trove's default cap), 16 clients: {await WrkAsync($"{server.BaseUrl}/v1.0/{project}/instances", token)}");
    Line($"GET /instances/detail (page of 20), 16 clients: {await WrkAsync($"{server.BaseUrl}/v1.0/{project}/instances/detail", token)}");
    Line($"memory with {instances} instances: hoard serve {RssMb(server.ServePid):0} MB (target <= 200), guest agent {RssMb(server.AgentPid() ?? 0):0} MB (target <= 100)");
}

// The same list with every instance on one page.

await using (var full = await HoardServer.StartAsync(new Dictionary<string, string> { ["HOARD_DEFAULT_INSTANCES_PAGE_SIZE"] = "1000" }))
{
    var (token, project) = await full.LoginAsync("admin", full.AdminPassword, "admin");
    using var http = new HttpClient { BaseAddress = new Uri($"{full.BaseUrl}/v1.0/{project}/") };
    http.DefaultRequestHeaders.Add("X-Auth-Token", token);
    for (var i = 0; i < instances; i++)
    {
        await CreateAsync(http, $"full-{i}");
    }

    await WaitAllActiveAsync(http, instances);
    Line($"GET /instances (all {instances} on one page, instances_page_size=1000), 16 clients: {await WrkAsync($"{full.BaseUrl}/v1.0/{project}/instances", token)}");
}

var outPath = Environment.GetEnvironmentVariable("HOARD_BENCH_OUT") ?? "artifacts/bench-latest.txt";
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
File.WriteAllText(outPath, report.ToString());
Console.WriteLine($"written to {outPath}");
return 0;

static async Task<double> RawRedisStartAsync(string address)
{
    var dir = Directory.CreateTempSubdirectory("hoard-bench-raw").FullName;
    var clock = Stopwatch.StartNew();
    using var process = Process.Start(new ProcessStartInfo("redis-server", ["--bind", address, "--port", "6379", "--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]) { RedirectStandardOutput = true, UseShellExecute = false })!;
    while (true)
    {
        try
        {
            using var client = new System.Net.Sockets.TcpClient();
            await client.ConnectAsync(IPAddress.Parse(address), 6379);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer);
            if (Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal))
            {
                break;
            }
        }
        catch (System.Net.Sockets.SocketException)
        {
            await Task.Delay(1);
        }
    }

    var ms = clock.Elapsed.TotalMilliseconds;
    process.Kill();
    await process.WaitForExitAsync();
    Directory.Delete(dir, recursive: true);
    return ms;
}

static async Task<string> CreateAsync(HttpClient http, string name)
{
    using var response = await http.PostAsJsonAsync("instances", new { instance = new { name, flavorRef = "1", datastore = new { type = "redis" } } });
    response.EnsureSuccessStatusCode();
    return (await response.Content.ReadFromJsonAsync<JsonObject>())!["instance"]!["id"]!.GetValue<string>();
}

static async Task<double> CreateAndWaitAsync(HttpClient http, string name)
{
    var clock = Stopwatch.StartNew();
    var id = await CreateAsync(http, name);
    while (true)
    {
        var status = (await http.GetFromJsonAsync<JsonObject>($"instances/{id}"))!["instance"]!["status"]!.GetValue<string>();
        if (status == "ACTIVE")
        {
            return clock.Elapsed.TotalMilliseconds;
        }

        if (status == "ERROR")
        {
            throw new InvalidOperationException($"{name} went to ERROR");
        }

        await Task.Delay(1);
    }
}

static async Task WaitAllActiveAsync(HttpClient http, int expected)
{
    var deadline = DateTime.UtcNow.AddMinutes(5);
    while (DateTime.UtcNow < deadline)
    {
        var active = 0;
        string? marker = null;
        do
        {
            var page = (await http.GetFromJsonAsync<JsonObject>("instances" + (marker is null ? string.Empty : $"?marker={marker}")))!;
            active += page["instances"]!.AsArray().Count(i => i!["status"]!.GetValue<string>() == "ACTIVE");
            marker = page["links"]?[0]?["href"]?.GetValue<string>().Split("marker=")[1];
        }
        while (marker is not null);

        if (active >= expected)
        {
            return;
        }

        await Task.Delay(200);
    }

    throw new TimeoutException($"not all {expected} instances became ACTIVE");
}

static async Task<string> WrkAsync(string url, string token)
{
    // Warm-up (JIT tiers, connection pools), discarded.
    await ProcessRunner.RunAsync("wrk", ["-t", "2", "-c", "16", "-d", "3s", "-H", $"X-Auth-Token: {token}", url], timeout: TimeSpan.FromSeconds(30));
    var result = await ProcessRunner.RunAsync("wrk", ["-t", "2", "-c", "16", "-d", "10s", "--latency", "-H", $"X-Auth-Token: {token}", url], timeout: TimeSpan.FromSeconds(60));
    var rps = Regex.Match(result.Stdout, @"Requests/sec:\s+([\d.]+)").Groups[1].Value;
    var p99 = Regex.Match(result.Stdout, @"99%\s+([\d.]+\w+)").Groups[1].Value;
    var non2xx = Regex.Match(result.Stdout, @"Non-2xx or 3xx responses: (\d+)");
    return $"{rps} req/s, p99 {p99}" + (non2xx.Success ? $", {non2xx.Groups[1].Value} non-2xx!" : string.Empty);
}

static double RssMb(int pid)
{
    if (pid == 0 || !File.Exists($"/proc/{pid}/status"))
    {
        return double.NaN;
    }

    var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
    return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
}

static string RedisVersion()
{
    using var p = Process.Start(new ProcessStartInfo("redis-server", "--version") { RedirectStandardOutput = true, UseShellExecute = false })!;
    return Regex.Match(p.StandardOutput.ReadToEnd(), @"v=([\d.]+)").Groups[1].Value;
}

static double Median(List<double> values) => Hoard.Bench.Stats.Median(values);

static double Percentile(List<double> values, double p) => Hoard.Bench.Stats.Percentile(values, p);
