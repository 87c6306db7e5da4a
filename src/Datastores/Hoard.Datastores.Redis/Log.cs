using Microsoft.Extensions.Logging;

namespace Hoard.Datastores.Redis;

/// <summary>The Redis manager's log lines; event ids 3000-3099. No line takes a password.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Preparing redis instance {InstanceId} on {Address}:{Port}")]
    public static partial void Preparing(this ILogger logger, string instanceId, string address, int port);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Generated the admin secret of redis instance {InstanceId}")]
    public static partial void AdminSecretGenerated(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Wrote the first ACL file of redis instance {InstanceId}")]
    public static partial void AclFileWritten(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Starting redis-server for instance {InstanceId}")]
    public static partial void Starting(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "Redis instance {InstanceId} serves (pid {Pid}) after {ElapsedMs:F1} ms")]
    public static partial void Serving(this ILogger logger, string instanceId, int? pid, double elapsedMs);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Debug, Message = "Redis instance {InstanceId} already runs as pid {Pid}")]
    public static partial void AlreadyRunning(this ILogger logger, string instanceId, int pid);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Debug, Message = "Removed the stale pidfile of redis instance {InstanceId} (pid {Pid} is gone)")]
    public static partial void StalePidFileRemoved(this ILogger logger, string instanceId, int? pid);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Error, Message = "Redis instance {InstanceId} failed to start: {Reason}")]
    public static partial void StartFailed(this ILogger logger, string instanceId, string reason);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "Stopping redis instance {InstanceId} (pid {Pid})")]
    public static partial void Stopping(this ILogger logger, string instanceId, int pid);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Information, Message = "Redis instance {InstanceId} stopped after {ElapsedMs:F1} ms")]
    public static partial void Stopped(this ILogger logger, string instanceId, double elapsedMs);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Debug, Message = "Redis instance {InstanceId} is not running; nothing to stop")]
    public static partial void AlreadyStopped(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3013, Level = LogLevel.Warning, Message = "SHUTDOWN failed on redis instance {InstanceId}; sending SIGTERM to pid {Pid}")]
    public static partial void ShutdownCommandFailed(this ILogger logger, string instanceId, int pid, Exception exception);

    [LoggerMessage(EventId = 3014, Level = LogLevel.Warning, Message = "Redis instance {InstanceId} (pid {Pid}) did not stop within {Timeout}; sending SIGKILL")]
    public static partial void Killing(this ILogger logger, string instanceId, int pid, TimeSpan timeout);

    [LoggerMessage(EventId = 3020, Level = LogLevel.Debug, Message = "Probe of redis instance {InstanceId} got no answer")]
    public static partial void ProbeFailed(this ILogger logger, string instanceId, Exception exception);

    [LoggerMessage(EventId = 3030, Level = LogLevel.Information, Message = "Enabled the root user of redis instance {InstanceId}")]
    public static partial void RootEnabled(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3031, Level = LogLevel.Information, Message = "Disabled the root user of redis instance {InstanceId}")]
    public static partial void RootDisabled(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3040, Level = LogLevel.Information, Message = "Created {Count} user(s) on redis instance {InstanceId}")]
    public static partial void UsersCreated(this ILogger logger, string instanceId, int count);

    [LoggerMessage(EventId = 3041, Level = LogLevel.Information, Message = "Deleted a user of redis instance {InstanceId}")]
    public static partial void UserDeleted(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3042, Level = LogLevel.Information, Message = "Changed {Count} password(s) on redis instance {InstanceId}")]
    public static partial void PasswordsChanged(this ILogger logger, string instanceId, int count);

    [LoggerMessage(EventId = 3050, Level = LogLevel.Information, Message = "Wrote the cluster secret of redis instance {InstanceId} ({Cluster})")]
    public static partial void ClusterSecretWritten(this ILogger logger, string instanceId, string cluster);

    [LoggerMessage(EventId = 3051, Level = LogLevel.Information, Message = "Set the cluster user of redis instance {InstanceId}")]
    public static partial void ClusterUserSet(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3052, Level = LogLevel.Information, Message = "Redis instance {InstanceId} met {Address}:{Port}")]
    public static partial void ClusterMet(this ILogger logger, string instanceId, string address, int port);

    [LoggerMessage(EventId = 3053, Level = LogLevel.Information, Message = "Redis instance {InstanceId} took slots {Slots}")]
    public static partial void ClusterSlotsAdded(this ILogger logger, string instanceId, string slots);

    [LoggerMessage(EventId = 3054, Level = LogLevel.Information, Message = "Redis instance {InstanceId} replicates node {MasterId}")]
    public static partial void ClusterReplicating(this ILogger logger, string instanceId, string masterId);

    [LoggerMessage(EventId = 3055, Level = LogLevel.Information, Message = "Redis instance {InstanceId} forgot {Count} node(s)")]
    public static partial void ClusterNodesForgotten(this ILogger logger, string instanceId, int count);

    [LoggerMessage(EventId = 3056, Level = LogLevel.Information, Message = "Redis instance {InstanceId} saved its cluster config")]
    public static partial void ClusterConfigSaved(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3057, Level = LogLevel.Debug, Message = "Redis instance {InstanceId} waits for gossip: {What}")]
    public static partial void ClusterWaitingForGossip(this ILogger logger, string instanceId, string what);

    [LoggerMessage(EventId = 3060, Level = LogLevel.Information, Message = "Moving {SlotCount} slot(s) of redis instance {InstanceId} to node {TargetNodeId} at {Address}:{Port}")]
    public static partial void SlotMoveStarting(this ILogger logger, int slotCount, string instanceId, string targetNodeId, string address, int port);

    [LoggerMessage(EventId = 3061, Level = LogLevel.Information, Message = "Moved {SlotCount} slot(s) and {KeyCount} key(s) of redis instance {InstanceId} to node {TargetNodeId} in {ElapsedMs:F0} ms ({ClosedCount} slot(s) the target owned already were closed)")]
    public static partial void SlotMoveDone(this ILogger logger, int slotCount, long keyCount, string instanceId, string targetNodeId, double elapsedMs, int closedCount);

    [LoggerMessage(EventId = 3062, Level = LogLevel.Information, Message = "Slot {Slot} of redis instance {InstanceId} was left open ({State}) by an earlier move; completing it")]
    public static partial void SlotMoveResuming(this ILogger logger, int slot, string instanceId, string state);

    [LoggerMessage(EventId = 3063, Level = LogLevel.Warning, Message = "The target of slot {Slot} held some of its keys already (BUSYKEY); redis instance {InstanceId} migrates them again with REPLACE")]
    public static partial void SlotMoveReplacing(this ILogger logger, int slot, string instanceId);

    [LoggerMessage(EventId = 3064, Level = LogLevel.Warning, Message = "Could not tell master {Address}:{Port} the new owner of {SlotCount} slot(s) moved from redis instance {InstanceId}; it learns it by gossip")]
    public static partial void SlotMoveMasterNotTold(this ILogger logger, string address, int port, int slotCount, string instanceId, Exception exception);

    [LoggerMessage(EventId = 3070, Level = LogLevel.Information, Message = "Learnt the configuration rules of redis {Version}: {Count} parameter(s), {RestartCount} of them restart-only")]
    public static partial void ConfigurationRulesLearnt(this ILogger logger, string version, int count, int restartCount);

    [LoggerMessage(EventId = 3071, Level = LogLevel.Information, Message = "Redis instance {InstanceId} has a configuration group of {Count} value(s); restart needed: {RestartNeeded}")]
    public static partial void ConfigurationApplied(this ILogger logger, string instanceId, int count, bool restartNeeded);
}
