using System.Text.Json.Nodes;
using Hoard.Abstractions.Datastores;
using Hoard.Api.Views;
using Hoard.Core;
using Hoard.Core.Instances;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hoard.Api.Apis;

/// <summary>
/// Trove's databases, users and user-access routes (extensions/routes/mysql.py), for every datastore whose
/// plugin has them. Bodies are checked as Trove's apischema checks them; names, hosts and passwords then by
/// the datastore's own rules in <see cref="SchemaService"/>.
/// </summary>
public static class SchemaApi
{
    public static RouteGroupBuilder MapSchemaApi(this RouteGroupBuilder tenant)
    {
        var instance = tenant.MapGroup("/instances/{id}");

        instance.MapGet("/databases", async (HttpContext http, string id, string? marker, string? limit, SchemaService schema, ViewBuilder views, CancellationToken ct) =>
        {
            var caller = http.Caller();
            var page = await schema.ListDatabasesAsync(caller.ProjectId, id, marker, TroveHttp.ParseLimit(limit), ct);
            return Results.Json(new { databases = page.Items.Select(d => new { name = d.Name }), links = NextLinks(http, views, page.NextMarker) }, TroveHttp.Json);
        });
        instance.MapPost("/databases", async (HttpContext http, string id, SchemaService schema, CancellationToken ct) =>
        {
            var body = await TroveHttp.ReadObjectAsync(http.Request, ct);
            var v = new Validation();
            var databases = ReadDatabases(v, body, string.Empty, "databases", required: true);
            v.ThrowIfFailed();
            await schema.CreateDatabasesAsync(http.Caller().ProjectId, id, databases, ct);
            return Results.StatusCode(202);
        });
        instance.MapGet("/databases/{name}", () => TroveHttp.Error(501, "notImplemented", "Showing one database is not implemented; list the databases instead."));
        instance.MapDelete("/databases/{name}", async (HttpContext http, string id, string name, SchemaService schema, CancellationToken ct) =>
        {
            await schema.DeleteDatabaseAsync(http.Caller().ProjectId, id, name, ct);
            return Results.StatusCode(202);
        });

        instance.MapGet("/users", async (HttpContext http, string id, string? marker, string? limit, SchemaService schema, ViewBuilder views, CancellationToken ct) =>
        {
            var caller = http.Caller();
            var page = await schema.ListUsersAsync(caller.ProjectId, id, marker, TroveHttp.ParseLimit(limit), ct);
            return Results.Json(new { users = page.Items.Select(UserView), links = NextLinks(http, views, page.NextMarker) }, TroveHttp.Json);
        });
        instance.MapPost("/users", async (HttpContext http, string id, SchemaService schema, CancellationToken ct) =>
        {
            var body = await TroveHttp.ReadObjectAsync(http.Request, ct);
            var v = new Validation();
            var users = ReadUsers(v, body, string.Empty, "users", required: true);
            v.ThrowIfFailed();
            await schema.CreateUsersAsync(http.Caller().ProjectId, id, users, ct);
            return Results.StatusCode(202);
        });
        instance.MapPut("/users", async (HttpContext http, string id, SchemaService schema, CancellationToken ct) =>
        {
            var body = await TroveHttp.ReadObjectAsync(http.Request, ct);
            var v = new Validation();
            var changes = new List<PasswordChange>();
            foreach (var (item, path) in v.ArrayOfObjects(body, string.Empty, "users", required: true) ?? [])
            {
                var name = v.NonEmptyString(item, path, "name", required: true, maxLength: 255);
                var password = v.NonEmptyString(item, path, "password", required: true);
                var host = v.HostString(item, path, "host");
                if (name is not null && password is not null)
                {
                    changes.Add(new PasswordChange(new UserRef(name, host), password));
                }
            }

            v.ThrowIfFailed();
            await schema.ChangePasswordsAsync(http.Caller().ProjectId, id, changes, ct);
            return Results.StatusCode(202);
        });
        instance.MapGet("/users/{user}", async (HttpContext http, string id, string user, SchemaService schema, CancellationToken ct) =>
            Results.Json(new { user = UserView(await schema.GetUserAsync(http.Caller().ProjectId, id, user, ct)) }, TroveHttp.Json));
        instance.MapPut("/users/{user}", async (HttpContext http, string id, string user, SchemaService schema, CancellationToken ct) =>
        {
            var body = await TroveHttp.ReadObjectAsync(http.Request, ct);
            var v = new Validation();
            var attributes = v.RequiredObject(body, string.Empty, "user");
            v.ThrowIfFailed();
            const string path = "user";
            var change = new UserChange
            {
                NewName = v.NonEmptyString(attributes!, path, "name", required: false),
                NewPassword = v.NonEmptyString(attributes!, path, "password", required: false),
                NewHost = v.HostString(attributes!, path, "host"),
            };
            if (!attributes!.Any(p => p.Key is "name" or "password" or "host"))
            {
                v.Fail(path, "does not have enough properties: one of 'name', 'password' or 'host' is expected");
            }

            v.ThrowIfFailed();
            await schema.UpdateUserAsync(http.Caller().ProjectId, id, user, change, ct);
            return Results.StatusCode(202);
        });
        instance.MapDelete("/users/{user}", async (HttpContext http, string id, string user, SchemaService schema, CancellationToken ct) =>
        {
            await schema.DeleteUserAsync(http.Caller().ProjectId, id, user, ct);
            return Results.StatusCode(202);
        });

        instance.MapGet("/users/{user}/databases", async (HttpContext http, string id, string user, SchemaService schema, CancellationToken ct) =>
        {
            var databases = await schema.ListAccessAsync(http.Caller().ProjectId, id, user, ct);
            return Results.Json(new { databases = databases.Select(d => new { name = d }) }, TroveHttp.Json);
        });
        instance.MapPut("/users/{user}/databases", async (HttpContext http, string id, string user, SchemaService schema, CancellationToken ct) =>
        {
            var body = await TroveHttp.ReadObjectAsync(http.Request, ct);
            var v = new Validation();
            var databases = ReadDatabaseRefs(v, body, string.Empty, "databases", required: true);
            v.ThrowIfFailed();
            await schema.GrantAccessAsync(http.Caller().ProjectId, id, user, databases, ct);
            return Results.StatusCode(202);
        });
        instance.MapDelete("/users/{user}/databases/{database}", async (HttpContext http, string id, string user, string database, SchemaService schema, CancellationToken ct) =>
        {
            await schema.RevokeAccessAsync(http.Caller().ProjectId, id, user, database, ct);
            return Results.StatusCode(202);
        });
        return tenant;
    }

    /// <summary>The databases of a create body (dbschema.create): names, optional character_set and collate.</summary>
    public static List<DatabaseSpec> ReadDatabases(Validation v, JsonObject parent, string parentPath, string key, bool required)
    {
        var databases = new List<DatabaseSpec>();
        foreach (var (item, path) in v.ArrayOfObjects(parent, parentPath, key, required) ?? [])
        {
            var name = v.NonEmptyString(item, path, "name", required: true, maxLength: 255);
            var characterSet = v.NonEmptyString(item, path, "character_set", required: false);
            var collate = v.NonEmptyString(item, path, "collate", required: false);
            if (name is not null)
            {
                databases.Add(new DatabaseSpec(name, characterSet, collate));
            }
        }

        return databases;
    }

    /// <summary>The users of a create body (user.create): name, password, optional host and databases.</summary>
    public static List<UserSpec> ReadUsers(Validation v, JsonObject parent, string parentPath, string key, bool required)
    {
        var users = new List<UserSpec>();
        foreach (var (item, path) in v.ArrayOfObjects(parent, parentPath, key, required) ?? [])
        {
            var name = v.NonEmptyString(item, path, "name", required: true, maxLength: 255);
            var password = v.NonEmptyString(item, path, "password", required: true);
            var host = v.HostString(item, path, "host");
            var databases = ReadDatabaseRefs(v, item, path, "databases", required: false);
            if (name is not null && password is not null)
            {
                users.Add(new UserSpec { Name = name, Password = password, Host = host, Databases = [.. databases.Distinct(StringComparer.Ordinal)] });
            }
        }

        return users;
    }

    private static List<string> ReadDatabaseRefs(Validation v, JsonObject parent, string parentPath, string key, bool required) =>
        [.. (v.ArrayOfObjects(parent, parentPath, key, required) ?? [])
            .Select(x => v.NonEmptyString(x.Item, x.Path, "name", required: true, maxLength: 255))
            .OfType<string>()];

    /// <summary>Trove shows a user without a host part with host '%', as its models read a missing host.</summary>
    private static object UserView(UserInfo u) =>
        new { name = u.Name, host = u.Host ?? "%", databases = u.Databases.Select(d => new { name = d }) };

    /// <summary>Trove's next link: only when there is a next page; the request's URL with the marker replaced.</summary>
    private static Link[]? NextLinks(HttpContext http, ViewBuilder views, string? next)
    {
        if (next is null)
        {
            return null;
        }

        var query = http.Request.Query
            .Where(q => q.Key != "marker")
            .Select(q => $"{Uri.EscapeDataString(q.Key)}={Uri.EscapeDataString(q.Value.ToString())}")
            .Append($"marker={Uri.EscapeDataString(next)}");
        return [new Link($"{views.PublicUrl}{http.Request.Path}?{string.Join('&', query)}", "next")];
    }
}
