using Hoard.Abstractions.Storage;
using Hoard.Core.Instances;
using Xunit;

namespace Hoard.Core.Tests;

public sealed class InstanceStatusTests
{
    private static InstanceRecord Instance(string task, string service, string server = ServerStatuses.Active) => new()
    {
        Id = "i",
        Name = "n",
        ProjectId = "p",
        FlavorId = "1",
        DatastoreVersionId = "v",
        TaskStatus = task,
        ServiceStatus = service,
        ServerStatus = server,
        Pool = "default",
        SecretHash = "h",
        CreatedAt = DateTimeOffset.UnixEpoch,
        UpdatedAt = DateTimeOffset.UnixEpoch,
    };

    [Theory]
    [InlineData(InstanceTasks.Building, "NEW", "BUILD", "")]
    [InlineData(InstanceTasks.Building, "RUNNING", "BUILD", "")]
    [InlineData(InstanceTasks.None, "RUNNING", "ACTIVE", "HEALTHY")]
    [InlineData(InstanceTasks.Rebooting, "RUNNING", "REBOOT", "")]
    [InlineData(InstanceTasks.Deleting, "RUNNING", "SHUTDOWN", "")]
    [InlineData(InstanceTasks.BackingUp, "RUNNING", "BACKUP", "")]
    [InlineData(InstanceTasks.BuildingErrorServer, "BUILDING", "ERROR", "")]
    [InlineData(InstanceTasks.None, "SHUTDOWN", "SHUTDOWN", "SHUTDOWN")]
    [InlineData(InstanceTasks.None, "CRASHED", "SHUTDOWN", "SHUTDOWN")]
    [InlineData(InstanceTasks.None, "FAILED_TIMEOUT_GUESTAGENT", "ERROR", "ERROR")]
    public void Status_is_derived_as_trove_derives_it(string task, string service, string status, string operating)
    {
        var instance = Instance(task, service);
        Assert.Equal(status, InstanceStatus.ApiStatus(instance));
        Assert.Equal(operating, InstanceStatus.OperatingStatus(instance));
    }

    [Fact]
    public void Actions_need_an_idle_active_instance()
    {
        Assert.True(InstanceStatus.IsReadyForAction(Instance(InstanceTasks.None, "RUNNING")));
        Assert.False(InstanceStatus.IsReadyForAction(Instance(InstanceTasks.Building, "RUNNING")));
        Assert.False(InstanceStatus.IsReadyForAction(Instance(InstanceTasks.None, "RUNNING", ServerStatuses.Error)));
    }
}
