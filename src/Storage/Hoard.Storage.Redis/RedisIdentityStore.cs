using Hoard.Abstractions.Storage;
using static Hoard.Storage.Redis.RedisDb;

namespace Hoard.Storage.Redis;

internal sealed class RedisIdentityStore(RedisDb db) : IIdentityStore
{
    private RedisKeys Keys => db.Keys;

    public async Task<ProjectRecord?> GetProjectAsync(string idOrName, CancellationToken cancellationToken)
    {
        var h = await GetByIdOrNameAsync("project", idOrName, cancellationToken);
        return h is null ? null : Project(h);
    }

    public async Task<IReadOnlyList<ProjectRecord>> ListProjectsAsync(string? name, CancellationToken cancellationToken) =>
        [.. (await ListByNameAsync("project", name, cancellationToken)).Select(Project).OrderBy(p => p.Name, StringComparer.Ordinal)];

    public async Task<bool> InsertProjectAsync(ProjectRecord project, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(project);
        var rec = Arg(("id", project.Id), ("name", project.Name), ("domain_id", project.DomainId), ("description", project.Description), ("enabled", Bool(project.Enabled)));
        return await db.RunAsync(RedisScripts.InsertPrincipal, Arg(("kind", "project"), ("rec", rec)), cancellationToken) > 0;
    }

    public async Task<bool> DeleteProjectAsync(string id, CancellationToken cancellationToken) =>
        await db.RunAsync(RedisScripts.DeletePrincipal, Arg(("kind", "project"), ("id", id)), cancellationToken) > 0;

    public async Task<UserRecord?> GetUserAsync(string idOrName, CancellationToken cancellationToken)
    {
        var h = await GetByIdOrNameAsync("user", idOrName, cancellationToken);
        return h is null ? null : User(h);
    }

    public async Task<IReadOnlyList<UserRecord>> ListUsersAsync(string? name, CancellationToken cancellationToken) =>
        [.. (await ListByNameAsync("user", name, cancellationToken)).Select(User).OrderBy(u => u.Name, StringComparer.Ordinal)];

    public async Task<bool> InsertUserAsync(UserRecord user, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        var rec = Arg(
            ("id", user.Id), ("name", user.Name), ("domain_id", user.DomainId), ("default_project_id", user.DefaultProjectId),
            ("password_hash", user.PasswordHash), ("enabled", Bool(user.Enabled)));
        return await db.RunAsync(RedisScripts.InsertPrincipal, Arg(("kind", "user"), ("rec", rec)), cancellationToken) > 0;
    }

    public async Task<bool> DeleteUserAsync(string id, CancellationToken cancellationToken) =>
        await db.RunAsync(RedisScripts.DeletePrincipal, Arg(("kind", "user"), ("id", id)), cancellationToken) > 0;

    public async Task<RoleRecord?> GetRoleAsync(string idOrName, CancellationToken cancellationToken)
    {
        var h = await db.GetAsync(Keys.Key("role", idOrName), cancellationToken);
        if (h is null)
        {
            var id = await db.Database.HashGetAsync(Keys.Key("uniq:role-names"), idOrName);
            h = id.HasValue ? await db.GetAsync(Keys.Key("role", id.ToString()), cancellationToken) : null;
        }

        return h is null ? null : Role(h);
    }

    public async Task<IReadOnlyList<RoleRecord>> ListRolesAsync(string? name, CancellationToken cancellationToken)
    {
        var ids = await db.RangeAsync(Keys.Key("idx:roles"), double.NegativeInfinity, -1, cancellationToken);
        var rows = await db.GetAllAsync(ids.Select(id => Keys.Key("role", id)), cancellationToken);
        return [.. rows.Where(h => h is not null).Select(h => Role(h!)).Where(r => name is null || r.Name == name).OrderBy(r => r.Name, StringComparer.Ordinal)];
    }

    public async Task<bool> InsertRoleAsync(RoleRecord role, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(role);
        return await db.RunAsync(RedisScripts.InsertRole, Arg(("rec", Arg(("id", role.Id), ("name", role.Name)))), cancellationToken) > 0;
    }

    public Task AssignRoleAsync(RoleAssignment assignment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(assignment);
        return db.RunAsync(RedisScripts.AssignRole, Arg(("project", assignment.ProjectId), ("user", assignment.UserId), ("role", assignment.RoleId)), cancellationToken);
    }

    public async Task<bool> UnassignRoleAsync(RoleAssignment assignment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(assignment);
        return await db.RunAsync(RedisScripts.UnassignRole, Arg(("project", assignment.ProjectId), ("user", assignment.UserId), ("role", assignment.RoleId)), cancellationToken) > 0;
    }

    public async Task<IReadOnlyList<RoleRecord>> ListRolesForAsync(string projectId, string userId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var ids = await db.Database.SetMembersAsync(Keys.Key("roles-of", projectId, userId));
        var rows = await db.GetAllAsync(ids.Select(id => Keys.Key("role", id.ToString())), cancellationToken);
        return [.. rows.Where(h => h is not null).Select(h => Role(h!)).OrderBy(r => r.Name, StringComparer.Ordinal)];
    }

    public async Task<IReadOnlyList<RoleAssignment>> ListAssignmentsAsync(string? projectId, string? userId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var set = (projectId, userId) switch
        {
            (null, null) => Keys.Key("assignments"),
            (_, null) => Keys.Key("assignments-of-project", projectId),
            _ => Keys.Key("assignments-of-user", userId),
        };
        var members = await db.Database.SetMembersAsync(set);
        return
        [
            .. members
                .Select(m => m.ToString().Split(':'))
                .Select(p => new RoleAssignment(RedisKeys.Unescape(p[0]), RedisKeys.Unescape(p[1]), RedisKeys.Unescape(p[2])))
                .Where(a => (projectId is null || a.ProjectId == projectId) && (userId is null || a.UserId == userId))
                .OrderBy(a => a.ProjectId, StringComparer.Ordinal).ThenBy(a => a.UserId, StringComparer.Ordinal).ThenBy(a => a.RoleId, StringComparer.Ordinal),
        ];
    }

    public Task InsertTokenAsync(TokenRecord token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        var rec = Arg(("token_hash", token.TokenHash), ("user_id", token.UserId), ("project_id", token.ProjectId), ("issued_at", Ms(token.IssuedAt)), ("expires_at", Ms(token.ExpiresAt)));
        return db.RunAsync(RedisScripts.InsertToken, Arg(("rec", rec)), cancellationToken);
    }

    public async Task<TokenRecord?> GetTokenAsync(string tokenHash, CancellationToken cancellationToken)
    {
        var h = await db.GetAsync(Keys.Key("token", tokenHash), cancellationToken);
        return h is null ? null : new TokenRecord(h["token_hash"], h["user_id"], h["project_id"], Time(h, "issued_at"), Time(h, "expires_at"));
    }

    public async Task<bool> DeleteTokenAsync(string tokenHash, CancellationToken cancellationToken) =>
        await db.RunAsync(RedisScripts.DeleteToken, Arg(("hash", tokenHash)), cancellationToken) > 0;

    public async Task<int> PurgeExpiredTokensAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        (int)await db.RunAsync(RedisScripts.PurgeTokens, Arg(("now", Ms(now))), cancellationToken);

    /// <summary>By id first, then the oldest of that name (any domain), like the SQLite store's UNION ALL ... LIMIT 1.</summary>
    private async Task<Dictionary<string, string>?> GetByIdOrNameAsync(string kind, string idOrName, CancellationToken cancellationToken)
    {
        var h = await db.GetAsync(Keys.Key(kind, idOrName), cancellationToken);
        if (h is not null)
        {
            return h;
        }

        var ids = await db.RangeAsync(Keys.Key($"idx:{kind}-names", idOrName), double.NegativeInfinity, 1, cancellationToken);
        return ids.Length == 0 ? null : await db.GetAsync(Keys.Key(kind, ids[0]), cancellationToken);
    }

    private async Task<IEnumerable<Dictionary<string, string>>> ListByNameAsync(string kind, string? name, CancellationToken cancellationToken)
    {
        var index = name is null ? Keys.Key($"idx:{kind}s") : Keys.Key($"idx:{kind}-names", name);
        var ids = await db.RangeAsync(index, double.NegativeInfinity, -1, cancellationToken);
        var rows = await db.GetAllAsync(ids.Select(id => Keys.Key(kind, id)), cancellationToken);
        return rows.Where(h => h is not null)!;
    }

    private static ProjectRecord Project(Dictionary<string, string> h) =>
        new(h["id"], h["name"], h["domain_id"], h["description"], BoolOf(h, "enabled"));

    private static UserRecord User(Dictionary<string, string> h) =>
        new(h["id"], h["name"], h["domain_id"], StringOrNull(h, "default_project_id"), h["password_hash"], BoolOf(h, "enabled"));

    private static RoleRecord Role(Dictionary<string, string> h) => new(h["id"], h["name"]);
}
