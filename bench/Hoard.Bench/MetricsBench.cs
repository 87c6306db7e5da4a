using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Hoard.Testing;

namespace Hoard.Bench;

/// <summary>
/// What /metrics costs a request: two `hoard serve`s side by side, one with [DEFAULT] metrics_enabled and one without,
/// the same GET /instances (a token check and a store list: the request histogram and the timed store both work on
/// it) driven by wrk (16 connections) against each in turn, ROUNDS times alternating; then the time and size of one
/// scrape of the measured server.
/// </summary>
internal static partial class MetricsBench
{
    public static async Task RunAsync(int seconds, int rounds, Action<string> line, CancellationToken cancellationToken)
    {
        line($"machine: {Environment.ProcessorCount} cores, {File.ReadLines("/proc/meminfo").First().Split(':')[1].Trim()}, {File.ReadAllText("/proc/version").Split(' ')[2]}");
        line($"GET /v1.0/<project>/instances, wrk -t2 -c16 -d{seconds}s, metrics on and off alternating, {rounds} rounds; medians");
        await using var on = await HoardServer.StartAsync();
        await using var off = await HoardServer.StartAsync(new Dictionary<string, string> { ["HOARD_DEFAULT_METRICS_ENABLED"] = "false" });
        var targets = new List<(string Name, string Url, string Token, List<double> Rps)>();
        foreach (var (name, server) in new[] { ("on", on), ("off", off) })
        {
            var (token, project) = await server.LoginAsync("admin", server.AdminPassword, "admin");
            var url = $"{server.BaseUrl}/v1.0/{project}/instances";
            await WrkAsync(url, token, 3, cancellationToken); // warm-up: JIT tiers, pools
            targets.Add((name, url, token, []));
        }

        for (var round = 0; round < rounds; round++)
        {
            foreach (var target in targets)
            {
                target.Rps.Add(await WrkAsync(target.Url, target.Token, seconds, cancellationToken));
            }
        }

        var rpsOn = Stats.Median(targets[0].Rps);
        var rpsOff = Stats.Median(targets[1].Rps);
        line($"metrics on   {rpsOn,9:0} req/s   ({string.Join(", ", targets[0].Rps.Select(r => r.ToString("0", CultureInfo.InvariantCulture)))})");
        line($"metrics off  {rpsOff,9:0} req/s   ({string.Join(", ", targets[1].Rps.Select(r => r.ToString("0", CultureInfo.InvariantCulture)))})");
        line($"cost per request at saturation (1/rps on - 1/rps off): {(1 / rpsOn - 1 / rpsOff) * 1e6:0.0} us ({(rpsOff / rpsOn - 1) * 100:0.0} % of the request)");

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var times = new List<double>();
        var size = 0;
        for (var i = 0; i < 50; i++)
        {
            // Past the exporter's 300 ms response cache, so each scrape collects afresh.
            await Task.Delay(350, cancellationToken);
            var started = Stopwatch.GetTimestamp();
            var page = await http.GetStringAsync($"{on.BaseUrl}/metrics", cancellationToken);
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            size = page.Length;
        }

        line($"one scrape: median {Stats.Median(times):0.00} ms, p90 {Stats.Percentile(times, 0.9):0.00} ms, {size / 1024.0:0.0} KiB");
    }

    private static async Task<double> WrkAsync(string url, string token, int seconds, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var result = await ProcessRunner.RunAsync("wrk", ["-t", "2", "-c", "16", "-d", $"{seconds}s", "-H", $"X-Auth-Token: {token}", url], timeout: TimeSpan.FromSeconds(seconds + 30));
        if (Regex.IsMatch(result.Stdout, "Non-2xx or 3xx responses"))
        {
            throw new InvalidOperationException($"wrk saw errors:\n{result.Stdout}");
        }

        return double.Parse(RequestsPerSecond().Match(result.Stdout).Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();
}
