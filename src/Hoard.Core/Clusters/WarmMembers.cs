using Hoard.Abstractions.Clusters;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Storage;
using Hoard.Core.Catalog;
using Hoard.Core.Configuration;
using Hoard.Core.Guests;
using Hoard.Core.Identity;
using Hoard.Core.Instances;
using Hoard.Core.Placement;
using Hoard.Core.Tasks;
using Microsoft.Extensions.Logging;

namespace Hoard.Core.Clusters;

/// <summary>
/// Keeps <c>[datastore] cluster_warm_members</c> cluster-mode members built and running ahead of any cluster, so a
/// cluster create adopts servers that are ready to serve: a new Redis master reports cluster_state:ok only about
/// 2 s after it starts (CLUSTER_WRITABLE_DELAY), however fast the rest is. Warm members are instances of no
/// project, built by the ordinary create task; a create moves them into its cluster, and this loop replaces them.
/// </summary>
public sealed partial class WarmMembers(
    IManagementStore store,
    CatalogService catalog,
    PlacementService placement,
    GuestSecrets secrets,
    HoardOptions options,
    TaskEngine engine,
    TimeProvider time,
    ILogger<WarmMembers> logger)
{
    /// <summary>The project of warm members: none a caller can have, so no listing shows them.</summary>
    public const string NoProject = "";

    private static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(2);
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);

    /// <summary>Asks for a top-up now (a create just adopted some).</summary>
    public void Wake() => _wake.Release();

    /// <summary>The membership a warm member is prepared with until a cluster adopts it: a cluster of its own, holding slot 0.</summary>
    public static ClusterMembership PlaceholderMembership(string instanceId, GuestSecrets secrets)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        var cluster = "warm-" + instanceId;
        return new ClusterMembership(cluster, secrets.ClusterSecret(cluster)) { Warm = true };
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await TopUpAsync(cancellationToken);
                await _wake.WaitAsync(CheckEvery, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                LogTopUpFailed(e);
                await Task.Delay(CheckEvery, time, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Builds the missing warm members of every datastore with clusters, and removes broken or surplus ones.</summary>
    public async Task TopUpAsync(CancellationToken cancellationToken)
    {
        foreach (var datastore in catalog.Datastores)
        {
            if (string.IsNullOrEmpty(options.Raw.GetString(datastore.Name, DatastoreOptionNames.ClusterStrategy))
                || datastore.DefaultVersionId is null
                || catalog.FindVersion(datastore, datastore.DefaultVersionId) is not { } version)
            {
                continue;
            }

            var wanted = options.Raw.GetInt(datastore.Name, DatastoreOptionNames.ClusterWarmMembers);
            var flavorName = options.Raw.GetString(datastore.Name, DatastoreOptionNames.ClusterWarmFlavor);
            var flavor = catalog.FindFlavor(flavorName, null);
            if (flavor is null)
            {
                if (wanted > 0)
                {
                    LogNoFlavor(datastore.Name, flavorName);
                }

                continue;
            }

            var warm = await store.Clusters.ListWarmAsync(version.Id, flavor.Id, cancellationToken);
            var broken = warm.Where(w => InstanceTasks.IsError(w.TaskStatus) || w.ServerStatus == ServerStatuses.Error).ToList();
            var healthy = warm.Where(w => !broken.Contains(w) && w.TaskStatus != InstanceTasks.Deleting).ToList();
            foreach (var surplus in broken.Concat(healthy.Skip(Math.Max(0, wanted)).Where(ClusterService.IsServing)))
            {
                await DeleteAsync(surplus, cancellationToken);
            }

            for (var i = healthy.Count; i < wanted; i++)
            {
                await BuildAsync(version.Id, flavor, cancellationToken);
            }
        }
    }

    private async Task BuildAsync(string versionId, FlavorRecord flavor, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var id = Guid.NewGuid().ToString();
        var instance = new InstanceRecord
        {
            Id = id,
            Name = "warm-" + id[..8],
            ProjectId = NoProject,
            FlavorId = flavor.Id,
            DatastoreVersionId = versionId,
            TaskStatus = InstanceTasks.Building,
            ServiceStatus = ServiceStatus.New.ToTroveName(),
            ServerStatus = ServerStatuses.Build,
            Pool = string.Empty, // placement picks it
            SecretHash = Secrets.Sha256Hex(secrets.GuestSecret(id)),
            CreatedAt = now,
            UpdatedAt = now,
            InstanceType = ClusterMemberTypes.Warm,
        };
        var task = TaskRecords.Pending(InstanceTaskKinds.Create, id, now);
        await placement.InsertAsync(flavor, instance, task, QuotaLimits.None, cancellationToken); // no project's yet: adoption counts it
        engine.Wake();
        LogBuilding(id);
    }

    private async Task DeleteAsync(InstanceRecord instance, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var task = TaskRecords.Pending(InstanceTaskKinds.Delete, instance.Id, now);
        if (await store.Tasks.InsertForInstanceAsync(task, instance.TaskStatus, InstanceTasks.Deleting, cancellationToken))
        {
            engine.Wake();
            LogRemoving(instance.Id, instance.FaultDetails ?? "more than cluster_warm_members");
        }
    }

    [LoggerMessage(1520, LogLevel.Information, "Building warm cluster member {Instance}")]
    private partial void LogBuilding(string instance);

    [LoggerMessage(1521, LogLevel.Information, "Removing warm cluster member {Instance}: {Why}")]
    private partial void LogRemoving(string instance, string why);

    [LoggerMessage(1522, LogLevel.Warning, "[{Datastore}] cluster_warm_flavor '{Flavor}' names no flavor; no warm members are built")]
    private partial void LogNoFlavor(string datastore, string flavor);

    [LoggerMessage(1523, LogLevel.Error, "Topping up warm cluster members failed")]
    private partial void LogTopUpFailed(Exception exception);
}
