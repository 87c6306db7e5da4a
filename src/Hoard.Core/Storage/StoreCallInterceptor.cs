using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.ExceptionServices;
using Hoard.Abstractions.Storage;

namespace Hoard.Core.Storage;

/// <summary>
/// A proxy around the management store that sees every asynchronous call by name (<c>instances.GetAsync</c>) and
/// never its arguments, whatever the backend: the sub-stores (<c>store.Instances</c>, …) are wrapped on first access
/// by a proxy of the same kind. <see cref="Metrics.TimedStore"/> and <see cref="Profiling.TracedStore"/> are the two.
/// </summary>
public abstract class StoreCallInterceptor : DispatchProxy
{
    private static readonly ConcurrentDictionary<(string Area, MethodInfo Method), string> Names = new();
    private readonly ConcurrentDictionary<MethodInfo, object?> _children = new();
    private object _target = null!;
    private string _area = string.Empty;
    private Type _kind = null!;

    /// <summary>A <typeparamref name="TProxy"/> over <paramref name="store"/>, set up by <paramref name="setup"/>.</summary>
    protected static IManagementStore Wrap<TProxy>(IManagementStore store, Action<TProxy> setup)
        where TProxy : StoreCallInterceptor
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(setup);
        var proxy = DispatchProxy.Create<IManagementStore, TProxy>();
        var self = (TProxy)(object)proxy;
        self._target = store;
        self._area = "store";
        self._kind = typeof(TProxy);
        setup(self);
        return proxy;
    }

    /// <summary>Gives a sub-store's proxy what this one was set up with.</summary>
    protected abstract void Inherit(StoreCallInterceptor parent);

    /// <summary>
    /// Runs one call (<paramref name="call"/> starts it and returns its task, or throws) and returns that same task,
    /// observed as the interceptor wants.
    /// </summary>
    protected abstract Task Intercept(string name, Func<Task> call);

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (targetMethod.IsSpecialName && targetMethod.Name.StartsWith("get_", StringComparison.Ordinal)
            && targetMethod.ReturnType.IsInterface && targetMethod.ReturnType.Namespace == typeof(IManagementStore).Namespace)
        {
            return _children.GetOrAdd(targetMethod, m => Call(m, null) is { } child ? Child(m, child) : null);
        }

        if (!typeof(Task).IsAssignableFrom(targetMethod.ReturnType))
        {
            return Call(targetMethod, args);
        }

        var name = Names.GetOrAdd((_area, targetMethod), k => $"{k.Area}.{k.Method.Name}");
        return Intercept(name, () => (Task)Call(targetMethod, args)!);
    }

    private object Child(MethodInfo getter, object target)
    {
        // GetType() is the generated proxy class; a child is made of the class it was generated from.
        var proxy = DispatchProxy.Create(getter.ReturnType, _kind);
        var child = (StoreCallInterceptor)proxy;
        child._target = target;
        child._kind = _kind;
        child._area = getter.Name[4..].ToLowerInvariant();
        child.Inherit(this);
        return proxy;
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
