using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.ExceptionServices;
using Hoard.Abstractions.Storage;

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
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(metrics);
        return (IManagementStore)StoreTimingProxy.Create(typeof(IManagementStore), store, "store", metrics.StoreCallDuration);
    }
}

/// <summary>The proxy behind <see cref="TimedStore"/>: one per store interface, sub-stores wrapped on first access.</summary>
public class StoreTimingProxy : DispatchProxy
{
    private static readonly ConcurrentDictionary<MethodInfo, string> Names = new();
    private readonly ConcurrentDictionary<MethodInfo, object?> _children = new();
    private object _target = null!;
    private string _area = string.Empty;
    private System.Diagnostics.Metrics.Histogram<double> _duration = null!;

    internal static object Create(Type contract, object target, string area, System.Diagnostics.Metrics.Histogram<double> duration)
    {
        var proxy = DispatchProxy.Create(contract, typeof(StoreTimingProxy));
        var self = (StoreTimingProxy)proxy;
        self._target = target;
        self._area = area;
        self._duration = duration;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (targetMethod.IsSpecialName && targetMethod.Name.StartsWith("get_", StringComparison.Ordinal)
            && targetMethod.ReturnType.IsInterface && targetMethod.ReturnType.Namespace == typeof(IManagementStore).Namespace)
        {
            return _children.GetOrAdd(targetMethod, m => Call(m, null) is { } child
                ? Create(m.ReturnType, child, m.Name[4..].ToLowerInvariant(), _duration)
                : null);
        }

        if (!typeof(Task).IsAssignableFrom(targetMethod.ReturnType) || !_duration.Enabled)
        {
            return Call(targetMethod, args);
        }

        var name = Names.GetOrAdd(targetMethod, m => $"{_area}.{m.Name}");
        var started = Stopwatch.GetTimestamp();
        Task task;
        try
        {
            task = (Task)Call(targetMethod, args)!;
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

    private object? Call(MethodInfo method, object?[]? args)
    {
        try
        {
            return method.Invoke(_target, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }
}
