using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Storage;

namespace Hoard.Core.Instances;

/// <summary>
/// The status the API shows, derived as Trove derives it (instance/models.py): an error task is ERROR,
/// a running task names the status, otherwise the guest's service status decides.
/// </summary>
public static class InstanceStatus
{
    public static string ApiStatus(InstanceRecord instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        if (InstanceTasks.IsError(instance.TaskStatus))
        {
            return "ERROR";
        }

        switch (instance.TaskStatus)
        {
            case InstanceTasks.Building:
                return "BUILD";
            case InstanceTasks.Rebooting:
                return "REBOOT";
            case InstanceTasks.Deleting:
                return "SHUTDOWN";
            case InstanceTasks.BackingUp:
                return "BACKUP";
        }

        if (instance.ServerStatus == ServerStatuses.Error)
        {
            return "ERROR";
        }

        return ServiceStatusNames.Parse(instance.ServiceStatus) switch
        {
            ServiceStatus.Running => "ACTIVE",
            ServiceStatus.Shutdown or ServiceStatus.Crashed or ServiceStatus.Paused => "SHUTDOWN",
            ServiceStatus.Blocked => "BLOCKED",
            ServiceStatus.RestartRequired => "RESTART_REQUIRED",
            ServiceStatus.Restarting => "REBOOT",
            ServiceStatus.New or ServiceStatus.Building or ServiceStatus.InstanceReady => "BUILD",
            _ => "ERROR",
        };
    }

    /// <summary>The guest's own view, shown as operating_status while no task runs (Trove 18 semantics).</summary>
    public static string OperatingStatus(InstanceRecord instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        if (instance.TaskStatus != InstanceTasks.None)
        {
            return string.Empty;
        }

        return ServiceStatusNames.Parse(instance.ServiceStatus) switch
        {
            ServiceStatus.Running => "HEALTHY",
            ServiceStatus.Shutdown or ServiceStatus.Crashed or ServiceStatus.Paused => "SHUTDOWN",
            ServiceStatus.FailedTimeoutGuestAgent or ServiceStatus.Unknown or ServiceStatus.Failed => "ERROR",
            var s => s.ToTroveName(),
        };
    }

    /// <summary>Whether actions (restart, root, ...) may run: Trove requires an ACTIVE server and no task.</summary>
    public static bool IsReadyForAction(InstanceRecord instance) =>
        instance.TaskStatus == InstanceTasks.None && instance.ServerStatus == ServerStatuses.Active
        && ServiceStatusNames.Parse(instance.ServiceStatus) is ServiceStatus.Running or ServiceStatus.Shutdown or ServiceStatus.Crashed
            or ServiceStatus.RestartRequired or ServiceStatus.Blocked;
}
