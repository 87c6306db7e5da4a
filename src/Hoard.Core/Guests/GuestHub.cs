using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Guest;
using Hoard.Abstractions.Storage;
using Hoard.Abstractions.Tracing;
using Hoard.Core.Identity;
using Hoard.Core.Profiling;
using Microsoft.Extensions.Logging;

namespace Hoard.Core.Guests;

/// <summary>One connected guest agent, as the hub sees it. The transport (a WebSocket) sits behind <see cref="Send"/>.</summary>
public sealed class AgentSession(string pool, Func<GuestMessage, CancellationToken, Task> send)
{
    public string Pool { get; } = pool;

    public string Id { get; } = Guid.NewGuid().ToString("N")[..12];

    public Func<GuestMessage, CancellationToken, Task> Send { get; } = send;

    public DateTimeOffset LastHeard { get; set; } = DateTimeOffset.UtcNow;

    /// <summary>Instances this agent proved it runs, by their own secrets.</summary>
    public ConcurrentDictionary<string, byte> Claimed { get; } = new(StringComparer.Ordinal);
}

/// <summary>A guest RPC call that failed on the guest or found no guest.</summary>
/// <param name="Code">For a refusal by the datastore (exists, missing, not supported): its code; null for a failure.</param>
public sealed class GuestCallException(string message, string? code = null, bool agentLost = false) : Exception(message)
{
    public string? Code { get; } = code;

    /// <summary>No agent answered because the one serving the instance went away: an idempotent step may be repeated through the agent that replaces it.</summary>
    public bool AgentLost { get; } = agentLost;
}

/// <summary>
/// The control plane's end of the guest RPC: knows which agent runs which instance, sends calls to the
/// agent that claimed an instance (and only to it), and routes replies and heartbeats.
/// </summary>
public sealed partial class GuestHub(IManagementStore store, Conductor conductor, TimeProvider time, ILogger<GuestHub> logger, Profiler? profiler = null)
{
    /// <summary>Most trace points one reply may bring back; a guest cannot flood the trace buffer.</summary>
    private const int MaxPointsPerReply = 1000;

    private readonly ConcurrentDictionary<string, AgentSession> _pools = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, AgentSession> _owners = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, PendingCall> _pending = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<bool>> _claimWaiters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<AgentSession>> _poolWaiters = new(StringComparer.Ordinal);
    private long _nextCallId;

    public bool IsConnected(string pool) => _pools.ContainsKey(pool);

    public AgentSession? SessionOf(string pool) => _pools.GetValueOrDefault(pool);

    public bool IsClaimed(string instanceId) => _owners.ContainsKey(instanceId);

    /// <summary>Registers an agent whose key was checked; a newer connection of the same pool replaces an older one.</summary>
    public void Attach(AgentSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (_pools.TryGetValue(session.Pool, out var old) && old != session)
        {
            Detach(old);
        }

        _pools[session.Pool] = session;
        LogAgentConnected(session.Pool, session.Id);
        if (_poolWaiters.TryRemove(session.Pool, out var waiter))
        {
            waiter.TrySetResult(session);
        }
    }

    public void Detach(AgentSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        _pools.TryRemove(new KeyValuePair<string, AgentSession>(session.Pool, session));
        foreach (var instance in session.Claimed.Keys)
        {
            _owners.TryRemove(new KeyValuePair<string, AgentSession>(instance, session));
        }

        LogAgentDisconnected(session.Pool, session.Id);

        // Its calls will never be answered: fail them now rather than at their timeouts (a backup's is hours).
        foreach (var (id, call) in _pending)
        {
            if (call.Session == session && _pending.TryRemove(id, out _))
            {
                call.Reply.TrySetException(new GuestCallException($"the guest agent of pool '{session.Pool}' disconnected while running {call.Method}", agentLost: true));
            }
        }
    }

    /// <param name="TraceBaseId">The trace the call ran in, when traced: the only trace its reply may add points to.</param>
    private sealed record PendingCall(AgentSession Session, string Method, TaskCompletionSource<JsonElement> Reply, string? TraceBaseId = null);

    /// <summary>Waits until the pool's agent is connected.</summary>
    public async Task<AgentSession> WaitForAgentAsync(string pool, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_pools.TryGetValue(pool, out var session))
        {
            return session;
        }

        var waiter = _poolWaiters.GetOrAdd(pool, _ => new TaskCompletionSource<AgentSession>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (_pools.TryGetValue(pool, out session))
        {
            return session;
        }

        try
        {
            return await waiter.Task.WaitAsync(timeout, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new GuestCallException($"the guest agent of pool '{pool}' did not connect within {timeout.TotalSeconds:0} s");
        }
    }

    /// <summary>Handles one frame from an agent.</summary>
    public async Task ReceiveAsync(AgentSession session, GuestMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(message);
        session.LastHeard = time.GetUtcNow();
        switch (message.Type)
        {
            case GuestMessageTypes.Claim:
                await ClaimAsync(session, message, cancellationToken);
                break;
            case GuestMessageTypes.Heartbeat:
                foreach (var (instance, status) in message.Statuses ?? [])
                {
                    // An agent speaks only for the instances it proved it runs.
                    if (session.Claimed.ContainsKey(instance))
                    {
                        await conductor.ReportAsync(instance, ServiceStatusNames.Parse(status), cancellationToken);
                    }
                }

                break;
            case GuestMessageTypes.Reply:
                if (_pending.TryRemove(message.CallId, out var call))
                {
                    AcceptTrace(call, message.Trace);
                    if (message.Error is not null)
                    {
                        call.Reply.TrySetException(new GuestCallException(message.Error, message.ErrorCode));
                    }
                    else
                    {
                        call.Reply.TrySetResult(message.Result ?? default);
                    }
                }

                break;
            case GuestMessageTypes.Hello:
                // The pool was proven by the agent key at the WebSocket upgrade; the claims that follow name the instances.
                break;
            default:
                LogUnknownFrame(session.Pool, message.Type);
                break;
        }
    }

    private async Task ClaimAsync(AgentSession session, GuestMessage message, CancellationToken cancellationToken)
    {
        var id = message.Instance ?? string.Empty;
        var instance = await store.Instances.GetAsync(id, cancellationToken);
        string? error = null;
        var unknown = false;
        if (instance is null || instance.Pool != session.Pool)
        {
            error = "unknown instance";
            unknown = true;
        }
        else if (message.Secret is null || !CryptographicOperations.FixedTimeEquals(
                     Encoding.ASCII.GetBytes(Secrets.Sha256Hex(message.Secret)),
                     Encoding.ASCII.GetBytes(instance.SecretHash)))
        {
            error = "wrong secret";
        }

        if (error is null)
        {
            session.Claimed[id] = 0;
            _owners[id] = session;
        }
        else
        {
            LogClaimRefused(session.Pool, id, error);
        }

        // The agent destroys an instance the store does not know: it is what a crash between a delete's
        // last steps would leave behind.
        await session.Send(new GuestMessage { Type = GuestMessageTypes.Claimed, Instance = id, Error = error, Method = unknown ? GuestMethods.Destroy : null }, cancellationToken);
        if (_claimWaiters.TryRemove(id, out var waiter))
        {
            waiter.TrySetResult(error is null);
        }
    }

    /// <summary>Asks the pool's agent to read a new instance's guest-info and claim it.</summary>
    public async Task AdoptAsync(string instanceId, string pool, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_owners.ContainsKey(instanceId))
        {
            return;
        }

        var session = await WaitForAgentAsync(pool, timeout, cancellationToken);
        var waiter = _claimWaiters.GetOrAdd(instanceId, _ => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        await session.Send(new GuestMessage { Type = GuestMessageTypes.Adopt, Instance = instanceId }, cancellationToken);
        bool ok;
        try
        {
            ok = await waiter.Task.WaitAsync(timeout, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            _claimWaiters.TryRemove(instanceId, out _);
            throw new GuestCallException($"the guest did not claim instance {instanceId} within {timeout.TotalSeconds:0} s");
        }

        if (!ok)
        {
            throw new GuestCallException($"the guest's claim of instance {instanceId} was refused");
        }
    }

    /// <summary>
    /// How long a call on an instance no agent has claimed waits for one to: a control plane that has just started hears
    /// again from its pools' agents within their reconnect delay (1 s at most), and each re-claims its instances then.
    /// </summary>
    public static readonly TimeSpan ClaimWait = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Runs a method on the agent that claimed the instance. When none has claimed it yet (this control plane has just
    /// started, or its agent is reconnecting), waits up to <see cref="ClaimWait"/> for the claim before failing.
    /// </summary>
    public async Task<JsonElement> CallAsync(string instanceId, string method, object? args, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!_owners.TryGetValue(instanceId, out var session))
        {
            var waiter = _claimWaiters.GetOrAdd(instanceId, _ => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
            if (!_owners.TryGetValue(instanceId, out session))
            {
                try
                {
                    // A waiter left behind by a timeout is completed (and removed) by the instance's next claim.
                    await waiter.Task.WaitAsync(timeout < ClaimWait ? timeout : ClaimWait, time, cancellationToken);
                }
                catch (TimeoutException)
                {
                }

                if (!_owners.TryGetValue(instanceId, out session))
                {
                    throw new GuestCallException($"no guest agent is serving instance {instanceId}", agentLost: true);
                }
            }
        }

        return await CallAsync(session, instanceId, method, args, timeout, cancellationToken);
    }

    /// <summary>Runs an agent-level method (one about no instance, e.g. discover_parameters) on a pool's agent.</summary>
    public async Task<JsonElement> CallAgentAsync(string pool, string method, object? args, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var session = await WaitForAgentAsync(pool, timeout, cancellationToken);
        return await CallAsync(session, null, method, args, timeout, cancellationToken);
    }

    private async Task<JsonElement> CallAsync(AgentSession session, string? instanceId, string method, object? args, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _nextCallId);
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var activity = HoardTracing.Source.StartActivity(HoardTracing.Names.GuestCall);
        activity?.SetTag("function.name", method);
        activity?.SetTag("instance", instanceId);
        activity?.SetTag("pool", session.Pool);
        _pending[id] = new PendingCall(session, method, reply, activity is null ? null : TraceIds.ToUuid(activity.TraceId.ToHexString()));
        if (!_pools.TryGetValue(session.Pool, out var current) || current != session)
        {
            // Detached between the lookup and the registration: Detach did not see this call.
            _pending.TryRemove(id, out _);
            throw new GuestCallException($"the guest agent of pool '{session.Pool}' disconnected before {method}{On(instanceId)} was sent", agentLost: true);
        }

        try
        {
            var element = args is null ? (JsonElement?)null : JsonSerializer.SerializeToElement(args, GuestArguments.Json);
            await session.Send(new GuestMessage { Type = GuestMessageTypes.Call, CallId = id, Instance = instanceId, Method = method, Args = element, TraceParent = activity?.Id }, cancellationToken);
            return await reply.Task.WaitAsync(timeout, time, cancellationToken);
        }
        catch (TimeoutException e)
        {
            activity.RecordError(e);
            throw new GuestCallException($"the guest did not answer {method}{On(instanceId)} within {timeout.TotalSeconds:0} s");
        }
        catch (Exception e)
        {
            activity.RecordError(e);
            throw;
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Queues the points the agent made while answering a traced call; points of any other trace are not its to add.</summary>
    private void AcceptTrace(PendingCall call, List<TracePoint>? points)
    {
        if (profiler is null || call.TraceBaseId is null || points is null)
        {
            return;
        }

        foreach (var point in points.Take(MaxPointsPerReply))
        {
            if (point.BaseId == call.TraceBaseId)
            {
                profiler.Submit(point with { Service = "guestagent" });
            }
        }
    }

    private static string On(string? instanceId) => instanceId is null ? string.Empty : $" on instance {instanceId}";

    /// <summary>Stops routing an instance (after it was destroyed).</summary>
    public void Forget(string instanceId)
    {
        if (_owners.TryRemove(instanceId, out var session))
        {
            session.Claimed.TryRemove(instanceId, out _);
        }
    }

    [LoggerMessage(1100, LogLevel.Information, "Guest agent of pool {Pool} connected (session {Session})")]
    private partial void LogAgentConnected(string pool, string session);

    [LoggerMessage(1101, LogLevel.Warning, "Guest agent of pool {Pool} disconnected (session {Session})")]
    private partial void LogAgentDisconnected(string pool, string session);

    [LoggerMessage(1102, LogLevel.Warning, "Refused the claim of instance {Instance} by the agent of pool {Pool}: {Reason}")]
    private partial void LogClaimRefused(string pool, string instance, string reason);

    [LoggerMessage(1103, LogLevel.Warning, "Agent of pool {Pool} sent an unknown frame type {Type}")]
    private partial void LogUnknownFrame(string pool, string type);
}
