using System.Text.Json.Serialization;
using Hoard.Abstractions.Storage;
using Hoard.Api.Apis;
using Hoard.Core.Catalog;
using Hoard.Core.Clusters;
using Hoard.Core.Instances;

namespace Hoard.Api.Views;

/// <summary>Trove's cluster task object (id, name, description), with Hoard's progress for a rebalance.</summary>
public sealed record ClusterTaskView(
    [property: JsonPropertyName("id")] int Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("description")] string Description,
    [property: JsonPropertyName("progress")] ProgressView? Progress);

public sealed record ProgressView([property: JsonPropertyName("done")] int Done, [property: JsonPropertyName("total")] int Total);

/// <summary>A member as Trove's cluster view lists it, plus its live role and slot count (Hoard's extension).</summary>
public sealed record ClusterMemberView
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("links")] public required IReadOnlyList<Link> Links { get; init; }
    [JsonPropertyName("status")] public string? Status { get; init; }
    [JsonPropertyName("flavor")] public IdLinks? Flavor { get; init; }
    [JsonPropertyName("volume")] public VolumeView? Volume { get; init; }
    [JsonPropertyName("ip")] public IReadOnlyList<string>? Ip { get; init; }
    [JsonPropertyName("role")] public string? Role { get; init; }
    [JsonPropertyName("slots")] public int? Slots { get; init; }
    [JsonPropertyName("master_id")] public string? MasterId { get; init; }
    [JsonPropertyName("fault")] public FaultView? Fault { get; init; }
}

/// <summary>A cluster as Trove's ClusterView shows it (cluster/views.py).</summary>
public sealed record ClusterView
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("task")] public required ClusterTaskView Task { get; init; }
    [JsonPropertyName("created")] public required string Created { get; init; }
    [JsonPropertyName("updated")] public required string Updated { get; init; }
    [JsonPropertyName("links")] public required IReadOnlyList<Link> Links { get; init; }
    [JsonPropertyName("datastore")] public required DatastoreRef Datastore { get; init; }
    [JsonPropertyName("instances")] public required IReadOnlyList<ClusterMemberView> Instances { get; init; }
    [JsonPropertyName("ip")] public IReadOnlyList<string>? Ip { get; init; }
}

public sealed record ClusterEnvelope([property: JsonPropertyName("cluster")] ClusterView Cluster);

public sealed record ClusterListView(
    [property: JsonPropertyName("clusters")] IReadOnlyList<ClusterView> Clusters,
    [property: JsonPropertyName("links")] IReadOnlyList<Link>? Links);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ClusterEnvelope))]
[JsonSerializable(typeof(ClusterListView))]
public sealed partial class ClusterJsonContext : JsonSerializerContext;

/// <summary>Builds cluster views from records.</summary>
public static class ClusterViews
{
    /// <summary>Trove's ClusterTasks ids and descriptions (cluster/tasks.py); Hoard's rebalance takes the next free id.</summary>
    private static readonly Dictionary<string, (int Id, string Description)> Tasks = new(StringComparer.Ordinal)
    {
        [ClusterTasks.None] = (1, "No tasks for the cluster."),
        [ClusterTasks.Building] = (2, "Building the initial cluster."),
        [ClusterTasks.Deleting] = (3, "Deleting the cluster."),
        [ClusterTasks.Growing] = (5, "Increasing the size of the cluster."),
        [ClusterTasks.Shrinking] = (6, "Decreasing the size of the cluster."),
        [ClusterTasks.Rebalancing] = (10, "Moving hash slots between the masters."),
    };

    /// <param name="loadServers">Trove's load_servers: the show and create views carry each member's status, flavor and addresses; the list does not.</param>
    public static ClusterView Cluster(
        this ViewBuilder views,
        CatalogService catalog,
        ClusterRecord cluster,
        IReadOnlyList<InstanceRecord> members,
        bool loadServers,
        IReadOnlyDictionary<string, MemberRole>? roles = null,
        TaskProgress? progress = null)
    {
        ArgumentNullException.ThrowIfNull(views);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(members);
        var version = catalog.FindVersionById(cluster.DatastoreVersionId);
        var (taskId, description) = Tasks.GetValueOrDefault(cluster.TaskStatus, (0, cluster.TaskStatus));
        var ips = new List<string>();
        var memberViews = new List<ClusterMemberView>(members.Count);
        foreach (var m in members)
        {
            var ip = loadServers && m.Address is not null && m.ServerStatus != ServerStatuses.Build ? new[] { m.Address } : null;
            if (ip is not null)
            {
                ips.AddRange(ip);
            }

            var role = roles?.GetValueOrDefault(m.Id);
            memberViews.Add(new ClusterMemberView
            {
                Id = m.Id,
                Name = m.Name,
                Type = role is null ? m.InstanceType ?? ClusterMemberTypes.Member : role.IsMaster ? ClusterMemberTypes.Member : ClusterMemberTypes.Replica,
                Links = views.Links(m.ProjectId, "instances", m.Id),
                Status = loadServers ? InstanceStatus.ApiStatus(m) : null,
                Flavor = loadServers ? new IdLinks(m.FlavorId, views.Links(m.ProjectId, "flavors", m.FlavorId)) : null,
                Volume = loadServers && m.VolumeSize is { } size ? new VolumeView(size) : null,
                Ip = ip,
                Role = role is null ? null : role.IsMaster ? "master" : "replica",
                Slots = role?.Slots,
                MasterId = role?.MasterInstanceId,
                Fault = loadServers && m.FaultMessage is not null ? new FaultView(m.FaultMessage, TroveHttp.Time(m.FaultAt ?? m.UpdatedAt), m.FaultDetails) : null,
            });
        }

        return new ClusterView
        {
            Id = cluster.Id,
            Name = cluster.Name,
            Task = new ClusterTaskView(taskId, cluster.TaskStatus, description, progress is null ? null : new ProgressView(progress.Done, progress.Total)),
            Created = TroveHttp.Time(cluster.CreatedAt),
            Updated = TroveHttp.Time(cluster.UpdatedAt),
            Links = views.Links(cluster.ProjectId, "clusters", cluster.Id),
            Datastore = new DatastoreRef(version?.Datastore.Name, version?.Version.Name, null),
            Instances = memberViews,
            Ip = ips.Count > 0 ? ips : null,
        };
    }
}
