using System.Diagnostics;
using Hoard.Abstractions.Tracing;
using Xunit;

namespace Hoard.Abstractions.Tests;

/// <summary>A stopped activity's point: OSProfiler's UUID ids made from the W3C ids, which ties points across processes.</summary>
public sealed class TracePointTests : IDisposable
{
    private readonly ActivitySource _source = new("Hoard.Abstractions.Tests.TracePoint");
    private readonly ActivityListener _listener;

    public TracePointTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s == _source,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    [Fact]
    public void Ids_are_the_trace_as_a_uuid_and_each_point_the_trace_half_and_its_span()
    {
        var traceId = ActivityTraceId.CreateFromString("4bf92f3577b34da6a3ce929d0e0e4736");
        var parentSpan = ActivitySpanId.CreateFromString("00f067aa0ba902b7");
        using var activity = _source.StartActivity("datastore", ActivityKind.Internal, new ActivityContext(traceId, parentSpan, ActivityTraceFlags.Recorded))!;
        activity.SetTag("command", "GET");
        activity.Stop();

        var point = TracePoint.From(activity, "api");

        Assert.Equal("4bf92f35-77b3-4da6-a3ce-929d0e0e4736", point.BaseId);
        Assert.Equal("4bf92f35-77b3-4da6-00f0-67aa0ba902b7", point.ParentId);
        Assert.Equal(TraceIds.PointId(traceId.ToHexString(), activity.SpanId.ToHexString()), point.Id);
        Assert.Matches("^4bf92f35-77b3-4da6-[0-9a-f]{4}-[0-9a-f]{12}$", point.Id);
        Assert.Equal(("datastore", "api", "GET"), (point.Name, point.Service, point.Info["command"]));
    }

    [Fact]
    public void A_parent_id_set_on_the_activity_wins_over_its_parent_span()
    {
        var traceId = ActivityTraceId.CreateRandom();
        using var activity = _source.StartActivity("wsgi", ActivityKind.Server, new ActivityContext(traceId, ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded))!;
        activity.SetCustomProperty(HoardTracing.ParentIdProperty, "the-client-root");
        activity.Stop();

        Assert.Equal("the-client-root", TracePoint.From(activity, "api").ParentId);
    }

    [Fact]
    public void Info_keeps_each_tag_once_in_the_order_first_set_with_its_last_value_and_leaves_out_the_error_type()
    {
        using var activity = _source.StartActivity("task", ActivityKind.Internal, new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded))!;
        activity.SetTag("task.kind", "instance.create");
        activity.AddTag("task.steps", 1);
        activity.SetTag(HoardTracing.ErrorTypeTag, "TimeoutException");
        activity.AddTag("instance", "i-1");
        activity.AddTag("task.steps", 2); // added twice: the point says the last
        activity.SetTag("nothing", null);
        activity.SetStatus(ActivityStatusCode.Error, "no reply");
        activity.Stop();

        var point = TracePoint.From(activity, "taskmanager");

        Assert.Equal(["task.kind", "task.steps", "instance"], point.Info.Select(i => i.Key));
        Assert.Equal(("instance.create", "2", "i-1"), (point.Info["task.kind"], point.Info["task.steps"], point.Info["instance"]));
        Assert.Equal(3, point.Info.Count);
        Assert.False(point.Info.ContainsKey(HoardTracing.ErrorTypeTag));
        Assert.False(point.Info.TryGetValue("nothing", out _));
        Assert.Equal(("TimeoutException", "no reply"), (point.ErrorType, point.ErrorMessage));
        Assert.Equal(
            """{"name":"task-start","base_id":"BASE","trace_id":"ID","parent_id":"PARENT","timestamp":"TS","info":{"host":"HOST","task":{"kind":"instance.create","steps":"2"},"instance":"i-1"},"project":"hoard","service":"taskmanager"}""",
            TraceEvent.ToJson(point, true, "hoard").Replace(point.BaseId, "BASE", StringComparison.Ordinal).Replace(point.Id, "ID", StringComparison.Ordinal)
                .Replace(point.ParentId, "PARENT", StringComparison.Ordinal).Replace(TraceEvent.FormatTimestamp(point.Start), "TS", StringComparison.Ordinal)
                .Replace(point.Host, "HOST", StringComparison.Ordinal));
    }

    [Fact]
    public void Points_of_different_traces_and_parents_made_one_after_another_each_get_their_own_ids()
    {
        var points = new List<(TracePoint Point, ActivityTraceId Trace, ActivitySpanId Parent)>();
        foreach (var (trace, parent) in new[] { (1, 1), (1, 1), (1, 2), (2, 2), (1, 2) })
        {
            var traceId = ActivityTraceId.CreateFromString($"{trace:x32}");
            var parentSpan = ActivitySpanId.CreateFromString($"{parent:x16}");
            using var activity = _source.StartActivity("db", ActivityKind.Internal, new ActivityContext(traceId, parentSpan, ActivityTraceFlags.Recorded))!;
            activity.Stop();
            points.Add((TracePoint.From(activity, "api"), traceId, parentSpan));
        }

        Assert.All(points, p =>
        {
            Assert.Equal(TraceIds.ToUuid(p.Trace.ToHexString()), p.Point.BaseId);
            Assert.Equal(TraceIds.PointId(p.Trace.ToHexString(), p.Parent.ToHexString()), p.Point.ParentId);
        });
    }

    public void Dispose()
    {
        _listener.Dispose();
        _source.Dispose();
    }
}
