using Hoard.Abstractions.Compute;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Guest;
using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Storage;
using Hoard.Core.Catalog;
using Hoard.Core.Configuration;
using Hoard.Core.Guests;
using Hoard.Core.Tasks;

namespace Hoard.Core.Instances;

/// <summary>What the instance task handlers share.</summary>
public sealed class InstanceTaskContext(
    IManagementStore store,
    CatalogService catalog,
    ComputePools pools,
    GuestHub hub,
    Conductor conductor,
    GuestSecrets secrets,
    PluginRegistry plugins,
    HoardOptions options,
    TimeProvider time)
{
    public IManagementStore Store { get; } = store;

    public CatalogService Catalog { get; } = catalog;

    public ComputePools Pools { get; } = pools;

    public GuestHub Hub { get; } = hub;

    public Conductor Conductor { get; } = conductor;

    public GuestSecrets Secrets { get; } = secrets;

    public HoardOptions Options { get; } = options;

    public TimeProvider Time { get; } = time;

    public async Task<InstanceRecord> LoadAsync(string id, CancellationToken cancellationToken) =>
        await Store.Instances.GetAsync(id, cancellationToken) ?? throw new InvalidOperationException($"instance {id} is gone");

    /// <summary>How long a create of this datastore may take: [datastore] usage_timeout (the plugin declares its default).</summary>
    public TimeSpan UsageTimeout(string datastore) =>
        TimeSpan.FromSeconds(Options.Raw.GetInt(datastore, DatastoreOptionNames.UsageTimeout));

    /// <summary>The guest-side options of the datastore's group, as configured, for the instance's guest-info.</summary>
    public Dictionary<string, string> GuestOptions(string datastore) =>
        plugins.Get<IDatastorePlugin>(PluginKind.Datastore, datastore).Options
            .Where(o => o.Side == OptionSide.Guest)
            .ToDictionary(o => o.Name, o => Options.Raw.GetString(datastore, o.Name), StringComparer.Ordinal);

    /// <summary>Makes sure the pool's agent runs and has claimed the instance.</summary>
    public async Task EnsureClaimedAsync(InstanceRecord instance, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (Hub.IsClaimed(instance.Id))
        {
            return;
        }

        var driver = Pools.Get(instance.Pool);
        if (!Hub.IsConnected(instance.Pool))
        {
            await driver.EnsureAgentAsync(cancellationToken);
        }

        await Hub.AdoptAsync(instance.Id, instance.Pool, timeout, cancellationToken);
    }

    /// <summary>
    /// A guest call on the instance through the agent that claimed it. An agent that dies mid-call (SIGKILL, OOM) is
    /// replaced by the supervisor; every guest step is idempotent (the control plane repeats them after its own crash
    /// too), so the call is made again through the new agent until <paramref name="timeout"/>, rather than failing an
    /// acknowledged request half done. A refusal or a timeout still fails at once.
    /// </summary>
    public async Task<System.Text.Json.JsonElement> CallGuestAsync(InstanceRecord instance, string method, object? args, TimeSpan timeout, CancellationToken cancellationToken, Func<bool>? stillNeeded = null)
    {
        var deadline = Time.GetUtcNow() + timeout;
        while (true)
        {
            try
            {
                await EnsureClaimedAsync(instance, Left(deadline), cancellationToken);
                return await Hub.CallAsync(instance.Id, method, args, Left(deadline), cancellationToken);
            }
            catch (GuestCallException e) when (e.AgentLost && Time.GetUtcNow() + AgentLostBackoff < deadline)
            {
                await Task.Delay(AgentLostBackoff, Time, cancellationToken);
                if (stillNeeded is not null && !stillNeeded())
                {
                    return default;
                }
            }
        }
    }

    private static readonly TimeSpan AgentLostBackoff = TimeSpan.FromMilliseconds(250);

    private TimeSpan Left(DateTimeOffset deadline)
    {
        var left = deadline - Time.GetUtcNow();
        return left > TimeSpan.FromMilliseconds(1) ? left : TimeSpan.FromMilliseconds(1);
    }

    /// <summary>Destroys an instance: the guest stops and removes it, the driver removes its place, the record goes. Idempotent.</summary>
    public async Task TeardownAsync(InstanceRecord instance, CancellationToken cancellationToken)
    {
        var driver = Pools.Get(instance.Pool);
        if (driver.ListProvisioned().Contains(instance.Id))
        {
            // An agent that died after removing the directory but before answering leaves nothing for the next to destroy.
            await CallGuestAsync(instance, GuestMethods.Destroy, null, TeardownAgentTimeout, cancellationToken, () => driver.ListProvisioned().Contains(instance.Id));
        }

        Hub.Forget(instance.Id);
        await driver.DestroyAsync(instance.Id, cancellationToken);
        await Store.Instances.UpdateAsync(instance.Id, new InstanceChange { Deleted = true, ServiceStatus = ServiceStatus.Deleted.ToTroveName(), ServerStatus = ServerStatuses.Deleted }, cancellationToken);
        Conductor.Forget(instance.Id);
    }

    private static readonly TimeSpan TeardownAgentTimeout = TimeSpan.FromSeconds(60);

    /// <summary>What prepare needs beyond the initial schema: root (root_on_create, or the cluster's root) and cluster membership.</summary>
    public async Task<PrepareArguments> PrepareArgumentsAsync(InstanceRecord instance, string payload, CancellationToken cancellationToken)
    {
        var schema = InitialSchema.Open(payload, Secrets);
        var prepare = new PrepareArguments
        {
            RootPassword = instance.RootEnabled ? Secrets.RootPassword(instance.Id) : null,
            Databases = schema.Databases,
            Users = schema.Users,
        };
        if (instance.ClusterId is null)
        {
            // A warm member starts in cluster mode with a placeholder membership; the cluster that adopts it gives it its own.
            return instance.InstanceType != ClusterMemberTypes.Warm
                ? prepare
                : prepare with { Cluster = Clusters.WarmMembers.PlaceholderMembership(instance.Id, Secrets) };
        }

        // A cluster member shares the cluster's secret, and its root password when root is enabled on the cluster.
        var cluster = await Store.Clusters.GetAsync(instance.ClusterId, cancellationToken);
        return prepare with
        {
            RootPassword = cluster?.RootSecret is { } sealedRoot ? Secrets.Unseal(sealedRoot) : null,
            Cluster = new Abstractions.Clusters.ClusterMembership(instance.ClusterId, Secrets.ClusterSecret(instance.ClusterId))
            {
                Replica = instance.InstanceType == ClusterMemberTypes.Replica,
            },
        };
    }
}

/// <summary>
/// Builds an instance: an address, a place in the pool with its guest-info, the guest's claim, prepare.
/// </summary>
public sealed class CreateInstanceHandler(InstanceTaskContext c, Backups.BackupVault vault) : ITaskHandler
{
    public string Kind => InstanceTaskKinds.Create;

    public async Task RunAsync(TaskRun run, CancellationToken cancellationToken)
    {
        var instance = await c.LoadAsync(run.Task.InstanceId, cancellationToken);
        var version = c.Catalog.FindVersionById(instance.DatastoreVersionId)
            ?? throw new InvalidOperationException($"datastore version {instance.DatastoreVersionId} is not registered");
        var flavor = await c.Store.Flavors.GetAsync(instance.FlavorId, cancellationToken)
            ?? throw new InvalidOperationException($"flavor {instance.FlavorId} is gone");
        var deadline = instance.CreatedAt + c.UsageTimeout(version.Datastore.Name);
        using var timeout = new CancellationTokenSource(Remaining(deadline));
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked.Token;
        var driver = c.Pools.Get(instance.Pool);
        var port = DefaultPort(version.Datastore.Name);
        try
        {
            if (run.Step < 1)
            {
                instance = await AssignAddressAsync(instance, driver, port, token);
                await run.AdvanceAsync(1, token);
            }

            if (run.Step < 2)
            {
                await driver.ProvisionAsync(
                    new ComputeRequest
                    {
                        InstanceId = instance.Id,
                        Datastore = version.Datastore.Name,
                        Version = version.Version.Name,
                        Port = instance.Port ?? port,
                        RamMb = flavor.RamMb,
                        Vcpus = flavor.Vcpus,
                        GuestSecret = c.Secrets.GuestSecret(instance.Id),
                        DatastoreOptions = c.GuestOptions(version.Datastore.Name),
                    },
                    instance.Address!,
                    token);
                await c.Store.Instances.UpdateAsync(instance.Id, new InstanceChange { ServiceStatus = ServiceStatus.Building.ToTroveName() }, token);
                await run.AdvanceAsync(2, token);
            }

            await PrepareAsync(instance, run.Task.Payload, deadline, token);
            if (Backups.RestorePlan.BackupOf(run.Task.Payload) is { } backupId)
            {
                await RestoreAsync(instance, backupId, token);
            }

            // The group it was created with; a restart now, before anyone uses it, rather than RESTART_REQUIRED later.
            if (instance.ConfigurationId is not null && await Configurations.ConfigurationSteps.ApplyAsync(c, instance, Remaining(deadline), token))
            {
                await c.Hub.CallAsync(instance.Id, GuestMethods.Restart, null, Remaining(deadline), token);
            }

            c.Conductor.Note(instance.Id, ServiceStatus.Running);
            await c.Store.Instances.UpdateIfTaskAsync(
                instance.Id,
                InstanceTasks.Building,
                new InstanceChange { TaskStatus = InstanceTasks.None, ServiceStatus = ServiceStatus.Running.ToTroveName(), ServerStatus = ServerStatuses.Active },
                cancellationToken);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"instance did not become ready within the {version.Datastore.Name} usage_timeout");
        }
    }

    /// <summary>
    /// The guest's claim and prepare; an agent that dies mid-prepare does not fail the create (<see cref="InstanceTaskContext.CallGuestAsync"/>),
    /// which would leave the server the dead agent started running under an ERROR instance.
    /// </summary>
    private async Task PrepareAsync(InstanceRecord instance, string payload, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        // CallGuestAsync claims the instance itself (again after each lost agent); the arguments need no guest.
        var prepare = await c.PrepareArgumentsAsync(instance, payload, cancellationToken);
        await c.CallGuestAsync(instance, GuestMethods.Prepare, prepare, Remaining(deadline), cancellationToken);
    }

    /// <summary>
    /// Puts a backup's data into the prepared instance. The guest checks the stored bytes against the recorded checksum
    /// and the key before the engine sees any of it; a refusal becomes the instance's fault, naming the backup.
    /// </summary>
    private async Task RestoreAsync(InstanceRecord instance, string backupId, CancellationToken cancellationToken)
    {
        var backup = await c.Store.Backups.GetAsync(backupId, cancellationToken)
            ?? throw new Backups.BackupRestoreException($"Backup {backupId} was deleted before it could be restored.", new InvalidOperationException("no such backup"));
        IReadOnlyList<BackupRecord> ancestors;
        try
        {
            ancestors = await Backups.BackupChain.AncestorsAsync(c.Store.Backups, backup, cancellationToken);
        }
        catch (Backups.BackupChainException e)
        {
            throw new Backups.BackupRestoreException(e.Message, e);
        }

        try
        {
            await c.Hub.CallAsync(
                instance.Id,
                GuestMethods.RestoreBackup,
                new RestoreBackupArguments(backup.Id, backup.Location ?? string.Empty, backup.Checksum ?? string.Empty, vault.Storage, vault.Key)
                {
                    Ancestors = [.. ancestors.Select(a => new StoredBackupRef(a.Id, a.Location ?? string.Empty, a.Checksum ?? string.Empty))],
                },
                Backups.CreateBackupHandler.BackupTimeout,
                cancellationToken);
        }
        catch (GuestCallException e)
        {
            throw new Backups.BackupRestoreException($"Backup {backup.Id} was not restored: {e.Message}", e);
        }
    }

    public async Task FailAsync(TaskRecord task, Exception error, CancellationToken cancellationToken)
    {
        if (error is Backups.BackupRestoreException)
        {
            await c.Store.Instances.UpdateAsync(
                task.InstanceId,
                new InstanceChange { TaskStatus = InstanceTasks.BuildingErrorServer, ServerStatus = ServerStatuses.Error, FaultMessage = error.Message, FaultDetails = error.InnerException?.Message ?? error.Message },
                cancellationToken);
            return;
        }

        var timedOut = error is TimeoutException || (error is GuestCallException && error.Message.Contains("within", StringComparison.Ordinal));
        await c.Store.Instances.UpdateAsync(
            task.InstanceId,
            new InstanceChange
            {
                TaskStatus = timedOut ? InstanceTasks.BuildingErrorTimeout : InstanceTasks.BuildingErrorServer,
                ServerStatus = ServerStatuses.Error,
                FaultMessage = timedOut ? "Timed out waiting for the instance to become ready." : "The instance could not be built.",
                FaultDetails = error.Message,
            },
            cancellationToken);
    }

    private async Task<InstanceRecord> AssignAddressAsync(InstanceRecord instance, IComputeDriver driver, int port, CancellationToken cancellationToken)
    {
        if (instance.Address is not null)
        {
            return instance;
        }

        // Concurrent creates race for the lowest free address; the store's unique index decides, losers retry.
        for (var attempt = 0; attempt < 64; attempt++)
        {
            var inUse = (await c.Store.Instances.ListAddressesAsync(instance.Pool, cancellationToken)).ToHashSet(StringComparer.Ordinal);
            var address = driver.PickAddress(inUse);
            if (await c.Store.Instances.TryAssignAddressAsync(instance.Id, instance.Pool, address, port, cancellationToken))
            {
                return instance with { Address = address, Port = port };
            }
        }

        throw new InvalidOperationException($"no free address in pool {instance.Pool}");
    }

    private int DefaultPort(string datastore)
    {
        var configured = c.Options.Raw.GetString(datastore, "tcp_ports");
        var first = configured.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        return int.TryParse(first, out var port) ? port : throw new InvalidOperationException($"[{datastore}] tcp_ports names no port");
    }

    private TimeSpan Remaining(DateTimeOffset deadline)
    {
        var left = deadline - c.Time.GetUtcNow();
        return left > TimeSpan.FromMilliseconds(1) ? left : TimeSpan.FromMilliseconds(1);
    }
}

/// <summary>Deletes an instance: the guest stops and removes it, the driver removes its place, the record goes.</summary>
public sealed class DeleteInstanceHandler(InstanceTaskContext c) : ITaskHandler
{
    public string Kind => InstanceTaskKinds.Delete;

    public async Task RunAsync(TaskRun run, CancellationToken cancellationToken)
    {
        await c.TeardownAsync(await c.LoadAsync(run.Task.InstanceId, cancellationToken), cancellationToken);

        // Its backups stay (they can be restored); its backup schedules have nothing left to back up.
        await c.Store.BackupSchedules.DeleteForInstanceAsync(run.Task.InstanceId, cancellationToken);
    }

    public Task FailAsync(TaskRecord task, Exception error, CancellationToken cancellationToken) =>
        c.Store.Instances.UpdateAsync(
            task.InstanceId,
            new InstanceChange { TaskStatus = InstanceTasks.None, ServerStatus = ServerStatuses.Error, FaultMessage = "The instance could not be deleted.", FaultDetails = error.Message },
            cancellationToken);
}

/// <summary>Restarts the database of an instance through its guest.</summary>
public sealed class RestartInstanceHandler(InstanceTaskContext c) : ITaskHandler
{
    public string Kind => InstanceTaskKinds.Restart;

    public async Task RunAsync(TaskRun run, CancellationToken cancellationToken)
    {
        var instance = await c.LoadAsync(run.Task.InstanceId, cancellationToken);
        await c.EnsureClaimedAsync(instance, InstanceService.GuestCallTimeout, cancellationToken);
        await c.Hub.CallAsync(instance.Id, GuestMethods.Restart, null, InstanceService.GuestCallTimeout, cancellationToken);
        c.Conductor.Note(instance.Id, ServiceStatus.Running);
        await c.Store.Instances.UpdateIfTaskAsync(
            instance.Id,
            InstanceTasks.Rebooting,
            new InstanceChange { TaskStatus = InstanceTasks.None, ServiceStatus = ServiceStatus.Running.ToTroveName() },
            cancellationToken);
    }

    public Task FailAsync(TaskRecord task, Exception error, CancellationToken cancellationToken) =>
        c.Store.Instances.UpdateAsync(
            task.InstanceId,
            new InstanceChange { TaskStatus = InstanceTasks.None, ServiceStatus = ServiceStatus.Shutdown.ToTroveName(), FaultMessage = "The instance could not be restarted.", FaultDetails = error.Message },
            cancellationToken);
}
