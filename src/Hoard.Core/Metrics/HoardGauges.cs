using System.Diagnostics.Metrics;
using Hoard.Core.Configuration;
using Hoard.Core.Guests;
using Hoard.Core.Profiling;
using Hoard.Core.Tasks;

namespace Hoard.Core.Metrics;

/// <summary>
/// The observable instruments of the "Hoard" meter: read from this server's state when /metrics is scraped, and
/// never from the store on the scrape's path (the instance count is cached by <see cref="InstanceCensus"/>).
/// </summary>
public sealed class HoardGauges
{
    public HoardGauges(HoardMetrics metrics, HoardOptions options, InstanceCensus census, Conductor conductor, TaskEngine engine, Profiler? profiler = null)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(options);
        var meter = metrics.Meter;
        meter.CreateObservableGauge(
            HoardMetrics.Names.Instances,
            census.Observe,
            unit: "{instance}",
            description: $"Instances by datastore and status as the API shows it, counted at most every {InstanceCensus.MaxAge.TotalSeconds:0} s.");
        meter.CreateObservableGauge(
            HoardMetrics.Names.InstanceCountAge,
            census.ObserveAge,
            unit: "s",
            description: "Age of the instance count behind hoard.instances; it grows while the management store cannot be read.");
        if (options.MetricsInstanceLabels)
        {
            // Only when asked: /metrics needs no token, and each series names an instance, whatever its project.
            meter.CreateObservableGauge(
                HoardMetrics.Names.HeartbeatAge,
                () => conductor.Silences().Select(s => new Measurement<double>(
                    s.Silence.TotalSeconds,
                    new KeyValuePair<string, object?>(HoardMetrics.Names.InstanceId, s.InstanceId))),
                unit: "s",
                description: "Seconds since each instance's guest last reported (or since this control plane started or set its status); past agent_heartbeat_expiry it shows FAILED_TIMEOUT_GUESTAGENT.");
        }

        meter.CreateObservableGauge(
            HoardMetrics.Names.TasksUnfinished,
            engine.ObserveUnfinished,
            unit: "{task}",
            description: "Unfinished tasks in the store by state (pending: waiting for a control plane; running), as of this control plane's last poll.");
        if (profiler is not null)
        {
            meter.CreateObservableCounter(
                HoardMetrics.Names.ProfilerDropped,
                () => profiler.Dropped,
                unit: "{point}",
                description: "Trace points dropped because the profiler's buffer was full or the trace backend refused them.");
            meter.CreateObservableCounter(
                HoardMetrics.Names.ProfilerWritten,
                () => profiler.Written,
                unit: "{point}",
                description: "Trace points the trace backend accepted.");
        }
    }
}
