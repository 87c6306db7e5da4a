using System.Text.Json.Serialization;
using Hoard.Abstractions.Storage;
using Hoard.Api.Apis;
using Hoard.Core.Catalog;
using Hoard.Core.Instances;

namespace Hoard.Api.Views;

public sealed record Link([property: JsonPropertyName("href")] string Href, [property: JsonPropertyName("rel")] string Rel);

public sealed record IdLinks([property: JsonPropertyName("id")] string Id, [property: JsonPropertyName("links")] IReadOnlyList<Link> Links);

public sealed record DatastoreRef(
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("version")] string? Version,
    [property: JsonPropertyName("version_number")] string? VersionNumber);

public sealed record AddressView(
    [property: JsonPropertyName("address")] string Address,
    [property: JsonPropertyName("type")] string Type);

public sealed record FaultView(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("created")] string Created,
    [property: JsonPropertyName("details")] string? Details);

public sealed record AccessView([property: JsonPropertyName("is_public")] bool? IsPublic);

public sealed record VolumeView([property: JsonPropertyName("size")] int Size);

/// <summary>An instance as Trove's InstanceView / InstanceDetailView shows it (instance/views.py).</summary>
public sealed record InstanceView
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("operating_status")] public required string OperatingStatus { get; init; }
    [JsonPropertyName("links")] public required IReadOnlyList<Link> Links { get; init; }
    [JsonPropertyName("flavor")] public required IdLinks Flavor { get; init; }
    [JsonPropertyName("datastore")] public required DatastoreRef Datastore { get; init; }
    [JsonPropertyName("region")] public required string Region { get; init; }
    [JsonPropertyName("access")] public required AccessView Access { get; init; }
    [JsonPropertyName("tenant_id")] public string? TenantId { get; init; }
    [JsonPropertyName("volume")] public VolumeView? Volume { get; init; }
    [JsonPropertyName("ip")] public IReadOnlyList<string>? Ip { get; init; }
    [JsonPropertyName("addresses")] public IReadOnlyList<AddressView>? Addresses { get; init; }
    [JsonPropertyName("port")] public int? Port { get; init; }
    [JsonPropertyName("created")] public string? Created { get; init; }
    [JsonPropertyName("updated")] public string? Updated { get; init; }
    [JsonPropertyName("service_status_updated")] public string? ServiceStatusUpdated { get; init; }
    [JsonPropertyName("fault")] public FaultView? Fault { get; init; }
    [JsonPropertyName("password")] public string? Password { get; init; }
    [JsonPropertyName("cluster_id")] public string? ClusterId { get; init; }
    [JsonPropertyName("configuration")] public ConfigurationRefView? Configuration { get; init; }
}

/// <summary>The configuration group attached to an instance, as Trove's detail view names it.</summary>
public sealed record ConfigurationRefView(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("links")] IReadOnlyList<Link> Links);

/// <summary>Source-generated serialisation for the hot list and show responses.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(InstanceView))]
[JsonSerializable(typeof(InstanceListView))]
[JsonSerializable(typeof(InstanceEnvelope))]
public sealed partial class TroveJsonContext : JsonSerializerContext;

public sealed record InstanceListView(
    [property: JsonPropertyName("instances")] IReadOnlyList<InstanceView> Instances,
    [property: JsonPropertyName("links")] IReadOnlyList<Link>? Links);

public sealed record InstanceEnvelope([property: JsonPropertyName("instance")] InstanceView Instance);

/// <summary>Builds Trove's views and links from records.</summary>
public sealed class ViewBuilder(CatalogService catalog, string publicUrl, string region)
{
    public string PublicUrl { get; } = publicUrl;

    /// <summary>Trove's self and bookmark links for a resource.</summary>
    public IReadOnlyList<Link> Links(string tenant, string resource, string id) =>
    [
        new($"{PublicUrl}/v1.0/{tenant}/{resource}/{id}", "self"),
        new($"{PublicUrl}/{resource}/{id}", "bookmark"),
    ];

    public InstanceView Instance(InstanceRecord i, bool detail, bool admin, string? password = null, ConfigurationRecord? configuration = null)
    {
        var version = catalog.FindVersionById(i.DatastoreVersionId);
        var hasAddress = i.Address is not null && i.ServerStatus != ServerStatuses.Build;
        return new InstanceView
        {
            Id = i.Id,
            Name = i.Name,
            Status = InstanceStatus.ApiStatus(i),
            OperatingStatus = InstanceStatus.OperatingStatus(i),
            Links = Links(i.ProjectId, "instances", i.Id),
            Flavor = new IdLinks(i.FlavorId, Links(i.ProjectId, "flavors", i.FlavorId)),
            Datastore = new DatastoreRef(version?.Datastore.Name, version?.Version.Name, detail ? version?.Version.Version : null),
            Region = region,
            Access = new AccessView(hasAddress ? false : null),
            TenantId = admin ? i.ProjectId : null,
            Volume = i.VolumeSize is { } size ? new VolumeView(size) : null,
            Ip = hasAddress ? [i.Address!] : null,
            Addresses = hasAddress ? [new AddressView(i.Address!, "private")] : null,
            Port = hasAddress ? i.Port : null,
            Created = detail ? TroveHttp.Time(i.CreatedAt) : null,
            Updated = detail ? TroveHttp.Time(i.UpdatedAt) : null,
            ServiceStatusUpdated = detail ? TroveHttp.Time(i.ServiceStatusUpdatedAt ?? i.UpdatedAt) : null,
            Fault = detail && i.FaultMessage is not null
                ? new FaultView(i.FaultMessage, TroveHttp.Time(i.FaultAt ?? i.UpdatedAt), admin ? i.FaultDetails : null)
                : null,
            Password = password,
            ClusterId = i.ClusterId,
            Configuration = configuration is null ? null : new ConfigurationRefView(configuration.Id, configuration.Name, Links(i.ProjectId, "configurations", configuration.Id)),
        };
    }
}
