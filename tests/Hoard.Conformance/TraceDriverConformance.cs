using Hoard.Abstractions.Tracing;
using Xunit;

namespace Hoard.Conformance;

/// <summary>
/// The contract every trace driver keeps: points written are read back as one tree with OSProfiler's timings and
/// stats, traces are listed, and failed ones listed apart. A driver's test class inherits this and says how to open
/// an empty backend.
/// </summary>
public abstract class TraceDriverConformance : IAsyncLifetime
{
    private static readonly DateTime T0 = new(2026, 12, 6, 12, 0, 0, DateTimeKind.Utc);
    private static readonly CancellationToken Ct = CancellationToken.None;

    protected ITraceDriver Driver { get; private set; } = null!;

    /// <summary>A driver over a backend holding no trace.</summary>
    protected abstract Task<ITraceDriver> OpenEmptyAsync();

    public async Task InitializeAsync() => Driver = await OpenEmptyAsync();

    public async Task DisposeAsync() => await Driver.DisposeAsync();

    protected static TracePoint Point(string baseId, string id, string parent, string name, int startMs, int stopMs, string? error = null, IReadOnlyDictionary<string, string>? info = null) => new()
    {
        BaseId = baseId,
        Id = id,
        ParentId = parent,
        Name = name,
        Service = "api",
        Host = "test-host",
        Start = T0.AddMilliseconds(startMs),
        Stop = T0.AddMilliseconds(stopMs),
        Info = info ?? new Dictionary<string, string>(),
        ErrorType = error,
        ErrorMessage = error is null ? null : "it broke",
    };

    private static string NewId() => Guid.NewGuid().ToString();

    [Fact]
    public async Task Points_written_in_any_order_and_batches_read_back_as_one_tree_with_timings_and_stats()
    {
        string trace = NewId(), wsgi = NewId(), task = NewId(), rpc = NewId(), db = NewId();
        await Driver.WriteAsync([Point(trace, rpc, task, "rpc", 30, 80, info: new Dictionary<string, string> { ["function.name"] = "prepare" }), Point(trace, db, task, "db", 20, 25)], Ct);
        await Driver.WriteAsync([Point(trace, task, wsgi, "task", 10, 90), Point(trace, wsgi, trace, "wsgi", 0, 15)], Ct);

        var tree = await Driver.GetTraceAsync(trace, Ct);
        Assert.NotNull(tree);
        Assert.Equal(90, tree.Finished);
        var top = Assert.Single(tree.Children);
        Assert.Equal(("wsgi", 0L, 15L, "api", "test-host"), (top.Name, top.Started, top.Finished, top.Service, top.Host));
        var t = Assert.Single(top.Children);
        Assert.Equal(("task", 10L, 90L), (t.Name, t.Started, t.Finished));
        Assert.Equal(["db", "rpc"], t.Children.Select(c => c.Name)); // siblings by start
        Assert.All(t.Children.Concat([t, top]), n => Assert.Equal("None", n.Exception));
        Assert.Equal((1, 50L), tree.Stats["rpc"]);
        Assert.Equal((1, 80L), tree.Stats["task"]);
        Assert.Equal(4, tree.Stats.Values.Sum(s => s.Count));
    }

    [Fact]
    public async Task A_failed_point_carries_its_error_type_and_puts_its_trace_in_the_error_list()
    {
        string failed = NewId(), fine = NewId();
        await Driver.WriteAsync([Point(failed, NewId(), failed, "task", 0, 5, error: "GuestCallException"), Point(fine, NewId(), fine, "wsgi", 0, 1)], Ct);

        var tree = await Driver.GetTraceAsync(failed, Ct);
        Assert.Equal("GuestCallException", Assert.Single(tree!.Children).Exception);
        var errors = await Driver.ListErrorTracesAsync(Ct);
        Assert.Contains(errors, e => e.BaseId == failed);
        Assert.DoesNotContain(errors, e => e.BaseId == fine);
    }

    [Fact]
    public async Task Traces_are_listed_oldest_first_by_their_first_point_and_never_mixed()
    {
        string older = NewId(), newer = NewId();
        await Driver.WriteAsync([Point(newer, NewId(), newer, "wsgi", 500, 600), Point(older, NewId(), older, "wsgi", 100, 900)], Ct);

        var listed = await Driver.ListTracesAsync(Ct);
        Assert.Equal([older, newer], listed.Select(t => t.BaseId));
        Assert.Equal(T0.AddMilliseconds(100), listed[0].Timestamp);
        Assert.Single((await Driver.GetTraceAsync(older, Ct))!.Children);
    }

    [Fact]
    public async Task A_point_whose_parent_is_elsewhere_is_top_level_and_an_unknown_trace_is_null()
    {
        var trace = NewId();
        await Driver.WriteAsync([Point(trace, NewId(), "caller-in-another-service", "wsgi", 0, 3)], Ct);
        Assert.Single((await Driver.GetTraceAsync(trace, Ct))!.Children);
        Assert.Null(await Driver.GetTraceAsync(NewId(), Ct));
    }
}
