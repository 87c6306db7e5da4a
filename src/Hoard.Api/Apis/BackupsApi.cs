using System.Text.Json.Nodes;
using Hoard.Abstractions.Storage;
using Hoard.Api.Views;
using Hoard.Core;
using Hoard.Core.Backups;
using Hoard.Core.Catalog;
using Hoard.Core.Instances;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hoard.Api.Apis;

/// <summary>Trove's backup routes: create, list (all or one instance's), show and delete.</summary>
public static class BackupsApi
{
    public static RouteGroupBuilder MapBackupsApi(this RouteGroupBuilder tenant)
    {
        tenant.MapPost("/backups", CreateAsync);
        tenant.MapGet("/backups", (HttpContext http, BackupService backups, CatalogService catalog, ViewBuilder views, string? instance_id, string? marker, string? limit, CancellationToken ct) =>
            ListAsync(http, backups, catalog, views, instance_id, marker, limit, ct));
        tenant.MapGet("/backups/{id}", async (HttpContext http, string id, BackupService backups, CatalogService catalog, CancellationToken ct) =>
            Results.Json(new { backup = View(await backups.GetAsync(http.Caller().ProjectId, id, ct), catalog) }, TroveHttp.Json));
        tenant.MapDelete("/backups/{id}", async (HttpContext http, string id, BackupService backups, CancellationToken ct) =>
        {
            await backups.DeleteAsync(http.Caller().ProjectId, id, ct);
            return Results.StatusCode(202);
        });
        tenant.MapGet("/instances/{id}/backups", async (HttpContext http, string id, InstanceService instances, BackupService backups, CatalogService catalog, ViewBuilder views, string? marker, string? limit, CancellationToken ct) =>
        {
            _ = await instances.GetAsync(http.Caller().ProjectId, id, ct);
            return await ListAsync(http, backups, catalog, views, id, marker, limit, ct);
        });
        return tenant;
    }

    private static async Task<IResult> CreateAsync(HttpContext http, BackupService backups, CatalogService catalog, CancellationToken ct)
    {
        var body = await TroveHttp.ReadObjectAsync(http.Request, ct);
        var v = new Validation();
        var backup = v.RequiredObject(body, string.Empty, "backup");
        v.ThrowIfFailed();
        const string path = "backup";
        v.NoAdditionalProperties(backup!, path, "name", "description", "instance", "parent_id", "incremental", "swift_container", "restore_from");
        var name = v.NonEmptyString(backup!, path, "name", required: true);
        var description = v.NonEmptyString(backup!, path, "description", required: false);
        var instance = Uuid(v, backup!, path, "instance", required: true);
        var parent = Uuid(v, backup!, path, "parent_id", required: false);
        var incremental = false;
        if (backup!.TryGetPropertyValue("incremental", out var inc))
        {
            // Trove's boolean_string is an integer, 0 or 1 (what the stock client sends); a JSON boolean or "true"/"false" is taken too.
            incremental = inc switch
            {
                JsonValue b when b.TryGetValue<bool>(out var flag) => flag,
                JsonValue n when n.GetValueKind() == System.Text.Json.JsonValueKind.Number && n.TryGetValue<int>(out var number) && number is 0 or 1 => number == 1,
                JsonValue t when t.TryGetValue<string>(out var text) && (text.Equals("true", StringComparison.OrdinalIgnoreCase) || text == "1") => true,
                JsonValue t when t.TryGetValue<string>(out var text) && (text.Equals("false", StringComparison.OrdinalIgnoreCase) || text == "0") => false,
                _ => Invalid(v, Validation.Path(path, "incremental"), $"{Validation.Repr(inc)} is not a boolean"),
            };
        }

        if (backup.ContainsKey("restore_from"))
        {
            v.Fail(Validation.Path(path, "restore_from"), "is not supported: Hoard imports no backups from other clouds");
        }

        v.ThrowIfFailed();
        var created = await backups.CreateAsync(http.Caller(), new CreateBackupRequest(name!, instance!, description, parent, incremental), ct);
        return Results.Json(new { backup = View(created, catalog) }, TroveHttp.Json, statusCode: 202);
    }

    private static async Task<IResult> ListAsync(HttpContext http, BackupService backups, CatalogService catalog, ViewBuilder views, string? instanceId, string? marker, string? limit, CancellationToken ct)
    {
        var caller = http.Caller();
        var (page, next) = await backups.ListAsync(caller.ProjectId, instanceId, marker, TroveHttp.ParseLimit(limit), ct);
        var links = next is null
            ? Array.Empty<object>()
            : [new { rel = "next", href = $"{views.PublicUrl}/v1.0/{caller.ProjectId}/backups?{(instanceId is null ? string.Empty : $"instance_id={instanceId}&")}marker={next}" }];
        return Results.Json(new { backups = page.Select(b => View(b, catalog)), links }, TroveHttp.Json);
    }

    /// <summary>Trove's BackupView (backup/views.py), with the fault of a failed backup.</summary>
    private static JsonObject View(BackupRecord b, CatalogService catalog)
    {
        var view = new JsonObject
        {
            ["id"] = b.Id,
            ["name"] = b.Name,
            ["description"] = b.Description,
            ["locationRef"] = b.Location,
            ["instance_id"] = b.InstanceId,
            ["created"] = TroveHttp.Time(b.CreatedAt),
            ["updated"] = TroveHttp.Time(b.UpdatedAt),
            ["size"] = b.Size is { } bytes ? Math.Round(bytes / 1024d / 1024d / 1024d, 6) : null, // Trove reports GB
            ["status"] = b.State,
            ["parent_id"] = b.ParentId,
            ["project_id"] = b.ProjectId,
        };
        if (catalog.FindVersionById(b.DatastoreVersionId) is { } version)
        {
            view["datastore"] = new JsonObject { ["type"] = version.Datastore.Name, ["version"] = version.Version.Name, ["version_id"] = version.Version.Id };
        }

        if (b.FaultMessage is { Length: > 0 } fault)
        {
            view["fail_reason"] = fault;
        }

        return view;
    }

    private static string? Uuid(Validation v, JsonObject parent, string parentPath, string key, bool required)
    {
        var value = v.NonEmptyString(parent, parentPath, key, required, maxLength: 64);
        if (value is not null && !Guid.TryParse(value, out _))
        {
            v.Fail(Validation.Path(parentPath, key), $"'{value}' is not a 'uuid'");
            return null;
        }

        return value;
    }

    private static bool Invalid(Validation v, string path, string message)
    {
        v.Fail(path, message);
        return false;
    }
}
