using System.Text.Json;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Guest;
using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Storage;
using Hoard.Core.Catalog;
using Hoard.Core.Configuration;
using Hoard.Core.Guests;
using Hoard.Core.Identity;
using Hoard.Core.Placement;
using Hoard.Core.Tasks;

namespace Hoard.Core.Instances;

/// <summary>A validated create request.</summary>
public sealed record CreateInstanceRequest
{
    public required string Name { get; init; }

    public required string? FlavorRef { get; init; }

    public int? VolumeSize { get; init; }

    public string? DatastoreType { get; init; }

    public string? DatastoreVersion { get; init; }

    /// <summary>The request's databases and users (Trove's instance create body), checked by <see cref="SchemaChecks"/>.</summary>
    public InitialSchema Schema { get; init; } = InitialSchema.Empty;

    /// <summary>Trove's restorePoint.backupRef: the backup whose data the new instance starts with.</summary>
    public string? RestoreBackupRef { get; init; }

    /// <summary>Trove's configuration: the id of a configuration group of the same datastore version to start with.</summary>
    public string? ConfigurationId { get; init; }
}

/// <summary>What instance operations the API offers, with Trove's rules and messages.</summary>
public sealed class InstanceService(
    IManagementStore store,
    CatalogService catalog,
    PlacementService placement,
    Backups.BackupService backups,
    Configurations.ConfigurationService configurations,
    GuestHub hub,
    GuestSecrets secrets,
    PluginRegistry plugins,
    HoardOptions options,
    TaskEngine engine,
    Quotas.QuotaService quotas,
    TimeProvider time)
{
    public static readonly TimeSpan GuestCallTimeout = TimeSpan.FromSeconds(30);

    public async Task<(InstanceRecord Instance, string? RootPassword)> CreateAsync(AuthContext auth, CreateInstanceRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(auth);
        ArgumentNullException.ThrowIfNull(request);
        var flavor = request.FlavorRef is null ? null : await catalog.FindFlavorAsync(request.FlavorRef, auth.ProjectId, cancellationToken);
        if (flavor is null)
        {
            throw ApiException.BadRequest($"Resource {request.FlavorRef ?? "None"} cannot be found.");
        }

        var restore = request.RestoreBackupRef is null ? null : await backups.RestorableAsync(auth.ProjectId, request.RestoreBackupRef, cancellationToken);
        var restoreVersion = restore is null ? null : catalog.FindVersionById(restore.DatastoreVersionId);
        var datastore = request.DatastoreType is null && restoreVersion is not null ? restoreVersion.Datastore : catalog.ResolveDatastore(request.DatastoreType);
        var version = request.DatastoreVersion is null && restoreVersion is not null && restoreVersion.Datastore.Id == datastore.Id
            ? restoreVersion.Version
            : catalog.ResolveVersion(datastore, request.DatastoreVersion);
        if (restore is not null && restore.DatastoreVersionId != version.Id)
        {
            throw ApiException.BadRequest(
                $"Backup {restore.Id} is of {restoreVersion?.Datastore.Name ?? "another datastore"} {restoreVersion?.Version.Name}; it can only be restored into an instance of the same datastore version, not {datastore.Name} {version.Name}.");
        }

        var configuration = request.ConfigurationId is null ? null : await configurations.ForCreateAsync(auth.ProjectId, request.ConfigurationId, version.Id, cancellationToken);
        var plugin = plugins.Get<IDatastorePlugin>(PluginKind.Datastore, datastore.Name);
        if (request.VolumeSize is not null && !options.Raw.GetBool(datastore.Name, DatastoreOptionNames.VolumeSupport))
        {
            throw ApiException.NotImplemented("Volume support is not enabled.");
        }

        var schema = request.Schema with
        {
            Users = [.. request.Schema.Users.Select(u => u with { Host = plugin.Schema.HostOrDefault(u.Host) })],
        };
        SchemaChecks.CheckInitial(plugin, schema);

        var now = time.GetUtcNow();
        var id = Guid.NewGuid().ToString();
        var instance = new InstanceRecord
        {
            Id = id,
            Name = request.Name,
            ProjectId = auth.ProjectId,
            FlavorId = flavor.Id,
            DatastoreVersionId = version.Id,
            VolumeSize = request.VolumeSize,
            TaskStatus = InstanceTasks.Building,
            ServiceStatus = ServiceStatus.New.ToTroveName(),
            ServerStatus = ServerStatuses.Build,
            Pool = string.Empty, // placement picks it
            SecretHash = Secrets.Sha256Hex(secrets.GuestSecret(id)),
            RootEnabled = RootOnCreate(datastore.Name),
            ConfigurationId = configuration?.Id,
            CreatedAt = now,
            UpdatedAt = now,
        };
        var task = TaskRecords.Pending(InstanceTaskKinds.Create, id, now, Backups.RestorePlan.AddTo(schema.ToPayload(secrets), restore?.Id));

        // The request is acknowledged once this commits: from here the task engine owns it, across restarts.
        instance = await placement.InsertAsync(flavor, instance, task, quotas.ForInsert, cancellationToken);
        engine.Wake();
        return (instance, instance.RootEnabled ? secrets.RootPassword(id) : null);
    }

    public async Task<InstanceRecord> GetAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        var instance = await store.Instances.GetAsync(id, cancellationToken);
        // Another project's instance is indistinguishable from a missing one.
        return instance is not null && instance.ProjectId == projectId
            ? instance
            : throw ApiException.NotFound($"Resource {id} cannot be found.");
    }

    /// <summary>One page, and the marker of the next page when there is one.</summary>
    public async Task<(IReadOnlyList<InstanceRecord> Page, string? NextMarker)> ListAsync(string projectId, string? marker, int? limit, bool includeClustered, CancellationToken cancellationToken)
    {
        var size = Math.Min(limit ?? options.InstancesPageSize, options.InstancesPageSize);
        var rows = await store.Instances.ListAsync(projectId, marker, size + 1, includeClustered, cancellationToken);
        if (rows.Count > size)
        {
            var page = rows.Take(size).ToList();
            return (page, page[^1].Id);
        }

        return (rows, null);
    }

    public async Task DeleteAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        var instance = await GetStandaloneAsync(projectId, id, cancellationToken);
        if (instance.TaskStatus == InstanceTasks.Deleting)
        {
            return; // already being deleted: the same answer, no second task
        }

        if (instance.TaskStatus == InstanceTasks.Building)
        {
            throw ApiException.Unprocessable($"Instance {id} is not ready. (Status is BUILD).");
        }

        if (instance.TaskStatus is InstanceTasks.Rebooting or InstanceTasks.BackingUp)
        {
            throw ApiException.Unprocessable($"Instance {id} is not currently available for an action to be performed (task status was {instance.TaskStatus}).");
        }

        var task = TaskRecords.Pending(InstanceTaskKinds.Delete, id, time.GetUtcNow());
        if (!await store.Tasks.InsertForInstanceAsync(task, instance.TaskStatus, InstanceTasks.Deleting, cancellationToken))
        {
            throw ApiException.Unprocessable($"Instance {id} changed while it was being deleted; try again.");
        }

        engine.Wake();
    }

    public async Task RenameAsync(string projectId, string id, string name, CancellationToken cancellationToken)
    {
        _ = await GetAsync(projectId, id, cancellationToken);
        await store.Instances.UpdateAsync(id, new InstanceChange { Name = name }, cancellationToken);
    }

    public async Task RestartAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        _ = await GetStandaloneAsync(projectId, id, cancellationToken);
        var instance = await ReadyForActionAsync(projectId, id, cancellationToken);
        var task = TaskRecords.Pending(InstanceTaskKinds.Restart, id, time.GetUtcNow());
        if (!await store.Tasks.InsertForInstanceAsync(task, InstanceTasks.None, InstanceTasks.Rebooting, cancellationToken))
        {
            throw NotAvailable(instance);
        }

        engine.Wake();
    }

    public async Task<bool> RootEnabledAsync(string projectId, string id, CancellationToken cancellationToken) =>
        (await GetAsync(projectId, id, cancellationToken)).RootEnabled;

    public async Task<RootCredentials> EnableRootAsync(string projectId, string id, string? password, CancellationToken cancellationToken)
    {
        _ = await GetStandaloneAsync(projectId, id, cancellationToken);
        await RequireServingAsync(projectId, id, cancellationToken);
        var result = await hub.CallAsync(id, GuestMethods.EnableRoot, new { password }, GuestCallTimeout, cancellationToken);
        var credentials = result.Deserialize<RootCredentials>(WebJson)
            ?? throw new GuestCallException("the guest returned no root credentials");
        await store.Instances.UpdateAsync(id, new InstanceChange { RootEnabled = true }, cancellationToken);
        return credentials;
    }

    public async Task DisableRootAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        _ = await GetStandaloneAsync(projectId, id, cancellationToken);
        var instance = await RequireServingAsync(projectId, id, cancellationToken);
        if (!instance.RootEnabled)
        {
            throw ApiException.NotFound("Root user has never been enabled on the instance.");
        }

        await hub.CallAsync(id, GuestMethods.DisableRoot, null, GuestCallTimeout, cancellationToken);
    }

    /// <summary>
    /// The caller's instance, if it is not a cluster member: members are created, deleted and given root through
    /// their cluster (Trove's ClusterInstanceOperationNotSupported, answered as a 422 rather than Trove's 501).
    /// </summary>
    public async Task<InstanceRecord> GetStandaloneAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        var instance = await GetAsync(projectId, id, cancellationToken);
        return instance.ClusterId is null
            ? instance
            : throw ApiException.Unprocessable($"Operation not supported for instances that are part of a cluster (instance {id} is a member of cluster {instance.ClusterId}).");
    }

    /// <summary>The caller's instance, if its database serves: Trove's 422 "not ready" otherwise.</summary>
    public async Task<InstanceRecord> RequireServingAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        var instance = await GetAsync(projectId, id, cancellationToken);
        if (instance.TaskStatus != InstanceTasks.None || ServiceStatusNames.Parse(instance.ServiceStatus) != ServiceStatus.Running)
        {
            // Trove names the guest's status; while a task runs, the task says more (reboot, build, shutdown).
            var status = instance.TaskStatus != InstanceTasks.None
                ? InstanceStatus.ApiStatus(instance)
                : ServiceStatusNames.Parse(instance.ServiceStatus).ToTroveName();
            throw ApiException.Unprocessable($"Instance {id} is not ready, status: {status.ToLowerInvariant()}.");
        }

        return instance;
    }

    private async Task<InstanceRecord> ReadyForActionAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        var instance = await GetAsync(projectId, id, cancellationToken);
        return InstanceStatus.IsReadyForAction(instance) ? instance : throw NotAvailable(instance);
    }

    private static ApiException NotAvailable(InstanceRecord instance) =>
        instance.TaskStatus != InstanceTasks.None
            ? ApiException.Unprocessable($"Instance {instance.Id} is not currently available for an action to be performed (task status was {instance.TaskStatus}).")
            : ApiException.Unprocessable($"Instance {instance.Id} is not currently available for an action to be performed (instance status was {InstanceStatus.ApiStatus(instance)}).");

    /// <summary>[datastore] root_on_create; the plugin declares its default.</summary>
    private bool RootOnCreate(string datastore) => options.Raw.GetBool(datastore, DatastoreOptionNames.RootOnCreate);


    internal static readonly JsonSerializerOptions WebJson = new(JsonSerializerDefaults.Web);
}

public static class InstanceTaskKinds
{
    public const string Create = "instance.create";
    public const string Delete = "instance.delete";
    public const string Restart = "instance.restart";
}
