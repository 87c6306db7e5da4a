using System.Text.Json.Nodes;
using Hoard.Api.Views;
using Hoard.Core;
using Hoard.Core.Configurations;
using Hoard.Core.Instances;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hoard.Api.Apis;

/// <summary>Trove's instance routes: list, detail, create, show, update, delete, actions and root.</summary>
public static class InstancesApi
{
    public static RouteGroupBuilder MapInstancesApi(this RouteGroupBuilder tenant)
    {
        tenant.MapGet("/instances", (HttpContext http, InstanceService instances, ViewBuilder views, string? marker, string? limit, CancellationToken ct) =>
            ListAsync(http, instances, views, marker, limit, detail: false, ct));
        tenant.MapGet("/instances/detail", (HttpContext http, InstanceService instances, ViewBuilder views, string? marker, string? limit, CancellationToken ct) =>
            ListAsync(http, instances, views, marker, limit, detail: true, ct));
        tenant.MapPost("/instances", CreateAsync);
        tenant.MapGet("/instances/{id}", async (HttpContext http, string id, InstanceService instances, ConfigurationService configurations, ViewBuilder views, CancellationToken ct) =>
        {
            var caller = http.Caller();
            var instance = await instances.GetAsync(caller.ProjectId, id, ct);
            var configuration = instance.ConfigurationId is { } configurationId ? await configurations.FindAsync(configurationId, ct) : null;
            return Results.Json(new InstanceEnvelope(views.Instance(instance, detail: true, caller.IsAdmin, configuration: configuration)), TroveJsonContext.Default.InstanceEnvelope);
        });
        tenant.MapPut("/instances/{id}", (HttpContext http, string id, InstanceService instances, ConfigurationService configurations, CancellationToken ct) =>
            UpdateAsync(http, id, instances, configurations, allowAccess: true, ct));
        tenant.MapPatch("/instances/{id}", (HttpContext http, string id, InstanceService instances, ConfigurationService configurations, CancellationToken ct) =>
            UpdateAsync(http, id, instances, configurations, allowAccess: false, ct));
        tenant.MapDelete("/instances/{id}", async (HttpContext http, string id, InstanceService instances, CancellationToken ct) =>
        {
            await instances.DeleteAsync(http.Caller().ProjectId, id, ct);
            return Results.StatusCode(202);
        });
        tenant.MapPost("/instances/{id}/action", ActionAsync);

        tenant.MapGet("/instances/{id}/root", async (HttpContext http, string id, InstanceService instances, CancellationToken ct) =>
            Results.Json(new { rootEnabled = await instances.RootEnabledAsync(http.Caller().ProjectId, id, ct) }));
        tenant.MapPost("/instances/{id}/root", async (HttpContext http, string id, InstanceService instances, CancellationToken ct) =>
        {
            var body = await TroveHttp.ReadOptionalObjectAsync(http.Request, ct);
            var validation = new Validation();
            var password = body.ContainsKey("password") ? validation.NonEmptyString(body, string.Empty, "password", required: true, maxLength: 128) : null;
            validation.ThrowIfFailed();
            var user = await instances.EnableRootAsync(http.Caller().ProjectId, id, password, ct);
            return Results.Json(new { user = new { name = user.Name, password = user.Password } });
        });
        tenant.MapDelete("/instances/{id}/root", async (HttpContext http, string id, InstanceService instances, CancellationToken ct) =>
        {
            await instances.DisableRootAsync(http.Caller().ProjectId, id, ct);
            return Results.NoContent();
        });
        return tenant;
    }

    private static async Task<IResult> ListAsync(HttpContext http, InstanceService instances, ViewBuilder views, string? marker, string? limit, bool detail, CancellationToken ct)
    {
        var pageLimit = TroveHttp.ParseLimit(limit);
        var caller = http.Caller();
        // Trove lists cluster members only when asked (include_clustered=true; the stock clients send False).
        var includeClustered = bool.TryParse(http.Request.Query["include_clustered"], out var include) && include;
        var (page, next) = await instances.ListAsync(caller.ProjectId, marker, pageLimit, includeClustered, ct);
        var items = new InstanceView[page.Count];
        for (var i = 0; i < items.Length; i++)
        {
            items[i] = views.Instance(page[i], detail, caller.IsAdmin);
        }

        Link[]? links = null;
        if (next is not null)
        {
            var path = detail ? "instances/detail" : "instances";
            var query = limit is null ? $"marker={next}" : $"limit={limit}&marker={next}";
            query += includeClustered ? "&include_clustered=True" : string.Empty;
            links = [new Link($"{views.PublicUrl}/v1.0/{caller.ProjectId}/{path}?{query}", "next")];
        }

        return Results.Json(new InstanceListView(items, links), TroveJsonContext.Default.InstanceListView);
    }

    private static async Task<IResult> CreateAsync(HttpContext http, InstanceService instances, ConfigurationService configurations, ViewBuilder views, CancellationToken ct)
    {
        var body = await TroveHttp.ReadObjectAsync(http.Request, ct);
        var v = new Validation();
        var instance = v.RequiredObject(body, string.Empty, "instance");
        v.ThrowIfFailed();
        const string path = "instance";
        var name = v.NonEmptyString(instance!, path, "name", required: true);
        var flavor = v.FlavorRef(instance!, path);
        int? volumeSize = null;
        if (v.OptionalObject(instance!, path, "volume") is { } volume)
        {
            volumeSize = v.VolumeSize(volume, Validation.Path(path, "volume"));
        }

        string? datastoreType = null;
        string? datastoreVersion = null;
        if (v.OptionalObject(instance!, path, "datastore") is { } datastore)
        {
            var dsPath = Validation.Path(path, "datastore");
            datastoreType = v.NonEmptyString(datastore, dsPath, "type", required: false);
            datastoreVersion = v.NonEmptyString(datastore, dsPath, "version", required: false);
        }

        var databases = SchemaApi.ReadDatabases(v, instance!, path, "databases", required: false);
        var users = SchemaApi.ReadUsers(v, instance!, path, "users", required: false);
        v.ArrayOfObjects(instance!, path, "nics", required: false);
        v.OptionalObject(instance!, path, "access");
        string? backupRef = null;
        if (v.OptionalObject(instance!, path, "restorePoint") is { } restorePoint)
        {
            var rpPath = Validation.Path(path, "restorePoint");
            backupRef = v.NonEmptyString(restorePoint, rpPath, "backupRef", required: true, maxLength: 64);
            if (backupRef is not null && !Guid.TryParse(backupRef, out _))
            {
                v.Fail(Validation.Path(rpPath, "backupRef"), $"'{backupRef}' is not a 'uuid'");
            }
        }

        string? configurationId = null;
        if (instance!.ContainsKey("configuration"))
        {
            // An id, or (as Trove takes it) the group's href.
            configurationId = v.NonEmptyString(instance, path, "configuration", required: true, maxLength: 1024)?.TrimEnd('/');
            configurationId = configurationId?[(configurationId.LastIndexOf('/') + 1)..];
        }

        v.ThrowIfFailed();

        // Asked-for replication must not quietly become a plain, empty instance.
        if (new[] { "replica_of", "slave_of", "replica_count" }.FirstOrDefault(instance.ContainsKey) is { } replication)
        {
            throw ApiException.NotImplemented($"Replication ('{replication}') is not supported yet; create the instance without it.");
        }

        var caller = http.Caller();
        var (created, password) = await instances.CreateAsync(
            caller,
            new CreateInstanceRequest
            {
                Name = name!,
                FlavorRef = flavor,
                VolumeSize = volumeSize,
                DatastoreType = datastoreType,
                DatastoreVersion = datastoreVersion,
                Schema = new InitialSchema(databases, users),
                RestoreBackupRef = backupRef,
                ConfigurationId = configurationId,
            },
            ct);
        var configuration = created.ConfigurationId is { } attached ? await configurations.FindAsync(attached, ct) : null;
        return Results.Json(new InstanceEnvelope(views.Instance(created, detail: true, caller.IsAdmin, password, configuration)), TroveJsonContext.Default.InstanceEnvelope);
    }

    private static async Task<IResult> UpdateAsync(HttpContext http, string id, InstanceService instances, ConfigurationService configurations, bool allowAccess, CancellationToken ct)
    {
        var body = await TroveHttp.ReadObjectAsync(http.Request, ct);
        var v = new Validation();
        var instance = v.RequiredObject(body, string.Empty, "instance");
        v.ThrowIfFailed();
        string[] allowed = allowAccess
            ? ["name", "replica_of", "configuration", "datastore_version", "access"]
            : ["name", "replica_of", "slave_of", "configuration", "datastore_version"];
        v.NoAdditionalProperties(instance!, "instance", allowed);
        var name = instance!.ContainsKey("name") ? v.NonEmptyString(instance, "instance", "name", required: true) : null;

        // configuration: a group's id attaches it; null (or an empty string, as older clients send) detaches.
        string? configurationId = null;
        if (instance.TryGetPropertyValue("configuration", out var configurationNode) && configurationNode is not null
            && !(configurationNode is JsonValue empty && empty.TryGetValue<string>(out var text) && text.Length == 0))
        {
            configurationId = v.NonEmptyString(instance, "instance", "configuration", required: true, maxLength: 64);
            if (configurationId is not null && !Guid.TryParse(configurationId, out _))
            {
                v.Fail(Validation.Path("instance", "configuration"), $"'{configurationId}' is not a 'uuid' (or null, to detach)");
            }
        }

        v.ThrowIfFailed();
        if (instance.Count(p => p.Key != "name") > 1)
        {
            throw ApiException.BadRequest("Only one attribute (except 'name') is allowed to update.");
        }

        var caller = http.Caller();
        var current = await instances.GetAsync(caller.ProjectId, id, ct);
        foreach (var key in instance.Select(p => p.Key).Where(k => k is not "name" and not "configuration"))
        {
            throw ApiException.NotImplemented($"Updating '{key}' is not supported for {current.Id} yet.");
        }

        if (instance.ContainsKey("configuration"))
        {
            if (configurationId is null)
            {
                await configurations.DetachAsync(current, ct);
            }
            else
            {
                await configurations.AttachAsync(current, configurationId, ct);
            }
        }

        if (name is not null)
        {
            await instances.RenameAsync(caller.ProjectId, id, name, ct);
        }

        return Results.StatusCode(202);
    }

    /// <summary>Trove's action schemas: resize takes exactly one of flavorRef and volume.size; the others take an object.</summary>
    private static void ValidateUnsupportedAction(string action, JsonNode? value)
    {
        if (value is not JsonObject o)
        {
            throw ApiException.BadRequest($"Validation error: {action} {Validation.Repr(value)} is not of type 'object'");
        }

        if (action != "resize")
        {
            return;
        }

        var v = new Validation();
        if (o.ContainsKey("flavorRef") == o.ContainsKey("volume"))
        {
            v.Fail(action, $"{Validation.Repr(o)} is not valid under any of the given schemas: exactly one of 'flavorRef' and 'volume' is expected");
        }
        else if (o.ContainsKey("flavorRef"))
        {
            v.FlavorRef(o, action);
        }
        else if (v.RequiredObject(o, action, "volume") is { } volume)
        {
            v.VolumeSize(volume, Validation.Path(action, "volume"));
        }

        v.ThrowIfFailed();
    }

    private static async Task<IResult> ActionAsync(HttpContext http, string id, InstanceService instances, CancellationToken ct)
    {
        var body = await TroveHttp.ReadObjectAsync(http.Request, ct);
        var caller = http.Caller();
        var action = body.Select(p => p.Key).FirstOrDefault();
        switch (action)
        {
            case "restart":
                if (body["restart"] is not JsonObject)
                {
                    throw ApiException.BadRequest($"Validation error: restart {Validation.Repr(body["restart"])} is not of type 'object'");
                }

                await instances.RestartAsync(caller.ProjectId, id, ct);
                return Results.StatusCode(202);
            case "resize" or "promote_to_replica_source" or "eject_replica_source" or "reset_status":
                // Judged as Trove's schema would before the 501, so a malformed body is the caller's 400, not "not implemented".
                ValidateUnsupportedAction(action, body[action]);
                _ = await instances.GetAsync(caller.ProjectId, id, ct);
                throw ApiException.NotImplemented($"Action '{action}' is not supported yet.");
            case null:
                throw ApiException.BadRequest("Validation error: the body names no action; one of restart, resize, promote_to_replica_source, eject_replica_source, reset_status is expected.");
            default:
                throw ApiException.BadRequest($"Validation error: unknown action '{action}'; one of restart, resize, promote_to_replica_source, eject_replica_source, reset_status is expected.");
        }
    }
}
