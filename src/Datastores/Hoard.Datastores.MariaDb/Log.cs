using Hoard.Abstractions.Datastores;
using Microsoft.Extensions.Logging;

namespace Hoard.Datastores.MariaDb;

/// <summary>The MariaDB manager's log lines; event ids 3100-3199. No line takes a password.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3100, Level = LogLevel.Information, Message = "Preparing mariadb instance {InstanceId} ({Version}) on {Address}:{Port}")]
    public static partial void Preparing(this ILogger logger, string instanceId, string version, string address, int port);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Generated the admin secret of mariadb instance {InstanceId}")]
    public static partial void AdminSecretGenerated(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Information, Message = "Copied the template {Template} into {DataDirectory} for mariadb instance {InstanceId} in {ElapsedMs:F1} ms")]
    public static partial void DataCopied(this ILogger logger, string instanceId, string template, string dataDirectory, double elapsedMs);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Information, Message = "Starting mariadbd for instance {InstanceId}")]
    public static partial void Starting(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Information, Message = "Mariadb instance {InstanceId} serves (pid {Pid}) after {ElapsedMs:F1} ms")]
    public static partial void Serving(this ILogger logger, string instanceId, int pid, double elapsedMs);

    [LoggerMessage(EventId = 3105, Level = LogLevel.Debug, Message = "Mariadb instance {InstanceId} already runs as pid {Pid}")]
    public static partial void AlreadyRunning(this ILogger logger, string instanceId, int pid);

    [LoggerMessage(EventId = 3106, Level = LogLevel.Debug, Message = "Removed the stale pid file of mariadb instance {InstanceId} (pid {Pid} is gone)")]
    public static partial void StalePidFileRemoved(this ILogger logger, string instanceId, int? pid);

    [LoggerMessage(EventId = 3107, Level = LogLevel.Error, Message = "Mariadb instance {InstanceId} failed to start: {Reason}")]
    public static partial void StartFailed(this ILogger logger, string instanceId, string reason);

    [LoggerMessage(EventId = 3108, Level = LogLevel.Information, Message = "Replaced the template's admin password of mariadb instance {InstanceId} with its own")]
    public static partial void AdminPasswordRotated(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3109, Level = LogLevel.Information, Message = "Prepared mariadb instance {InstanceId} in {ElapsedMs:F1} ms")]
    public static partial void Prepared(this ILogger logger, string instanceId, double elapsedMs);

    [LoggerMessage(EventId = 3110, Level = LogLevel.Information, Message = "Stopping mariadb instance {InstanceId} (pid {Pid})")]
    public static partial void Stopping(this ILogger logger, string instanceId, int pid);

    [LoggerMessage(EventId = 3111, Level = LogLevel.Information, Message = "Mariadb instance {InstanceId} stopped after {ElapsedMs:F1} ms")]
    public static partial void Stopped(this ILogger logger, string instanceId, double elapsedMs);

    [LoggerMessage(EventId = 3112, Level = LogLevel.Debug, Message = "Mariadb instance {InstanceId} is not running; nothing to stop")]
    public static partial void AlreadyStopped(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3113, Level = LogLevel.Warning, Message = "Mariadb instance {InstanceId} (pid {Pid}) did not stop within {Timeout}; sending SIGKILL")]
    public static partial void Killing(this ILogger logger, string instanceId, int pid, TimeSpan timeout);

    [LoggerMessage(EventId = 3114, Level = LogLevel.Information, Message = "Removed the data of mariadb instance {InstanceId} at {DataDirectory}")]
    public static partial void DataRemoved(this ILogger logger, string instanceId, string dataDirectory);

    [LoggerMessage(EventId = 3120, Level = LogLevel.Debug, Message = "Probe of mariadb instance {InstanceId} got no answer")]
    public static partial void ProbeFailed(this ILogger logger, string instanceId, Exception exception);

    [LoggerMessage(EventId = 3130, Level = LogLevel.Information, Message = "Building the MariaDB {Version} template in {Template}")]
    public static partial void BuildingTemplate(this ILogger logger, string version, string template);

    [LoggerMessage(EventId = 3131, Level = LogLevel.Information, Message = "Built the MariaDB {Version} template in {Template} in {ElapsedMs:F1} ms")]
    public static partial void TemplateBuilt(this ILogger logger, string version, string template, double elapsedMs);

    [LoggerMessage(EventId = 3140, Level = LogLevel.Information, Message = "Enabled root@% on mariadb instance {InstanceId}")]
    public static partial void RootEnabled(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3141, Level = LogLevel.Information, Message = "Disabled root@% on mariadb instance {InstanceId} (new unknown password, account locked)")]
    public static partial void RootDisabled(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3150, Level = LogLevel.Information, Message = "Created database {Database} on mariadb instance {InstanceId}")]
    public static partial void DatabaseCreated(this ILogger logger, string instanceId, string database);

    [LoggerMessage(EventId = 3151, Level = LogLevel.Information, Message = "Dropped database {Database} on mariadb instance {InstanceId}")]
    public static partial void DatabaseDropped(this ILogger logger, string instanceId, string database);

    [LoggerMessage(EventId = 3160, Level = LogLevel.Information, Message = "Created user {User} on mariadb instance {InstanceId}")]
    public static partial void UserCreated(this ILogger logger, string instanceId, UserRef user);

    [LoggerMessage(EventId = 3161, Level = LogLevel.Information, Message = "Dropped user {User} on mariadb instance {InstanceId}")]
    public static partial void UserDropped(this ILogger logger, string instanceId, UserRef user);

    [LoggerMessage(EventId = 3162, Level = LogLevel.Information, Message = "Updated user {User} on mariadb instance {InstanceId}: {Change}")]
    public static partial void UserUpdated(this ILogger logger, string instanceId, UserRef user, UserChange change);

    [LoggerMessage(EventId = 3163, Level = LogLevel.Information, Message = "Changed the passwords of {Count} user(s) on mariadb instance {InstanceId}")]
    public static partial void PasswordsChanged(this ILogger logger, string instanceId, int count);

    [LoggerMessage(EventId = 3164, Level = LogLevel.Information, Message = "Granted {User} access to {Databases} on mariadb instance {InstanceId}")]
    public static partial void AccessGranted(this ILogger logger, string instanceId, UserRef user, string databases);

    [LoggerMessage(EventId = 3165, Level = LogLevel.Information, Message = "Revoked {User}'s access to {Database} on mariadb instance {InstanceId}")]
    public static partial void AccessRevoked(this ILogger logger, string instanceId, UserRef user, string database);

    [LoggerMessage(EventId = 3150, Level = LogLevel.Information, Message = "Gave mariadb instance {InstanceId} a ready spare of the template {Template} in {ElapsedMs:F1} ms")]
    public static partial void SpareTaken(this ILogger logger, string instanceId, string template, double elapsedMs);

    [LoggerMessage(EventId = 3151, Level = LogLevel.Warning, Message = "Could not make a spare copy of the template {Template}")]
    public static partial void SpareCopyFailed(this ILogger logger, string template, Exception exception);

    [LoggerMessage(EventId = 3170, Level = LogLevel.Information, Message = "Backing up mariadb instance {InstanceId} with mariadb-backup")]
    public static partial void BackingUp(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3171, Level = LogLevel.Information, Message = "Backed up mariadb instance {InstanceId}: {Bytes} bytes in {ElapsedMs:F1} ms")]
    public static partial void BackedUp(this ILogger logger, string instanceId, long bytes, double elapsedMs);

    [LoggerMessage(EventId = 3172, Level = LogLevel.Information, Message = "Restoring a backup into mariadb instance {InstanceId}")]
    public static partial void Restoring(this ILogger logger, string instanceId);

    [LoggerMessage(EventId = 3173, Level = LogLevel.Information, Message = "Restored a backup into mariadb instance {InstanceId} in {ElapsedMs:F1} ms")]
    public static partial void Restored(this ILogger logger, string instanceId, double elapsedMs);

    [LoggerMessage(EventId = 3174, Level = LogLevel.Error, Message = "Restoring mariadb instance {InstanceId} failed; putting its previous data back")]
    public static partial void RestoreFailed(this ILogger logger, string instanceId, Exception exception);

    [LoggerMessage(EventId = 3175, Level = LogLevel.Error, Message = "Could not put the previous data of mariadb instance {InstanceId} back; it is kept in {Directory}")]
    public static partial void RestoreRollbackFailed(this ILogger logger, string instanceId, string directory, Exception exception);

    [LoggerMessage(EventId = 3180, Level = LogLevel.Information, Message = "MariaDB instance {InstanceId} has a configuration group of {Count} value(s); restart needed: {RestartNeeded}")]
    public static partial void ConfigurationApplied(this ILogger logger, string instanceId, int count, bool restartNeeded);
}
