using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hoard.Abstractions.Backups;
using Hoard.Testing;
using Npgsql;
using StackExchange.Redis;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// Passwords users hand to Hoard (a Keystone user's, instance users at create, chosen root passwords, users made and
/// re-passworded later, on Redis, PostgreSQL and MariaDB) and the tokens it issues never stay in clear anywhere Hoard
/// writes: the management store (SQLite, PostgreSQL or Redis, every row or key read back, and the store server's own
/// files), the control plane's and the agent's logs, the trace store (every request traced, store calls too), task
/// payloads, instance directories, the engines' own files, backups and their metadata, and an instance restored from a
/// backup. Each is searched for in the encodings a store or a log could use (<see cref="SecretScan"/>). Only the
/// admin-openrc file holds the admin password, by design, 0600.
/// </summary>
public sealed class SecretScanTests
{
    // Random, so a hit means this key: [profiler] hmac_keys is never to be written to a trace, a log or the store.
    private static readonly string TraceKey = $"scan-trace-key-{Guid.NewGuid():N}";
    private const string Suite = "secret scan";

    /// <summary>The scan can fail: a secret wrapped the ways a store, a log or a trace might wrap it is found in each.</summary>
    [Fact]
    public void The_scan_finds_a_secret_in_each_encoding_a_store_or_log_might_use()
    {
        var secret = $"Canary+&<é{Guid.NewGuid():N}";
        var utf8 = Encoding.UTF8.GetBytes(secret);
        var containers = new Dictionary<string, byte[]>
        {
            ["raw"] = [.. "row|"u8, .. utf8, .. "|"u8],
            ["JSON"] = JsonSerializer.SerializeToUtf8Bytes(new { password = secret }),
            ["relaxed JSON"] = JsonSerializer.SerializeToUtf8Bytes(new { password = secret }, new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }),
            ["UTF-16"] = Encoding.Unicode.GetBytes($"x {secret} y"),
            ["percent-encoded"] = Encoding.ASCII.GetBytes($"redis://:{Uri.EscapeDataString(secret)}@host"),
            ["bytea hex"] = Encoding.ASCII.GetBytes($"\\x00{Convert.ToHexStringLower(utf8)}00"),
        };
        for (var offset = 0; offset < 3; offset++)
        {
            var payload = Encoding.UTF8.GetBytes(new string('p', offset + 5) + secret + "tail");
            containers[$"base64, offset {offset}"] = Encoding.ASCII.GetBytes(Convert.ToBase64String(payload));
            containers[$"base64url, offset {offset}"] = Encoding.ASCII.GetBytes(Convert.ToBase64String(payload).Replace('+', '-').Replace('/', '_'));
        }

        var scan = new SecretScan(new Dictionary<string, string> { ["canary"] = secret, ["other"] = $"Other-{Guid.NewGuid():N}" });
        foreach (var (what, bytes) in containers)
        {
            var before = scan.Hits.Count;
            scan.Search(what, [.. RandomNumberGenerator.GetBytes(100), .. bytes, .. RandomNumberGenerator.GetBytes(100)]);
            Assert.True(scan.Hits.Count > before, $"the canary was not found in its {what} form");
            Assert.All(scan.Hits.Skip(before), h => Assert.StartsWith("canary", h, StringComparison.Ordinal));
        }

        // A key, as raw bytes in a file and base64 in a configuration line.
        var key = RandomNumberGenerator.GetBytes(32);
        var keyScan = new SecretScan(new Dictionary<string, string>(), new Dictionary<string, byte[]> { ["key"] = key });
        keyScan.Search("raw key", [.. RandomNumberGenerator.GetBytes(100), .. key, .. RandomNumberGenerator.GetBytes(100)]);
        keyScan.Search("base64 key", Encoding.ASCII.GetBytes($"backup_encryption_key = {Convert.ToBase64String(key)}\n"));
        Assert.Equal(2, keyScan.Hits.Count);

        var clean = new SecretScan(new Dictionary<string, string> { ["canary"] = secret });
        clean.Search("noise", RandomNumberGenerator.GetBytes(1_000_000));
        Assert.Empty(clean.Hits);
    }

    [RequiresBinaryFact("redis-server", "redis-cli", "psql", PostgreSqlTestServer.PostgresBinary, "mariadb", "mariadbd", "mariadb-backup", "mbstream")]
    public async Task On_the_default_sqlite_store_no_password_or_token_is_kept_in_clear_in_any_file()
    {
        await using var server = await HoardServer.StartAsync(
            new Dictionary<string, string> { ["HOARD_PROFILER_TRACE_STORE"] = "true" }, ["--profiler-hmac-keys", TraceKey]);
        var planted = await Scenario.RunAsync(server, Configured());
        await server.KillAsync();

        var scan = new SecretScan(planted.Secrets, Keys(server));
        await ScanDataDirectoryAsync(scan, server, planted);
        Assert.True(File.Exists(Path.Combine(server.DataDir, "traces.db")), "no trace store in the data directory");
        Record("sqlite", scan, planted);
        Assert.True(scan.Hits.Count == 0, "secrets in clear:\n" + string.Join("\n", scan.Hits));
    }

    [RequiresBinaryFact("redis-server", "redis-cli", "psql", PostgreSqlTestServer.PostgresBinary, PostgreSqlTestServer.InitDbBinary, "mariadb", "mariadbd", "mariadb-backup", "mbstream")]
    public async Task On_a_postgresql_store_no_password_or_token_is_kept_in_clear_in_any_row_or_file()
    {
        var postgres = new PostgreSqlTestServer();
        try
        {
            await postgres.InitializeAsync();
            var store = await postgres.CreateDatabaseAsync();
            var traces = await postgres.CreateDatabaseAsync();
            var backupKey = BackupKey.Generate();
            Planted planted;
            SecretScan scan;
            await using (var server = await HoardServer.StartAsync(
                new Dictionary<string, string>
                {
                    ["HOARD_DATABASE_CONNECTION"] = store.AbsoluteUri,
                    ["HOARD_PROFILER_CONNECTION_STRING"] = traces.AbsoluteUri,
                    ["HOARD_PROFILER_TRACE_STORE"] = "true",
                    ["HOARD_DEFAULT_BACKUP_ENCRYPTION_KEY"] = backupKey.ToConfiguration(),
                },
                ["--profiler-hmac-keys", TraceKey]))
            {
                planted = await Scenario.RunAsync(server, Configured(("store password", postgres.Password)));
                await server.KillAsync();
                scan = new SecretScan(planted.Secrets, Keys(server, backupKey));
                await ScanDataDirectoryAsync(scan, server, planted);
            }

            // Every row of every table, as PostgreSQL's text form of the row (bytea as hex), of the store and the trace store.
            var storeRows = await DumpPostgreSqlAsync(scan, store, "store");
            var traceRows = await DumpPostgreSqlAsync(scan, traces, "trace store");
            Assert.True(storeRows > 30, $"the store held only {storeRows} rows");
            Assert.True(traceRows > 100, $"the trace store held only {traceRows} rows: were the requests traced?");

            // And the server's own files: heap pages, WAL (rows since deleted or updated too), after a checkpoint.
            await using (var connection = new NpgsqlConnection(NpgsqlConnectionString(store)))
            {
                await connection.OpenAsync().Within(Timeouts.Short);
                await using var checkpoint = new NpgsqlCommand("CHECKPOINT", connection);
                await checkpoint.ExecuteNonQueryAsync().Within(Timeouts.Short);
                await using var show = new NpgsqlCommand("SHOW data_directory", connection);
                var dataDirectory = (string)(await show.ExecuteScalarAsync().Within(Timeouts.Short))!;
                var before = scan.Files;
                await scan.DirectoryAsync(dataDirectory, "postgresql store server");
                Assert.True(scan.Files - before > 500, $"only {scan.Files - before} files in {dataDirectory}");
            }

            Record("postgresql", scan, planted, storeRows, traceRows);
            Assert.True(scan.Hits.Count == 0, "secrets in clear:\n" + string.Join("\n", scan.Hits));
        }
        finally
        {
            await postgres.DisposeAsync();
        }
    }

    [RequiresBinaryFact("redis-server", "redis-cli", "psql", PostgreSqlTestServer.PostgresBinary, "mariadb", "mariadbd", "mariadb-backup", "mbstream")]
    public async Task On_a_redis_store_no_password_or_token_is_kept_in_clear_in_any_key_or_file()
    {
        var redis = new RedisTestServer();
        try
        {
            await redis.InitializeAsync();
            var admin = redis.Admin.GetServer(redis.Address, RedisTestServer.Port);

            // The fixture's server keeps nothing on disk; with an append-only file every write is kept, values since
            // deleted or overwritten (a finished task's payload) too.
            await admin.ConfigSetAsync("appendonly", "yes").Within(Timeouts.Short);
            var storeDb = await redis.FreshDatabaseAsync();
            var traceDb = await redis.FreshDatabaseAsync();
            var backupKey = BackupKey.Generate();
            Planted planted;
            SecretScan scan;
            await using (var server = await HoardServer.StartAsync(
                new Dictionary<string, string>
                {
                    ["HOARD_DATABASE_CONNECTION"] = redis.ConnectionString(storeDb).AbsoluteUri,
                    ["HOARD_PROFILER_CONNECTION_STRING"] = redis.ConnectionString(traceDb).AbsoluteUri,
                    ["HOARD_PROFILER_TRACE_STORE"] = "true",
                    ["HOARD_DEFAULT_BACKUP_ENCRYPTION_KEY"] = backupKey.ToConfiguration(),
                },
                ["--profiler-hmac-keys", TraceKey]))
            {
                planted = await Scenario.RunAsync(server, Configured(("store password", redis.Password)));
                await server.KillAsync();
                scan = new SecretScan(planted.Secrets, Keys(server, backupKey));
                await ScanDataDirectoryAsync(scan, server, planted);
            }

            var storeKeys = await DumpRedisAsync(scan, redis, admin, storeDb, "store");
            var traceKeys = await DumpRedisAsync(scan, redis, admin, traceDb, "trace store");
            Assert.True(storeKeys > 50, $"the store held only {storeKeys} keys");
            Assert.True(traceKeys > 0, "the trace store held no key: were the requests traced?");

            await admin.ExecuteAsync("SAVE").Within(Timeouts.Short);
            var dir = (await admin.ConfigGetAsync("dir").Within(Timeouts.Short)).Single().Value;
            var before = (scan.Files, scan.Bytes);
            await scan.DirectoryAsync(dir, "redis store server");
            Assert.True(scan.Files - before.Files >= 2 && scan.Bytes - before.Bytes > 100_000, $"the store server's files in {dir}: {scan.Files - before.Files} files, {scan.Bytes - before.Bytes} bytes");

            Record("redis", scan, planted, storeKeys, traceKeys);
            Assert.True(scan.Hits.Count == 0, "secrets in clear:\n" + string.Join("\n", scan.Hits));
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }

    /// <summary>Secrets given to `hoard serve` in its configuration, which it must use but never write down.</summary>
    private static Dictionary<string, string> Configured(params (string What, string Secret)[] more)
    {
        var configured = new Dictionary<string, string>(StringComparer.Ordinal) { ["profiler HMAC key"] = TraceKey };
        foreach (var (what, secret) in more)
        {
            configured[what] = secret;
        }

        return configured;
    }

    /// <summary>
    /// The keys: master.key (only its own file may hold it) and the key backups are sealed with, derived from it or
    /// configured (<paramref name="configured"/>): neither is ever written down.
    /// </summary>
    private static Dictionary<string, byte[]> Keys(HoardServer server, BackupKey? configured = null)
    {
        var master = File.ReadAllBytes(Path.Combine(server.DataDir, "master.key"));
        Assert.Equal(32, master.Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(server.DataDir, "master.key")));
        return new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["master key"] = master,
            ["backup key"] = Convert.FromBase64String((configured ?? BackupKey.Derive(master, "hoard backups v1")).ToConfiguration()),
        };
    }

    /// <summary>Every file under the data directory but admin-openrc, which must be the owner's only, and master.key.</summary>
    private static async Task ScanDataDirectoryAsync(SecretScan scan, HoardServer server, Planted planted)
    {
        var openrc = Path.Combine(server.DataDir, "admin-openrc");
        var masterKey = Path.Combine(server.DataDir, "master.key");
        await scan.DirectoryAsync(server.DataDir, "data dir", file => file == openrc || file == masterKey);
        Assert.True(scan.Files > 50 && scan.Bytes > 1_000_000, $"scanned only {scan.Files} files, {scan.Bytes} bytes under {server.DataDir}");
        if (File.Exists(openrc))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(openrc));
        }

        // The backups were there to be searched: each one's sealed content and metadata, where the storage keeps them.
        foreach (var location in planted.BackupFiles)
        {
            Assert.True(File.Exists(location), $"backup file {location} is missing");
            Assert.StartsWith(server.DataDir, location, StringComparison.Ordinal);
            var metadata = Path.Combine(Path.GetDirectoryName(location)!, "metadata.json");
            Assert.True(File.Exists(metadata), $"backup metadata {metadata} is missing");
        }
    }

    private static void Record(string backend, SecretScan scan, Planted planted, long storeRecords = 0, long traceRecords = 0)
    {
        Figures.Record(Suite, $"{backend}: secrets planted", planted.Secrets.Count);
        Figures.Record(Suite, $"{backend}: needles (secret × encoding)", scan.Needles);
        Figures.Record(Suite, $"{backend}: files scanned", scan.Files);
        Figures.Record(Suite, $"{backend}: bytes scanned", scan.Bytes);
        Figures.Record(Suite, $"{backend}: backups scanned", planted.BackupFiles.Count);
        if (storeRecords > 0)
        {
            Figures.Record(Suite, $"{backend}: store {(backend == "redis" ? "keys" : "rows")} read back", storeRecords);
            Figures.Record(Suite, $"{backend}: trace store {(backend == "redis" ? "keys" : "rows")} read back", traceRecords);
        }

        Figures.Record(Suite, $"{backend}: hits", scan.Hits.Count);
    }

    private static string NpgsqlConnectionString(Uri uri)
    {
        var user = uri.UserInfo.Split(':', 2);
        return new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.Port,
            Username = Uri.UnescapeDataString(user[0]),
            Password = Uri.UnescapeDataString(user[1]),
            Database = uri.AbsolutePath.TrimStart('/'),
            Pooling = false,
            Timeout = 5,
        }.ToString();
    }

    private static async Task<long> DumpPostgreSqlAsync(SecretScan scan, Uri database, string label)
    {
        await using var connection = new NpgsqlConnection(NpgsqlConnectionString(database));
        await connection.OpenAsync().Within(Timeouts.Short);
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand(
            "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')",
            connection))
        await using (var reader = await list.ExecuteReaderAsync().Within(Timeouts.Short))
        {
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }

        Assert.NotEmpty(tables);
        var rows = 0L;
        foreach (var table in tables)
        {
            var text = new StringBuilder();
            await using var select = new NpgsqlCommand($"SELECT t::text FROM {table} t", connection);
            await using var reader = await select.ExecuteReaderAsync().Within(Timeouts.Short);
            while (await reader.ReadAsync())
            {
                rows++;
                text.AppendLine(reader.GetString(0));
            }

            scan.Search($"{label} table {table}", Encoding.UTF8.GetBytes(text.ToString()));
        }

        return rows;
    }

    /// <summary>Every key of <paramref name="database"/> and its value, whatever its type.</summary>
    private static async Task<long> DumpRedisAsync(SecretScan scan, RedisTestServer redis, IServer admin, int database, string label)
    {
        var db = redis.Admin.GetDatabase(database);
        var keys = 0L;
        await foreach (var key in admin.KeysAsync(database, pageSize: 1000))
        {
            keys++;
            var values = new List<byte[]> { key! };
            var type = await db.KeyTypeAsync(key).Within(Timeouts.Short);
            switch (type)
            {
                case RedisType.String:
                    values.Add((await db.StringGetAsync(key).Within(Timeouts.Short))!);
                    break;
                case RedisType.Hash:
                    values.AddRange((await db.HashGetAllAsync(key).Within(Timeouts.Short)).SelectMany(e => new[] { (byte[])e.Name!, (byte[])e.Value! }));
                    break;
                case RedisType.List:
                    values.AddRange((await db.ListRangeAsync(key).Within(Timeouts.Short)).Select(v => (byte[])v!));
                    break;
                case RedisType.Set:
                    values.AddRange((await db.SetMembersAsync(key).Within(Timeouts.Short)).Select(v => (byte[])v!));
                    break;
                case RedisType.SortedSet:
                    values.AddRange((await db.SortedSetRangeByRankAsync(key).Within(Timeouts.Short)).Select(v => (byte[])v!));
                    break;
                case RedisType.Stream:
                    values.AddRange((await db.StreamRangeAsync(key).Within(Timeouts.Short)).SelectMany(e => e.Values.SelectMany(v => new[] { (byte[])v.Name!, (byte[])v.Value! })));
                    break;
                default:
                    Assert.Fail($"{label} key {key} has a type the scan does not read: {type}");
                    break;
            }

            // Separated, so no needle is made of the end of one value and the start of the next.
            scan.Search($"{label} key {key}", [.. values.SelectMany(v => v.Append((byte)0))]);
        }

        return keys;
    }

    /// <summary>What a scenario gave Hoard: every secret by what it was, and where each backup's sealed file lies.</summary>
    private sealed record Planted(IReadOnlyDictionary<string, string> Secrets, IReadOnlyList<string> BackupFiles);

    /// <summary>
    /// The same requests on every store: a Keystone user, then on each engine a user at create, a root enable with a
    /// chosen password, a user made later, a changed password; a Redis cluster whose root is enabled with a chosen
    /// password and which then grows; a backup of each instance once its users exist, and the PostgreSQL one restored
    /// into a new instance. Every request is traced. Each password is then shown to work.
    /// </summary>
    private sealed class Scenario : IDisposable
    {
        private static readonly Dictionary<string, int> Ports = new(StringComparer.Ordinal) { ["redis"] = 6379, ["postgresql"] = 5432, ["mariadb"] = 3306 };
        private readonly HttpClient _http;
        private readonly string _token;
        private readonly string _project;

        private Scenario(HoardServer server, string token, string project)
        {
            _http = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = Timeouts.Cli };
            _token = token;
            _project = project;
        }

        public void Dispose() => _http.Dispose();

        // Each distinct and unlikely to occur by chance, so a hit means that secret; the punctuation and the accent
        // make the JSON-escaped, UTF-16 and percent-encoded forms differ from the raw bytes.
        private static string Secret(string what) => $"Scan-{what}+&<é{Guid.NewGuid():N}";

        public static async Task<Planted> RunAsync(HoardServer server, Dictionary<string, string> configured)
        {
            var (token, project) = await server.LoginAsync("admin", server.AdminPassword, "admin");
            using var scenario = new Scenario(server, token, project);
            var secrets = new Dictionary<string, string>(configured, StringComparer.Ordinal)
            {
                ["admin password"] = server.AdminPassword, // only admin-openrc may hold it, and is not scanned
                ["admin token"] = token,
                ["keystone user password"] = Secret("ks"),
            };

            // A Keystone user with a password, who logs in with it.
            var role = (await scenario.IdentityAsync(HttpMethod.Get, "/roles?name=member")).Body!["roles"]![0]!["id"]!.GetValue<string>();
            var user = await scenario.IdentityAsync(HttpMethod.Post, "/users", new JsonObject { ["user"] = new JsonObject { ["name"] = "scan-user", ["password"] = secrets["keystone user password"], ["default_project_id"] = project } });
            Assert.True(user.Status == HttpStatusCode.Created, user.Body?.ToJsonString());
            var userId = user.Body!["user"]!["id"]!.GetValue<string>();
            Assert.Equal(HttpStatusCode.NoContent, (await scenario.IdentityAsync(HttpMethod.Put, $"/projects/{project}/users/{userId}/roles/{role}")).Status);
            secrets["keystone user token"] = (await server.LoginAsync("scan-user", secrets["keystone user password"], "admin")).Token;

            string[] engines = ["redis", "postgresql", "mariadb"];
            foreach (var engine in engines)
            {
                foreach (var what in new[] { "user at create", "root", "user made later", "changed password" })
                {
                    secrets[$"{engine} {what}"] = Secret(engine[..2] + what.Split(' ')[0]);
                }
            }

            secrets["redis cluster root"] = Secret("clroot");
            var creating = Task.WhenAll(engines.Select(e => scenario.CreateAsync($"scan-{e}", e, "app", secrets[$"{e} user at create"])));
            var cluster = await scenario.CreateClusterAsync("scan-cluster");
            var ids = await creating;
            var instances = engines.Zip(ids).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
            var addresses = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var engine in engines)
            {
                var id = instances[engine];
                addresses[engine] = (await scenario.SendAsync(HttpMethod.Get, $"/instances/{id}")).Body!["instance"]!["ip"]![0]!.GetValue<string>();
                var root = await scenario.SendAsync(HttpMethod.Post, $"/instances/{id}/root", new JsonObject { ["password"] = secrets[$"{engine} root"] });
                Assert.True(root.Status == HttpStatusCode.OK, $"{engine} root: {root.Status} {root.Body}");
                var later = await scenario.SendAsync(HttpMethod.Post, $"/instances/{id}/users", new JsonObject { ["users"] = new JsonArray(new JsonObject { ["name"] = "later", ["password"] = secrets[$"{engine} user made later"] }) });
                Assert.True(later.Status == HttpStatusCode.Accepted, $"{engine} user made later: {later.Status} {later.Body}");

                // PostgreSQL through Trove's bulk route, the others through the user-attributes route.
                var changed = engine == "postgresql"
                    ? await scenario.SendAsync(HttpMethod.Put, $"/instances/{id}/users", new JsonObject { ["users"] = new JsonArray(new JsonObject { ["name"] = "app", ["password"] = secrets[$"{engine} changed password"] }) })
                    : await scenario.SendAsync(HttpMethod.Put, $"/instances/{id}/users/app", new JsonObject { ["user"] = new JsonObject { ["password"] = secrets[$"{engine} changed password"] } });
                Assert.True(changed.Status == HttpStatusCode.Accepted, $"{engine} changed password: {changed.Status} {changed.Body}");
            }

            // A cluster's root password is kept, sealed, for the members it will get: a member added after the root
            // enable is given it too.
            var clusterRoot = await scenario.SendAsync(HttpMethod.Post, $"/clusters/{cluster}/root", new JsonObject { ["password"] = secrets["redis cluster root"] });
            Assert.True(clusterRoot.Status == HttpStatusCode.OK, $"cluster root: {clusterRoot.Status} {clusterRoot.Body}");
            var grow = await scenario.SendAsync(HttpMethod.Post, $"/clusters/{cluster}", new JsonObject { ["grow"] = new JsonArray(new JsonObject { ["flavorRef"] = "1" }) });
            Assert.True(grow.Status == HttpStatusCode.Accepted, $"cluster grow: {grow.Status} {grow.Body}");
            var members = await scenario.WaitForClusterAsync(cluster, 4);
            foreach (var member in members)
            {
                Assert.True(
                    await EngineClients.CanLoginAsync("redis", member, Ports["redis"], "root", secrets["redis cluster root"]),
                    $"root cannot log in to cluster member {member} with the cluster's root password");
            }

            // The passwords work: they reached the engines (a scan that found nothing because nothing happened proves nothing).
            foreach (var engine in engines)
            {
                foreach (var (login, what) in new[] { ("root", "root"), ("later", "user made later"), ("app", "changed password") })
                {
                    Assert.True(
                        await EngineClients.CanLoginAsync(engine, addresses[engine], Ports[engine], login, secrets[$"{engine} {what}"]),
                        $"{login} cannot log in to {engine} with the {what} password");
                }
            }

            // A backup of each instance, its users in it; the PostgreSQL one restored into a new instance, where the
            // changed password still works.
            var backups = await Task.WhenAll(engines.Select(e => scenario.BackupAsync(instances[e], $"scan-{e}-backup")));
            var restored = await scenario.CreateAsync("scan-postgresql-restored", "postgresql", null, null, backups[1].Id);
            var restoredAddress = (await scenario.SendAsync(HttpMethod.Get, $"/instances/{restored}")).Body!["instance"]!["ip"]![0]!.GetValue<string>();
            Assert.True(
                await EngineClients.CanLoginAsync("postgresql", restoredAddress, Ports["postgresql"], "app", secrets["postgresql changed password"]),
                "the restored instance does not take the changed password");

            // Let the trace writer, the store and the engines put down what they will before everything is stopped.
            await Task.Delay(TimeSpan.FromSeconds(2));
            return new Planted(secrets, [.. backups.Select(b => b.File)]);
        }

        private async Task<(HttpStatusCode Status, JsonObject? Body)> RequestAsync(HttpMethod method, string path, JsonNode? body)
        {
            using var request = new HttpRequestMessage(method, path);
            request.Headers.Add("X-Auth-Token", _token);
            var (info, hmac) = ProfilerTests.Sign(Guid.NewGuid().ToString(), TraceKey);
            request.Headers.Add("X-Trace-Info", info);
            request.Headers.Add("X-Trace-HMAC", hmac);
            if (body is not null)
            {
                request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            }

            using var response = await _http.SendAsync(request).Within(Timeouts.Cli);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
        }

        public Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpMethod method, string path, JsonNode? body = null) =>
            RequestAsync(method, $"/v1.0/{_project}{path}", body);

        public Task<(HttpStatusCode Status, JsonObject? Body)> IdentityAsync(HttpMethod method, string path, JsonNode? body = null) =>
            RequestAsync(method, $"/identity/v3{path}", body);

        public async Task<string> CreateAsync(string name, string datastore, string? user, string? password, string? backup = null)
        {
            var instance = new JsonObject { ["name"] = name, ["flavorRef"] = "1", ["datastore"] = new JsonObject { ["type"] = datastore } };
            if (user is not null)
            {
                instance["users"] = new JsonArray(new JsonObject { ["name"] = user, ["password"] = password });
            }

            if (backup is not null)
            {
                instance["restorePoint"] = new JsonObject { ["backupRef"] = backup };
            }

            var created = await SendAsync(HttpMethod.Post, "/instances", new JsonObject { ["instance"] = instance });
            Assert.True(created.Status == HttpStatusCode.OK, $"{name}: {created.Status} {created.Body}");
            var id = created.Body!["instance"]!["id"]!.GetValue<string>();
            var settled = await Timeouts.EventuallyAsync(
                async () => (await SendAsync(HttpMethod.Get, $"/instances/{id}")).Body?["instance"]?.AsObject(),
                i => i?["status"]?.GetValue<string>() is "ACTIVE" or "ERROR",
                Timeouts.Settle,
                $"{name} to settle");
            Assert.True(settled!["status"]!.GetValue<string>() == "ACTIVE", settled.ToJsonString());
            return id;
        }

        public async Task<string> CreateClusterAsync(string name)
        {
            var versions = (await SendAsync(HttpMethod.Get, "/datastores/redis/versions")).Body!["versions"]!.AsArray();
            var body = new JsonObject
            {
                ["cluster"] = new JsonObject
                {
                    ["name"] = name,
                    ["datastore"] = new JsonObject { ["type"] = "redis", ["version"] = versions[0]!["name"]!.GetValue<string>() },
                    ["instances"] = new JsonArray(new JsonObject { ["flavorRef"] = "1" }, new JsonObject { ["flavorRef"] = "1" }, new JsonObject { ["flavorRef"] = "1" }),
                },
            };
            var created = await SendAsync(HttpMethod.Post, "/clusters", body);
            Assert.True(created.Status == HttpStatusCode.OK, $"{name}: {created.Status} {created.Body}");
            var id = created.Body!["cluster"]!["id"]!.GetValue<string>();
            await WaitForClusterAsync(id, 3);
            return id;
        }

        /// <summary>Waits for the cluster's task to end with <paramref name="count"/> members; returns their addresses.</summary>
        public async Task<IReadOnlyList<string>> WaitForClusterAsync(string id, int count)
        {
            var settled = await Timeouts.EventuallyAsync(
                async () => (await SendAsync(HttpMethod.Get, $"/clusters/{id}")).Body?["cluster"]?.AsObject(),
                c => c?["task"]?["name"]?.GetValue<string>() == "NONE" && c["instances"]!.AsArray().Count == count
                    && c["instances"]!.AsArray().All(m => m!["ip"] is JsonArray { Count: > 0 }),
                Timeouts.Settle,
                $"cluster {id} to settle with {count} members");
            return [.. settled!["instances"]!.AsArray().Select(m => m!["ip"]![0]!.GetValue<string>())];
        }

        public async Task<(string Id, string File)> BackupAsync(string instance, string name)
        {
            var created = await SendAsync(HttpMethod.Post, "/backups", new JsonObject { ["backup"] = new JsonObject { ["name"] = name, ["instance"] = instance } });
            Assert.True(created.Status == HttpStatusCode.Accepted, $"{name}: {created.Status} {created.Body}");
            var id = created.Body!["backup"]!["id"]!.GetValue<string>();
            var done = await Timeouts.EventuallyAsync(
                async () => (await SendAsync(HttpMethod.Get, $"/backups/{id}")).Body?["backup"]?.AsObject(),
                b => b?["status"]?.GetValue<string>() is "COMPLETED" or "FAILED",
                Timeouts.Settle,
                $"backup {name} to finish");
            Assert.True(done!["status"]!.GetValue<string>() == "COMPLETED", done.ToJsonString());
            return (id, new Uri(done["locationRef"]!.GetValue<string>()).LocalPath);
        }
    }
}
