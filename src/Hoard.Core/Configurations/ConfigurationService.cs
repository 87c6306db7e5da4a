using System.Text.Json;
using System.Text.Json.Nodes;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Guest;
using Hoard.Abstractions.Storage;
using Hoard.Core.Catalog;
using Hoard.Core.Configuration;
using Hoard.Core.Guests;
using Hoard.Core.Identity;
using Hoard.Core.Instances;
using Hoard.Core.Tasks;

namespace Hoard.Core.Configurations;

/// <summary>A validated configuration group create (Trove's configuration body).</summary>
public sealed record CreateConfigurationRequest(string Name, string? Description, string? DatastoreType, string? DatastoreVersion, JsonObject Values);

/// <summary>
/// Configuration groups with Trove's rules: values checked against the rules the engine gave, attached to instances of
/// the same datastore version, applied to every attached instance when they change (live where the engine can, otherwise
/// the instance shows RESTART_REQUIRED until it is restarted), deleted only once no instance has them.
/// </summary>
public sealed class ConfigurationService(
    IManagementStore store,
    CatalogService catalog,
    ParameterCatalog parameters,
    GuestHub hub,
    HoardOptions options,
    TaskEngine engine,
    TimeProvider time)
{
    public async Task<ConfigurationRecord> CreateAsync(AuthContext auth, CreateConfigurationRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(auth);
        ArgumentNullException.ThrowIfNull(request);
        var datastore = catalog.ResolveDatastore(request.DatastoreType);
        var version = new DatastoreVersionView(datastore, catalog.ResolveVersion(datastore, request.DatastoreVersion));
        var values = await ValidateAsync(version, request.Values, cancellationToken);
        var now = time.GetUtcNow();
        var configuration = new ConfigurationRecord
        {
            Id = Guid.NewGuid().ToString(),
            Name = request.Name,
            Description = request.Description,
            ProjectId = auth.ProjectId,
            DatastoreVersionId = version.Version.Id,
            Values = values.ToJsonString(),
            CreatedAt = now,
            UpdatedAt = now,
        };
        await store.Configurations.InsertAsync(configuration, cancellationToken);
        return configuration;
    }

    public async Task<ConfigurationRecord> GetAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        var configuration = await store.Configurations.GetAsync(id, cancellationToken);
        return configuration is not null && configuration.ProjectId == projectId
            ? configuration
            : throw ApiException.NotFound($"Configuration group with ID {id} could not be found.");
    }

    /// <summary>A live group by id, whoever owns it (for views of records already checked), or null.</summary>
    public Task<ConfigurationRecord?> FindAsync(string id, CancellationToken cancellationToken) => store.Configurations.GetAsync(id, cancellationToken);

    public async Task<(IReadOnlyList<ConfigurationRecord> Page, string? NextMarker)> ListAsync(string projectId, string? marker, int? limit, CancellationToken cancellationToken)
    {
        var size = Math.Min(limit ?? options.InstancesPageSize, options.InstancesPageSize);
        var rows = await store.Configurations.ListAsync(projectId, marker, size + 1, cancellationToken);
        return rows.Count > size ? (rows.Take(size).ToList(), rows[size - 1].Id) : (rows, null);
    }

    /// <summary>How many live instances have the group attached (Trove's instance_count).</summary>
    public async Task<int> InstanceCountAsync(string id, CancellationToken cancellationToken) =>
        (await store.Configurations.ListInstancesAsync(id, cancellationToken)).Count;

    /// <summary>The live instances the group is attached to, oldest first.</summary>
    public async Task<IReadOnlyList<InstanceRecord>> InstancesAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        _ = await GetAsync(projectId, id, cancellationToken);
        var instances = new List<InstanceRecord>();
        foreach (var instanceId in await store.Configurations.ListInstancesAsync(id, cancellationToken))
        {
            if (await store.Instances.GetAsync(instanceId, cancellationToken) is { Deleted: false } instance)
            {
                instances.Add(instance);
            }
        }

        return instances;
    }

    /// <summary>
    /// PUT: the values replace the group's whole (and the name and description, when given); PATCH (<paramref name="merge"/>):
    /// the values are added to the group's, replacing those of the same name. Either way every attached instance gets them.
    /// </summary>
    public async Task UpdateAsync(string projectId, string id, string? name, string? description, JsonObject values, bool merge, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(values);
        var configuration = await GetAsync(projectId, id, cancellationToken);
        var version = VersionOf(configuration);
        var valid = await ValidateAsync(version, values, cancellationToken);
        if (merge)
        {
            var merged = ConfigurationRules.Parse(configuration.Values);
            foreach (var (key, value) in valid)
            {
                merged[key] = value?.DeepClone();
            }

            valid = merged;
        }

        var change = new ConfigurationChange { Name = name, Description = description, Values = valid.ToJsonString(), UpdatedAt = time.GetUtcNow() };
        if (!await store.Configurations.UpdateAsync(id, change, cancellationToken))
        {
            throw ApiException.NotFound($"Configuration group with ID {id} could not be found.");
        }

        foreach (var instanceId in await store.Configurations.ListInstancesAsync(id, cancellationToken))
        {
            await QueueApplyAsync(instanceId, cancellationToken);
        }
    }

    public async Task DeleteAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        _ = await GetAsync(projectId, id, cancellationToken);
        switch (await store.Configurations.DeleteAsync(id, cancellationToken))
        {
            case ConfigurationDeletion.Missing:
                throw ApiException.NotFound($"Configuration group with ID {id} could not be found.");
            case ConfigurationDeletion.InUse:
                throw ApiException.BadRequest(
                    "A configuration group cannot be deleted if it is associated with one or more non-terminated instances. "
                    + "Detach the configuration group from all non-terminated instances and please try again.");
        }
    }

    /// <summary>
    /// The group a new instance of <paramref name="versionId"/> is created with: the caller's, of the same datastore
    /// version.
    /// </summary>
    public async Task<ConfigurationRecord> ForCreateAsync(string projectId, string id, string versionId, CancellationToken cancellationToken)
    {
        var configuration = await GetAsync(projectId, id, cancellationToken);
        CheckSameVersion(configuration, versionId);
        return configuration;
    }

    /// <summary>Attaches the group to a ready standalone instance that has none; its values are applied by a task.</summary>
    public async Task AttachAsync(InstanceRecord instance, string configurationId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var configuration = await store.Configurations.GetAsync(configurationId, cancellationToken);
        if (configuration is null || configuration.ProjectId != instance.ProjectId)
        {
            throw ApiException.NotFound($"Configuration group id: {configurationId} could not be found.");
        }

        if (instance.ConfigurationId is { } current)
        {
            throw ApiException.BadRequest($"Instance {instance.Id} already has a Configuration Group attached: {current}.");
        }

        CheckSameVersion(configuration, instance.DatastoreVersionId);
        RequireReady(instance);
        switch (await store.Configurations.AttachAsync(instance.Id, null, configuration.Id, cancellationToken))
        {
            case ConfigurationAttach.MissingInstance:
                throw ApiException.NotFound($"Instance {instance.Id} cannot be found.");
            case ConfigurationAttach.MissingConfiguration:
                throw ApiException.NotFound($"Configuration group id: {configurationId} could not be found.");
            case ConfigurationAttach.Changed:
                throw ApiException.BadRequest($"Instance {instance.Id} had a configuration group attached or detached meanwhile; try again.");
        }

        await QueueApplyAsync(instance.Id, cancellationToken);
    }

    /// <summary>Detaches the instance's group; its values go back to the engine's defaults (a restart may be needed).</summary>
    public async Task DetachAsync(InstanceRecord instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        if (instance.ConfigurationId is not { } current)
        {
            return; // nothing attached: Trove answers 202 all the same
        }

        RequireReady(instance);
        if (await store.Configurations.AttachAsync(instance.Id, current, null, cancellationToken) == ConfigurationAttach.Changed)
        {
            throw ApiException.BadRequest($"Instance {instance.Id} had its configuration group changed meanwhile; try again.");
        }

        await QueueApplyAsync(instance.Id, cancellationToken);
    }

    /// <summary>The running server's value of every parameter a group can set (configuration default).</summary>
    public async Task<IReadOnlyDictionary<string, string>> EffectiveAsync(InstanceRecord instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var reply = await hub.CallAsync(instance.Id, GuestMethods.GetConfiguration, null, InstanceService.GuestCallTimeout, cancellationToken);
        return reply.Deserialize<EffectiveConfiguration>(GuestArguments.Json)?.Values
            ?? throw new GuestCallException("the guest returned no configuration");
    }

    /// <summary>The parameters of a datastore version, named by datastore and version (ids or names) or by version id alone.</summary>
    public async Task<(DatastoreVersionView Version, IReadOnlyList<ConfigurationParameter> Parameters)> ParametersAsync(
        string? datastoreName, string versionIdOrName, CancellationToken cancellationToken)
    {
        DatastoreVersionView version;
        if (datastoreName is null)
        {
            version = catalog.FindVersionById(versionIdOrName) ?? throw ApiException.BadRequest($"Datastore version '{versionIdOrName}' cannot be found.");
        }
        else
        {
            var datastore = catalog.FindDatastore(datastoreName) ?? throw ApiException.NotFound($"Datastore '{datastoreName}' cannot be found.");
            version = new DatastoreVersionView(
                datastore,
                catalog.FindVersion(datastore, versionIdOrName) ?? throw ApiException.BadRequest($"Datastore version '{versionIdOrName}' cannot be found."));
        }

        return (version, await parameters.GetAsync(version, cancellationToken));
    }

    public DatastoreVersionView VersionOf(ConfigurationRecord configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return catalog.FindVersionById(configuration.DatastoreVersionId)
            ?? throw new InvalidOperationException($"datastore version {configuration.DatastoreVersionId} is not registered");
    }

    private async Task<JsonObject> ValidateAsync(DatastoreVersionView version, JsonObject values, CancellationToken cancellationToken) =>
        ConfigurationRules.Validate(await parameters.GetAsync(version, cancellationToken), values, $"{version.Datastore.Name} {version.Version.Name}");

    private void CheckSameVersion(ConfigurationRecord configuration, string versionId)
    {
        if (configuration.DatastoreVersionId != versionId)
        {
            // Trove's message names the version ids; the names follow, for people.
            var ours = catalog.FindVersionById(configuration.DatastoreVersionId);
            var theirs = catalog.FindVersionById(versionId);
            throw ApiException.BadRequest(
                $"Datastore Version on Configuration {configuration.DatastoreVersionId} does not match the Datastore Version on the instance {versionId} "
                + $"({ours?.Datastore.Name} {ours?.Version.Name} vs {theirs?.Datastore.Name} {theirs?.Version.Name}).");
        }
    }

    private static void RequireReady(InstanceRecord instance)
    {
        if (instance.ClusterId is not null)
        {
            throw ApiException.Unprocessable($"Operation not supported for instances that are part of a cluster (instance {instance.Id} is a member of cluster {instance.ClusterId}).");
        }

        // Trove's rule: ACTIVE with no task (so a RESTART_REQUIRED instance is restarted first).
        var status = InstanceStatus.ApiStatus(instance);
        if (status != "ACTIVE")
        {
            throw ApiException.BadRequest($"The operation you have requested cannot be executed because the instance status is currently: {status}.");
        }
    }

    /// <summary>
    /// At start: queues an apply for every instance with a group. A group change is stored before its applies are queued;
    /// a control plane that died between the two left instances with old values, and this gives them the stored ones
    /// (an apply of the values an instance already has changes nothing).
    /// </summary>
    public async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        foreach (var instance in await store.Instances.ListAsync(null, null, 0, includeClustered: false, cancellationToken))
        {
            if (instance.ConfigurationId is not null && instance.TaskStatus == InstanceTasks.None)
            {
                try
                {
                    await QueueApplyAsync(instance.Id, cancellationToken);
                }
                catch (ApiException)
                {
                    // It kept changing: whatever changes it now (a task of its own) is not lost, and the next start tries again.
                }
            }
        }
    }

    /// <summary>Queues the task that gives the instance its group's current values (whatever they are when it runs).</summary>
    private async Task QueueApplyAsync(string instanceId, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var instance = await store.Instances.GetAsync(instanceId, cancellationToken);
            if (instance is null || instance.Deleted)
            {
                return;
            }

            // Leaves the instance's task status as it is; only fails when it changed since it was read.
            var task = TaskRecords.Pending(ConfigurationTaskKinds.Apply, instanceId, time.GetUtcNow());
            if (await store.Tasks.InsertForInstanceAsync(task, instance.TaskStatus, instance.TaskStatus, cancellationToken))
            {
                engine.Wake();
                return;
            }
        }

        throw ApiException.Unprocessable($"Instance {instanceId} kept changing while its configuration was being queued; try again.");
    }
}

public static class ConfigurationTaskKinds
{
    public const string Apply = "configuration.apply";
}
