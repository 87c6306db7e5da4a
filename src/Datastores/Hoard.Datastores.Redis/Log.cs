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
}
