using System.Text.Json.Nodes;
using Hoard.Abstractions.Tracing;
using Hoard.Conformance;
using Hoard.Profiling.Redis;
using Hoard.Testing;
using Xunit;

namespace Hoard.Profiling.Redis.Tests;

[CollectionDefinition(Name)]
public sealed class RedisServerCollection : ICollectionFixture<RedisTestServer>
{
    public const string Name = "trace redis-server";
}

/// <summary>The trace-driver contract on a real redis-server (password needing percent-encoding), a fresh database each test.</summary>
[Collection(RedisServerCollection.Name)]
public sealed class RedisTraceDriverConformance(RedisTestServer server) : TraceDriverConformance
{
    protected override async Task<ITraceDriver> OpenEmptyAsync() =>
        new RedisTracePlugin().Open(server.ConnectionString(await server.FreshDatabaseAsync()));
}

/// <summary>What OSProfiler's tools rely on, read raw from Redis.</summary>
[Collection(RedisServerCollection.Name)]
public sealed class RedisTraceLayoutTests(RedisTestServer server)
{
    [Fact]
    public async Task Each_point_is_an_osprofiler_start_and_stop_event_pushed_to_the_traces_list()
    {
        var database = await server.FreshDatabaseAsync();
        await using var driver = new RedisTracePlugin().Open(server.ConnectionString(database));
        string trace = Guid.NewGuid().ToString(), point = Guid.NewGuid().ToString();
        var start = new DateTime(2026, 12, 6, 12, 0, 0, DateTimeKind.Utc).AddTicks(1234560);
        await driver.WriteAsync(
            [new TracePoint
            {
                BaseId = trace, Id = point, ParentId = trace, Name = "wsgi", Service = "api", Host = "h1",
                Start = start, Stop = start.AddMilliseconds(7), ErrorType = "ValueError", ErrorMessage = "bad",
                Info = new Dictionary<string, string> { ["request.method"] = "POST", ["request.path"] = "/v1.0/p/instances" },
            }],
            CancellationToken.None).Within(Timeouts.Short);

        var raw = await server.Admin.GetDatabase(database).ListRangeAsync("osprofiler_opt:" + trace).Within(Timeouts.Short);
        Assert.Equal(2, raw.Length);
        var stop = JsonNode.Parse(raw[0].ToString())!; // LPUSH: newest first
        var begin = JsonNode.Parse(raw[1].ToString())!;
        Assert.Equal("wsgi-start", begin["name"]!.GetValue<string>());
        Assert.Equal("2026-12-06T12:00:00.123456", begin["timestamp"]!.GetValue<string>());
        Assert.Equal((trace, point, trace, "hoard", "api"), (begin["base_id"]!.GetValue<string>(), begin["trace_id"]!.GetValue<string>(), begin["parent_id"]!.GetValue<string>(), begin["project"]!.GetValue<string>(), begin["service"]!.GetValue<string>()));
        Assert.Equal("POST", begin["info"]!["request"]!["method"]!.GetValue<string>());
        Assert.Equal("h1", begin["info"]!["host"]!.GetValue<string>());
        Assert.Equal("wsgi-stop", stop["name"]!.GetValue<string>());
        Assert.Equal(("ValueError", "bad"), (stop["info"]!["etype"]!.GetValue<string>(), stop["info"]!["message"]!.GetValue<string>()));
        var marker = JsonNode.Parse((await server.Admin.GetDatabase(database).StringGetAsync("osprofiler_error:" + trace).Within(Timeouts.Short)).ToString())!;
        Assert.Equal(trace, marker["base_id"]!.GetValue<string>());
    }
}
