using Hoard.Abstractions.Tracing;
using Hoard.Conformance;
using Hoard.Profiling.Sqlite;
using Hoard.Testing;
using Xunit;

namespace Hoard.Profiling.Sqlite.Tests;

/// <summary>A fresh trace file in a temp directory of its own, deleted with everything SQLite put beside it (-wal, -shm).</summary>
internal sealed class TempTraceFile : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("hoard-trace-").FullName;

    public string Path => System.IO.Path.Combine(_directory, "traces.db");

    public Uri ConnectionString => new("sqlite://" + Path);

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}

/// <summary>The trace-driver contract on a SQLite file of its own each test.</summary>
public sealed class SqliteTraceDriverConformance : TraceDriverConformance, IDisposable
{
    private readonly TempTraceFile _file = new();

    protected override Task<ITraceDriver> OpenEmptyAsync() => Task.FromResult(new SqliteTracePlugin().Open(_file.ConnectionString));

    public void Dispose() => _file.Dispose();
}

public sealed class SqliteTraceDriverTests
{
    private static readonly DateTime T0 = new(2026, 12, 6, 12, 0, 0, DateTimeKind.Utc);

    [Theory]
    [InlineData("sqlite://relative/traces.db", "relative paths are not accepted")]
    [InlineData("sqlite:///", "names no file")]
    [InlineData("sqlite:///var/lib/hoard/", "names no file")]
    [InlineData("sqlite://admin:s3cret@localhost/var/lib/hoard/traces.db", "takes no user or password")]
    [InlineData("sqlite:///var/lib/hoard/traces.db?mode=ro", "takes no query")]
    public void A_malformed_connection_string_is_refused_with_what_is_accepted_and_no_password(string connection, string problem)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new SqliteTracePlugin().Open(new Uri(connection)));
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.Contains("sqlite:///absolute/path/traces.db", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Points_written_by_one_driver_are_read_by_another_on_the_same_file_after_the_first_is_closed()
    {
        using var file = new TempTraceFile();
        string trace = Guid.NewGuid().ToString(), root = Guid.NewGuid().ToString(), child = Guid.NewGuid().ToString();
        await using (var writer = new SqliteTracePlugin().Open(file.ConnectionString))
        {
            await writer.WriteAsync(
                [
                    Point(trace, root, trace, "wsgi", 0, 40, info: new Dictionary<string, string> { ["request.method"] = "POST", ["request.path"] = "/v1.0/p/instances" }),
                    Point(trace, child, root, "task", 5, 30, error: "GuestCallException"),
                ],
                CancellationToken.None).Within(Timeouts.Short);
        }

        await using var reader = new SqliteTracePlugin().Open(file.ConnectionString);
        var tree = await reader.GetTraceAsync(trace, CancellationToken.None).Within(Timeouts.Short);
        var top = Assert.Single(tree!.Children);
        Assert.Equal(("wsgi", 0L, 40L), (top.Name, top.Started, top.Finished));
        Assert.Equal("POST", top.RawPayloads["wsgi-start"].GetProperty("info").GetProperty("request").GetProperty("method").GetString());
        Assert.Equal("GuestCallException", Assert.Single(top.Children).Exception);
        Assert.Equal([trace], (await reader.ListTracesAsync(CancellationToken.None).Within(Timeouts.Short)).Select(t => t.BaseId));
        Assert.Equal([trace], (await reader.ListErrorTracesAsync(CancellationToken.None).Within(Timeouts.Short)).Select(t => t.BaseId));
    }

    [Fact]
    public async Task A_batch_written_twice_is_stored_once()
    {
        using var file = new TempTraceFile();
        await using var driver = new SqliteTracePlugin().Open(file.ConnectionString);
        var trace = Guid.NewGuid().ToString();
        TracePoint[] batch = [Point(trace, Guid.NewGuid().ToString(), trace, "wsgi", 0, 10)];
        await driver.WriteAsync(batch, CancellationToken.None).Within(Timeouts.Short);
        await driver.WriteAsync(batch, CancellationToken.None).Within(Timeouts.Short);

        var tree = await driver.GetTraceAsync(trace, CancellationToken.None).Within(Timeouts.Short);
        Assert.Equal(1, tree!.Stats["wsgi"].Count);
    }

    private static TracePoint Point(string baseId, string id, string parent, string name, int startMs, int stopMs, string? error = null, Dictionary<string, string>? info = null) => new()
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
        ErrorType = error,
        ErrorMessage = error is null ? null : "it broke",
    };
}
