using System.Diagnostics;
using System.Diagnostics.Metrics;
using Hoard.Abstractions.Storage;
using Hoard.Core.Storage;

namespace Hoard.Core.Metrics;

/// <summary>
/// Wraps the management store so each asynchronous call's duration is recorded in
/// <see cref="HoardMetrics.StoreCallDuration"/>, tagged with the call's name (instances.GetAsync) and, when it
/// failed, the exception's type. Never an argument: the tags stay few and hold no secret. Only with metrics on.
/// </summary>
public static class TimedStore
{
    public static IManagementStore Wrap(IManagementStore store, HoardMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return StoreTimingProxy.Wrap(store, metrics.StoreCallDuration);
    }
}

/// <summary>The proxy behind <see cref="TimedStore"/>.</summary>
public class StoreTimingProxy : StoreCallInterceptor
{
    private Histogram<double> _duration = null!;

    internal static IManagementStore Wrap(IManagementStore store, Histogram<double> duration) =>
        Wrap<StoreTimingProxy>(store, p => p._duration = duration);

    protected override void Inherit(StoreCallInterceptor parent) => _duration = ((StoreTimingProxy)parent)._duration;

    protected override Task Intercept(string name, Func<Task> call)
    {
        if (!_duration.Enabled)
        {
            return call();
        }

        var started = Stopwatch.GetTimestamp();
        Task task;
        try
        {
            task = call();
        }
        catch (Exception e)
        {
            Record(name, started, e.GetType().Name);
            throw;
        }

        task.ContinueWith(
            (t, state) => Record((string)state!, started, t.IsCanceled ? nameof(OperationCanceledException) : t.Exception?.InnerException?.GetType().Name),
            name,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return task;
    }

    private void Record(string name, long started, string? errorType)
    {
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (errorType is null)
        {
            _duration.Record(seconds, new KeyValuePair<string, object?>(HoardMetrics.Names.StoreCall, name));
        }
        else
        {
            _duration.Record(
                seconds,
                new KeyValuePair<string, object?>(HoardMetrics.Names.StoreCall, name),
                new KeyValuePair<string, object?>(HoardMetrics.Names.ErrorType, errorType));
        }
    }
}
