using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Hoard.Abstractions.Storage;
using Hoard.Storage.PostgreSql;
using Hoard.Storage.Redis;
using Hoard.Storage.Sqlite;
using Hoard.Testing;

namespace Hoard.Bench;

/// <summary>
/// Issue 5's benchmark: the management store's pools, flavors and catalogue, one client and sequential awaits, on each
/// backend, beside Zaqar's own Redis controllers (ZaqarStoreBench.py) run in the same process tree against a redis-server
/// of their own. Both sides do the same operations with the same counts and shapes: pools in flavors of
/// <see cref="PoolsPerFlavor"/>, lists in pages of <see cref="Page"/>, the catalogue of one project.
/// </summary>
internal static class StoreBench
{
    private const int PoolsPerFlavor = 10;
    private const int Page = 10;

    /// <summary>Zaqar's catalogue list reads the whole project in batches of 100; Hoard's pages the same way.</summary>
    private const int CataloguePage = 100;

    private const int LargeSamples = 1000;
    private const int ZaqarLargeSamples = 10;
    private const string PoolOptions = """{"capacity": 20, "address_range": "127.43.0.0/16"}""";
    private const string Python = "/usr/bin/python3";

    private static readonly int[] LargeFlavors = [1000, 10_000];

    private static readonly string[] Operations =
    [
        "pool.insert", "pool.get", "pool.update", "pool.list", "pool.delete",
        "flavor.insert", "flavor.get", "flavor.update", "flavor.list", "flavor.delete",
        "catalogue.insert", "catalogue.get", "catalogue.update", "catalogue.list", "catalogue.delete",
        .. LargeFlavors.SelectMany(size => new[] { $"pool.insert@{size}", $"pool.get@{size}", $"pool.delete@{size}" }),
    ];

    public static async Task RunAsync(int count, int rounds, Action<string> line, CancellationToken cancellationToken)
    {
        line($"machine: {Environment.ProcessorCount} cores, {File.ReadLines("/proc/meminfo").First().Split(':')[1].Trim()}, "
            + $"{File.ReadAllText("/proc/version").Split(' ')[2]}, redis {await VersionAsync("redis-server", "--version", @"v=([\d.]+)")}, "
            + $"postgres {await VersionAsync(PostgreSqlTestServer.PostgresBinary, "--version", @"([\d.]+)")}, "
            + $"{Python} {await VersionAsync(Python, "--version", @"([\d.]+)")}, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        line($"store bench: one client, sequential; {count} pools (in flavors of {PoolsPerFlavor}), {count} flavors, {count} catalogue entries; "
            + $"lists in pages of {Page} (catalogue {CataloguePage}); pools then added to one flavor already holding "
            + $"{string.Join(" and ", LargeFlavors.Select(s => s.ToString("N0", CultureInfo.InvariantCulture)))} pools "
            + $"({LargeSamples} samples each for Hoard, {ZaqarLargeSamples} for Zaqar); {rounds} rounds, each running every column "
            + "in turn; the table gives each figure's median over the rounds");

        var zaqar = new Column("Zaqar Redis");
        var backends = new List<Backend>();
        var zaqarRedis = await RawRedis.StartAsync();
        try
        {
            backends.Add(await Backend.OpenAsync("Hoard SQLite", line, () =>
            {
                var dir = Directory.CreateTempSubdirectory("hoard-bench-store").FullName;
                var store = new SqliteStorePlugin().Open(new Uri("sqlite://" + Path.Combine(dir, "hoard.db")));
                return Task.FromResult<(IManagementStore, Func<Task>)>((store, () =>
                {
                    Directory.Delete(dir, recursive: true);
                    return Task.CompletedTask;
                }));
            }, count, cancellationToken));
            backends.Add(await Backend.OpenAsync("Hoard PostgreSQL", line, async () =>
            {
                var server = new PostgreSqlTestServer();
                await server.InitializeAsync();
                if (server.Unavailable is not null)
                {
                    await server.DisposeAsync();
                    throw new InvalidOperationException(server.Unavailable);
                }

                var store = new PostgreSqlStorePlugin().Open(await server.CreateDatabaseAsync());
                return (store, server.DisposeAsync);
            }, count, cancellationToken));
            backends.Add(await Backend.OpenAsync("Hoard Redis", line, async () =>
            {
                var server = new RedisTestServer();
                await server.InitializeAsync();
                var store = new RedisStorePlugin().Open(server.ConnectionString(await server.FreshDatabaseAsync()));
                return (store, server.DisposeAsync);
            }, count, cancellationToken));

            for (var round = 1; round <= rounds; round++)
            {
                line($"round {round} of {rounds}, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
                var (figures, failure) = await RunZaqarAsync(zaqarRedis.Address, count, round == 1, line, cancellationToken);
                zaqar.Rounds.Add(figures);
                zaqar.Failure ??= failure;
                foreach (var backend in backends)
                {
                    await backend.RunRoundAsync(count, line, cancellationToken);
                }
            }
        }
        finally
        {
            foreach (var backend in backends)
            {
                await backend.DisposeAsync();
            }

            await zaqarRedis.DisposeAsync();
        }

        List<Column> columns = [zaqar, .. backends.Select(b => b.Column)];
        line(string.Empty);
        foreach (var row in Table(columns))
        {
            line(row);
        }

        foreach (var column in columns.Where(c => c.Failure is not null))
        {
            line($"{column.Name}: {column.Failure}");
        }
    }

    /// <summary>One column of the table: a figure per operation per round.</summary>
    private sealed class Column(string name)
    {
        public string Name => name;

        public List<Dictionary<string, double>> Rounds { get; } = [];

        public string? Failure { get; set; }

        public double? Median(string operation)
        {
            var values = Rounds.Where(r => r.ContainsKey(operation)).Select(r => r[operation]).ToList();
            return values.Count == 0 ? null : Stats.Median(values);
        }
    }

    /// <summary>A Hoard store, opened and migrated once, then run once a round; a backend that cannot run is reported, not fatal.</summary>
    private sealed class Backend(Column column, IManagementStore? store, Func<Task>? cleanup) : IAsyncDisposable
    {
        public Column Column => column;

        public static async Task<Backend> OpenAsync(
            string name, Action<string> line, Func<Task<(IManagementStore Store, Func<Task> Cleanup)>> open, int count, CancellationToken cancellationToken)
        {
            var column = new Column(name);
            IManagementStore? store = null;
            Func<Task>? cleanup = null;
            try
            {
                (store, cleanup) = await open();
                await store.MigrateAsync(cancellationToken);
                // Warm-up on a throwaway shape (JIT tiers, connection pools, prepared statements), then emptied.
                await RunSuiteAsync(store, Math.Min(count, 500), "warm", [], [], cancellationToken);
                return new Backend(column, store, cleanup);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                column.Failure = $"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}";
                line($"{name} FAILED {column.Failure}");
                var backend = new Backend(column, store, cleanup);
                await backend.DisposeAsync();
                return new Backend(column, null, null);
            }
        }

        public async Task RunRoundAsync(int count, Action<string> line, CancellationToken cancellationToken)
        {
            if (store is null || column.Failure is not null)
            {
                return;
            }

            var figures = new Dictionary<string, double>();
            column.Rounds.Add(figures);
            try
            {
                await RunSuiteAsync(store, count, "bench", LargeFlavors, figures, cancellationToken);
                line(column.Name + ": " + string.Join(", ", Operations.Where(figures.ContainsKey).Select(o => $"{o} {Format(figures[o])}")));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                column.Failure = $"failed after {figures.Count} figures: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}";
                line($"{column.Name} FAILED {column.Failure}");
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (store is not null)
            {
                await store.DisposeAsync();
            }

            if (cleanup is not null)
            {
                await cleanup();
            }
        }
    }

    /// <summary>The same operations, counts and shapes as ZaqarStoreBench.py.</summary>
    private static async Task RunSuiteAsync(
        IManagementStore store, int count, string tag, int[] largeFlavors, Dictionary<string, double> figures, CancellationToken ct)
    {
        var names = Enumerable.Range(0, count).Select(i => $"{tag}-pool-{i:D7}").ToArray();
        var flavorOf = Enumerable.Range(0, count).Select(i => $"{tag}-flavor-{i / PoolsPerFlavor:D7}").ToArray();
        const string uri = "local:///var/lib/hoard/pools/bench";

        figures["pool.insert"] = await RateAsync(count, i => store.Pools.InsertAsync(new PoolRecord(names[i], uri, 100) { Flavor = flavorOf[i], Options = PoolOptions }, ct));
        figures["pool.get"] = await RateAsync(count, async i => _ = await store.Pools.GetAsync(names[i], ct) ?? throw new InvalidOperationException($"pool {names[i]} missing"));
        var change = new PoolChange { Weight = 50, Options = PoolOptions };
        figures["pool.update"] = await RateAsync(count, async i => Check(await store.Pools.UpdateAsync(names[i], change, ct), "pool update"));
        figures["pool.list"] = await ListRateAsync(count, async marker =>
        {
            var page = await store.Pools.ListAsync(null, marker, Page, ct);
            return (page.Count, page.Count == 0 ? null : page[^1].Name);
        });
        figures["pool.delete"] = await RateAsync(count, async i => Check(await store.Pools.DeleteAsync(names[i], ct) == PoolDeletion.Deleted, "pool delete"));

        var flavors = Enumerable.Range(0, count).Select(i => $"{tag}-flavor-{i:D7}").ToArray();
        figures["flavor.insert"] = await RateAsync(count, i => store.Flavors.InsertAsync(new FlavorRecord(flavors[i], flavors[i], 1024, 1, 10) { ProjectId = tag, Capabilities = "{}" }, ct));
        figures["flavor.get"] = await RateAsync(count, async i => _ = await store.Flavors.GetAsync(flavors[i], ct) ?? throw new InvalidOperationException($"flavor {flavors[i]} missing"));
        var capabilities = new FlavorChange { Capabilities = """{"x": 1}""" };
        figures["flavor.update"] = await RateAsync(count, async i => Check(await store.Flavors.UpdateAsync(flavors[i], capabilities, ct), "flavor update"));
        figures["flavor.list"] = await ListRateAsync(count, async marker =>
        {
            var page = await store.Flavors.ListAsync(tag, marker, Page, ct);
            return (page.Count, page.Count == 0 ? null : page[^1].Id);
        });
        figures["flavor.delete"] = await RateAsync(count, async i => Check(await store.Flavors.DeleteAsync(flavors[i], ct), "flavor delete"));

        var instances = Enumerable.Range(0, count).Select(i => $"{tag}-instance-{i:D7}").ToArray();
        figures["catalogue.insert"] = await RateAsync(count, i => store.Catalogue.InsertAsync(new CatalogueEntry(tag, instances[i], names[i % 100]), ct));
        figures["catalogue.get"] = await RateAsync(count, async i => _ = await store.Catalogue.GetAsync(tag, instances[i], ct) ?? throw new InvalidOperationException($"entry {instances[i]} missing"));
        figures["catalogue.update"] = await RateAsync(count, async i => Check(await store.Catalogue.UpdateAsync(tag, instances[i], names[(i + 1) % 100], ct), "catalogue update"));
        figures["catalogue.list"] = await ListRateAsync(count, async after =>
        {
            var page = await store.Catalogue.ListAsync(tag, after is null ? null : new CatalogueKey(tag, after), CataloguePage, ct);
            return (page.Count, page.Count == 0 ? null : page[^1].InstanceId);
        });
        figures["catalogue.delete"] = await RateAsync(count, i => store.Catalogue.DeleteAsync(tag, instances[i], ct));

        // One flavor grows to each size in turn; pools are then added to it, read and removed, one at a time.
        var large = $"{tag}-large";
        await store.Flavors.InsertAsync(new FlavorRecord(large, large, 1024, 1, 10) { ProjectId = tag }, ct);
        var filled = 0;
        foreach (var size in largeFlavors)
        {
            for (; filled < size; filled++)
            {
                await store.Pools.InsertAsync(new PoolRecord($"{large}-{filled:D7}", uri, 100) { Flavor = large, Options = PoolOptions }, ct);
            }

            var extra = Enumerable.Range(0, LargeSamples).Select(i => $"{large}-extra-{size}-{i:D4}").ToArray();
            figures[$"pool.insert@{size}"] = await RateAsync(LargeSamples, i => store.Pools.InsertAsync(new PoolRecord(extra[i], uri, 100) { Flavor = large, Options = PoolOptions }, ct));
            figures[$"pool.get@{size}"] = await RateAsync(LargeSamples, async i => _ = await store.Pools.GetAsync(extra[i], ct) ?? throw new InvalidOperationException($"pool {extra[i]} missing"));
            figures[$"pool.delete@{size}"] = await RateAsync(LargeSamples, async i => Check(await store.Pools.DeleteAsync(extra[i], ct) == PoolDeletion.Deleted, "pool delete"));
        }

        await store.Catalogue.DropAllAsync(ct);
        await store.Pools.DropAllAsync(ct);
        await store.Flavors.DropAllAsync(ct);
    }

    private static void Check(bool done, string what)
    {
        if (!done)
        {
            throw new InvalidOperationException($"{what} found nothing to change");
        }
    }

    private static async Task<double> RateAsync(int count, Func<int, Task> operation)
    {
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            await operation(i);
        }

        return count / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Items/s of reading every page, each after the last item of the one before.</summary>
    private static async Task<double> ListRateAsync(int expected, Func<string?, Task<(int Count, string? Last)>> page)
    {
        var clock = Stopwatch.StartNew();
        var listed = 0;
        string? marker = null;
        while (true)
        {
            var (count, last) = await page(marker);
            if (count == 0)
            {
                break;
            }

            listed += count;
            marker = last;
        }

        var seconds = clock.Elapsed.TotalSeconds;
        if (listed < expected)
        {
            throw new InvalidOperationException($"listed {listed} items, expected {expected}");
        }

        return listed / seconds;
    }

    /// <summary>
    /// One run of ZaqarStoreBench.py against <paramref name="address"/>, parsed line by line; its notes are echoed the first
    /// time only, its figures as one line.
    /// </summary>
    private static async Task<(Dictionary<string, double> Figures, string? Failure)> RunZaqarAsync(
        string address, int count, bool echoNotes, Action<string> line, CancellationToken cancellationToken)
    {
        var figures = new Dictionary<string, double>();
        if (!File.Exists(Python))
        {
            return (figures, $"{Python} is missing (Debian's python3 with python3-zaqar and python3-redis)");
        }

        var failures = new List<string>();
        var start = new ProcessStartInfo(Python, [
            Path.Combine(AppContext.BaseDirectory, "ZaqarStoreBench.py"), "--redis", $"{address}:{RedisTestServer.Port}", "--db", "0",
            "--count", count.ToString(CultureInfo.InvariantCulture),
            "--pools-per-flavor", PoolsPerFlavor.ToString(CultureInfo.InvariantCulture), "--page", Page.ToString(CultureInfo.InvariantCulture),
            "--large-samples", ZaqarLargeSamples.ToString(CultureInfo.InvariantCulture), "--large", .. LargeFlavors.Select(s => s.ToString(CultureInfo.InvariantCulture))])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var python = Process.Start(start)!;
        var stderr = python.StandardError.ReadToEndAsync(cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromMinutes(30));
        try
        {
            while (await python.StandardOutput.ReadLineAsync(deadline.Token) is { } output)
            {
                var figure = Regex.Match(output, @"^zaqar (\S+) ([\d.]+) (ops/s|items/s)$");
                if (figure.Success)
                {
                    figures[figure.Groups[1].Value] = double.Parse(figure.Groups[2].Value, CultureInfo.InvariantCulture);
                    continue;
                }

                if (output.StartsWith("zaqar ", StringComparison.Ordinal) && output.Contains(" FAILED ", StringComparison.Ordinal))
                {
                    failures.Add(output["zaqar ".Length..]);
                    line(output);
                }
                else if (echoNotes)
                {
                    line(output);
                }
            }

            await python.WaitForExitAsync(deadline.Token);
        }
        finally
        {
            if (!python.HasExited)
            {
                python.Kill(entireProcessTree: true);
                await python.WaitForExitAsync(CancellationToken.None);
            }
        }

        var errors = (await stderr).Trim();
        if (python.ExitCode != 0)
        {
            failures.Add($"exit {python.ExitCode}: {errors}");
        }

        line("Zaqar Redis: " + string.Join(", ", Operations.Where(figures.ContainsKey).Select(o => $"{o} {Format(figures[o])}")));
        return (figures, failures.Count == 0 ? null : string.Join("; ", failures));
    }

    /// <summary>A plain redis-server for Zaqar's controllers (no password: Zaqar's URI parser splits a password at '@' and '/'), on a free 127.77.x.y.</summary>
    private sealed class RawRedis(Process server, string address, string directory) : IAsyncDisposable
    {
        public string Address => address;

        public static async Task<RawRedis> StartAsync()
        {
            var address = await Loopback.FreeAddressAsync("127.77", RedisTestServer.Port);
            var directory = Directory.CreateTempSubdirectory("hoard-bench-zaqar").FullName;
            var server = Process.Start(new ProcessStartInfo(Binaries.Require("redis-server"),
                ["--bind", address, "--port", RedisTestServer.Port.ToString(CultureInfo.InvariantCulture), "--dir", directory, "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"])
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            })!;
            var raw = new RawRedis(server, address, directory);
            try
            {
                await Timeouts.EventuallyAsync(() => Loopback.IsListeningAsync(address, RedisTestServer.Port), up => up, Timeouts.Short, $"redis-server on {address}");
                return raw;
            }
            catch
            {
                await raw.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync(CancellationToken.None);
            }

            server.Dispose();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static IEnumerable<string> Table(List<Column> columns)
    {
        string[] header = ["operation", "unit", .. columns.Select(c => c.Name), "Redis ratio (target >= 5x)"];
        var rows = new List<string[]> { header };
        var zaqar = columns.Single(c => c.Name == "Zaqar Redis");
        var hoardRedis = columns.Single(c => c.Name == "Hoard Redis");
        foreach (var operation in Operations)
        {
            var ratio = zaqar.Median(operation) is { } z && hoardRedis.Median(operation) is { } h && z > 0
                ? $"{h / z:0.0}x" + (h / z < 5 ? " (below 5x)" : string.Empty)
                : "-";
            rows.Add([operation, Unit(operation), .. columns.Select(c => c.Median(operation) is { } v ? Format(v) : "-"), ratio]);
        }

        var widths = Enumerable.Range(0, header.Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        foreach (var (row, index) in rows.Select((r, i) => (r, i)))
        {
            yield return string.Join(" | ", row.Select((cell, i) => i < 2 ? cell.PadRight(widths[i]) : cell.PadLeft(widths[i]))).TrimEnd();
            if (index == 0)
            {
                yield return string.Join("-|-", widths.Select(w => new string('-', w)));
            }
        }
    }

    private static string Unit(string operation) => operation.EndsWith(".list", StringComparison.Ordinal) ? "items/s" : "ops/s";

    private static string Format(double value) => value >= 10
        ? value.ToString("N0", CultureInfo.InvariantCulture)
        : value.ToString("0.00", CultureInfo.InvariantCulture);

    private static async Task<string> VersionAsync(string program, string argument, string pattern)
    {
        if (Binaries.Find(program) is not { } path)
        {
            return "missing";
        }

        var result = await ProcessRunner.RunAsync(path, [argument], timeout: TimeSpan.FromSeconds(10));
        return Regex.Match(result.Stdout + result.Stderr, pattern).Groups[1].Value;
    }
}
