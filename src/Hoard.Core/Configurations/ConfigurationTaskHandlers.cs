using System.Text.Json;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Guest;
using Hoard.Abstractions.Storage;
using Hoard.Core.Instances;
using Hoard.Core.Tasks;

namespace Hoard.Core.Configurations;

/// <summary>Giving an instance its configuration group's values through its guest.</summary>
public static class ConfigurationSteps
{
    /// <summary>
    /// Sends the instance its group's current values (none when it has no group, or the group is gone), which the guest
    /// writes and applies live where it can. Returns true when values wait for a restart.
    /// </summary>
    public static async Task<bool> ApplyAsync(InstanceTaskContext c, InstanceRecord instance, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(instance);
        var configuration = instance.ConfigurationId is { } id ? await c.Store.Configurations.GetAsync(id, cancellationToken) : null;
        var values = configuration is null ? new Dictionary<string, string>() : ConfigurationRules.EngineValues(configuration.Values);
        await c.EnsureClaimedAsync(instance, timeout, cancellationToken);
        var reply = await c.Hub.CallAsync(instance.Id, GuestMethods.ApplyConfiguration, new ConfigurationArguments(values), timeout, cancellationToken);
        return reply.Deserialize<ConfigurationApplied>(GuestArguments.Json)?.RestartRequired ?? false;
    }
}

/// <summary>
/// Applies an instance's configuration group after an attach, a detach or a change of the group. It reads the group when
/// it runs, so of several queued changes the last one wins. A guest busy with a backup answers when the backup is done.
/// </summary>
public sealed class ApplyConfigurationHandler(InstanceTaskContext c) : ITaskHandler
{
    /// <summary>As long as a backup may hold the instance's guest.</summary>
    private static readonly TimeSpan ApplyTimeout = TimeSpan.FromHours(6);

    public string Kind => ConfigurationTaskKinds.Apply;

    public async Task RunAsync(TaskRun run, CancellationToken cancellationToken)
    {
        var instance = await c.Store.Instances.GetAsync(run.Task.InstanceId, cancellationToken);

        // A building instance gets its group at the end of the build; a deleted or failed one needs none.
        if (instance is null || instance.Deleted || instance.TaskStatus is InstanceTasks.Building or InstanceTasks.Deleting || InstanceTasks.IsError(instance.TaskStatus))
        {
            return;
        }

        var restart = await ConfigurationSteps.ApplyAsync(c, instance, ApplyTimeout, cancellationToken);
        var status = restart ? ServiceStatus.RestartRequired : ServiceStatus.Running;
        c.Conductor.Note(instance.Id, status);
        await c.Store.Instances.UpdateIfTaskAsync(instance.Id, InstanceTasks.None, new InstanceChange { ServiceStatus = status.ToTroveName(), FaultMessage = string.Empty }, cancellationToken);
    }

    /// <summary>The engine refused the values (or the guest was gone): the instance keeps running as it was, with a fault that says why.</summary>
    public async Task FailAsync(TaskRecord task, Exception error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(error);
        await c.Store.Instances.UpdateAsync(
            task.InstanceId,
            new InstanceChange { FaultMessage = $"The configuration group was not applied: {error.Message}", FaultDetails = error.GetType().Name },
            cancellationToken);
    }
}
