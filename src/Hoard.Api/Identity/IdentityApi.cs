using System.Text.Json.Nodes;
using Hoard.Abstractions.Storage;
using Hoard.Api.Apis;
using Hoard.Core.Configuration;
using Hoard.Core.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hoard.Api.Identity;

/// <summary>
/// The subset of Keystone v3 the stock openstack and trove clients need: version discovery, password
/// tokens with a service catalog, token validation and revocation, and project, user and role calls.
/// </summary>
public static class IdentityApi
{
    private const string Domain = IdentityService.DefaultDomainId;

    public static IEndpointRouteBuilder MapIdentityApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/identity", (HoardOptions o) => Results.Json(new { versions = new { values = new[] { VersionDocument(o) } } }, statusCode: 300));
        app.MapGet("/identity/v3", (HoardOptions o) => Results.Json(new { version = VersionDocument(o) }));

        var v3 = app.MapGroup("/identity/v3");
        v3.MapPost("/auth/tokens", IssueTokenAsync);
        v3.MapGet("/auth/tokens", async (HttpContext http, IdentityService identity, IManagementStore store, HoardOptions o, CancellationToken ct) =>
        {
            var (token, subject, refusal) = await SubjectTokenAsync(http, identity, ct);
            if (refusal is not null)
            {
                return refusal;
            }

            var project = await store.Identity.GetProjectAsync(subject!.ProjectId, ct);
            http.Response.Headers["X-Subject-Token"] = token;
            return Results.Json(TokenBody(subject, project!, o));
        });
        v3.MapDelete("/auth/tokens", async (HttpContext http, IdentityService identity, CancellationToken ct) =>
        {
            var (token, _, refusal) = await SubjectTokenAsync(http, identity, ct);
            return refusal ?? (await identity.RevokeAsync(token, ct) ? Results.NoContent() : NotFound("token", "subject"));
        });

        var admin = v3.MapGroup(string.Empty).AddEndpointFilter(RequireTokenAsync);
        admin.MapGet("/domains", (string? name) =>
            Results.Json(new { domains = name is null or IdentityService.DefaultDomainName or Domain ? new[] { DomainView() } : [], links = new { self = (string?)null, next = (string?)null, previous = (string?)null } }));
        admin.MapGet("/domains/{id}", (string id) =>
            id is Domain or IdentityService.DefaultDomainName ? Results.Json(new { domain = DomainView() }) : NotFound("domain", id));

        admin.MapGet("/projects", async (HttpContext http, string? name, IManagementStore store, HoardOptions o, CancellationToken ct) =>
        {
            var caller = Caller(http);
            var projects = await store.Identity.ListProjectsAsync(name, ct);
            var visible = projects.Where(p => caller.IsAdmin || p.Id == caller.ProjectId).Select(p => ProjectView(p, o));
            return Results.Json(new { projects = visible, links = new { self = $"{o.PublicUrl}/identity/v3/projects", next = (string?)null, previous = (string?)null } });
        });
        admin.MapGet("/projects/{id}", async (HttpContext http, string id, IManagementStore store, HoardOptions o, CancellationToken ct) =>
        {
            var caller = Caller(http);
            var project = await store.Identity.GetProjectAsync(id, ct);
            return project is not null && project.Id == id && (caller.IsAdmin || project.Id == caller.ProjectId)
                ? Results.Json(new { project = ProjectView(project, o) })
                : NotFound("project", id);
        });
        admin.MapPost("/projects", async (HttpContext http, IManagementStore store, HoardOptions o, CancellationToken ct) =>
        {
            if (!Caller(http).IsAdmin)
            {
                return Forbidden();
            }

            var body = await ReadAsync(http, "project", ct);
            if (body.Error is not null)
            {
                return body.Error;
            }

            var name = body.String("name");
            if (string.IsNullOrWhiteSpace(name) || name.Length > 64)
            {
                return BadRequest("Invalid input for field 'name': a project name of 1 to 64 characters is required.");
            }

            var project = new ProjectRecord(IdentityService.NewId(), name, Domain, body.String("description") ?? string.Empty, body.Bool("enabled") ?? true);
            return await store.Identity.InsertProjectAsync(project, ct)
                ? Results.Json(new { project = ProjectView(project, o) }, statusCode: 201)
                : Conflict("project");
        });
        admin.MapDelete("/projects/{id}", async (HttpContext http, string id, IManagementStore store, CancellationToken ct) =>
            !Caller(http).IsAdmin ? Forbidden() : await store.Identity.DeleteProjectAsync(id, ct) ? Results.NoContent() : NotFound("project", id));

        admin.MapGet("/users", async (HttpContext http, string? name, IManagementStore store, HoardOptions o, CancellationToken ct) =>
        {
            var caller = Caller(http);
            var users = await store.Identity.ListUsersAsync(name, ct);
            return Results.Json(new { users = users.Where(u => caller.IsAdmin || u.Id == caller.UserId).Select(u => UserView(u, o)), links = new { self = $"{o.PublicUrl}/identity/v3/users", next = (string?)null, previous = (string?)null } });
        });
        admin.MapGet("/users/{id}", async (HttpContext http, string id, IManagementStore store, HoardOptions o, CancellationToken ct) =>
        {
            var caller = Caller(http);
            var user = await store.Identity.GetUserAsync(id, ct);
            return user is not null && user.Id == id && (caller.IsAdmin || user.Id == caller.UserId)
                ? Results.Json(new { user = UserView(user, o) })
                : NotFound("user", id);
        });
        admin.MapPost("/users", async (HttpContext http, IManagementStore store, IdentityService identity, HoardOptions o, CancellationToken ct) =>
        {
            if (!Caller(http).IsAdmin)
            {
                return Forbidden();
            }

            var body = await ReadAsync(http, "user", ct);
            if (body.Error is not null)
            {
                return body.Error;
            }

            var name = body.String("name");
            var password = body.String("password");
            if (string.IsNullOrWhiteSpace(name) || name.Length > 255)
            {
                return BadRequest("Invalid input for field 'name': a user name of 1 to 255 characters is required.");
            }

            if (string.IsNullOrEmpty(password) || password.Length > 4096)
            {
                return BadRequest("Invalid input for field 'password': a password of 1 to 4096 characters is required.");
            }

            var projectId = body.String("default_project_id");
            if (projectId is not null && await store.Identity.GetProjectAsync(projectId, ct) is null)
            {
                return BadRequest($"Invalid input for field 'default_project_id': project {projectId} does not exist.");
            }

            var user = new UserRecord(IdentityService.NewId(), name, Domain, projectId, identity.HashPassword(password), body.Bool("enabled") ?? true);
            return await store.Identity.InsertUserAsync(user, ct)
                ? Results.Json(new { user = UserView(user, o) }, statusCode: 201)
                : Conflict("user");
        });
        admin.MapDelete("/users/{id}", async (HttpContext http, string id, IManagementStore store, IdentityService identity, CancellationToken ct) =>
        {
            if (!Caller(http).IsAdmin)
            {
                return Forbidden();
            }

            identity.ForgetUser(id);
            return await store.Identity.DeleteUserAsync(id, ct) ? Results.NoContent() : NotFound("user", id);
        });

        admin.MapGet("/roles", async (string? name, IManagementStore store, HoardOptions o, CancellationToken ct) =>
            Results.Json(new { roles = (await store.Identity.ListRolesAsync(name, ct)).Select(r => RoleView(r, o)), links = new { self = $"{o.PublicUrl}/identity/v3/roles", next = (string?)null, previous = (string?)null } }));
        admin.MapGet("/roles/{id}", async (string id, IManagementStore store, HoardOptions o, CancellationToken ct) =>
            await store.Identity.GetRoleAsync(id, ct) is { } role && role.Id == id ? Results.Json(new { role = RoleView(role, o) }) : NotFound("role", id));
        admin.MapPut("/projects/{project}/users/{user}/roles/{role}", (HttpContext http, string project, string user, string role, IManagementStore store, IdentityService identity, CancellationToken ct) =>
            ChangeRoleAsync(http, project, user, role, store, identity, assign: true, ct));
        admin.MapDelete("/projects/{project}/users/{user}/roles/{role}", (HttpContext http, string project, string user, string role, IManagementStore store, IdentityService identity, CancellationToken ct) =>
            ChangeRoleAsync(http, project, user, role, store, identity, assign: false, ct));
        admin.MapMethods("/projects/{project}/users/{user}/roles/{role}", ["HEAD"], async (HttpContext http, string project, string user, string role, IManagementStore store, CancellationToken ct) =>
            !MayActFor(Caller(http), user) ? Forbidden()
            : (await store.Identity.ListRolesForAsync(project, user, ct)).Any(r => r.Id == role) ? Results.NoContent() : Results.NotFound());
        admin.MapGet("/projects/{project}/users/{user}/roles", async (HttpContext http, string project, string user, IManagementStore store, HoardOptions o, CancellationToken ct) =>
            !MayActFor(Caller(http), user) ? Forbidden()
            : Results.Json(new { roles = (await store.Identity.ListRolesForAsync(project, user, ct)).Select(r => RoleView(r, o)) }));
        admin.MapGet("/role_assignments", async (HttpContext http, IManagementStore store, CancellationToken ct) =>
        {
            var q = http.Request.Query;
            var caller = Caller(http);
            var assignments = (await store.Identity.ListAssignmentsAsync(q["scope.project.id"].FirstOrDefault(), q["user.id"].FirstOrDefault(), ct))
                .Where(a => MayActFor(caller, a.UserId));
            return Results.Json(new
            {
                role_assignments = assignments.Select(a => new { role = new { id = a.RoleId }, user = new { id = a.UserId }, scope = new { project = new { id = a.ProjectId } } }),
            });
        });
        return app;
    }

    private static async Task<IResult> ChangeRoleAsync(HttpContext http, string projectId, string userId, string roleId, IManagementStore store, IdentityService identity, bool assign, CancellationToken ct)
    {
        if (!Caller(http).IsAdmin)
        {
            return Forbidden();
        }

        var project = await store.Identity.GetProjectAsync(projectId, ct);
        var user = await store.Identity.GetUserAsync(userId, ct);
        var role = await store.Identity.GetRoleAsync(roleId, ct);
        if (project is null || project.Id != projectId)
        {
            return NotFound("project", projectId);
        }

        if (user is null || user.Id != userId)
        {
            return NotFound("user", userId);
        }

        if (role is null || role.Id != roleId)
        {
            return NotFound("role", roleId);
        }

        var assignment = new RoleAssignment(project.Id, user.Id, role.Id);
        identity.ForgetUser(user.Id);
        if (assign)
        {
            await store.Identity.AssignRoleAsync(assignment, ct);
            return Results.NoContent();
        }

        return await store.Identity.UnassignRoleAsync(assignment, ct) ? Results.NoContent() : NotFound("role assignment", roleId);
    }

    private static async Task<IResult> IssueTokenAsync(HttpContext http, IdentityService identity, IManagementStore store, HoardOptions o, CancellationToken ct)
    {
        JsonObject body;
        try
        {
            body = await TroveHttp.ReadObjectAsync(http.Request, requireJsonMediaType: false, ct);
        }
        catch (Hoard.Core.ApiException e)
        {
            return BodyError(e);
        }

        var auth = body["auth"] as JsonObject;
        var identitySection = auth?["identity"] as JsonObject;
        var methods = identitySection?["methods"] as JsonArray;
        if (identitySection is null || methods is null || !methods.Any(m => m?.GetValueKind() == System.Text.Json.JsonValueKind.String && m.GetValue<string>() == "password"))
        {
            return BadRequest("Expecting to find identity.methods with 'password' in auth; only password authentication is supported.");
        }

        // Each level may be any JSON value: indexing a string or an array by name would throw, so each is checked as an object.
        var user = (identitySection["password"] as JsonObject)?["user"] as JsonObject;
        var userKey = Str(user?["id"]) ?? Str(user?["name"]);
        var password = Str(user?["password"]);
        if (userKey is null || password is null)
        {
            return BadRequest("Expecting to find auth.identity.password.user with a name or id and a password.");
        }

        var scope = (auth?["scope"] as JsonObject)?["project"] as JsonObject;
        var projectKey = Str(scope?["id"]) ?? Str(scope?["name"]);
        var issued = await identity.AuthenticateAsync(userKey, password, projectKey, ct);
        if (issued is null)
        {
            return Unauthorized();
        }

        http.Response.Headers["X-Subject-Token"] = issued.Token;
        return Results.Json(TokenBody(issued.Context, issued.Project, o), statusCode: 201);
    }

    private static object TokenBody(AuthContext c, ProjectRecord project, HoardOptions o)
    {
        var endpoint = (string url, string kind) => new[] { "public", "internal", "admin" }
            .Select(i => new { id = CatalogIds(kind, i), @interface = i, region_id = o.Region, region = o.Region, url })
            .ToArray();
        return new
        {
            token = new
            {
                methods = new[] { "password" },
                user = new { id = c.UserId, name = c.UserName, domain = DomainRef(), password_expires_at = (string?)null },
                audit_ids = new[] { Secrets.Sha256Hex(c.UserId + c.IssuedAt.ToUnixTimeMilliseconds())[..22] },
                expires_at = KeystoneTime(c.ExpiresAt),
                issued_at = KeystoneTime(c.IssuedAt),
                project = new { id = project.Id, name = project.Name, domain = DomainRef() },
                is_domain = false,
                roles = c.Roles.Select(r => new { id = r.Id, name = r.Name }),
                catalog = new object[]
                {
                    new { type = "database", name = "trove", id = CatalogIds("database", "service"), endpoints = endpoint($"{o.PublicUrl}/v1.0/{project.Id}", "database") },
                    new { type = "identity", name = "keystone", id = CatalogIds("identity", "service"), endpoints = endpoint($"{o.PublicUrl}/identity/v3", "identity") },

                    // Where published database logs are read from (openstack database log tail|save use swiftclient).
                    new { type = "object-store", name = "swift", id = CatalogIds("object-store", "service"), endpoints = endpoint($"{o.PublicUrl}{ObjectStoreApi.Root}/AUTH_{project.Id}", "object-store") },
                },
            },
        };
    }

    private static string CatalogIds(string kind, string part) => Secrets.Sha256Hex(kind + ":" + part)[..32];

    private static string KeystoneTime(DateTimeOffset t) =>
        t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", System.Globalization.CultureInfo.InvariantCulture);

    private static object VersionDocument(HoardOptions o) => new Dictionary<string, object>
    {
        ["id"] = "v3.14",
        ["status"] = "stable",
        ["updated"] = "2020-04-07T00:00:00Z",
        ["links"] = new[] { new { rel = "self", href = $"{o.PublicUrl}/identity/v3/" } },
        ["media-types"] = new[] { new { @base = "application/json", type = "application/vnd.openstack.identity-v3+json" } },
    };

    private static object DomainRef() => new { id = Domain, name = IdentityService.DefaultDomainName };

    private static object DomainView() => new { id = Domain, name = IdentityService.DefaultDomainName, description = "The default domain", enabled = true, tags = Array.Empty<string>(), options = new { } };

    private static object ProjectView(ProjectRecord p, HoardOptions o) => new
    {
        id = p.Id,
        name = p.Name,
        domain_id = p.DomainId,
        description = p.Description,
        enabled = p.Enabled,
        is_domain = false,
        parent_id = p.DomainId,
        tags = Array.Empty<string>(),
        options = new { },
        links = new { self = $"{o.PublicUrl}/identity/v3/projects/{p.Id}" },
    };

    private static object UserView(UserRecord u, HoardOptions o) => new
    {
        id = u.Id,
        name = u.Name,
        domain_id = u.DomainId,
        default_project_id = u.DefaultProjectId,
        enabled = u.Enabled,
        password_expires_at = (string?)null,
        options = new { },
        links = new { self = $"{o.PublicUrl}/identity/v3/users/{u.Id}" },
    };

    private static object RoleView(RoleRecord r, HoardOptions o) => new
    {
        id = r.Id,
        name = r.Name,
        domain_id = (string?)null,
        description = (string?)null,
        options = new { },
        links = new { self = $"{o.PublicUrl}/identity/v3/roles/{r.Id}" },
    };

    private static async ValueTask<object?> RequireTokenAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var identity = http.RequestServices.GetService(typeof(IdentityService)) as IdentityService;
        var caller = await identity!.ValidateAsync(http.Request.Headers["X-Auth-Token"].ToString(), http.RequestAborted);
        if (caller is null)
        {
            return Unauthorized();
        }

        http.Items[TroveHttp.AuthContextKey] = caller;
        return await next(context);
    }

    private static AuthContext Caller(HttpContext http) => http.Caller();

    /// <summary>
    /// Keystone's rule for another user's things (their role grants, their tokens): an admin's, or the user's own. A
    /// member sees only its own grants, and could otherwise read or revoke (log out) another user's token.
    /// </summary>
    private static bool MayActFor(AuthContext caller, string userId) => caller.IsAdmin || caller.UserId == userId;

    /// <summary>The X-Subject-Token the caller (X-Auth-Token) asks about and whose it is, or the refusal to answer with.</summary>
    private static async Task<(string Token, AuthContext? Subject, IResult? Refusal)> SubjectTokenAsync(HttpContext http, IdentityService identity, CancellationToken ct)
    {
        var caller = await identity.ValidateAsync(http.Request.Headers["X-Auth-Token"].ToString(), ct);
        if (caller is null)
        {
            return (string.Empty, null, Unauthorized());
        }

        var token = http.Request.Headers["X-Subject-Token"].ToString();
        var subject = await identity.ValidateAsync(token, ct);
        return subject is null ? (token, null, NotFound("token", "subject"))
            : MayActFor(caller, subject.UserId) ? (token, subject, null)
            : (token, null, Forbidden());
    }

    private sealed record Body(JsonObject? Object, IResult? Error)
    {
        public string? String(string key) => Str(Object?[key]);

        public bool? Bool(string key) => Object?[key] is JsonValue v && v.TryGetValue<bool>(out var b) ? b : null;
    }

    private static async Task<Body> ReadAsync(HttpContext http, string wrapper, CancellationToken ct)
    {
        try
        {
            var body = await TroveHttp.ReadObjectAsync(http.Request, requireJsonMediaType: false, ct);
            return body[wrapper] is JsonObject inner ? new Body(inner, null) : new Body(null, BadRequest($"Expecting to find {wrapper} in request body."));
        }
        catch (Hoard.Core.ApiException e)
        {
            return new Body(null, BodyError(e));
        }
    }

    private static string? Str(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static IResult Error(int code, string title, string message) =>
        Results.Json(new { error = new { code, message, title } }, statusCode: code);

    private static IResult Unauthorized() => Error(401, "Unauthorized", "The request you have made requires authentication.");

    private static IResult Forbidden() => Error(403, "Forbidden", "You are not authorized to perform the requested action: the admin role is required.");

    private static IResult BadRequest(string message) => Error(400, "Bad Request", message);

    /// <summary>A body that could not be read: too large stays Keystone's 413, anything else is a 400.</summary>
    private static IResult BodyError(Hoard.Core.ApiException e) =>
        e.Status == 413 ? Error(413, "Request Entity Too Large", e.Message) : BadRequest(e.Message);

    private static IResult NotFound(string kind, string id) => Error(404, "Not Found", $"Could not find {kind}: {id}.");

    private static IResult Conflict(string kind) => Error(409, "Conflict", $"Conflict occurred attempting to store {kind} - Duplicate entry.");
}
