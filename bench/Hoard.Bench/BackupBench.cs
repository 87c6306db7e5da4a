using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Abstractions.Backups;
using Hoard.Testing;
using MySqlConnector;
using Npgsql;
using StackExchange.Redis;

namespace Hoard.Bench;

/// <summary>
/// Issue 6's figure: backup and restore of about a gigabyte per datastore through Hoard's API, beside the engine's own
/// tool on the same data in the same run (redis-cli BGSAVE + cp of dump.rdb, pg_basebackup -Ft -X fetch,
/// mariadb-backup --stream=xbstream), each writing to a file on the same filesystem as Hoard's backup storage.
/// Hoard's backup also compresses, checksums and encrypts (the sealer); the sealer alone is timed on the raw tool's
/// output, so the table says where Hoard's time goes.
/// </summary>
internal static class BackupBench
{
    private const string PgBin = "/usr/lib/postgresql/15/bin";
    private const string Flavor = "bench";
    private const int InsertChunk = 500_000;
    private static readonly TimeSpan Settle = TimeSpan.FromMinutes(20);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    private static readonly string[] Kinds = ["login", "logout", "purchase", "refund", "view", "search", "signup", "cancel"];
    private static readonly string[] Cities = ["Lyon", "Porto", "Gdansk", "Leeds", "Bologna", "Tartu", "Ghent", "Malmo", "Split", "Cork"];
    private static readonly string[] Words = ["fast", "delivery", "ordered", "twice", "blue", "small", "gift", "return", "late", "again", "coupon", "member", "mobile"];

    private sealed record Row(
        string Datastore,
        double DataMb,
        double StreamMb,
        double RawSeconds,
        double HoardSeconds,
        double StoredMb,
        double RestoreSeconds,
        double? RawRestoreSeconds,
        double SealSeconds,
        double FsyncSeconds,
        string RawNote);

    public static async Task RunAsync(int megabytes, int rounds, Action<string> line, CancellationToken cancellationToken)
    {
        var loadAverage = string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        line($"machine: {Environment.ProcessorCount} cores, {File.ReadLines("/proc/meminfo").First().Split(':')[1].Trim()}, {File.ReadAllText("/proc/version").Split(' ')[2]}, load average {loadAverage}");
        line($"backup and restore of about {megabytes} MB per datastore; raw tool and Hoard backup medians of {rounds}, restore 1 run; temp files in {Path.GetTempPath()}");
        line("data: rows/values of an event log: sequential id, a timestamp, a kind and a city from small vocabularies, a three-word");
        line("      note from 13 words, and 16-32 random hex characters (md5 of random()) - compressible like real data, not trivially");

        var work = Directory.CreateTempSubdirectory("hoard-bench-backup").FullName;
        var rows = new List<Row>();
        var missing = new List<string>();
        try
        {
            await using var server = await HoardServer.StartAsync();
            var (token, project) = await server.LoginAsync("admin", server.AdminPassword, "admin");
            using var http = new HttpClient { BaseAddress = new Uri($"{server.BaseUrl}/v1.0/{project}/"), Timeout = TimeSpan.FromMinutes(5) };
            http.DefaultRequestHeaders.Add("X-Auth-Token", token);
            var flavor = await SendAsync(http, HttpMethod.Post, "mgmt/flavors", new JsonObject { ["flavor"] = new JsonObject { ["id"] = Flavor, ["name"] = Flavor, ["ram"] = 4096, ["vcpus"] = 2, ["disk"] = 10 } }, cancellationToken);
            if (flavor.Status != HttpStatusCode.Created)
            {
                throw new InvalidOperationException($"creating the bench flavor: {flavor.Status} {flavor.Body?.ToJsonString()}");
            }

            var bench = new Context(server, http, work, megabytes, rounds, line);
            foreach (var (datastore, binaries) in new[]
            {
                ("redis", new[] { "redis-server", "redis-cli" }),
                ("postgresql", new[] { $"{PgBin}/postgres", $"{PgBin}/pg_basebackup" }),
                ("mariadb", new[] { "mariadbd", "mariadb-backup", "mbstream" }),
            })
            {
                var absent = binaries.Where(b => Binaries.Find(b) is null && !File.Exists(b)).ToList();
                if (absent.Count > 0)
                {
                    missing.Add($"{datastore}: not measured, missing {string.Join(", ", absent)}");
                    line(missing[^1]);
                    continue;
                }

                try
                {
                    rows.Add(await bench.MeasureAsync(datastore, cancellationToken));
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    missing.Add($"{datastore}: failed: {e.Message}");
                    line(missing[^1]);
                }
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }

        line(string.Empty);
        line("datastore   data MB  stream MB  raw tool s  Hoard backup s  ratio (<= 1.3)   MB/s  stored MB  Hoard restore s  raw restore s");
        foreach (var r in rows)
        {
            var rawRestore = r.RawRestoreSeconds is { } s ? s.ToString("0.00", CultureInfo.InvariantCulture) : "—";
            line(string.Create(CultureInfo.InvariantCulture, $"{r.Datastore,-10} {r.DataMb,8:0} {r.StreamMb,10:0} {r.RawSeconds,11:0.00} {r.HoardSeconds,15:0.00} {r.HoardSeconds / r.RawSeconds,15:0.00} {r.DataMb / r.HoardSeconds,6:0} {r.StoredMb,10:0} {r.RestoreSeconds,16:0.00} {rawRestore,14}"));
        }

        line(string.Empty);
        line("where the time goes: the sealer alone (BackupEnvelope.SealAsync, format 2: LZ4 blocks + AES-256-GCM + SHA-256) on the raw tool's output, file to file");
        foreach (var r in rows)
        {
            line(string.Create(CultureInfo.InvariantCulture, $"{r.Datastore,-10} seal {r.SealSeconds:0.00} s ({r.StreamMb / r.SealSeconds:0} MB/s of stream), fsync of the sealed file {r.FsyncSeconds:0.00} s; raw tool + seal = {r.RawSeconds + r.SealSeconds:0.00} s vs Hoard {r.HoardSeconds:0.00} s{r.RawNote}"));
        }

        foreach (var m in missing)
        {
            line(m);
        }

        line("data MB: the engine's size (redis used_memory, pg_database_size, information_schema data+index); stream MB: the raw tool's output,");
        line("which is what Hoard seals; MB/s = data MB / Hoard backup s; stored MB: Hoard's backup.hbk; restore: POST /instances with restorePoint -> ACTIVE");
    }

    private static async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpClient http, HttpMethod method, string path, JsonNode? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
    }

    private static string Note(long id, Random random)
    {
        var a = Words[random.Next(Words.Length)];
        var b = Words[random.Next(Words.Length)];
        return $"{a} {b} {Words[(int)(id % Words.Length)]}";
    }

    private sealed class Context(HoardServer server, HttpClient http, string work, int megabytes, int rounds, Action<string> line)
    {
        public async Task<Row> MeasureAsync(string datastore, CancellationToken cancellationToken)
        {
            line($"{datastore}: creating the instance");
            var source = await CreateInstanceAsync(datastore, $"{datastore}-src", null, cancellationToken);
            var id = source.Instance["id"]!.GetValue<string>();
            var address = source.Instance["ip"]![0]!.GetValue<string>();
            var root = await SendAsync(http, HttpMethod.Post, $"instances/{id}/root", null, cancellationToken);
            if (root.Status != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"enabling root: {root.Status} {root.Body?.ToJsonString()}");
            }

            var password = root.Body!["user"]!["password"]!.GetValue<string>();
            var dataDir = Path.Combine(server.PoolDir, "instances", id, "data");
            var clock = Stopwatch.StartNew();
            var dataMb = datastore switch
            {
                "redis" => await LoadRedisAsync(address, password, cancellationToken),
                "postgresql" => await LoadPostgreSqlAsync(address, password, cancellationToken),
                _ => await LoadMariaDbAsync(address, password, cancellationToken),
            };
            line($"{datastore}: loaded {dataMb:0} MB in {clock.Elapsed.TotalSeconds:0} s");

            // The raw tool, every round before Hoard's: PostgreSQL's needs a pg_hba line Hoard's backup rewrites away.
            var rawFile = Path.Combine(work, $"raw-{datastore}");
            var raw = new List<double>();
            var note = string.Empty;
            for (var i = 0; i < rounds; i++)
            {
                File.Delete(rawFile);
                var (seconds, said) = datastore switch
                {
                    "redis" => (await RawRedisAsync(address, password, dataDir, rawFile, cancellationToken), string.Empty),
                    "postgresql" => await RawPostgreSqlAsync(address, password, dataDir, rawFile, cancellationToken),
                    _ => (await RawMariaDbAsync(address, password, dataDir, rawFile, cancellationToken), string.Empty),
                };
                note = said.Length > 0 ? said : note;
                raw.Add(seconds);
                line(string.Create(CultureInfo.InvariantCulture, $"{datastore}: raw tool {seconds:0.00} s"));
            }

            var streamMb = new FileInfo(rawFile).Length / 1048576.0;

            var hoard = new List<double>();
            string? backupId = null;
            double storedMb = 0;
            for (var i = 0; i < rounds; i++)
            {
                if (backupId is not null)
                {
                    await SendAsync(http, HttpMethod.Delete, $"backups/{backupId}", null, cancellationToken);
                }

                (var seconds, backupId, storedMb) = await HoardBackupAsync(id, $"{datastore}-{i}", cancellationToken);
                hoard.Add(seconds);
                line(string.Create(CultureInfo.InvariantCulture, $"{datastore}: Hoard backup {seconds:0.00} s, stored {storedMb:0} MB"));
            }

            var (seal, fsync) = await SealAloneAsync(rawFile, cancellationToken);
            line(string.Create(CultureInfo.InvariantCulture, $"{datastore}: sealer alone {seal:0.00} s + fsync {fsync:0.00} s"));

            // The source goes before the restore, so the two 4 GB flavors never share the machine's memory.
            await SendAsync(http, HttpMethod.Delete, $"instances/{id}", null, cancellationToken);
            var restored = await CreateInstanceAsync(datastore, $"{datastore}-restored", backupId, cancellationToken);
            line(string.Create(CultureInfo.InvariantCulture, $"{datastore}: Hoard restore {restored.Seconds:0.00} s"));
            await SendAsync(http, HttpMethod.Delete, $"instances/{restored.Instance["id"]}", null, cancellationToken);

            double? rawRestore = datastore == "redis" ? await RawRedisRestoreAsync(rawFile, cancellationToken) : null;
            await SendAsync(http, HttpMethod.Delete, $"backups/{backupId}", null, cancellationToken);
            File.Delete(rawFile);
            return new Row(datastore, dataMb, streamMb, Stats.Median(raw), Stats.Median(hoard), storedMb, restored.Seconds, rawRestore, seal, fsync, note);
        }

        private async Task<(JsonObject Instance, double Seconds)> CreateInstanceAsync(string datastore, string name, string? backupId, CancellationToken cancellationToken)
        {
            var instance = new JsonObject { ["name"] = name, ["flavorRef"] = Flavor, ["datastore"] = new JsonObject { ["type"] = datastore } };
            if (backupId is not null)
            {
                instance["restorePoint"] = new JsonObject { ["backupRef"] = backupId };
            }

            var clock = Stopwatch.StartNew();
            var created = await SendAsync(http, HttpMethod.Post, "instances", new JsonObject { ["instance"] = instance }, cancellationToken);
            if (created.Status != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"creating {name}: {created.Status} {created.Body?.ToJsonString()}");
            }

            var id = created.Body!["instance"]!["id"]!.GetValue<string>();
            while (true)
            {
                var shown = (await SendAsync(http, HttpMethod.Get, $"instances/{id}", null, cancellationToken)).Body!["instance"]!.AsObject();
                switch (shown["status"]!.GetValue<string>())
                {
                    case "ACTIVE":
                        return (shown, clock.Elapsed.TotalSeconds);
                    case "ERROR":
                        throw new InvalidOperationException($"{name} went to ERROR: {shown.ToJsonString()}");
                }

                if (clock.Elapsed > Settle)
                {
                    throw new TimeoutException($"{name} not ACTIVE after {Settle.TotalMinutes} minutes");
                }

                await Task.Delay(Poll, cancellationToken);
            }
        }

        private async Task<(double Seconds, string Id, double StoredMb)> HoardBackupAsync(string instanceId, string name, CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            var created = await SendAsync(http, HttpMethod.Post, "backups", new JsonObject { ["backup"] = new JsonObject { ["name"] = name, ["instance"] = instanceId } }, cancellationToken);
            if (created.Status != HttpStatusCode.Accepted)
            {
                throw new InvalidOperationException($"backup {name}: {created.Status} {created.Body?.ToJsonString()}");
            }

            var id = created.Body!["backup"]!["id"]!.GetValue<string>();
            while (true)
            {
                var backup = (await SendAsync(http, HttpMethod.Get, $"backups/{id}", null, cancellationToken)).Body!["backup"]!.AsObject();
                switch (backup["status"]!.GetValue<string>())
                {
                    case "COMPLETED":
                        var seconds = clock.Elapsed.TotalSeconds;
                        var stored = new FileInfo(new Uri(backup["locationRef"]!.GetValue<string>()).LocalPath).Length;
                        return (seconds, id, stored / 1048576.0);
                    case "FAILED":
                        throw new InvalidOperationException($"backup {name} FAILED: {backup.ToJsonString()}");
                }

                if (clock.Elapsed > Settle)
                {
                    throw new TimeoutException($"backup {name} not COMPLETED after {Settle.TotalMinutes} minutes");
                }

                await Task.Delay(Poll, cancellationToken);
            }
        }

        /// <summary>Values of about 1 KB (eleven event lines) under event:N, pipelined, until used_memory reaches the target.</summary>
        private async Task<double> LoadRedisAsync(string address, string password, CancellationToken cancellationToken)
        {
            await using var redis = await ConnectionMultiplexer.ConnectAsync($"{address}:6379,user=root,password={password},allowAdmin=true,syncTimeout=60000,asyncTimeout=60000");
            var db = redis.GetDatabase();
            var random = new Random(6);
            var start = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
            var value = new StringBuilder(1200);
            long next = 0;
            while (await UsedMemoryMbAsync(redis) < megabytes)
            {
                var pending = new List<Task>(50_000);
                for (var i = 0; i < 50_000; i++, next++)
                {
                    value.Clear();
                    for (var l = 0; l < 11; l++)
                    {
                        var e = (next * 11) + l;
                        value.Append(CultureInfo.InvariantCulture, $"{e},{start.AddSeconds(e):O},{Kinds[e % Kinds.Length]},{Cities[random.Next(Cities.Length)]},{Note(e, random)},{random.NextInt64():x16}\n");
                    }

                    pending.Add(db.StringSetAsync($"event:{next}", value.ToString(), flags: CommandFlags.None));
                }

                await Task.WhenAll(pending).WaitAsync(cancellationToken);
            }

            return await UsedMemoryMbAsync(redis);
        }

        private static async Task<double> UsedMemoryMbAsync(ConnectionMultiplexer redis)
        {
            var info = await redis.GetServers()[0].InfoAsync("memory");
            return long.Parse(info.SelectMany(g => g).First(p => p.Key == "used_memory").Value, CultureInfo.InvariantCulture) / 1048576.0;
        }

        /// <summary>INSERT … SELECT generate_series in chunks until pg_database_size reaches the target; then a checkpoint.</summary>
        private async Task<double> LoadPostgreSqlAsync(string address, string password, CancellationToken cancellationToken)
        {
            await using var connection = new NpgsqlConnection($"Host={address};Port=5432;Username=root;Password={password};Database=postgres;Pooling=false;Command Timeout=0");
            await connection.OpenAsync(cancellationToken);
            await ExecuteAsync(connection, "CREATE TABLE events (id bigint PRIMARY KEY, ts timestamptz NOT NULL, kind text NOT NULL, city text NOT NULL, note text NOT NULL, ref text NOT NULL)", cancellationToken);
            var kinds = string.Join(',', Kinds.Select(k => $"'{k}'"));
            var cities = string.Join(',', Cities.Select(c => $"'{c}'"));
            var words = string.Join(',', Words.Select(w => $"'{w}'"));
            long next = 0;
            while (await ScalarAsync<long>(connection, "SELECT pg_database_size(current_database())", cancellationToken) < megabytes * 1048576L)
            {
                await ExecuteAsync(
                    connection,
                    $"""
                    INSERT INTO events
                    SELECT g, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second',
                           (ARRAY[{kinds}])[1 + g % {Kinds.Length}],
                           (ARRAY[{cities}])[1 + floor(random() * {Cities.Length})::int],
                           (ARRAY[{words}])[1 + floor(random() * {Words.Length})::int] || ' ' || (ARRAY[{words}])[1 + floor(random() * {Words.Length})::int] || ' ' || (ARRAY[{words}])[1 + g % {Words.Length}],
                           md5(random()::text)
                    FROM generate_series({next + 1}, {next + InsertChunk}) AS g
                    """,
                    cancellationToken);
                next += InsertChunk;
            }

            await ExecuteAsync(connection, "CHECKPOINT", cancellationToken);
            return await ScalarAsync<long>(connection, "SELECT pg_database_size(current_database())", cancellationToken) / 1048576.0;
        }

        /// <summary>INSERT … SELECT from MariaDB's sequence engine (seq_1_to_N) in chunks until the table's size reaches the target.</summary>
        private async Task<double> LoadMariaDbAsync(string address, string password, CancellationToken cancellationToken)
        {
            await using var connection = new MySqlConnection($"Server={address};Port=3306;User ID=root;Password={password};Pooling=false;Default Command Timeout=0");
            await connection.OpenAsync(cancellationToken);
            await ExecuteAsync(connection, "CREATE DATABASE bench", cancellationToken);
            await ExecuteAsync(connection, "USE bench", cancellationToken); // seq_1_to_N is looked up in the current database
            await ExecuteAsync(connection, "CREATE TABLE bench.events (id BIGINT PRIMARY KEY, ts DATETIME NOT NULL, kind VARCHAR(16) NOT NULL, city VARCHAR(16) NOT NULL, note VARCHAR(64) NOT NULL, ref CHAR(32) NOT NULL) ENGINE=InnoDB", cancellationToken);
            var kinds = string.Join(',', Kinds.Select(k => $"'{k}'"));
            var cities = string.Join(',', Cities.Select(c => $"'{c}'"));
            var words = string.Join(',', Words.Select(w => $"'{w}'"));
            const string size = "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema = 'bench'";
            long next = 0;
            while (true)
            {
                await ExecuteAsync(connection, "ANALYZE TABLE bench.events", cancellationToken);
                if (Convert.ToInt64(await ScalarAsync<object>(connection, size, cancellationToken), CultureInfo.InvariantCulture) >= megabytes * 1048576L)
                {
                    break;
                }

                await ExecuteAsync(
                    connection,
                    $"""
                    INSERT INTO bench.events
                    SELECT seq + {next}, TIMESTAMP '2026-01-01 00:00:00' + INTERVAL (seq + {next}) SECOND,
                           ELT(1 + (seq + {next}) % {Kinds.Length}, {kinds}),
                           ELT(1 + FLOOR(RAND() * {Cities.Length}), {cities}),
                           CONCAT_WS(' ', ELT(1 + FLOOR(RAND() * {Words.Length}), {words}), ELT(1 + FLOOR(RAND() * {Words.Length}), {words}), ELT(1 + (seq + {next}) % {Words.Length}, {words})),
                           MD5(RAND())
                    FROM seq_1_to_{InsertChunk}
                    """,
                    cancellationToken);
                next += InsertChunk;
            }

            return Convert.ToInt64(await ScalarAsync<object>(connection, size, cancellationToken), CultureInfo.InvariantCulture) / 1048576.0;
        }

        private static async Task ExecuteAsync(System.Data.Common.DbConnection connection, string sql, CancellationToken cancellationToken)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.CommandTimeout = 0;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        private static async Task<T> ScalarAsync<T>(System.Data.Common.DbConnection connection, string sql, CancellationToken cancellationToken)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.CommandTimeout = 0;
            return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
        }

        /// <summary>redis-cli BGSAVE, INFO persistence until that save is done, then cp of dump.rdb.</summary>
        private static async Task<double> RawRedisAsync(string address, string password, string dataDir, string file, CancellationToken cancellationToken)
        {
            string[] cli = ["-h", address, "--user", "root", "--pass", password, "--no-auth-warning"];
            var before = SaveCount((await RunOkAsync("redis-cli", [.. cli, "INFO", "persistence"], cancellationToken)).Stdout);
            var clock = Stopwatch.StartNew();
            // SCHEDULE, as Hoard asks: a plain BGSAVE is refused while an AOF rewrite runs (redis-cli still exits 0).
            var asked = (await RunOkAsync("redis-cli", [.. cli, "BGSAVE", "SCHEDULE"], cancellationToken)).Stdout;
            if (!asked.StartsWith("Background saving", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"BGSAVE: {asked}");
            }

            while (true)
            {
                if (clock.Elapsed > Settle)
                {
                    throw new TimeoutException($"BGSAVE not done after {Settle.TotalMinutes} minutes");
                }

                var info = (await RunOkAsync("redis-cli", [.. cli, "INFO", "persistence"], cancellationToken)).Stdout;
                if (!info.Contains("rdb_bgsave_in_progress:1", StringComparison.Ordinal) && SaveCount(info) > before)
                {
                    break;
                }

                await Task.Delay(20, cancellationToken);
            }

            await RunOkAsync("cp", [Path.Combine(dataDir, "dump.rdb"), file], cancellationToken);
            return clock.Elapsed.TotalSeconds;
        }

        private static long SaveCount(string info)
        {
            var line = info.Split('\n').FirstOrDefault(l => l.StartsWith("rdb_saves:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line["rdb_saves:".Length..].Trim(), CultureInfo.InvariantCulture);
        }

        /// <summary>
        /// pg_basebackup -Ft -X fetch to a file as root (a superuser with REPLICATION). Hoard's pg_hba.conf admits
        /// replication connections for its own admin role alone; when root is refused, the bench adds the same kind of
        /// line for root (password, from the instance's address and loopback), reloads, and runs the same command.
        /// </summary>
        private static async Task<(double Seconds, string Note)> RawPostgreSqlAsync(string address, string password, string dataDir, string file, CancellationToken cancellationToken)
        {
            var (seconds, result) = await TimeRawPostgreSqlAsync(address, password, file, cancellationToken);
            if (result.ExitCode == 0)
            {
                return (seconds, string.Empty);
            }

            if (!result.Stderr.Contains("pg_hba.conf", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"pg_basebackup as root: {result}");
            }

            var hba = Path.Combine(dataDir, "pg_hba.conf");
            await File.AppendAllTextAsync(hba, $"host    replication  root  {address}/32  scram-sha-256\nhost    replication  root  127.0.0.1/32  scram-sha-256\n", cancellationToken);
            await using (var connection = new NpgsqlConnection($"Host={address};Port=5432;Username=root;Password={password};Database=postgres;Pooling=false"))
            {
                await connection.OpenAsync(cancellationToken);
                await ExecuteAsync(connection, "SELECT pg_reload_conf()", cancellationToken);
            }

            var deadline = Stopwatch.StartNew();
            while (true)
            {
                File.Delete(file);
                (seconds, result) = await TimeRawPostgreSqlAsync(address, password, file, cancellationToken);
                if (result.ExitCode == 0)
                {
                    return (seconds, "; pg_basebackup as root was refused (Hoard's pg_hba.conf admits replication for its admin role only): the bench added a replication line for root and reloaded");
                }

                if (deadline.Elapsed > TimeSpan.FromSeconds(10))
                {
                    throw new InvalidOperationException($"pg_basebackup as root, after adding a replication line: {result}");
                }

                await Task.Delay(100, cancellationToken);
            }
        }

        private static async Task<(double Seconds, ProcessResult Result)> TimeRawPostgreSqlAsync(string address, string password, string file, CancellationToken cancellationToken)
        {
            // --checkpoint=fast as Hoard runs it: the default spread checkpoint waits out checkpoint_timeout's pacing.
            var clock = Stopwatch.StartNew();
            var result = await ToFileAsync(file, [$"{PgBin}/pg_basebackup", "-h", address, "-p", "5432", "-U", "root", "-w", "-D", "-", "-Ft", "-X", "fetch", "--checkpoint=fast"], new Dictionary<string, string> { ["PGPASSWORD"] = password }, cancellationToken);
            return (clock.Elapsed.TotalSeconds, result);
        }

        /// <summary>mariadb-backup --backup --stream=xbstream to a file, as root (OS and SQL), reading the instance's data dir.</summary>
        private async Task<double> RawMariaDbAsync(string address, string password, string dataDir, string file, CancellationToken cancellationToken)
        {
            var target = Directory.CreateTempSubdirectory("hoard-bench-mbtarget").FullName;
            var options = Path.Combine(work, "mariadb-backup.cnf");
            await File.WriteAllTextAsync(options, $"[mariadb-backup]\nuser = root\npassword = \"{password}\"\nhost = {address}\nport = 3306\nprotocol = tcp\n", cancellationToken);
            try
            {
                var clock = Stopwatch.StartNew();
                var result = await ToFileAsync(file, ["mariadb-backup", $"--defaults-file={options}", "--backup", "--stream=xbstream", $"--target-dir={target}", $"--datadir={dataDir}"], null, cancellationToken);
                var seconds = clock.Elapsed.TotalSeconds;
                return result.ExitCode == 0 ? seconds : throw new InvalidOperationException($"mariadb-backup: exit {result.ExitCode}: {string.Join('\n', result.Stderr.Split('\n').TakeLast(15))}");
            }
            finally
            {
                File.Delete(options);
                Directory.Delete(target, recursive: true);
            }
        }

        /// <summary>redis-server on the copied RDB (no AOF), until PING answers PONG rather than LOADING.</summary>
        private static async Task<double> RawRedisRestoreAsync(string rdb, CancellationToken cancellationToken)
        {
            var address = await Loopback.FreeAddressAsync("127.252", 6379);
            var dir = Path.GetDirectoryName(rdb)!;
            var clock = Stopwatch.StartNew();
            using var process = Process.Start(new ProcessStartInfo("redis-server", ["--bind", address, "--port", "6379", "--dir", dir, "--dbfilename", Path.GetFileName(rdb), "--save", "", "--appendonly", "no", "--loglevel", "warning"]) { UseShellExecute = false, RedirectStandardOutput = true })!;
            try
            {
                while (true)
                {
                    var ping = await ProcessRunner.RunAsync("redis-cli", ["-h", address, "PING"]);
                    if (ping.Stdout.Trim() == "PONG")
                    {
                        return clock.Elapsed.TotalSeconds;
                    }

                    if (process.HasExited || clock.Elapsed > Settle)
                    {
                        throw new InvalidOperationException($"redis-server on the copied RDB did not answer: {ping}");
                    }

                    await Task.Delay(20, cancellationToken);
                }
            }
            finally
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
            }
        }

        /// <summary>The sealer alone on the raw tool's output, file to file in the same directory; then its fsync, timed apart.</summary>
        private async Task<(double Seal, double Fsync)> SealAloneAsync(string rawFile, CancellationToken cancellationToken)
        {
            var sealedFile = Path.Combine(work, "sealed.hbk");
            try
            {
                await using var input = new FileStream(rawFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
                await using var output = new FileStream(sealedFile, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true);
                var clock = Stopwatch.StartNew();
                await BackupEnvelope.SealAsync(input, output, BackupKey.Generate(), cancellationToken);
                await output.FlushAsync(cancellationToken);
                var seal = clock.Elapsed.TotalSeconds;
                clock.Restart();
                output.Flush(flushToDisk: true);
                return (seal, clock.Elapsed.TotalSeconds);
            }
            finally
            {
                File.Delete(sealedFile);
            }
        }

        private static async Task<ProcessResult> RunOkAsync(string file, string[] args, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var result = await ProcessRunner.RunAsync(file, args, timeout: TimeSpan.FromMinutes(5));
            return result.ExitCode == 0 ? result : throw new InvalidOperationException($"{file} {args[^1]}: {result}");
        }

        /// <summary>The tool's stdout straight into a file by the shell, as an operator would run it; stderr captured.</summary>
        private static Task<ProcessResult> ToFileAsync(string file, string[] command, IReadOnlyDictionary<string, string>? env, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return ProcessRunner.RunAsync("/bin/sh", ["-c", "out=$1; shift; exec \"$@\" > \"$out\"", "sh", file, .. command], env, TimeSpan.FromMinutes(20));
        }
    }
}
