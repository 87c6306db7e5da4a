using System.Text.Json.Nodes;
using Hoard.Api.Views;
using Hoard.Core;
using Hoard.Core.Catalog;
using Hoard.Core.Clusters;
using Hoard.Core.Instances;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hoard.Api.Apis;

/// <summary>Trove's cluster routes (the Redis cluster spec), with Hoard's rebalance action.</summary>
public static class ClustersApi
{
    public static RouteGroupBuilder MapClustersApi(this RouteGroupBuilder tenant)
    {
        tenant.MapGet("/clusters", ListAsync);
        tenant.MapPost("/clusters", CreateAsync);
        tenant.MapGet("/clusters/{id}", async (HttpContext http, string id, ClusterService clusters, CatalogService catalog, ViewBuilder views, CancellationToken ct) =>
        {
            var cluster = await clusters.GetAsync(http.Caller().ProjectId, id, ct);
            return Results.Json(new ClusterEnvelope(await ShowAsync(clusters, catalog, views, cluster, ct)), ClusterJsonContext.Default.ClusterEnvelope);
        });
        tenant.MapDelete("/clusters/{id}", async (HttpContext http, string id, ClusterService clusters, CancellationToken ct) =>
        {
            await clusters.DeleteAsync(http.Caller().ProjectId, id, ct);
            return Results.StatusCode(202);
        });
        tenant.MapPost("/clusters/{id}", ActionAsync);
        tenant.MapGet("/clusters/{id}/instances/{instanceId}", async (HttpContext http, string id, string instanceId, ClusterService clusters, ViewBuilder views, CancellationToken ct) =>
        {
            var caller = http.Caller();
            var member = await clusters.GetMemberAsync(caller.ProjectId, id, instanceId, ct);
            return Results.Json(new InstanceEnvelope(views.Instance(member, detail: true, caller.IsAdmin)), TroveJsonContext.Default.InstanceEnvelope);
        });
        tenant.MapGet("/clusters/{id}/root", async (HttpContext http, string id, ClusterService clusters, CancellationToken ct) =>
            Results.Json(new { rootEnabled = await clusters.RootEnabledAsync(http.Caller().ProjectId, id, ct) }));
        tenant.MapPost("/clusters/{id}/root", async (HttpContext http, string id, ClusterService clusters, CancellationToken ct) =>
        {
            var body = await TroveHttp.ReadOptionalObjectAsync(http.Request, ct);
            var v = new Validation();
            var password = body.ContainsKey("password") ? v.NonEmptyString(body, string.Empty, "password", required: true, maxLength: 128) : null;
            v.ThrowIfFailed();
            var user = await clusters.EnableRootAsync(http.Caller().ProjectId, id, password, ct);
            return Results.Json(new { user = new { name = user.Name, password = user.Password } });
        });
        return tenant;
    }

    private static async Task<ClusterView> ShowAsync(ClusterService clusters, CatalogService catalog, ViewBuilder views, Abstractions.Storage.ClusterRecord cluster, CancellationToken ct)
    {
        var members = await clusters.MembersAsync(cluster.Id, ct);
        var roles = await clusters.RolesAsync(members, ct);
        var progress = await clusters.ProgressAsync(cluster, ct);
        return views.Cluster(catalog, cluster, members, loadServers: true, roles, progress);
    }

    private static async Task<IResult> ListAsync(HttpContext http, ClusterService clusters, CatalogService catalog, ViewBuilder views, string? marker, string? limit, CancellationToken ct)
    {
        var caller = http.Caller();
        var (page, next) = await clusters.ListAsync(caller.ProjectId, marker, TroveHttp.ParseLimit(limit), ct);
        var items = new List<ClusterView>(page.Count);
        foreach (var cluster in page)
        {
            items.Add(views.Cluster(catalog, cluster, await clusters.MembersAsync(cluster.Id, ct), loadServers: false));
        }

        Link[]? links = null;
        if (next is not null)
        {
            var query = limit is null ? $"marker={next}" : $"limit={limit}&marker={next}";
            links = [new Link($"{views.PublicUrl}/v1.0/{caller.ProjectId}/clusters?{query}", "next")];
        }

        return Results.Json(new ClusterListView(items, links), ClusterJsonContext.Default.ClusterListView);
    }

    private static async Task<IResult> CreateAsync(HttpContext http, ClusterService clusters, CatalogService catalog, ViewBuilder views, CancellationToken ct)
    {
        var body = await TroveHttp.ReadObjectAsync(http.Request, ct);
        var v = new Validation();
        var cluster = v.RequiredObject(body, string.Empty, "cluster");
        v.ThrowIfFailed();
        const string path = "cluster";
        var name = v.NonEmptyString(cluster!, path, "name", required: true);
        var datastore = v.RequiredObject(cluster!, path, "datastore");
        string? type = null, version = null;
        if (datastore is not null)
        {
            var dsPath = Validation.Path(path, "datastore");
            type = v.NonEmptyString(datastore, dsPath, "type", required: true);
            version = v.NonEmptyString(datastore, dsPath, "version", required: true);
        }

        var members = ReadMembers(v, cluster!, path, "instances");
        int? replicasPerMaster = null;
        if (cluster!.TryGetPropertyValue("replicas_per_master", out var rpm))
        {
            if (rpm is JsonValue value && value.GetValueKind() == System.Text.Json.JsonValueKind.Number && value.TryGetValue<int>(out var n))
            {
                replicasPerMaster = n;
            }
            else
            {
                v.Fail(Validation.Path(path, "replicas_per_master"), $"{Validation.Repr(rpm)} is not of type 'integer'");
            }
        }

        if (cluster.TryGetPropertyValue("configuration", out var configuration) && configuration is not null)
        {
            throw ApiException.BadRequest("Configuration groups are not supported for redis clusters.");
        }

        v.ThrowIfFailed();
        var (created, createdMembers) = await clusters.CreateAsync(
            http.Caller(),
            new CreateClusterRequest
            {
                Name = name!,
                DatastoreType = type!,
                DatastoreVersion = version!,
                Members = members!,
                ReplicasPerMaster = replicasPerMaster,
            },
            ct);
        return Results.Json(new ClusterEnvelope(views.Cluster(catalog, created, createdMembers, loadServers: true)), ClusterJsonContext.Default.ClusterEnvelope);
    }

    private static async Task<IResult> ActionAsync(HttpContext http, string id, ClusterService clusters, CatalogService catalog, ViewBuilder views, CancellationToken ct)
    {
        var body = await TroveHttp.ReadObjectAsync(http.Request, ct);
        if (body.Count != 1)
        {
            throw ApiException.BadRequest(body.Count == 0 ? "Invalid request body." : "Action request should have exactly one action specified in body");
        }

        var caller = http.Caller();
        var (action, value) = body.First();
        var v = new Validation();
        switch (action)
        {
            case "grow":
            {
                var members = ReadMembers(v, body, string.Empty, "grow");
                v.ThrowIfFailed();
                await clusters.GrowAsync(caller.ProjectId, id, members!, ct);
                break;
            }

            case "shrink":
            {
                var ids = ReadIds(v, body, string.Empty, "shrink", required: true);
                v.ThrowIfFailed();
                await clusters.ShrinkAsync(caller.ProjectId, id, ids, ct);
                return Results.StatusCode(202);
            }

            case "rebalance":
            {
                if (value is not JsonObject rebalance)
                {
                    throw ApiException.BadRequest($"Validation error: rebalance {Validation.Repr(value)} is not of type 'object'");
                }

                v.NoAdditionalProperties(rebalance, "rebalance", "exclude");
                var exclude = ReadIds(v, rebalance, "rebalance", "exclude", required: false);
                v.ThrowIfFailed();
                await clusters.RebalanceAsync(caller.ProjectId, id, exclude, ct);
                break;
            }

            case "reset-status" or "restart" or "upgrade" or "add_shard" or "configuration_attach" or "configuration_detach":
                _ = await clusters.GetAsync(caller.ProjectId, id, ct);
                throw ApiException.BadRequest($"Action '{action}' is not supported for redis clusters.");
            default:
                throw ApiException.BadRequest($"Action {action} not supported");
        }

        var cluster = await clusters.GetAsync(caller.ProjectId, id, ct);
        return Results.Json(new ClusterEnvelope(views.Cluster(catalog, cluster, await clusters.MembersAsync(id, ct), loadServers: false)), ClusterJsonContext.Default.ClusterEnvelope, statusCode: 202);
    }

    /// <summary>Members of a create or grow: Trove's instance items (flavorRef, volume, type) — type may be a string or a list, as the stock client sends it.</summary>
    private static List<ClusterMemberRequest>? ReadMembers(Validation v, JsonObject parent, string parentPath, string key)
    {
        var items = v.ArrayOfObjects(parent, parentPath, key, required: true);
        if (items is null)
        {
            return null;
        }

        var members = new List<ClusterMemberRequest>(items.Count);
        foreach (var (item, itemPath) in items)
        {
            var flavor = item.ContainsKey("flavorRef") ? v.FlavorRef(item, itemPath) : null;
            int? volume = null;
            if (v.OptionalObject(item, itemPath, "volume") is { } vol)
            {
                volume = v.VolumeSize(vol, Validation.Path(itemPath, "volume"));
            }

            string? type = null;
            if (item.TryGetPropertyValue("type", out var typeNode))
            {
                var typePath = Validation.Path(itemPath, "type");
                type = typeNode switch
                {
                    JsonValue s when s.TryGetValue<string>(out var text) && text.Length > 0 => text,
                    JsonArray { Count: 1 } a when a[0] is JsonValue s && s.TryGetValue<string>(out var text) && text.Length > 0 => text,
                    _ => null,
                };
                if (type is null)
                {
                    v.Fail(typePath, $"{Validation.Repr(typeNode)} is not a single non-empty type");
                }
            }

            v.ArrayOfObjects(item, itemPath, "nics", required: false);
            members.Add(new ClusterMemberRequest(flavor, volume, type?.ToLowerInvariant()));
        }

        return members;
    }

    /// <summary>A list of {"id": uuid} objects (shrink's members, rebalance's exclude).</summary>
    private static List<string> ReadIds(Validation v, JsonObject parent, string parentPath, string key, bool required)
    {
        var ids = new List<string>();
        var items = v.ArrayOfObjects(parent, parentPath, key, required);
        if (items is null)
        {
            return ids;
        }

        if (required && items.Count == 0)
        {
            v.Fail(Validation.Path(parentPath, key), "[] is too short");
        }

        foreach (var (item, itemPath) in items)
        {
            var memberId = v.NonEmptyString(item, itemPath, "id", required: true, maxLength: 64);
            if (memberId is not null && !Guid.TryParse(memberId, out _))
            {
                v.Fail(Validation.Path(itemPath, "id"), $"'{memberId}' is not a 'uuid'");
            }
            else if (memberId is not null)
            {
                ids.Add(memberId);
            }
        }

        return ids;
    }
}
