using System.Security.Cryptography;
using System.Text;
using Hoard.Abstractions.Tracing;
using Hoard.Conformance;
using Hoard.Profiling.PostgreSql;
using Hoard.Testing;
using Npgsql;
using Xunit;

namespace Hoard.Profiling.PostgreSql.Tests;

/// <summary>One PostgreSQL server shared by the trace tests; each test takes a fresh database of its own.</summary>
[CollectionDefinition(Name)]
public sealed class PostgreSqlServerCollection : ICollectionFixture<PostgreSqlTestServer>
{
    public const string Name = "trace postgresql server";
}

/// <summary>The trace-driver contract on a real PostgreSQL server (a password needing percent-encoding), a fresh database each test.</summary>
[Collection(PostgreSqlServerCollection.Name)]
public sealed class PostgreSqlTraceDriverConformance(PostgreSqlTestServer server) : TraceDriverConformance
{
    protected override async Task<ITraceDriver> OpenEmptyAsync() => new PostgreSqlTracePlugin().Open(await server.CreateDatabaseAsync());
}

public sealed class PostgreSqlTraceConnectionStringTests
{
    [Theory]
    [InlineData("postgresql:///traces", "names no host")]
    [InlineData("postgresql://tracer:s3cret@db.example:5432", "names no database")]
    [InlineData("postgresql://tracer:s3cret@db.example:5432/", "names no database")]
    [InlineData("postgresql://tracer:s3cret@db.example:5432/a/b", "one path segment only")]
    [InlineData("postgresql://tracer:s3cret@db.example:5432/traces?no_such_option=1", "option 'no_such_option'")]
    [InlineData("postgresql://tracer:s3cret@db.example:5432/traces?port=fifty", "option 'port'")]
    [InlineData("postgresql://tracer:s3cret@db.example:5432/traces#frag", "takes no fragment")]
    public void A_malformed_connection_string_is_refused_with_what_is_accepted_and_no_password(string connection, string problem)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new PostgreSqlTracePlugin().Open(new Uri(connection)));
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void User_and_password_are_percent_decoded_and_the_port_defaults_to_5432()
    {
        var settings = PostgreSqlTraceDriver.Parse(new Uri("postgresql://trace%40ops:p%40ss%3Aw%2Frd@db.example/traces?sslmode=require"));
        Assert.Equal(("trace@ops", "p@ss:w/rd", "db.example", 5432, "traces"), (settings.Username, settings.Password, settings.Host, settings.Port, settings.Database));
        Assert.Equal(SslMode.Require, settings.SslMode);
        Assert.Equal(6543, PostgreSqlTraceDriver.Parse(new Uri("postgresql://u:p@db.example:6543/traces")).Port);
    }
}

[Collection(PostgreSqlServerCollection.Name)]
public sealed class PostgreSqlTraceDriverTests(PostgreSqlTestServer server)
{
    private static readonly DateTime T0 = new(2026, 12, 6, 12, 0, 0, DateTimeKind.Utc);
    private static readonly CancellationToken Ct = CancellationToken.None;

    [RequiresBinaryFact(PostgreSqlTestServer.PostgresBinary, PostgreSqlTestServer.InitDbBinary)]
    public async Task A_batch_written_twice_is_stored_once_and_rows_are_plain_sql()
    {
        var database = await server.CreateDatabaseAsync();
        await using var driver = new PostgreSqlTracePlugin().Open(database);
        var trace = Guid.NewGuid().ToString();
        var point = Point(trace, Guid.NewGuid().ToString(), trace, "wsgi", 0, 10, info: new Dictionary<string, string> { ["request.method"] = "POST" });
        await driver.WriteAsync([point], Ct).Within(Timeouts.Short);
        await driver.WriteAsync([point, point], Ct).Within(Timeouts.Short);

        var tree = await driver.GetTraceAsync(trace, Ct).Within(Timeouts.Short);
        Assert.Equal(1, tree!.Stats["wsgi"].Count);

        // An operator can query the table directly: real timestamps and a jsonb info.
        await using var connection = new NpgsqlConnection(PostgreSqlTraceDriver.Parse(database).ToString());
        await connection.OpenAsync().Within(Timeouts.Short);
        await using var query = new NpgsqlCommand("SELECT count(*), min(stop_at - start_at), min(info->>'request.method') FROM hoard_trace_points", connection);
        await using var reader = await query.ExecuteReaderAsync().Within(Timeouts.Short);
        Assert.True(await reader.ReadAsync());
        Assert.Equal((1L, TimeSpan.FromMilliseconds(10), "POST"), (reader.GetInt64(0), reader.GetFieldValue<TimeSpan>(1), reader.GetString(2)));
    }

    [RequiresBinaryFact(PostgreSqlTestServer.PostgresBinary, PostgreSqlTestServer.InitDbBinary)]
    public async Task Drivers_making_the_table_at_once_all_succeed_and_each_sees_the_others_points()
    {
        var database = await server.CreateDatabaseAsync();
        var trace = Guid.NewGuid().ToString();
        var drivers = Enumerable.Range(0, 4).Select(_ => new PostgreSqlTracePlugin().Open(database)).ToList();
        try
        {
            await Task.WhenAll(drivers.Select((d, i) => Task.Run(() => d.WriteAsync([Point(trace, Guid.NewGuid().ToString(), trace, "wsgi", i, i + 1)], Ct)))).Within(Timeouts.Settle);
            var tree = await drivers[3].GetTraceAsync(trace, Ct).Within(Timeouts.Short);
            Assert.Equal(4, tree!.Children.Count);
        }
        finally
        {
            foreach (var d in drivers)
            {
                await d.DisposeAsync();
            }
        }
    }

    [RequiresBinaryFact(PostgreSqlTestServer.PostgresBinary, PostgreSqlTestServer.InitDbBinary)]
    public async Task A_wrong_password_makes_writes_fail_without_repeating_it()
    {
        var database = await server.CreateDatabaseAsync();
        var wrong = server.Uri(database.AbsolutePath.TrimStart('/'), "Wrong-pass-77");
        await using var driver = new PostgreSqlTracePlugin().Open(wrong);
        var trace = Guid.NewGuid().ToString();
        var e = await Assert.ThrowsAnyAsync<Exception>(() => driver.WriteAsync([Point(trace, Guid.NewGuid().ToString(), trace, "wsgi", 0, 1)], Ct).Within(Timeouts.Short));
        Assert.IsNotType<TimeoutException>(e);
        Assert.DoesNotContain("Wrong-pass-77", e.ToString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// hoard serve given a postgresql:// trace backend: a request signed as OSProfiler signs is traced into the
    /// database, and `hoard trace show|list` read it back from there.
    /// </summary>
    [RequiresBinaryFact(PostgreSqlTestServer.PostgresBinary, PostgreSqlTestServer.InitDbBinary)]
    public async Task Hoard_serve_traces_a_signed_request_into_postgresql_and_hoard_trace_reads_it_back()
    {
        var connection = (await server.CreateDatabaseAsync()).ToString();
        await using var hoard = await HoardServer.StartAsync(null, ["--profiler-connection-string", connection, "--profiler-hmac-keys", "k1"]);
        var baseId = Guid.NewGuid().ToString();
        await SignedGetAsync(hoard, baseId, "k1");

        var shown = await Timeouts.EventuallyAsync(
            () => ProcessRunner.RunAsync(HoardServer.Executable, ["trace", "show", baseId, "--json", "--connection-string", connection], timeout: Timeouts.Cli),
            r => r.ExitCode == 0,
            Timeouts.Settle,
            "the request's trace to be written to PostgreSQL");
        var tree = System.Text.Json.Nodes.JsonNode.Parse(shown.Stdout)!;
        var wsgi = Assert.Single(tree["children"]!.AsArray())!;
        Assert.Equal("wsgi", wsgi["info"]!["name"]!.GetValue<string>());
        Assert.Equal(baseId, wsgi["parent_id"]!.GetValue<string>());
        Assert.Equal("GET", wsgi["info"]!["meta.raw_payload.wsgi-start"]!["info"]!["request"]!["method"]!.GetValue<string>());
        var listed = await ProcessRunner.RunAsync(HoardServer.Executable, ["trace", "list", "--connection-string", connection], timeout: Timeouts.Cli);
        Assert.Contains(baseId, listed.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(server.Password, hoard.ReadLog(), StringComparison.Ordinal);
    }

    /// <summary>A GET / signed as OSProfiler signs (base64url JSON, HMAC-SHA1 hex); it must be served and name its trace.</summary>
    internal static async Task SignedGetAsync(HoardServer server, string baseId, string key)
    {
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = Timeouts.Cli };
        var info = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{{\"base_id\": \"{baseId}\", \"parent_id\": \"{baseId}\"}}")).Replace('+', '-').Replace('/', '_');
#pragma warning disable CA5350 // OSProfiler's header format is HMAC-SHA1.
        var hmac = Convert.ToHexStringLower(HMACSHA1.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(info)));
#pragma warning restore CA5350
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("X-Trace-Info", info);
        request.Headers.Add("X-Trace-HMAC", hmac);
        using var response = await http.SendAsync(request).Within(Timeouts.Cli);
        Assert.True(response.IsSuccessStatusCode, $"{response.StatusCode}");
        Assert.Equal([baseId], response.Headers.GetValues("X-Trace-ID"));
    }

    private static TracePoint Point(string baseId, string id, string parent, string name, int startMs, int stopMs, Dictionary<string, string>? info = null) => new()
    {
        BaseId = baseId,
        Id = id,
        ParentId = parent,
        Name = name,
        Service = "api",
        Host = "test-host",
        Start = T0.AddMilliseconds(startMs),
        Stop = T0.AddMilliseconds(stopMs),
        Info = info ?? [],
    };
}
