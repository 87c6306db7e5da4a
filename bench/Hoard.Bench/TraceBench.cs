using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Hoard.Abstractions.Tracing;
using Hoard.Core.Configuration;
using Hoard.Core.Profiling;
using Hoard.Profiling.Redis;
using Hoard.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Hoard.Bench;

/// <summary>
/// Issue 7: the cost of one trace point (start + stop) through Hoard's tracing API, beside OSProfiler's measured the
/// same way by bench/osprofiler_cost.py against the same redis-server in the same run. Each Hoard point is a datastore
/// command's point (<see cref="HoardTracing.StartStatement"/>, as the Redis datastore's RESP client makes it), under a
/// request's root activity started from a signed trace header's context, as RequestTracing does:
/// <list type="bullet">
/// <item>sampled, Redis driver: the point is made, handed to <see cref="Profiler"/>'s buffer, and written by its background
/// writer through <see cref="RedisTraceDriver"/> (OSProfiler's layout). Reported: the caller's wall time over N, and apart
/// from it the time the writer still needed after the loop to drain the buffer into Redis, and the points/s end to end;
/// and the CPU time a point cost over a round, this process's and redis-server's, which other load on a shared machine
/// skews far less than wall time;</item>
/// <item>sampled, no-op driver: the same with a driver that drops every batch (OSProfiler's no-op notifier);</item>
/// <item>enabled, not sampled: a Profiler listens but the request carried no trace header (no recorded parent);</item>
/// <item>off: no Profiler, so nothing listens to the Hoard source; beside an empty loop of the same shape.</item>
/// </list>
/// Each figure is the best of a few rounds after a warm-up. The buffer is sized to a round, so no point is dropped
/// (a drop would make the caller's side look cheaper); dropped points are counted and reported.
/// </summary>
internal static class TraceBench
{
    private const int Rounds = 3;

    public static async Task RunAsync(int count, int pythonCount, Action<string> line, CancellationToken cancellationToken)
    {
        line($"Trace points, issue 7 — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} CPUs, load average "
            + $"{File.ReadAllText("/proc/loadavg").Split(' ')[..3].Aggregate((a, b) => a + " " + b)}, .NET {Environment.Version}, "
            + $"N = {count} points per round (OSProfiler {pythonCount}), best of {Rounds} rounds");
        await using var redis = await LocalRedis.StartAsync(cancellationToken);
        line($"redis-server on 127.0.0.1:{redis.Port}");

        var off = MeasureOff(count);
        var empty = MeasureEmpty(count);
        var notSampled = MeasureNotSampled(count);
        var noop = await MeasureSampledAsync(count, new NoopDriver(), null, cancellationToken);
        var sampled = await MeasureSampledAsync(count, new RedisTraceDriver(RedisTraceDriver.Parse(new Uri($"redis://127.0.0.1:{redis.Port}/0"))), redis, cancellationToken);

        line(string.Empty);
        line($"Hoard, sampled, Redis driver: caller {Us(sampled.CallerUs)} µs/point; writer drain after the loop {sampled.DrainMs:F1} ms "
            + $"(+{Us(sampled.DrainMs * 1000 / count)} µs/point); end to end {sampled.PointsPerSecond:N0} points/s written to Redis; "
            + $"dropped {sampled.Dropped}; {sampled.RedisEvents} events in Redis (2 per point)");
        line($"Hoard, sampled, Redis driver, CPU time per point over a round (loop + drain): this process {Us(sampled.CpuUs)} µs "
            + $"(caller, writer, GC), redis-server {Us(sampled.RedisCpuUs)} µs, together {Us(sampled.CpuUs + sampled.RedisCpuUs)} µs");
        line($"Hoard, sampled, no-op driver: caller {Us(noop.CallerUs)} µs/point; drain {noop.DrainMs:F1} ms; {noop.PointsPerSecond:N0} points/s; dropped {noop.Dropped}");
        line($"Hoard, enabled, not sampled: {Us(notSampled)} µs/point ({notSampled * 1000:F1} ns)");
        line($"Hoard, off: {Us(off)} µs/point ({off * 1000:F2} ns); empty loop of the same shape {empty * 1000:F2} ns");

        var py = await RunOsProfilerAsync(redis.Port, pythonCount, line, cancellationToken);

        line(string.Empty);
        var rows = new List<string[]>
        {
            new[] { "trace point (start + stop)", "Hoard µs/point", "OSProfiler µs/point (this run)", "OSProfiler µs (issue 7)", "ratio" },
            Row("sampled, Redis driver (caller)", sampled.CallerUs, py?.Redis, "117.5"),
            Row("sampled, Redis driver (caller + drain)", sampled.CallerUs + (sampled.DrainMs * 1000 / count), py?.Redis, "117.5"),
            Row("sampled, Redis driver (CPU, with redis-server's)", sampled.CpuUs + sampled.RedisCpuUs, py?.Redis, "117.5"),
            Row("sampled, no-op driver / notifier", noop.CallerUs, py?.Noop, "11.5"),
            Row("enabled, not sampled", notSampled, py?.Off, "0.51"),
            Row("off", off, py?.Off, "0.51"),
            new[] { "  (empty loop, same shape)", Us(empty), "", "", "" },
        };
        foreach (var text in Table(rows))
        {
            line(text);
        }

        line(string.Empty);
        line($"Redis writer end to end: {sampled.PointsPerSecond:N0} points/s (N / (caller loop + drain)); OSProfiler writes in the caller: "
            + (py is null ? "n/a" : $"{1e6 / py.Redis:N0} points/s"));
        line($"Target <= 5 µs per point with the Redis driver: {(sampled.CallerUs + (sampled.DrainMs * 1000 / count) <= 5 ? "met" : "NOT met")} "
            + $"(caller {Us(sampled.CallerUs)}, caller + drain {Us(sampled.CallerUs + (sampled.DrainMs * 1000 / count))}; "
            + $"CPU with redis-server's {Us(sampled.CpuUs + sampled.RedisCpuUs)}, which the machine's load skews far less than wall time); "
            + $"off vs empty loop: {(off - empty) * 1000:+0.00;-0.00} ns/point");
        if (py is not null)
        {
            line($"OSProfiler {py.Version} on Python {py.Python}; {py.RedisEvents} events in Redis from its sampled rounds");
        }
    }

    private static string[] Row(string what, double hoard, double? osp, string issue) =>
        [what, Us(hoard), osp is { } o ? Us(o) : "n/a", issue, osp is { } p && hoard > 0 ? $"{p / hoard:N0}x" : ""];

    private static string Us(double us) => us >= 10 ? us.ToString("F1", CultureInfo.InvariantCulture)
        : us >= 0.1 ? us.ToString("F2", CultureInfo.InvariantCulture)
        : us.ToString("F4", CultureInfo.InvariantCulture);

    private static IEnumerable<string> Table(List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        for (var r = 0; r < rows.Count; r++)
        {
            yield return "| " + string.Join(" | ", rows[r].Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))) + " |";
            if (r == 0)
            {
                yield return "|" + string.Join("|", widths.Select((w, i) => i == 0 ? new string('-', w + 2) : new string('-', w + 1) + ":")) + "|";
            }
        }
    }

    /// <summary>One trace point the way a datastore command makes it; the name and statement match the Python script's info.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Point()
    {
        using var activity = HoardTracing.StartStatement("redis", "GET key");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Nothing()
    {
        using var activity = NoActivity();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Activity? NoActivity() => null;

    /// <summary>Best µs per call of <paramref name="body"/> over rounds of <paramref name="count"/>, after a warm-up that lets the JIT tier up.</summary>
    private static double Best(int count, Action body)
    {
        for (var i = 0; i < Math.Max(count, 200_000); i++)
        {
            body();
        }

        var best = double.MaxValue;
        for (var round = 0; round < Rounds; round++)
        {
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < count; i++)
            {
                body();
            }

            best = Math.Min(best, watch.Elapsed.TotalMicroseconds / count);
        }

        return best;
    }

    private static double MeasureOff(int count)
    {
        if (HoardTracing.Source.HasListeners())
        {
            throw new InvalidOperationException("something listens to the Hoard source: the off case would not be off");
        }

        return Best(count, Point);
    }

    private static double MeasureEmpty(int count) => Best(count, Nothing);

    private static double MeasureNotSampled(int count)
    {
        var profiler = new Profiler(Options(count), new NoopDriver(), NullLogger<Profiler>.Instance);
        try
        {
            profiler.Start();
            Activity.Current = null; // a request without a trace header: no recorded parent
            var us = Best(count, Point);
            if (profiler.Written + profiler.Dropped != 0)
            {
                throw new InvalidOperationException("a point was made for a request that was not sampled");
            }

            return us;
        }
        finally
        {
            profiler.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private sealed record Sampled(double CallerUs, double DrainMs, double PointsPerSecond, long Dropped, long RedisEvents, double CpuUs, double RedisCpuUs);

    /// <summary>This process's CPU time (every thread: the caller, the writer, the Redis client, GC), µs.</summary>
    private static double ProcessCpuUs() => Environment.CpuUsage.TotalTime.TotalMicroseconds;

    private static async Task<Sampled> MeasureSampledAsync(int count, ITraceDriver driver, LocalRedis? redis, CancellationToken cancellationToken)
    {
        var profiler = new Profiler(Options(count), driver, NullLogger<Profiler>.Instance);
        await using var _ = profiler;
        profiler.Start();
        var traceId = ActivityTraceId.CreateRandom();
        var parent = new ActivityContext(traceId, ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded, isRemote: true);
        using var request = HoardTracing.Source.StartActivity(HoardTracing.Names.Http, ActivityKind.Server, parent)
            ?? throw new InvalidOperationException("the request's root activity was not sampled");
        long expected = 0;

        async Task<(double CallerUs, double DrainMs, double CpuUs, double RedisCpuUs)> RoundAsync(int n)
        {
            var cpu = ProcessCpuUs();
            var redisCpu = redis?.CpuUs() ?? 0;
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < n; i++)
            {
                Point();
            }

            var caller = watch.Elapsed;
            expected += n;
            var deadline = Stopwatch.StartNew();
            while (profiler.Written + profiler.Dropped < expected)
            {
                if (deadline.Elapsed > TimeSpan.FromSeconds(60))
                {
                    throw new TimeoutException($"the writer did not drain: {profiler.Written} written, {profiler.Dropped} dropped of {expected}");
                }

                await Task.Delay(1, cancellationToken);
            }

            return (caller.TotalMicroseconds / n, (watch.Elapsed - caller).TotalMilliseconds, (ProcessCpuUs() - cpu) / n, ((redis?.CpuUs() ?? 0) - redisCpu) / n);
        }

        await RoundAsync(Math.Max(count, 200_000) / 4); // warm-up: JIT, connection, Redis list allocation
        await RoundAsync(Math.Max(count, 200_000) / 4);
        var results = new List<(double CallerUs, double DrainMs, double CpuUs, double RedisCpuUs)>();
        for (var round = 0; round < Rounds; round++)
        {
            results.Add(await RoundAsync(count));
        }

        var best = results.MinBy(r => r.CallerUs + (r.DrainMs * 1000 / count));
        var leastCpu = results.MinBy(r => r.CpuUs + r.RedisCpuUs);
        long events = 0;
        if (redis is not null)
        {
            events = await redis.Database.ListLengthAsync(RedisTraceDriver.TraceKeyPrefix + TraceIds.ToUuid(traceId.ToHexString()));
            await redis.Database.ExecuteAsync("FLUSHDB");
        }

        return new Sampled(best.CallerUs, best.DrainMs, count / ((best.CallerUs * count / 1e6) + (best.DrainMs / 1000)), profiler.Dropped, events, leastCpu.CpuUs, leastCpu.RedisCpuUs);
    }

    private static ProfilerOptions Options(int count) => new()
    {
        Enabled = true,
        HmacKeys = ["SECRET_KEY"],
        ConnectionString = "redis://127.0.0.1/0",
        BufferSize = Math.Max(count, 200_000) + 1,
    };

    private sealed record OsProfiler(string Version, string Python, double Redis, double Noop, double Off, long RedisEvents);

    private static async Task<OsProfiler?> RunOsProfilerAsync(int port, int count, Action<string> line, CancellationToken cancellationToken)
    {
        var script = Locate("bench/osprofiler_cost.py");
        var start = new ProcessStartInfo("/usr/bin/python3", [script, port.ToString(CultureInfo.InvariantCulture), count.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var python = Process.Start(start)!;
        var stdout = python.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = python.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(100));
        try
        {
            await python.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            python.Kill(entireProcessTree: true);
            line("OSProfiler: timed out after 100 s");
            return null;
        }

        if (python.ExitCode != 0)
        {
            line($"OSProfiler: exit {python.ExitCode}: {(await stderr).Trim()}");
            return null;
        }

        using var doc = JsonDocument.Parse(await stdout);
        var root = doc.RootElement;
        var us = root.GetProperty("us_per_point");
        var result = new OsProfiler(root.GetProperty("osprofiler").GetString() ?? "?", root.GetProperty("python").GetString() ?? "?",
            us.GetProperty("redis").GetDouble(), us.GetProperty("noop").GetDouble(), us.GetProperty("off").GetDouble(),
            root.GetProperty("redis_events").GetInt64());
        line($"OSProfiler {result.Version} (/usr/bin/python3 bench/osprofiler_cost.py {port} {count}): Redis {Us(result.Redis)} µs/point, "
            + $"no-op notifier {Us(result.Noop)}, off {Us(result.Off)}");
        return result;
    }

    private static string Locate(string relative)
    {
        foreach (var from in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(from); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, relative);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new FileNotFoundException($"{relative} not found above {Directory.GetCurrentDirectory()}");
    }

    /// <summary>Drops every batch: what is left is the cost of making and queueing a point.</summary>
    private sealed class NoopDriver : ITraceDriver
    {
        public Task WriteAsync(IReadOnlyList<TracePoint> points, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<TraceTree?> GetTraceAsync(string baseId, CancellationToken cancellationToken) => Task.FromResult<TraceTree?>(null);

        public Task<IReadOnlyList<TraceSummary>> ListTracesAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<TraceSummary>>([]);

        public Task<IReadOnlyList<TraceSummary>> ListErrorTracesAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<TraceSummary>>([]);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A plain redis-server on 127.0.0.1 and a free port, killed (and its directory removed) on dispose.</summary>
    private sealed class LocalRedis(Process server, int port, string directory, ConnectionMultiplexer connection) : IAsyncDisposable
    {
        public int Port => port;

        public IDatabase Database => connection.GetDatabase();

        /// <summary>redis-server's CPU time (user + system, /proc/PID/stat), µs; 10 ms resolution, so a round should take seconds.</summary>
        public double CpuUs()
        {
            var fields = File.ReadAllText($"/proc/{server.Id}/stat").Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 1e6 / 100;
        }

        public static async Task<LocalRedis> StartAsync(CancellationToken cancellationToken)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            var directory = Directory.CreateTempSubdirectory("hoard-bench-trace").FullName;
            var server = Process.Start(new ProcessStartInfo(Binaries.Require("redis-server"),
                ["--bind", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture), "--dir", directory, "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"])
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            })!;
            try
            {
                await Timeouts.EventuallyAsync(() => Loopback.IsListeningAsync("127.0.0.1", port), up => up, Timeouts.Short, $"redis-server on 127.0.0.1:{port}");
                var connection = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},allowAdmin=true");
                return new LocalRedis(server, port, directory, connection);
            }
            catch
            {
                Kill(server);
                Directory.Delete(directory, recursive: true);
                throw;
            }
        }

        private static void Kill(Process server)
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
                server.WaitForExit(10_000);
            }

            server.Dispose();
        }

        public async ValueTask DisposeAsync()
        {
            await connection.DisposeAsync();
            Kill(server);
            Directory.Delete(directory, recursive: true);
        }
    }
}
