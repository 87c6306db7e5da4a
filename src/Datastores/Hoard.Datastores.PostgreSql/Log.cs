using Microsoft.Extensions.Logging;

namespace Hoard.Datastores.PostgreSql;

/// <summary>The PostgreSQL manager's log lines; event ids 3200-3299. No line takes a password.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3200, Level = LogLevel.Information, Message = "Preparing postgresql instance {InstanceId} on {Address}:{Port}")]
    public static partial void Preparing(this ILogger logger, string instanceId, string address, int port);

    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "Generated the admin secret of postgresql instance {InstanceId}")]
    public static partial void AdminSecretGenerated(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Information, Message = "Copied the PostgreSQL {Version} template into {DataDirectory} for instance {InstanceId} in {ElapsedMs:F1} ms")]
    public static partial void DataDirectoryCopied(this ILogger logger, string instanceId, string version, string dataDirectory, double elapsedMs);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Information, Message = "Starting postgres for instance {InstanceId} as {User}")]
    public static partial void Starting(this ILogger logger, string instanceId, string user);

    [LoggerMessage(EventId = 3204, Level = LogLevel.Information, Message = "PostgreSQL instance {InstanceId} serves (pid {Pid}) after {ElapsedMs:F1} ms")]
    public static partial void Serving(this ILogger logger, string instanceId, int pid, double elapsedMs);

    [LoggerMessage(EventId = 3205, Level = LogLevel.Debug, Message = "PostgreSQL instance {InstanceId} already runs as pid {Pid}")]
    public static partial void AlreadyRunning(this ILogger logger, string instanceId, int pid);

    [LoggerMessage(EventId = 3206, Level = LogLevel.Warning, Message = "Removed the lock file of postgresql instance {InstanceId}: its pid {Pid} now belongs to another process and no server process is left")]
    public static partial void ForeignLockRemoved(this ILogger logger, string instanceId, int pid);

    [LoggerMessage(EventId = 3207, Level = LogLevel.Error, Message = "PostgreSQL instance {InstanceId} failed to start: {Reason}")]
    public static partial void StartFailed(this ILogger logger, string instanceId, string reason);

    [LoggerMessage(EventId = 3208, Level = LogLevel.Information, Message = "Starting postgresql instance {InstanceId} again: processes of its previous server are still exiting")]
    public static partial void StartRetried(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3209, Level = LogLevel.Information, Message = "Replaced the template's admin password of postgresql instance {InstanceId} with its own")]
    public static partial void AdminPasswordRotated(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3210, Level = LogLevel.Information, Message = "Stopping postgresql instance {InstanceId} (pid {Pid}, fast shutdown)")]
    public static partial void Stopping(this ILogger logger, string instanceId, int pid);

    [LoggerMessage(EventId = 3211, Level = LogLevel.Information, Message = "PostgreSQL instance {InstanceId} stopped after {ElapsedMs:F1} ms")]
    public static partial void Stopped(this ILogger logger, string instanceId, double elapsedMs);

    [LoggerMessage(EventId = 3212, Level = LogLevel.Debug, Message = "PostgreSQL instance {InstanceId} is not running; nothing to stop")]
    public static partial void AlreadyStopped(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3213, Level = LogLevel.Warning, Message = "PostgreSQL instance {InstanceId} (pid {Pid}) did not stop within {Timeout}; sending {Signal}")]
    public static partial void Escalating(this ILogger logger, string instanceId, int pid, TimeSpan timeout, string signal);

    [LoggerMessage(EventId = 3214, Level = LogLevel.Information, Message = "Destroyed postgresql instance {InstanceId}")]
    public static partial void Destroyed(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3215, Level = LogLevel.Information, Message = "The settings of running postgresql instance {InstanceId} changed; asked it to reload them (memory settings apply at the next restart)")]
    public static partial void ConfigReloaded(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3216, Level = LogLevel.Information, Message = "Made the directory of postgresql instance {InstanceId} searchable (0711) for {User}")]
    public static partial void DirectoryOpened(this ILogger logger, string instanceId, string user);

    [LoggerMessage(EventId = 3220, Level = LogLevel.Debug, Message = "Probe of postgresql instance {InstanceId} got no answer")]
    public static partial void ProbeFailed(this ILogger logger, string instanceId, Exception exception);

    [LoggerMessage(EventId = 3230, Level = LogLevel.Information, Message = "Enabled the root user of postgresql instance {InstanceId}")]
    public static partial void RootEnabled(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3231, Level = LogLevel.Information, Message = "Disabled the root user of postgresql instance {InstanceId}")]
    public static partial void RootDisabled(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3240, Level = LogLevel.Information, Message = "Building the PostgreSQL {Version} template in {Directory}")]
    public static partial void TemplateBuilding(this ILogger logger, string version, string directory);

    [LoggerMessage(EventId = 3241, Level = LogLevel.Information, Message = "Built the PostgreSQL {Version} template {Directory} in {ElapsedMs:F1} ms")]
    public static partial void TemplateBuilt(this ILogger logger, string version, string directory, double elapsedMs);

    [LoggerMessage(EventId = 3250, Level = LogLevel.Information, Message = "Created database {Database} on postgresql instance {InstanceId}")]
    public static partial void DatabaseCreated(this ILogger logger, string instanceId, string database);

    [LoggerMessage(EventId = 3251, Level = LogLevel.Information, Message = "Dropped database {Database} of postgresql instance {InstanceId}")]
    public static partial void DatabaseDropped(this ILogger logger, string instanceId, string database);

    [LoggerMessage(EventId = 3252, Level = LogLevel.Information, Message = "Created user {User} on postgresql instance {InstanceId} with access to {Databases}")]
    public static partial void UserCreated(this ILogger logger, string instanceId, string user, string databases);

    [LoggerMessage(EventId = 3253, Level = LogLevel.Information, Message = "Dropped user {User} of postgresql instance {InstanceId}; what it owned now belongs to the admin")]
    public static partial void UserDropped(this ILogger logger, string instanceId, string user);

    [LoggerMessage(EventId = 3254, Level = LogLevel.Information, Message = "Updated user {User} of postgresql instance {InstanceId}: {Change}")]
    public static partial void UserUpdated(this ILogger logger, string instanceId, string user, string change);

    [LoggerMessage(EventId = 3255, Level = LogLevel.Information, Message = "Changed the passwords of {Count} user(s) of postgresql instance {InstanceId}")]
    public static partial void PasswordsChanged(this ILogger logger, string instanceId, int count);

    [LoggerMessage(EventId = 3256, Level = LogLevel.Information, Message = "Gave user {User} of postgresql instance {InstanceId} access to {Databases}")]
    public static partial void AccessGranted(this ILogger logger, string instanceId, string user, string databases);

    [LoggerMessage(EventId = 3257, Level = LogLevel.Information, Message = "Took access to {Database} from user {User} of postgresql instance {InstanceId}")]
    public static partial void AccessRevoked(this ILogger logger, string instanceId, string user, string database);

    [LoggerMessage(EventId = 3250, Level = LogLevel.Information, Message = "Gave postgresql instance {InstanceId} a ready spare of the PostgreSQL {Version} template in {ElapsedMs:F1} ms")]
    public static partial void SpareTaken(this ILogger logger, string instanceId, string version, double elapsedMs);

    [LoggerMessage(EventId = 3251, Level = LogLevel.Warning, Message = "Could not make a spare copy of the template {Template}")]
    public static partial void SpareCopyFailed(this ILogger logger, string template, Exception exception);
    [LoggerMessage(EventId = 3260, Level = LogLevel.Information, Message = "Gave the admin role of postgresql instance {InstanceId} what base backups need (REPLICATION, a replication line in pg_hba.conf)")]
    public static partial void ReplicationAccessAdded(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3261, Level = LogLevel.Information, Message = "Backed up postgresql instance {InstanceId}: {Bytes} bytes in {ElapsedMs:F1} ms")]
    public static partial void BackedUp(this ILogger logger, string instanceId, long bytes, double elapsedMs);

    [LoggerMessage(EventId = 3262, Level = LogLevel.Information, Message = "Restoring a backup into postgresql instance {InstanceId}")]
    public static partial void Restoring(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3263, Level = LogLevel.Information, Message = "Restored a backup into postgresql instance {InstanceId} in {ElapsedMs:F1} ms")]
    public static partial void Restored(this ILogger logger, string instanceId, double elapsedMs);

    [LoggerMessage(EventId = 3264, Level = LogLevel.Error, Message = "The restore into postgresql instance {InstanceId} failed; putting its previous data back")]
    public static partial void RestoreFailed(this ILogger logger, string instanceId, Exception exception);

    [LoggerMessage(EventId = 3265, Level = LogLevel.Warning, Message = "Could not remove {Path}, left over by a restore of postgresql instance {InstanceId}")]
    public static partial void RestoreLeftover(this ILogger logger, string instanceId, string path, Exception exception);

    [LoggerMessage(EventId = 3270, Level = LogLevel.Information, Message = "PostgreSQL instance {InstanceId} has a configuration group of {Count} value(s); restart needed: {RestartNeeded}")]
    public static partial void ConfigurationApplied(this ILogger logger, string instanceId, int count, bool restartNeeded);
}
