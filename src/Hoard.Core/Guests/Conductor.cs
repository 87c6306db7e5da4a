using System.Collections.Concurrent;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Storage;
using Hoard.Core.Configuration;
using Microsoft.Extensions.Logging;

namespace Hoard.Core.Guests;

/// <summary>
/// Turns guest heartbeats into instance service statuses (Trove's conductor), and marks instances
/// whose guest stopped reporting as FAILED_TIMEOUT_GUESTAGENT until it reports again.
/// </summary>
public sealed partial class Conductor(IManagementStore store, HoardOptions options, TimeProvider time, ILogger<Conductor> logger)
{
    private sealed class Seen
    {
        public ServiceStatus Status;
        public DateTimeOffset At;
    }

    // Heartbeats come every few seconds for every instance; only changes reach the store.
    private readonly ConcurrentDictionary<string, Seen> _seen = new(StringComparer.Ordinal);
    private DateTimeOffset _startedAt;

    /// <summary>Loads what the store knows, so a restarted control plane writes nothing for unchanged statuses.</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        _startedAt = time.GetUtcNow();
        foreach (var instance in await store.Instances.ListAsync(null, null, int.MaxValue, includeClustered: true, cancellationToken))
        {
            _seen[instance.Id] = new Seen { Status = ServiceStatusNames.Parse(instance.ServiceStatus), At = _startedAt };
        }
    }

    public DateTimeOffset? LastHeard(string instanceId) => _seen.TryGetValue(instanceId, out var s) ? s.At : null;

    /// <summary>Records what a guest reported for one of its instances.</summary>
    public async Task ReportAsync(string instanceId, ServiceStatus status, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var seen = _seen.GetOrAdd(instanceId, _ => new Seen { Status = ServiceStatus.Unknown, At = now });
        seen.At = now;
        if (seen.Status == status)
        {
            return;
        }

        var previous = seen.Status;
        seen.Status = status;
        if (await store.Instances.UpdateAsync(instanceId, new InstanceChange { ServiceStatus = status.ToTroveName() }, cancellationToken))
        {
            LogStatusChanged(instanceId, previous.ToTroveName(), status.ToTroveName());
        }
    }

    /// <summary>Notes a status the control plane itself set (after a task step), so heartbeats compare against it.</summary>
    public void Note(string instanceId, ServiceStatus status)
    {
        var now = time.GetUtcNow();
        _seen.AddOrUpdate(instanceId, _ => new Seen { Status = status, At = now }, (_, s) =>
        {
            s.Status = status;
            s.At = now;
            return s;
        });
    }

    public void Forget(string instanceId) => _seen.TryRemove(instanceId, out _);

    /// <summary>How long each known instance's guest has been silent, counted as the sweep counts it (for /metrics).</summary>
    public IEnumerable<(string InstanceId, TimeSpan Silence)> Silences()
    {
        var now = time.GetUtcNow();
        foreach (var (id, seen) in _seen)
        {
            var since = seen.At > _startedAt ? seen.At : _startedAt;
            yield return (id, now > since ? now - since : TimeSpan.Zero);
        }
    }

    /// <summary>Marks instances whose guest has been silent longer than the heartbeat expiry.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var marked = 0;
        foreach (var (id, seen) in _seen)
        {
            var since = seen.At > _startedAt ? seen.At : _startedAt;
            if (now - since < options.HeartbeatExpiry || seen.Status == ServiceStatus.FailedTimeoutGuestAgent)
            {
                continue;
            }

            var instance = await store.Instances.GetAsync(id, cancellationToken);
            if (instance is null)
            {
                _seen.TryRemove(id, out _);
                continue;
            }

            // While a task runs, the task decides the outcome; a silent guest is its problem.
            if (instance.TaskStatus != InstanceTasks.None)
            {
                continue;
            }

            seen.Status = ServiceStatus.FailedTimeoutGuestAgent;
            await store.Instances.UpdateAsync(id, new InstanceChange { ServiceStatus = seen.Status.ToTroveName() }, cancellationToken);
            LogGuestSilent(id, (int)(now - since).TotalSeconds);
            marked++;
        }

        return marked;
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var period = TimeSpan.FromSeconds(Math.Max(1, options.HeartbeatInterval.TotalSeconds / 2));
        using var timer = new PeriodicTimer(period, time);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            try
            {
                await SweepAsync(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogSweepFailed(e);
            }
        }
    }

    [LoggerMessage(1200, LogLevel.Information, "Instance {Instance} service status {Previous} -> {Status}")]
    private partial void LogStatusChanged(string instance, string previous, string status);

    [LoggerMessage(1201, LogLevel.Warning, "Instance {Instance}: no heartbeat from its guest for {Seconds} s; marked FAILED_TIMEOUT_GUESTAGENT")]
    private partial void LogGuestSilent(string instance, int seconds);

    [LoggerMessage(1202, LogLevel.Error, "Heartbeat sweep failed")]
    private partial void LogSweepFailed(Exception exception);
}
