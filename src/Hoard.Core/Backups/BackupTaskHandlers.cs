using System.Text.Json;
using Hoard.Abstractions.Guest;
using Hoard.Abstractions.Storage;
using Hoard.Core.Guests;
using Hoard.Core.Instances;
using Hoard.Core.Tasks;

namespace Hoard.Core.Backups;

/// <summary>
/// Takes a backup: the instance's guest pipes the engine's backup through the sealer into backup storage; the record
/// becomes COMPLETED with the stored size, checksum and location only once storage has committed it.
/// </summary>
public sealed class CreateBackupHandler(InstanceTaskContext c, BackupVault vault, BackupRetention retention) : ITaskHandler
{
    /// <summary>The longest one backup may take; a guest that dies mid-backup fails it sooner (its calls are dropped).</summary>
    public static readonly TimeSpan BackupTimeout = TimeSpan.FromHours(6);

    public string Kind => BackupTaskKinds.Create;

    public async Task RunAsync(TaskRun run, CancellationToken cancellationToken)
    {
        var backup = await c.Store.Backups.GetAsync(run.Task.InstanceId, cancellationToken)
            ?? throw new InvalidOperationException($"backup {run.Task.InstanceId} is gone");
        var instance = await c.LoadAsync(backup.InstanceId, cancellationToken);
        if (await vault.Open().ReadMetadataAsync(backup.Id, cancellationToken) is not null)
        {
            // Committed by the guest before the control plane died: the stored bytes are whole; record them.
            await CompleteFromStorageAsync(backup, cancellationToken);
            return;
        }

        // The instance shows BACKUP meanwhile, and takes no other action (a resumed task finds it so already).
        if (instance.TaskStatus != InstanceTasks.BackingUp
            && !await c.Store.Instances.UpdateIfTaskAsync(instance.Id, InstanceTasks.None, new InstanceChange { TaskStatus = InstanceTasks.BackingUp }, cancellationToken))
        {
            throw new InvalidOperationException($"instance {instance.Id} is busy ({instance.TaskStatus}); the backup was not taken");
        }

        await c.Store.Backups.UpdateAsync(backup.Id, new BackupChange { State = BackupStates.Building }, cancellationToken);
        var args = new CreateBackupArguments(backup.Id, vault.Storage, vault.Key);
        if (backup.ParentId is not null)
        {
            // The point the increment starts from is the parent's own, kept beside its stored bytes.
            var parent = await vault.Open().ReadMetadataAsync(backup.ParentId, cancellationToken);
            if (parent?.ResumePoint is not { Length: > 0 } resumePoint)
            {
                throw new InvalidOperationException(
                    $"backup {backup.ParentId} records no point an incremental backup can start from ({(parent is null ? "it is not in backup storage" : "it was taken before Hoard took incremental backups")}); take a full backup");
            }

            args = args with { ParentId = backup.ParentId, ParentResumePoint = resumePoint };
        }

        await c.EnsureClaimedAsync(instance, InstanceService.GuestCallTimeout, cancellationToken);

        // Run again after a crash, the guest first removes what an abandoned write left and starts over.
        BackupResult result;
        try
        {
            var reply = await c.Hub.CallAsync(instance.Id, GuestMethods.CreateBackup, args, BackupTimeout, cancellationToken);
            result = reply.Deserialize<BackupResult>(GuestArguments.Json) ?? throw new InvalidOperationException("the guest returned no backup result");
        }
        catch (GuestCallException)
        {
            if (await vault.Open().ReadMetadataAsync(backup.Id, cancellationToken) is null)
            {
                throw;
            }

            // The call of a control plane that died before this one committed the backup meanwhile: it is whole.
            await CompleteFromStorageAsync(backup, cancellationToken);
            return;
        }

        await c.Store.Backups.UpdateAsync(
            backup.Id,
            new BackupChange { State = BackupStates.Completed, Size = result.Size, Checksum = result.Checksum, Location = result.Location, FaultMessage = string.Empty },
            cancellationToken);
        await ReleaseInstanceAsync(backup.InstanceId, cancellationToken);
        await ApplyRetentionAsync(backup, cancellationToken);
    }

    /// <summary>
    /// A scheduled backup that completed lets its schedule delete its oldest beyond the retention. Best effort: the backup
    /// is whole whatever happens here, and the schedule's next completed backup tries again.
    /// </summary>
    private async Task ApplyRetentionAsync(BackupRecord backup, CancellationToken cancellationToken)
    {
        if (backup.ScheduleId is null)
        {
            return;
        }

        try
        {
            await retention.ApplyAsync(backup.ScheduleId, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Kept backups beyond the retention are only more than asked for; nothing is lost.
        }
    }

    private async Task CompleteFromStorageAsync(BackupRecord backup, CancellationToken cancellationToken)
    {
        var committed = await vault.Open().ReadMetadataAsync(backup.Id, cancellationToken)
            ?? throw new InvalidOperationException($"backup {backup.Id} is not in storage");
        await c.Store.Backups.UpdateAsync(
            backup.Id,
            new BackupChange { State = BackupStates.Completed, Size = committed.Size, Checksum = committed.Sha256, FaultMessage = string.Empty },
            cancellationToken);
        await ReleaseInstanceAsync(backup.InstanceId, cancellationToken);
        await ApplyRetentionAsync(backup, cancellationToken);
    }

    private Task ReleaseInstanceAsync(string instanceId, CancellationToken cancellationToken) =>
        c.Store.Instances.UpdateIfTaskAsync(instanceId, InstanceTasks.BackingUp, new InstanceChange { TaskStatus = InstanceTasks.None }, cancellationToken);

    public async Task FailAsync(TaskRecord task, Exception error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(error);
        await c.Store.Backups.UpdateAsync(task.InstanceId, new BackupChange { State = BackupStates.Failed, FaultMessage = error.Message }, cancellationToken);
        if (await c.Store.Backups.GetAsync(task.InstanceId, cancellationToken) is { } backup)
        {
            await ReleaseInstanceAsync(backup.InstanceId, cancellationToken);
        }

        try
        {
            await vault.Open().CleanUpPartialAsync(task.InstanceId, cancellationToken);
        }
        catch (IOException)
        {
            // Best effort: a partial file is never read as a backup, and the next attempt removes it.
        }
    }
}

/// <summary>Deletes a backup: its stored bytes, then its record.</summary>
public sealed class DeleteBackupHandler(InstanceTaskContext c, BackupVault vault) : ITaskHandler
{
    public string Kind => BackupTaskKinds.Delete;

    public async Task RunAsync(TaskRun run, CancellationToken cancellationToken)
    {
        await vault.Open().DeleteAsync(run.Task.InstanceId, cancellationToken);
        await c.Store.Backups.UpdateAsync(run.Task.InstanceId, new BackupChange { Deleted = true }, cancellationToken);
    }

    public Task FailAsync(TaskRecord task, Exception error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(error);
        return c.Store.Backups.UpdateAsync(task.InstanceId, new BackupChange { State = BackupStates.DeleteFailed, FaultMessage = error.Message }, cancellationToken);
    }
}
