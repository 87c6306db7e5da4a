using System.Text.Json.Nodes;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Storage;
using Hoard.Api.Views;
using Hoard.Core;
using Hoard.Core.Catalog;
using Hoard.Core.Configurations;
using Hoard.Core.Instances;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hoard.Api.Apis;

/// <summary>
/// Trove's configuration groups: create, list, show, replace (PUT), edit (PATCH), delete, the instances a group is
/// attached to, the parameters of a datastore version, and an instance's effective configuration.
/// </summary>
public static class ConfigurationsApi
{
    public static RouteGroupBuilder MapConfigurationsApi(this RouteGroupBuilder tenant)
    {
        tenant.MapPost("/configurations", CreateAsync);
        tenant.MapGet("/configurations", ListAsync);
        tenant.MapGet("/configurations/{id}", async (HttpContext http, string id, ConfigurationService configurations, CancellationToken ct) =>
        {
            var configuration = await configurations.GetAsync(http.Caller().ProjectId, id, ct);
            return Results.Json(new JsonObject { ["configuration"] = await DetailAsync(configuration, configurations, ct) }, TroveHttp.Json);
        });
        tenant.MapPut("/configurations/{id}", (HttpContext http, string id, ConfigurationService configurations, CancellationToken ct) =>
            UpdateAsync(http, id, configurations, merge: false, ct));
        tenant.MapPatch("/configurations/{id}", (HttpContext http, string id, ConfigurationService configurations, CancellationToken ct) =>
            UpdateAsync(http, id, configurations, merge: true, ct));
        tenant.MapDelete("/configurations/{id}", async (HttpContext http, string id, ConfigurationService configurations, CancellationToken ct) =>
        {
            await configurations.DeleteAsync(http.Caller().ProjectId, id, ct);
            return Results.StatusCode(202);
        });
        tenant.MapGet("/configurations/{id}/instances", async (HttpContext http, string id, ConfigurationService configurations, CancellationToken ct) =>
        {
            var instances = await configurations.InstancesAsync(http.Caller().ProjectId, id, ct);
            return Results.Json(new { instances = instances.Select(i => new { id = i.Id, name = i.Name }) }, TroveHttp.Json);
        });

        tenant.MapGet("/datastores/{datastore}/versions/{version}/parameters", (string datastore, string version, ConfigurationService configurations, CancellationToken ct) =>
            ParametersAsync(configurations, datastore, version, null, ct));
        tenant.MapGet("/datastores/{datastore}/versions/{version}/parameters/{name}", (string datastore, string version, string name, ConfigurationService configurations, CancellationToken ct) =>
            ParametersAsync(configurations, datastore, version, name, ct));
        tenant.MapGet("/datastores/versions/{version}/parameters", (string version, ConfigurationService configurations, CancellationToken ct) =>
            ParametersAsync(configurations, null, version, null, ct));
        tenant.MapGet("/datastores/versions/{version}/parameters/{name}", (string version, string name, ConfigurationService configurations, CancellationToken ct) =>
            ParametersAsync(configurations, null, version, name, ct));

        tenant.MapGet("/instances/{id}/configuration", async (HttpContext http, string id, InstanceService instances, ConfigurationService configurations, CancellationToken ct) =>
        {
            // The server answers while it waits for a restart too; that is when its running values matter most.
            var instance = await instances.GetAsync(http.Caller().ProjectId, id, ct);
            if (InstanceStatus.ApiStatus(instance) is not ("ACTIVE" or "RESTART_REQUIRED"))
            {
                instance = await instances.RequireServingAsync(http.Caller().ProjectId, id, ct); // Trove's "not ready" answer
            }

            var values = await configurations.EffectiveAsync(instance, ct);
            var view = new JsonObject();
            foreach (var (name, value) in values.OrderBy(v => v.Key, StringComparer.Ordinal))
            {
                view[name] = value;
            }

            return Results.Json(new JsonObject { ["instance"] = new JsonObject { ["configuration"] = view } }, TroveHttp.Json);
        });
        return tenant;
    }

    private static async Task<IResult> CreateAsync(HttpContext http, ConfigurationService configurations, CancellationToken ct)
    {
        var body = await TroveHttp.ReadObjectAsync(http.Request, ct);
        var v = new Validation();
        var configuration = v.RequiredObject(body, string.Empty, "configuration");
        v.ThrowIfFailed();
        const string path = "configuration";
        v.NoAdditionalProperties(configuration!, path, "name", "description", "values", "datastore");
        var name = v.NonEmptyString(configuration!, path, "name", required: true);
        var description = configuration!.ContainsKey("description") ? v.NonEmptyString(configuration, path, "description", required: true) : null;
        var values = v.RequiredObject(configuration!, path, "values");
        string? datastoreType = null;
        string? datastoreVersion = null;
        if (v.OptionalObject(configuration!, path, "datastore") is { } datastore)
        {
            var dsPath = Validation.Path(path, "datastore");
            datastoreType = v.NonEmptyString(datastore, dsPath, "type", required: false);
            datastoreVersion = v.NonEmptyString(datastore, dsPath, "version", required: false);
        }

        v.ThrowIfFailed();
        var created = await configurations.CreateAsync(http.Caller(), new CreateConfigurationRequest(name!, description, datastoreType, datastoreVersion, values!), ct);
        return Results.Json(new JsonObject { ["configuration"] = await DetailAsync(created, configurations, ct) }, TroveHttp.Json);
    }

    private static async Task<IResult> ListAsync(HttpContext http, ConfigurationService configurations, ViewBuilder views, string? marker, string? limit, CancellationToken ct)
    {
        var caller = http.Caller();
        var (page, next) = await configurations.ListAsync(caller.ProjectId, marker, TroveHttp.ParseLimit(limit), ct);
        var items = new JsonArray();
        foreach (var configuration in page)
        {
            items.Add(Summary(configuration, configurations.VersionOf(configuration)));
        }

        var result = new JsonObject { ["configurations"] = items };
        if (next is not null)
        {
            result["links"] = new JsonArray(new JsonObject { ["rel"] = "next", ["href"] = $"{views.PublicUrl}/v1.0/{caller.ProjectId}/configurations?marker={next}" });
        }

        return Results.Json(result, TroveHttp.Json);
    }

    /// <summary>PUT (Trove's update: values replace the group's whole; 202) and PATCH (Trove's edit: values merged; 200).</summary>
    private static async Task<IResult> UpdateAsync(HttpContext http, string id, ConfigurationService configurations, bool merge, CancellationToken ct)
    {
        var body = await TroveHttp.ReadObjectAsync(http.Request, ct);
        var v = new Validation();
        var configuration = v.RequiredObject(body, string.Empty, "configuration");
        v.ThrowIfFailed();
        const string path = "configuration";
        v.NoAdditionalProperties(configuration!, path, "name", "description", "values");
        var name = configuration!.ContainsKey("name") ? v.NonEmptyString(configuration, path, "name", required: true) : null;
        var description = configuration.ContainsKey("description") ? v.NonEmptyString(configuration, path, "description", required: true) : null;

        // Trove: a PUT without values leaves the group with none; a PATCH without values changes none.
        var values = configuration.ContainsKey("values") ? v.RequiredObject(configuration, path, "values") : [];
        v.ThrowIfFailed();
        await configurations.UpdateAsync(http.Caller().ProjectId, id, name, description, values!, merge, ct);
        return Results.StatusCode(merge ? 200 : 202);
    }

    private static async Task<IResult> ParametersAsync(ConfigurationService configurations, string? datastore, string version, string? name, CancellationToken ct)
    {
        var (found, parameters) = await configurations.ParametersAsync(datastore, version, ct);
        if (name is null)
        {
            var items = new JsonArray();
            foreach (var parameter in parameters)
            {
                items.Add(Parameter(parameter, found.Version.Id));
            }

            return Results.Json(new JsonObject { ["configuration-parameters"] = items }, TroveHttp.Json);
        }

        var match = parameters.FirstOrDefault(p => p.Name == name) ?? parameters.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            ?? throw ApiException.NotFound($"{name} is not a supported configuration parameter.");
        return Results.Json(Parameter(match, found.Version.Id), TroveHttp.Json);
    }

    /// <summary>Trove's ConfigurationParameterView, with the allowed values of an enumeration (Hoard's addition).</summary>
    private static JsonObject Parameter(ConfigurationParameter p, string versionId)
    {
        var view = new JsonObject
        {
            ["name"] = p.Name,
            ["datastore_version_id"] = versionId,
            ["restart_required"] = p.RestartRequired,
            ["type"] = p.Type,
        };
        if (p.Max is { } max)
        {
            view["max"] = JsonValue.Create(max);
        }

        if (p.Min is { } min)
        {
            view["min"] = JsonValue.Create(min);
        }

        if (p.AllowedValues is { Count: > 0 } allowed)
        {
            view["allowed_values"] = new JsonArray([.. allowed.Select(a => (JsonNode?)a)]);
        }

        return view;
    }

    /// <summary>Trove's ConfigurationView (the list's items).</summary>
    private static JsonObject Summary(ConfigurationRecord c, DatastoreVersionView version) =>
        new()
        {
            ["id"] = c.Id,
            ["name"] = c.Name,
            ["description"] = c.Description,
            ["created"] = TroveHttp.Time(c.CreatedAt),
            ["updated"] = TroveHttp.Time(c.UpdatedAt),
            ["datastore_version_id"] = c.DatastoreVersionId,
            ["datastore_name"] = version.Datastore.Name,
            ["datastore_version_name"] = version.Version.Name,
        };

    /// <summary>Trove's DetailedConfigurationView: the summary with the values, the instance count and the version number.</summary>
    private static async Task<JsonObject> DetailAsync(ConfigurationRecord c, ConfigurationService configurations, CancellationToken ct)
    {
        var version = configurations.VersionOf(c);
        var view = Summary(c, version);
        view["values"] = ConfigurationRules.Parse(c.Values);
        view["instance_count"] = await configurations.InstanceCountAsync(c.Id, ct);
        view["datastore_version_number"] = version.Version.Version;
        return view;
    }
}
