using System.Diagnostics;
using Hoard.Abstractions.Storage;
using Hoard.Abstractions.Tracing;
using Hoard.Core.Storage;

namespace Hoard.Core.Profiling;

/// <summary>
/// <c>[profiler] trace_store</c>: wraps the management store so each call of a traced request or task is a "db" point
/// named after the call (tasks.TryClaimAsync), whatever the backend. Only the call's name is recorded, never an
/// argument (password hashes, sealed payloads). Without the option the store is not wrapped at all.
/// </summary>
public static class TracedStore
{
    public static IManagementStore Wrap(IManagementStore store) => StoreCallProxy.Wrap(store);
}

/// <summary>The proxy behind <see cref="TracedStore"/>.</summary>
public class StoreCallProxy : StoreCallInterceptor
{
    internal static IManagementStore Wrap(IManagementStore store) => Wrap<StoreCallProxy>(store, _ => { });

    protected override void Inherit(StoreCallInterceptor parent)
    {
    }

    protected override Task Intercept(string name, Func<Task> call)
    {
        var previous = Activity.Current;
        var activity = HoardTracing.Store.StartActivity(HoardTracing.Names.StoreCall);
        if (activity is null)
        {
            return call();
        }

        activity.SetTag("function.name", name);
        try
        {
            var task = call();
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
}
