using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Hoard.Abstractions.Storage;
using Hoard.Abstractions.Tracing;
using Hoard.Core.Configuration;
using Hoard.Core.Metrics;
using Microsoft.Extensions.Logging;

namespace Hoard.Core.Tasks;

/// <summary>Runs one kind of task. Each step must be idempotent: after a crash the step that was running runs again.</summary>
public interface ITaskHandler
{
    string Kind { get; }

    Task RunAsync(TaskRun run, CancellationToken cancellationToken);

    /// <summary>Called once when <see cref="RunAsync"/> threw; records the failure on the instance.</summary>
    Task FailAsync(TaskRecord task, Exception error, CancellationToken cancellationToken);
}

/// <summary>A task being run under this control plane's lease.</summary>
public sealed class TaskRun(TaskRecord task, string owner, ITaskStore tasks)
{
    public TaskRecord Task { get; } = task;

    /// <summary>The first step not yet completed.</summary>
    public int Step { get; private set; } = task.Step;

    /// <summary>When the step now running began: a traced task records each step as a point from here to its advance.</summary>
    private DateTimeOffset _stepStarted = DateTimeOffset.UtcNow;

    /// <summary>Records that every step before <paramref name="step"/> is done.</summary>
    public async Task AdvanceAsync(int step, CancellationToken cancellationToken)
    {
        if (!await tasks.AdvanceAsync(Task.Id, owner, step, cancellationToken))
        {
            throw new LeaseLostException(Task.Id);
        }

        TraceSteps(step);
        Step = step;
    }

    /// <summary>Records that every step before <paramref name="step"/> is done, and stores the task's new payload with it.</summary>
    public async Task AdvanceAsync(int step, string payload, CancellationToken cancellationToken)
    {
        if (!await tasks.AdvanceAsync(Task.Id, owner, step, TaskTrace.Keep(Task.Payload, payload), cancellationToken))
        {
            throw new LeaseLostException(Task.Id);
        }

        TraceSteps(step);
        Step = step;
    }

    /// <summary>In a traced task, the steps just completed as one "step" point under the task's, from the last advance to now.</summary>
    private void TraceSteps(int reached)
    {
        var now = DateTimeOffset.UtcNow;
        if (Activity.Current is { Recorded: true, OperationName: HoardTracing.Names.Task })
        {
            using var activity = HoardTracing.Source.StartActivity(HoardTracing.Names.TaskStep, ActivityKind.Internal, default(ActivityContext), startTime: _stepStarted);
            activity?.SetTag("task.kind", Task.Kind);
            activity?.SetTag("task.steps", reached - Step == 1 ? Step.ToString(CultureInfo.InvariantCulture) : $"{Step}..{reached - 1}");
        }

        _stepStarted = now;
    }
}

/// <summary>Another control plane took the task over (this one's lease lapsed); stop without touching it.</summary>
public sealed class LeaseLostException(string taskId) : Exception($"lease on task {taskId} was lost");

/// <summary>
/// The durable task engine: tasks live in the management store with a step and a lease. A control plane
/// claims pending tasks and tasks whose owner is gone (lease lapsed, or its process is dead on this host),
/// runs them step by step, and renews its leases while it runs them.
/// </summary>
public sealed partial class TaskEngine : IAsyncDisposable
{
    private readonly IManagementStore _store;
    private readonly HoardOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<TaskEngine> _logger;
    private readonly Dictionary<string, ITaskHandler> _handlers;
    private readonly ConcurrentDictionary<string, Task> _running = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stopping = new();
    private readonly HoardMetrics? _metrics;
    private PollCounts? _lastPoll;

    public TaskEngine(IManagementStore store, HoardOptions options, IEnumerable<ITaskHandler> handlers, TimeProvider time, ILogger<TaskEngine> logger, HoardMetrics? metrics = null)
    {
        _metrics = metrics;
        _store = store;
        _options = options;
        _time = time;
        _logger = logger;
        _handlers = handlers.ToDictionary(h => h.Kind, StringComparer.Ordinal);
        _slots = new SemaphoreSlim(options.MaxConcurrentTasks);
        Owner = OwnerId.Current;
    }

    /// <summary>This process's lease-owner id: host, pid and process start time.</summary>
    public string Owner { get; }

    /// <summary>Unfinished tasks by state as the last poll saw them (every replica's, from the store); nothing before the first poll.</summary>
    public IEnumerable<Measurement<int>> ObserveUnfinished() =>
        Volatile.Read(ref _lastPoll) is not { } poll
            ? []
            : [
                new Measurement<int>(poll.Pending, new KeyValuePair<string, object?>(HoardMetrics.Names.TaskState, TaskStates.Pending)),
                new Measurement<int>(poll.Running, new KeyValuePair<string, object?>(HoardMetrics.Names.TaskState, TaskStates.Running)),
            ];

    /// <summary>Tells the engine a task was just queued, so it starts without waiting for the next poll.</summary>
    public void Wake() => _wake.Release();

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        var token = linked.Token;
        var renewal = RenewLeasesAsync(token);
        var pollEvery = TimeSpan.FromMilliseconds(Math.Min(1000, _options.TaskLease.TotalMilliseconds / 3));
        while (!token.IsCancellationRequested)
        {
            try
            {
                await ClaimAndStartAsync(token);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogPollFailed(e);
            }

            try
            {
                await _wake.WaitAsync(pollEvery, token);
                while (_wake.CurrentCount > 0)
                {
                    await _wake.WaitAsync(token); // collapse a burst of wake-ups into one poll
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        await Task.WhenAll(_running.Values.Append(renewal).Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
    }

    private async Task ClaimAndStartAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var unfinished = await _store.Tasks.ListUnfinishedAsync(cancellationToken);
        var pending = unfinished.Count(t => t.State == TaskStates.Pending);
        Volatile.Write(ref _lastPoll, new PollCounts(pending, unfinished.Count - pending));
        foreach (var task in unfinished)
        {
            if (_running.ContainsKey(task.Id))
            {
                continue;
            }

            var claimable = task.LeaseOwner is null
                || task.LeaseUntil is null
                || task.LeaseUntil < now
                || (task.LeaseOwner != Owner && OwnerId.IsDeadOnThisHost(task.LeaseOwner));
            if (!claimable)
            {
                continue;
            }

            if (!_handlers.TryGetValue(task.Kind, out var handler))
            {
                LogUnknownKind(task.Id, task.Kind);
                continue;
            }

            if (!await _slots.WaitAsync(0, cancellationToken))
            {
                return; // all slots busy; the next poll takes the rest
            }

            if (!await _store.Tasks.TryClaimAsync(task.Id, task.LeaseOwner, task.LeaseUntil, Owner, now + _options.TaskLease, cancellationToken))
            {
                _slots.Release();
                continue; // someone else was quicker
            }

            if (task.LeaseOwner is not null)
            {
                LogResumed(task.Id, task.Kind, task.Step, task.LeaseOwner);
            }

            var claimed = task with { LeaseOwner = Owner, State = TaskStates.Running };
            _running[task.Id] = Task.Run(() => ExecuteAsync(handler, claimed, cancellationToken), CancellationToken.None);
        }
    }

    private async Task ExecuteAsync(ITaskHandler handler, TaskRecord task, CancellationToken cancellationToken)
    {
        // A task made by a traced request continues its trace, here or on the replica that resumes it.
        using var activity = TaskTrace.ContextOf(task.Payload) is { } parent
            ? HoardTracing.Source.StartActivity(HoardTracing.Names.Task, ActivityKind.Internal, parent)
            : null;
        activity?.SetTag("task.kind", task.Kind);
        activity?.SetTag("task.id", task.Id);
        activity?.SetTag("task.subject", task.InstanceId);
        activity?.SetTag("task.step", task.Step);
        var started = _time.GetTimestamp();
        try
        {
            var run = new TaskRun(task, Owner, _store.Tasks);
            try
            {
                await handler.RunAsync(run, cancellationToken);
                await _store.Tasks.FinishAsync(task.Id, Owner, TaskStates.Done, null, CancellationToken.None);
                RecordRun(task.Kind, HoardMetrics.TaskOutcomes.Done, started);
            }
            catch (LeaseLostException)
            {
                RecordRun(task.Kind, HoardMetrics.TaskOutcomes.LeaseLost, started);
                LogLeaseLost(task.Id);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Shutting down: the task stays running under a lease that lapses, and is resumed later.
            }
            catch (Exception e)
            {
                RecordRun(task.Kind, HoardMetrics.TaskOutcomes.Failed, started);
                activity.RecordError(e);
                LogTaskFailed(e, task.Id, task.Kind);
                try
                {
                    await handler.FailAsync(task, e, CancellationToken.None);
                }
                finally
                {
                    await _store.Tasks.FinishAsync(task.Id, Owner, TaskStates.Failed, e.Message, CancellationToken.None);
                }
            }
        }
        catch (Exception e)
        {
            LogTaskFailed(e, task.Id, task.Kind);
        }
        finally
        {
            _running.TryRemove(task.Id, out _);
            _slots.Release();
            Wake(); // a slot is free: look for more work
        }
    }

    private sealed record PollCounts(int Pending, int Running);

    /// <summary>One run of a task in this process, by kind and outcome (a run cut short by shutdown is not one).</summary>
    private void RecordRun(string kind, string outcome, long started) =>
        _metrics?.TaskDuration.Record(
            _time.GetElapsedTime(started).TotalSeconds,
            new KeyValuePair<string, object?>(HoardMetrics.Names.TaskKind, kind),
            new KeyValuePair<string, object?>(HoardMetrics.Names.TaskOutcome, outcome));

    private async Task RenewLeasesAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.TaskLease / 3, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                foreach (var id in _running.Keys)
                {
                    await _store.Tasks.RenewAsync(id, Owner, _time.GetUtcNow() + _options.TaskLease, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _stopping.Dispose();
        _wake.Dispose();
        _slots.Dispose();
    }

    [LoggerMessage(1300, LogLevel.Error, "Task poll failed")]
    private partial void LogPollFailed(Exception exception);

    [LoggerMessage(1301, LogLevel.Error, "Task {Task} has unknown kind {Kind}")]
    private partial void LogUnknownKind(string task, string kind);

    [LoggerMessage(1302, LogLevel.Information, "Resuming task {Task} ({Kind}) at step {Step}, taken over from {Owner}")]
    private partial void LogResumed(string task, string kind, int step, string owner);

    [LoggerMessage(1303, LogLevel.Warning, "Lost the lease on task {Task}; another control plane runs it")]
    private partial void LogLeaseLost(string task);

    [LoggerMessage(1304, LogLevel.Error, "Task {Task} ({Kind}) failed")]
    private partial void LogTaskFailed(Exception exception, string task, string kind);
}

/// <summary>Identifies a control-plane process as host:pid:start-time, so a dead owner on this host is recognised at once.</summary>
public static class OwnerId
{
    public static string Current { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{StartTime(Environment.ProcessId)}";

    /// <summary>True when the owner ran on this host and that process no longer exists.</summary>
    public static bool IsDeadOnThisHost(string owner)
    {
        var parts = owner.Split(':');
        if (parts.Length != 3 || parts[0] != Environment.MachineName || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var pid))
        {
            return false;
        }

        return StartTime(pid) != parts[2];
    }

    /// <summary>Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot ("" when gone).</summary>
    private static string StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var afterName = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return afterName[19];
        }
        catch (IOException)
        {
            return string.Empty;
        }
        catch (UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }
}
