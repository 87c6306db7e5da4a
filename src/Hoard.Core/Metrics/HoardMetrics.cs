using System.Diagnostics.Metrics;

namespace Hoard.Core.Metrics;

/// <summary>
/// The control plane's own meter, "Hoard", and the instruments that record as work happens (task runs, store calls).
/// The gauges that read the server's state at scrape time are in <see cref="HoardGauges"/>. Without a listener (metrics
/// off) a record is a no-op. Names follow OpenTelemetry's conventions; the Prometheus page shows them with dots as
/// underscores and the unit as a suffix (hoard.task.duration → hoard_task_duration_seconds).
/// </summary>
public sealed class HoardMetrics : IDisposable
{
    public const string MeterName = "Hoard";

    /// <summary>Every instrument's name and tag key, in one place (docs/METRICS.md lists them for operators).</summary>
    public static class Names
    {
        public const string TaskDuration = "hoard.task.duration";
        public const string TasksUnfinished = "hoard.tasks.unfinished";
        public const string StoreCallDuration = "hoard.store.call.duration";
        public const string Instances = "hoard.instances";
        public const string InstanceCountAge = "hoard.instances.count.age";
        public const string HeartbeatAge = "hoard.guest.heartbeat.age";
        public const string ProfilerDropped = "hoard.profiler.dropped";
        public const string ProfilerWritten = "hoard.profiler.written";

        public const string TaskKind = "task.kind";
        public const string TaskOutcome = "task.outcome";
        public const string TaskState = "task.state";
        public const string StoreCall = "store.call";
        public const string ErrorType = "error.type";
        public const string Datastore = "datastore";
        public const string Status = "status";
        public const string InstanceId = "instance.id";
    }

    /// <summary>The <see cref="Names.TaskOutcome"/> values of a task run.</summary>
    public static class TaskOutcomes
    {
        public const string Done = "done";
        public const string Failed = "failed";
        public const string LeaseLost = "lease_lost";
    }

    // Task runs last from under a second (a restart) to many minutes (a large backup); store calls from a
    // fraction of a millisecond (embedded SQLite) to seconds (a remote store in trouble).
    private static readonly double[] TaskBuckets = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
    private static readonly double[] StoreBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    public HoardMetrics()
    {
        Meter = new Meter(MeterName);
        TaskDuration = Meter.CreateHistogram(
            Names.TaskDuration,
            unit: "s",
            description: "How long a task ran in this control plane, by kind (instance.create, backup.create, ...) and outcome (done, failed, lease_lost).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = TaskBuckets });
        StoreCallDuration = Meter.CreateHistogram(
            Names.StoreCallDuration,
            unit: "s",
            description: "How long a management-store call took, by call (instances.GetAsync, ...); error.type names a failure.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = StoreBuckets });
    }

    public Meter Meter { get; }

    public Histogram<double> TaskDuration { get; }

    public Histogram<double> StoreCallDuration { get; }

    public void Dispose() => Meter.Dispose();
}
