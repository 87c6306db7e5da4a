using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hoard.Abstractions.Storage;
using Hoard.Api.Views;
using Hoard.Core;
using Hoard.Core.Catalog;
using Hoard.Core.Placement;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Hoard.Api.Apis;

/// <summary>
/// The admin routes for placement (the seed's pools, flavors and catalogue): <c>/mgmt/pools</c>, <c>/mgmt/flavors</c> and
/// <c>/mgmt/catalogue</c>. Admin role only: anyone else gets a 403 before the body is read.
/// </summary>
public static class MgmtApi
{
    private const int PageSize = 100;

    public static RouteGroupBuilder MapMgmtApi(this RouteGroupBuilder tenant)
    {
        var mgmt = tenant.MapGroup("/mgmt").AddEndpointFilter((context, next) =>
            context.HttpContext.Caller().IsAdmin
                ? next(context)
                : throw ApiException.Forbidden("You are not authorized to perform the requested action: the admin role is required."));

        mgmt.MapGet("/pools", ListPoolsAsync);
        mgmt.MapPost("/pools", async (HttpContext http, PlacementService placement, CancellationToken ct) =>
        {
            var spec = ReadPool(await TroveHttp.ReadObjectAsync(http.Request, ct));
            var pool = await placement.CreateAsync(spec, ct);
            return Results.Json(new { pool = PoolView(pool, await HostedAsync(http, pool.Name, ct)) }, TroveHttp.Json, statusCode: 201);
        });
        mgmt.MapGet("/pools/{name}", async (HttpContext http, string name, PlacementService placement, CancellationToken ct) =>
            Results.Json(new { pool = PoolView(await placement.GetAsync(name, ct), await HostedAsync(http, name, ct)) }, TroveHttp.Json));
        mgmt.MapMethods("/pools/{name}", ["PATCH"], async (HttpContext http, string name, PlacementService placement, CancellationToken ct) =>
        {
            var patch = ReadPoolPatch(await TroveHttp.ReadObjectAsync(http.Request, ct));
            var pool = await placement.UpdateAsync(name, patch, ct);
            return Results.Json(new { pool = PoolView(pool, await HostedAsync(http, name, ct)) }, TroveHttp.Json);
        });
        mgmt.MapDelete("/pools/{name}", async (string name, PlacementService placement, CancellationToken ct) =>
        {
            await placement.DeleteAsync(name, ct);
            return Results.NoContent();
        });

        mgmt.MapGet("/flavors", (string? project, CatalogService catalog, PlacementService placement) =>
        {
            var flavors = project is null ? catalog.Flavors : catalog.Flavors.Where(f => f.ProjectId == project);
            return Results.Json(new { flavors = flavors.Select(f => FlavorView(f, placement)) }, TroveHttp.Json);
        });
        mgmt.MapPost("/flavors", async (HttpContext http, CatalogService catalog, PlacementService placement, CancellationToken ct) =>
        {
            var flavor = await catalog.CreateFlavorAsync(ReadFlavor(await TroveHttp.ReadObjectAsync(http.Request, ct)), ct);
            return Results.Json(new { flavor = FlavorView(flavor, placement) }, TroveHttp.Json, statusCode: 201);
        });
        mgmt.MapGet("/flavors/{id}", async (string id, CatalogService catalog, PlacementService placement, CancellationToken ct) =>
        {
            var flavor = await catalog.FindFlavorAsync(id, null, ct) ?? throw ApiException.NotFound($"Flavor {id} cannot be found.");
            return Results.Json(new { flavor = FlavorView(flavor, placement) }, TroveHttp.Json);
        });
        mgmt.MapMethods("/flavors/{id}", ["PATCH"], async (HttpContext http, string id, CatalogService catalog, PlacementService placement, CancellationToken ct) =>
        {
            var flavor = await catalog.UpdateFlavorAsync(id, ReadFlavorPatch(await TroveHttp.ReadObjectAsync(http.Request, ct)), ct);
            return Results.Json(new { flavor = FlavorView(flavor, placement) }, TroveHttp.Json);
        });
        mgmt.MapDelete("/flavors/{id}", async (string id, CatalogService catalog, PlacementService placement, CancellationToken ct) =>
        {
            await catalog.DeleteFlavorAsync(id, ct);
            await placement.RefreshAsync(ct); // its pools lost their flavor
            return Results.NoContent();
        });

        mgmt.MapGet("/catalogue", ListCatalogueAsync);
        return tenant;
    }

    private static async Task<IResult> ListPoolsAsync(HttpContext http, IManagementStore store, string? flavor, string? marker, string? limit, CancellationToken ct)
    {
        var size = Math.Min(TroveHttp.ParseLimit(limit) ?? PageSize, PageSize);
        var rows = await store.Pools.ListAsync(flavor, marker, size + 1, ct);
        var page = rows.Take(size).ToList();
        var views = new List<object>(page.Count);
        foreach (var pool in page)
        {
            views.Add(PoolView(pool, await store.Catalogue.CountInPoolAsync(pool.Name, ct)));
        }

        return Results.Json(new { pools = views, links = NextLink(http, rows.Count > size ? page[^1].Name : null) }, TroveHttp.Json);
    }

    /// <summary>Catalogue entries; the marker of an all-projects page is "project/instance".</summary>
    private static async Task<IResult> ListCatalogueAsync(HttpContext http, IManagementStore store, string? project, string? marker, string? limit, CancellationToken ct)
    {
        var size = Math.Min(TroveHttp.ParseLimit(limit) ?? PageSize, PageSize);
        CatalogueKey? after = null;
        if (marker is not null)
        {
            var slash = marker.IndexOf('/', StringComparison.Ordinal);
            after = slash >= 0 ? new CatalogueKey(marker[..slash], marker[(slash + 1)..])
                : project is not null ? new CatalogueKey(project, marker)
                : throw ApiException.BadRequest($"marker '{marker}' must be project/instance when no project is given.");
        }

        var rows = await store.Catalogue.ListAsync(project, after, size + 1, ct);
        var page = rows.Take(size).ToList();
        var next = rows.Count > size ? $"{page[^1].ProjectId}/{page[^1].InstanceId}" : null;
        return Results.Json(
            new { catalogue = page.Select(e => new { project = e.ProjectId, instance = e.InstanceId, pool = e.Pool }), links = NextLink(http, next) },
            TroveHttp.Json);
    }

    private static object[] NextLink(HttpContext http, string? marker)
    {
        if (marker is null)
        {
            return [];
        }

        var query = http.Request.Query.Where(q => q.Key != "marker").Select(q => $"{q.Key}={Uri.EscapeDataString(q.Value.ToString())}")
            .Append($"marker={Uri.EscapeDataString(marker)}");
        return [new { rel = "next", href = $"{http.Request.Scheme}://{http.Request.Host}{http.Request.Path}?{string.Join('&', query)}" }];
    }

    private static Task<int> HostedAsync(HttpContext http, string pool, CancellationToken ct) =>
        http.RequestServices.GetRequiredService<IManagementStore>().Catalogue.CountInPoolAsync(pool, ct);

    private static object PoolView(PoolRecord pool, int hosted) => new
    {
        name = pool.Name,
        uri = pool.Uri,
        weight = pool.Weight,
        flavor = pool.Flavor,
        options = JsonNode.Parse(pool.Options),
        instances = hosted,
    };

    private static object FlavorView(FlavorRecord f, PlacementService placement) => new
    {
        id = f.Id,
        name = f.Name,
        ram = f.RamMb,
        vcpus = f.Vcpus,
        disk = f.DiskGb,
        project = f.ProjectId,
        capabilities = JsonNode.Parse(f.Capabilities),
        pools = placement.Pools.Where(p => p.Flavor == f.Id).Select(p => p.Name),
    };

    private static PoolSpec ReadPool(JsonObject body)
    {
        var v = new Validation();
        v.NoAdditionalProperties(body, string.Empty, "pool");
        var pool = v.RequiredObject(body, string.Empty, "pool");
        v.ThrowIfFailed();
        v.NoAdditionalProperties(pool!, "pool", "name", "uri", "weight", "flavor", "options");
        var name = v.NonEmptyString(pool!, "pool", "name", required: true, maxLength: 64);
        var uri = v.NonEmptyString(pool!, "pool", "uri", required: true, maxLength: 1024);
        var weight = Integer(v, pool!, "pool", "weight", required: true, min: 1);
        var flavor = v.NonEmptyString(pool!, "pool", "flavor", required: false);
        var options = Options(v, pool!, "pool", "options");
        v.ThrowIfFailed();
        return new PoolSpec(name!, uri!, weight!.Value, flavor, options ?? []);
    }

    private static PoolPatch ReadPoolPatch(JsonObject body)
    {
        var v = new Validation();
        v.NoAdditionalProperties(body, string.Empty, "pool");
        var pool = v.RequiredObject(body, string.Empty, "pool");
        v.ThrowIfFailed();
        v.NoAdditionalProperties(pool!, "pool", "uri", "weight", "flavor", "options");
        var uri = v.NonEmptyString(pool!, "pool", "uri", required: false, maxLength: 1024);
        var weight = Integer(v, pool!, "pool", "weight", required: false, min: 1);
        string? flavor = null;
        if (pool!.TryGetPropertyValue("flavor", out var f))
        {
            // null or "" takes the pool off its flavor
            flavor = f is null ? string.Empty : f is JsonValue fv && fv.TryGetValue<string>(out var s) ? s : null;
            if (flavor is null)
            {
                v.Fail("pool['flavor']", $"{Validation.Repr(f)} is not of type 'string'");
            }
        }

        var options = Options(v, pool, "pool", "options");
        v.ThrowIfFailed();
        return new PoolPatch(uri, weight, flavor, options);
    }

    private static FlavorRecord ReadFlavor(JsonObject body)
    {
        var v = new Validation();
        v.NoAdditionalProperties(body, string.Empty, "flavor");
        var flavor = v.RequiredObject(body, string.Empty, "flavor");
        v.ThrowIfFailed();
        v.NoAdditionalProperties(flavor!, "flavor", "id", "name", "ram", "vcpus", "disk", "capabilities", "project");
        var id = v.NonEmptyString(flavor!, "flavor", "id", required: false, maxLength: 64);
        var name = v.NonEmptyString(flavor!, "flavor", "name", required: true, maxLength: 255);
        var ram = Integer(v, flavor!, "flavor", "ram", required: true, min: 1);
        var vcpus = Integer(v, flavor!, "flavor", "vcpus", required: true, min: 1);
        var disk = Integer(v, flavor!, "flavor", "disk", required: false, min: 0);
        var capabilities = Options(v, flavor!, "flavor", "capabilities");
        var project = v.NonEmptyString(flavor!, "flavor", "project", required: false);
        v.ThrowIfFailed();
        return new FlavorRecord(id ?? Guid.NewGuid().ToString(), name!, ram!.Value, vcpus!.Value, disk ?? 0)
        {
            ProjectId = project,
            Capabilities = (capabilities ?? []).ToJsonString(),
        };
    }

    private static FlavorChange ReadFlavorPatch(JsonObject body)
    {
        var v = new Validation();
        v.NoAdditionalProperties(body, string.Empty, "flavor");
        var flavor = v.RequiredObject(body, string.Empty, "flavor");
        v.ThrowIfFailed();
        v.NoAdditionalProperties(flavor!, "flavor", "name", "ram", "vcpus", "disk", "capabilities", "project");
        var name = v.NonEmptyString(flavor!, "flavor", "name", required: false, maxLength: 255);
        var ram = Integer(v, flavor!, "flavor", "ram", required: false, min: 1);
        var vcpus = Integer(v, flavor!, "flavor", "vcpus", required: false, min: 1);
        var disk = Integer(v, flavor!, "flavor", "disk", required: false, min: 0);
        var capabilities = Options(v, flavor!, "flavor", "capabilities");
        string? project = null;
        if (flavor!.TryGetPropertyValue("project", out var p))
        {
            // null or "" makes the flavor public
            project = p is null ? string.Empty : p is JsonValue pv && pv.TryGetValue<string>(out var s) ? s : null;
            if (project is null)
            {
                v.Fail("flavor['project']", $"{Validation.Repr(p)} is not of type 'string'");
            }
        }

        v.ThrowIfFailed();
        return new FlavorChange { Name = name, RamMb = ram, Vcpus = vcpus, DiskGb = disk, Capabilities = capabilities?.ToJsonString(), ProjectId = project };
    }

    /// <summary>An integer of at least <paramref name="min"/> (a JSON number with no fraction, not a string).</summary>
    private static int? Integer(Validation v, JsonObject parent, string parentPath, string key, bool required, int min)
    {
        if (!parent.TryGetPropertyValue(key, out var node))
        {
            if (required)
            {
                v.Fail(parentPath, $"'{key}' is a required property");
            }

            return null;
        }

        var path = Validation.Path(parentPath, key);
        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.Number || !value.TryGetValue<int>(out var n))
        {
            v.Fail(path, $"{Validation.Repr(node)} is not of type 'integer'");
            return null;
        }

        if (n < min)
        {
            v.Fail(path, string.Create(CultureInfo.InvariantCulture, $"{n} is less than the minimum of {min}"));
            return null;
        }

        return n;
    }

    /// <summary>An object of scalar values (options, capabilities): nested objects and arrays are refused.</summary>
    private static JsonObject? Options(Validation v, JsonObject parent, string parentPath, string key)
    {
        var options = v.OptionalObject(parent, parentPath, key);
        if (options is null)
        {
            return null;
        }

        var path = Validation.Path(parentPath, key);
        foreach (var (name, value) in options)
        {
            if (value is not JsonValue)
            {
                v.Fail(Validation.Path(path, name), $"{Validation.Repr(value)} is not a string, number or boolean");
            }
        }

        return (JsonObject)options.DeepClone();
    }
}
