using System.Collections.Concurrent;
using System.Diagnostics;
using Hoard.Abstractions.Tracing;

namespace Hoard.Guest;

/// <summary>
/// The agent's half of tracing. A traced call continues the control plane's trace (its traceparent); the points
/// made while answering it (the call itself, datastore commands under it) are collected and sent back with the reply,
/// so the agent needs no trace backend of its own and no connection string or key reaches a guest.
/// </summary>
internal static class GuestTracing
{
    private const string PointsProperty = "hoard.guest.points";

    /// <summary>Most points one call sends back (the control plane accepts as many).</summary>
    private const int MaxPointsPerCall = 1000;

    private static readonly ActivityListener Listener = Listen();

    /// <summary>Starts the point of a call, or returns null when the call is not traced.</summary>
    public static Activity? Start(string? traceParent, string method, string? instance)
    {
        _ = Listener;
        if (traceParent is null || !ActivityContext.TryParse(traceParent, null, isRemote: true, out var parent))
        {
            return null;
        }

        var activity = HoardTracing.Source.StartActivity(HoardTracing.Names.GuestWork, ActivityKind.Server, parent);
        activity?.SetCustomProperty(PointsProperty, new ConcurrentQueue<TracePoint>());
        activity?.SetTag("function.name", method);
        activity?.SetTag("instance", instance);
        return activity;
    }

    /// <summary>Stops the call's point and returns every point made under it, itself included.</summary>
    public static List<TracePoint>? Finish(Activity? activity)
    {
        if (activity is null)
        {
            return null;
        }

        activity.Stop();
        return activity.GetCustomProperty(PointsProperty) is ConcurrentQueue<TracePoint> points ? [.. points] : null;
    }

    private static ActivityListener Listen()
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == HoardTracing.SourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> o) =>
                o.Parent.TraceId != default && o.Parent.TraceFlags.HasFlag(ActivityTraceFlags.Recorded)
                    ? ActivitySamplingResult.AllDataAndRecorded
                    : ActivitySamplingResult.None,
            ActivityStopped = Collect,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    private static void Collect(Activity stopped)
    {
        for (var a = stopped; a is not null; a = a.Parent)
        {
            if (a.GetCustomProperty(PointsProperty) is ConcurrentQueue<TracePoint> points)
            {
                // Bounded: a call that runs thousands of commands (a slot migration) sends a sample, not a flood.
                if (points.Count < MaxPointsPerCall - 1 || ReferenceEquals(a, stopped)) // the call's own point always goes
                {
                    points.Enqueue(TracePoint.From(stopped, "guestagent"));
                }

                return;
            }
        }
    }
}
