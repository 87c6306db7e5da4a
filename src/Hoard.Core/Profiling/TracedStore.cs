using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.ExceptionServices;
using Hoard.Abstractions.Storage;
using Hoard.Abstractions.Tracing;

namespace Hoard.Core.Profiling;

/// <summary>
/// <c>[profiler] trace_store</c>: wraps the management store so each call of a traced request or task is a "db" point
/// named after the call (tasks.TryClaimAsync), whatever the backend. Only the call's name is recorded, never an
/// argument (password hashes, sealed payloads). Without the option the store is not wrapped at all.
/// </summary>
public static class TracedStore
{
    public static IManagementStore Wrap(IManagementStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return (IManagementStore)StoreCallProxy.Create(typeof(IManagementStore), store, "store");
    }
}

/// <summary>The proxy behind <see cref="TracedStore"/>: one per store interface, sub-stores wrapped on first access.</summary>
public class StoreCallProxy : DispatchProxy
{
    private static readonly ConcurrentDictionary<MethodInfo, string> Names = new();
    private readonly ConcurrentDictionary<MethodInfo, object?> _children = new();
    private object _target = null!;
    private string _area = string.Empty;

    internal static object Create(Type contract, object target, string area)
    {
        var proxy = DispatchProxy.Create(contract, typeof(StoreCallProxy));
        var self = (StoreCallProxy)proxy;
        self._target = target;
        self._area = area;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (targetMethod.IsSpecialName && targetMethod.Name.StartsWith("get_", StringComparison.Ordinal)
            && targetMethod.ReturnType.IsInterface && targetMethod.ReturnType.Namespace == typeof(IManagementStore).Namespace)
        {
            return _children.GetOrAdd(targetMethod, m => Call(m, null) is { } child
                ? Create(m.ReturnType, child, m.Name[4..].ToLowerInvariant())
                : null);
        }

        if (!typeof(Task).IsAssignableFrom(targetMethod.ReturnType))
        {
            return Call(targetMethod, args);
        }

        var previous = Activity.Current;
        var activity = HoardTracing.Store.StartActivity(HoardTracing.Names.StoreCall);
        if (activity is null)
        {
            return Call(targetMethod, args);
        }

        activity.SetTag("function.name", Names.GetOrAdd(targetMethod, m => $"{_area}.{m.Name}"));
        try
        {
            var task = (Task)Call(targetMethod, args)!;
            task.ContinueWith(
                static (t, state) =>
                {
                    var a = (Activity)state!;
                    if (t.Exception?.InnerException is { } error)
                    {
                        a.RecordError(error);
                    }

                    a.Stop();
                },
                activity,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            return task;
        }
        catch (Exception e)
        {
            activity.RecordError(e);
            activity.Stop();
            throw;
        }
        finally
        {
            // The call's point is not the caller's current activity: what the caller does next is not inside it.
            Activity.Current = previous;
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
