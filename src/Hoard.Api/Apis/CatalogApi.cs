using Hoard.Abstractions.Storage;
using Hoard.Api.Hosting;
using Hoard.Api.Views;
using Hoard.Core;
using Hoard.Core.Catalog;
using Hoard.Core.Configuration;
using Hoard.Core.Instances;
using Hoard.Core.Quotas;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hoard.Api.Apis;

/// <summary>Trove's read-only catalogue routes: datastores and their versions, flavors, limits.</summary>
public static class CatalogApi
{
    public static RouteGroupBuilder MapCatalogApi(this RouteGroupBuilder tenant)
    {
        tenant.MapGet("/datastores", (HttpContext http, CatalogService catalog, ViewBuilder views) =>
            Results.Json(new { datastores = catalog.Datastores.Where(d => Active(catalog, d).Any()).Select(d => Datastore(http, catalog, views, d)) }, TroveHttp.Json));
        tenant.MapGet("/datastores/{ds}", (HttpContext http, string ds, CatalogService catalog, ViewBuilder views) =>
            Results.Json(new { datastore = Datastore(http, catalog, views, Find(catalog, ds)) }, TroveHttp.Json));
        tenant.MapGet("/datastores/{ds}/versions", (HttpContext http, string ds, CatalogService catalog, ViewBuilder views) =>
        {
            var datastore = Find(catalog, ds);
            return Results.Json(new { versions = Active(catalog, datastore).Select(v => Version(http, views, v, withDatastore: true)) }, TroveHttp.Json);
        });
        tenant.MapGet("/datastores/{ds}/versions/{version}", (HttpContext http, string ds, string version, CatalogService catalog, ViewBuilder views) =>
        {
            var datastore = Find(catalog, ds);
            var found = catalog.FindVersion(datastore, version)
                ?? (Guid.TryParse(version, out _)
                    ? throw ApiException.NotFound("DBDatastoreVersion Not Found")
                    : throw ApiException.BadRequest($"Datastore version '{version}' cannot be found."));
            return Results.Json(new { version = Version(http, views, found, withDatastore: true) }, TroveHttp.Json);
        });
        tenant.MapGet("/datastores/versions/{id}", (HttpContext http, string id, CatalogService catalog, ViewBuilder views) =>
        {
            var found = catalog.FindVersionById(id) ?? throw ApiException.BadRequest($"Datastore version '{id}' cannot be found.");
            return Results.Json(new { version = Version(http, views, found.Version, withDatastore: true) }, TroveHttp.Json);
        });

        tenant.MapGet("/flavors", (HttpContext http, CatalogService catalog, ViewBuilder views) =>
            Results.Json(new { flavors = catalog.FlavorsFor(http.Caller().ProjectId).Select(f => Flavor(http, views, f)) }));
        tenant.MapGet("/flavors/{id}", async (HttpContext http, string id, CatalogService catalog, ViewBuilder views, CancellationToken ct) =>
        {
            var flavor = await catalog.FindFlavorAsync(id, http.Caller().ProjectId, ct) is { } found && found.Id == id
                ? found
                : throw ApiException.NotFound($"Resource {id} cannot be found.");
            return Results.Json(new { flavor = Flavor(http, views, flavor) });
        });

        tenant.MapGet("/limits", async (HttpContext http, IManagementStore store, QuotaService quotas, ProjectRateLimiter rates, CancellationToken ct) =>
        {
            // Trove's absolute limits: the project's effective quota (its overrides, else the defaults), -1 for none.
            var project = http.Caller().ProjectId;
            var used = await store.Instances.CountAsync(project, ct);
            var limits = await quotas.LimitsAsync(project, ct);
            var absolute = new Dictionary<string, object>
            {
                ["verb"] = "ABSOLUTE",
                ["max_instances"] = limits.Instances ?? -1,
                ["max_ram"] = limits.Ram ?? -1,
                ["max_backups"] = limits.Backups ?? -1,
                ["max_volumes"] = limits.Volumes ?? -1,
                ["max_clusters"] = limits.Clusters ?? -1,
                ["used_instances"] = used,
            };

            // Then Trove's rate entries, with what the project has left this minute (this request already counted).
            return Results.Json(new { limits = rates.Entries(project).Prepend(absolute) }, TroveHttp.Json);
        });
        return tenant;
    }

    private static DatastoreRecord Find(CatalogService catalog, string idOrName) =>
        catalog.FindDatastore(idOrName) ?? throw ApiException.NotFound($"Datastore '{idOrName}' cannot be found.");

    private static IEnumerable<DatastoreVersionRecord> Active(CatalogService catalog, DatastoreRecord datastore) =>
        catalog.VersionsOf(datastore).Where(v => v.Active);

    private static Dictionary<string, object?> Datastore(HttpContext http, CatalogService catalog, ViewBuilder views, DatastoreRecord d)
    {
        var view = new Dictionary<string, object?>
        {
            ["id"] = d.Id,
            ["name"] = d.Name,
            ["links"] = views.Links(http.Caller().ProjectId, "datastores", d.Id),
            ["versions"] = Active(catalog, d).Select(v => Version(http, views, v, withDatastore: false)).ToList(),
        };
        if (d.DefaultVersionId is not null)
        {
            view["default_version"] = d.DefaultVersionId;
        }

        return view;
    }

    private static Dictionary<string, object?> Version(HttpContext http, ViewBuilder views, DatastoreVersionRecord v, bool withDatastore)
    {
        var view = new Dictionary<string, object?>
        {
            ["id"] = v.Id,
            ["name"] = v.Name,
            ["version"] = v.Version,
            ["links"] = views.Links(http.Caller().ProjectId, "datastores/versions", v.Id),
        };
        if (withDatastore)
        {
            view["datastore"] = v.DatastoreId;
        }

        if (http.Caller().IsAdmin)
        {
            view["active"] = v.Active;
        }

        return view;
    }

    private static object Flavor(HttpContext http, ViewBuilder views, FlavorRecord f) => new
    {
        id = int.TryParse(f.Id, out var numeric) && !f.Id.StartsWith('0') ? numeric : (int?)null,
        links = views.Links(http.Caller().ProjectId, "flavors", f.Id),
        name = f.Name,
        ram = f.RamMb,
        vcpus = f.Vcpus,
        disk = f.DiskGb,
        ephemeral = 0,
        str_id = f.Id,
    };
}
