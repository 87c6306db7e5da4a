namespace Hoard.Abstractions.Datastores;

/// <summary>
/// The guest's view of a database service, with Trove's names (trove/instance/service_status.py).
/// </summary>
public enum ServiceStatus
{
    New,
    Building,
    Running,
    Blocked,
    Paused,
    Shutdown,
    Crashed,
    Failed,
    FailedTimeoutGuestAgent,
    InstanceReady,
    RestartRequired,
    Restarting,
    Deleted,
    Unknown,
}

public static class ServiceStatusNames
{
    private static readonly Dictionary<ServiceStatus, string> Names = new()
    {
        [ServiceStatus.New] = "NEW",
        [ServiceStatus.Building] = "BUILDING",
        [ServiceStatus.Running] = "RUNNING",
        [ServiceStatus.Blocked] = "BLOCKED",
        [ServiceStatus.Paused] = "PAUSED",
        [ServiceStatus.Shutdown] = "SHUTDOWN",
        [ServiceStatus.Crashed] = "CRASHED",
        [ServiceStatus.Failed] = "FAILED",
        [ServiceStatus.FailedTimeoutGuestAgent] = "FAILED_TIMEOUT_GUESTAGENT",
        [ServiceStatus.InstanceReady] = "INSTANCE_READY",
        [ServiceStatus.RestartRequired] = "RESTART_REQUIRED",
        [ServiceStatus.Restarting] = "RESTARTING",
        [ServiceStatus.Deleted] = "DELETED",
        [ServiceStatus.Unknown] = "UNKNOWN",
    };

    private static readonly Dictionary<string, ServiceStatus> Values =
        Names.ToDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);

    public static string ToTroveName(this ServiceStatus status) => Names[status];

    public static ServiceStatus Parse(string name) =>
        Values.TryGetValue(name, out var s) ? s : ServiceStatus.Unknown;
}
