using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Storage;
using Hoard.Core.Catalog;
using Hoard.Core.Configuration;
using Hoard.Core.Guests;
using Hoard.Core.Identity;
using Hoard.Core.Instances;
using Hoard.Core.Tasks;

namespace Hoard.Core.Backups;

/// <summary>A validated backup create (Trove's backup body).</summary>
/// <remarks><paramref name="ScheduleId"/> names the backup schedule that asks for it (its retention may delete it later).</remarks>
public sealed record CreateBackupRequest(string Name, string InstanceId, string? Description, string? ParentId, bool Incremental, string? ScheduleId = null);

/// <summary>Backups with Trove's rules: taken of a ready instance by its guest, sealed into backup storage, deleted unless a child needs them.</summary>
public sealed class BackupService(
    IManagementStore store,
    CatalogService catalog,
    PluginRegistry plugins,
    HoardOptions options,
    TaskEngine engine,
    Quotas.QuotaService quotas,
    TimeProvider time)
{
    public Task<BackupRecord> CreateAsync(AuthContext auth, CreateBackupRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(auth);
        return CreateAsync(auth.ProjectId, request, cancellationToken);
    }

    /// <summary>Creates a backup for <paramref name="projectId"/> (a user's request, or a backup schedule's run).</summary>
    public async Task<BackupRecord> CreateAsync(string projectId, CreateBackupRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var instance = await store.Instances.GetAsync(request.InstanceId, cancellationToken);
        if (instance is null || instance.ProjectId != projectId)
        {
            throw ApiException.NotFound($"Resource {request.InstanceId} cannot be found.");
        }

        if (instance.ClusterId is not null)
        {
            throw ApiException.Unprocessable($"Instance {instance.Id} is part of a cluster; back up a standalone instance.");
        }

        if (!InstanceStatus.IsReadyForAction(instance))
        {
            throw ApiException.Unprocessable($"Instance {instance.Id} is not currently available for an action to be performed (instance status was {InstanceStatus.ApiStatus(instance)}).");
        }

        var version = catalog.FindVersionById(instance.DatastoreVersionId)
            ?? throw new InvalidOperationException($"datastore version {instance.DatastoreVersionId} is not registered");
        var ofInstance = await store.Backups.ListAsync(projectId, instance.Id, null, 0, cancellationToken);
        if (ofInstance.Any(b => BackupStates.IsRunning(b.State)))
        {
            throw ApiException.Unprocessable($"Instance {instance.Id} is not currently available for an action to be performed (a backup of it is running).");
        }

        string? parentId = null;
        if (request.ParentId is not null || request.Incremental)
        {
            if (!plugins.Get<IDatastorePlugin>(PluginKind.Datastore, version.Datastore.Name).IncrementalBackups)
            {
                throw ApiException.Unprocessable($"Incremental backups are not supported for datastore {version.Datastore.Name}; take a full backup.");
            }

            // Trove's get_last_completed: the completed backup updated last. With none, Trove (and so Hoard) takes a
            // full backup, as the stock client's --incremental help says.
            parentId = request.ParentId is not null
                ? (await ParentAsync(projectId, instance.Id, request.ParentId, cancellationToken)).Id
                : ofInstance.Where(b => b.State == BackupStates.Completed).MaxBy(b => b.UpdatedAt)?.Id;
        }

        var now = time.GetUtcNow();
        var backup = new BackupRecord
        {
            Id = Guid.NewGuid().ToString(),
            Name = request.Name,
            Description = request.Description,
            ProjectId = projectId,
            InstanceId = instance.Id,
            ParentId = parentId,
            DatastoreVersionId = instance.DatastoreVersionId,
            State = BackupStates.New,
            ScheduleId = request.ScheduleId,
            CreatedAt = now,
            UpdatedAt = now,
        };
        var task = TaskRecords.Pending(BackupTaskKinds.Create, backup.Id, now);
        // The instance shows BACKUP from the moment the backup is acknowledged: a restart, delete or backup accepted after
        // this could otherwise win the race to the instance and fail the backup already promised.
        switch (await store.Backups.InsertWithTaskAsync(backup, task, quotas.ForInsert, claimInstance: true, cancellationToken))
        {
            case BackupInsert.InstanceBusy:
                var current = await store.Instances.GetAsync(instance.Id, cancellationToken);
                throw current is null
                    ? ApiException.NotFound($"Resource {instance.Id} cannot be found.")
                    : ApiException.Unprocessable($"Instance {instance.Id} is not currently available for an action to be performed (task status was {current.TaskStatus}).");
            case BackupInsert.ParentUnusable:
                // The parent changed between the checks above and the insert (deleted, or still being made).
                throw ApiException.BadRequest($"Backup {parentId} is no longer a completed backup of instance {instance.Id}; an incremental backup cannot build on it.");
            case BackupInsert.OverQuota:
                throw Quotas.QuotaService.Exceeded([QuotaResources.Backups]);
        }

        engine.Wake();
        return backup;
    }

    public async Task<BackupRecord> GetAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        var backup = await store.Backups.GetAsync(id, cancellationToken);
        return backup is not null && backup.ProjectId == projectId ? backup : throw ApiException.NotFound($"Backup {id} cannot be found.");
    }

    public async Task<(IReadOnlyList<BackupRecord> Page, string? NextMarker)> ListAsync(string projectId, string? instanceId, string? marker, int? limit, CancellationToken cancellationToken)
    {
        var size = Math.Min(limit ?? options.InstancesPageSize, options.InstancesPageSize);
        var rows = await store.Backups.ListAsync(projectId, instanceId, marker, size + 1, cancellationToken);
        return rows.Count > size ? (rows.Take(size).ToList(), rows[size - 1].Id) : (rows, null);
    }

    public async Task DeleteAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        _ = await GetAsync(projectId, id, cancellationToken);
        switch (await store.Backups.StartDeleteAsync(id, TaskRecords.Pending(BackupTaskKinds.Delete, id, time.GetUtcNow()), cancellationToken))
        {
            case BackupDeletion.Missing:
                throw ApiException.NotFound($"Backup {id} cannot be found.");
            case BackupDeletion.HasChildren:
                var child = (await store.Backups.ListAsync(projectId, null, null, 0, cancellationToken)).FirstOrDefault(b => b.ParentId == id);
                throw ApiException.Conflict(
                    $"Backup {id} cannot be deleted: incremental backup {child?.Id ?? "(of another project)"} builds on it; delete that one first.");
            case BackupDeletion.Busy:
                throw ApiException.Unprocessable($"Backup {id} cannot be deleted while it is being made or deleted.");
        }

        engine.Wake();
    }

    /// <summary>The named parent of an incremental backup: a completed backup of the same instance (Trove's rule).</summary>
    private async Task<BackupRecord> ParentAsync(string projectId, string instanceId, string parentId, CancellationToken cancellationToken)
    {
        var parent = await store.Backups.GetAsync(parentId, cancellationToken);
        if (parent is null || parent.ProjectId != projectId)
        {
            throw ApiException.NotFound($"Backup {parentId} cannot be found.");
        }

        if (parent.InstanceId != instanceId)
        {
            throw ApiException.BadRequest($"Backup {parentId} is a backup of instance {parent.InstanceId}, not of instance {instanceId}; an incremental backup builds on a backup of its own instance.");
        }

        return parent.State == BackupStates.Completed
            ? parent
            : throw ApiException.BadRequest($"Backup {parentId} cannot be the parent of an incremental backup: its status is {parent.State}, not COMPLETED.");
    }

    /// <summary>
    /// The backup a create restores from: a completed backup of the caller's project, of a datastore version the new
    /// instance runs (the same datastore; Trove's rule).
    /// </summary>
    public async Task<BackupRecord> RestorableAsync(string projectId, string backupRef, CancellationToken cancellationToken)
    {
        var backup = await store.Backups.GetAsync(backupRef, cancellationToken);
        if (backup is null || backup.ProjectId != projectId)
        {
            throw ApiException.NotFound($"Backup {backupRef} cannot be found.");
        }

        if (backup.State != BackupStates.Completed)
        {
            throw ApiException.BadRequest($"Backup {backupRef} cannot be restored: its status is {backup.State}, not COMPLETED.");
        }

        try
        {
            _ = await BackupChain.AncestorsAsync(store.Backups, backup, cancellationToken);
        }
        catch (BackupChainException e)
        {
            throw ApiException.BadRequest(e.Message);
        }

        return backup;
    }

}

/// <summary>Where backups are kept and the key they are sealed with, as the guest is told them.</summary>
public sealed class BackupVault(HoardOptions options, GuestSecrets secrets)
{
    /// <summary>The backup storage connection string ([DEFAULT] backup_storage).</summary>
    public string Storage => options.BackupStorage;

    /// <summary>The key, base64: [DEFAULT] backup_encryption_key, or one derived from the master key.</summary>
    public string Key => options.BackupEncryptionKey ?? secrets.BackupKey().ToConfiguration();

    public Hoard.Abstractions.Backups.IBackupStorage Open() => Hoard.Abstractions.Backups.BackupStorageConnection.Open(Storage);
}

public static class BackupTaskKinds
{
    public const string Create = "backup.create";
    public const string Delete = "backup.delete";
}
