using System.Data.Common;
using Hoard.Abstractions.Storage;
using static Hoard.Storage.PostgreSql.PostgreSqlDb;

namespace Hoard.Storage.PostgreSql;

/// <remarks>Names sort by code point (COLLATE "C"), as SQLite's do, whatever the database's collation.</remarks>
internal sealed class PostgreSqlIdentityStore(PostgreSqlDb db) : IIdentityStore
{
    private const string ProjectColumns = "id, name, domain_id, description, enabled";
    private const string UserColumns = "id, name, domain_id, default_project_id, password_hash, enabled";

    // A match on the id wins over a match on the name.
    public Task<ProjectRecord?> GetProjectAsync(string idOrName, CancellationToken cancellationToken) =>
        db.QuerySingleAsync($"SELECT {ProjectColumns} FROM projects WHERE id = @k OR name = @k ORDER BY id = @k DESC LIMIT 1", ReadProject, cancellationToken, ("k", idOrName));

    public async Task<IReadOnlyList<ProjectRecord>> ListProjectsAsync(string? name, CancellationToken cancellationToken) =>
        await db.QueryAsync($"SELECT {ProjectColumns} FROM projects WHERE @n::text IS NULL OR name = @n ORDER BY name COLLATE \"C\"", ReadProject, cancellationToken, ("n", name));

    public Task<bool> InsertProjectAsync(ProjectRecord project, CancellationToken cancellationToken) =>
        db.TryExecuteAsync(
            "INSERT INTO projects (id, name, domain_id, description, enabled) VALUES (@id, @n, @d, @desc, @e)",
            cancellationToken,
            ("id", project.Id), ("n", project.Name), ("d", project.DomainId), ("desc", project.Description), ("e", project.Enabled));

    public async Task<bool> DeleteProjectAsync(string id, CancellationToken cancellationToken) =>
        await db.ExecuteAsync("DELETE FROM projects WHERE id = @id", cancellationToken, ("id", id)) > 0;

    public Task<UserRecord?> GetUserAsync(string idOrName, CancellationToken cancellationToken) =>
        db.QuerySingleAsync($"SELECT {UserColumns} FROM users WHERE id = @k OR name = @k ORDER BY id = @k DESC LIMIT 1", ReadUser, cancellationToken, ("k", idOrName));

    public async Task<IReadOnlyList<UserRecord>> ListUsersAsync(string? name, CancellationToken cancellationToken) =>
        await db.QueryAsync($"SELECT {UserColumns} FROM users WHERE @n::text IS NULL OR name = @n ORDER BY name COLLATE \"C\"", ReadUser, cancellationToken, ("n", name));

    public Task<bool> InsertUserAsync(UserRecord user, CancellationToken cancellationToken) =>
        db.TryExecuteAsync(
            "INSERT INTO users (id, name, domain_id, default_project_id, password_hash, enabled) VALUES (@id, @n, @d, @p, @h, @e)",
            cancellationToken,
            ("id", user.Id), ("n", user.Name), ("d", user.DomainId), ("p", user.DefaultProjectId), ("h", user.PasswordHash), ("e", user.Enabled));

    public async Task<bool> DeleteUserAsync(string id, CancellationToken cancellationToken) =>
        await db.ExecuteAsync("DELETE FROM users WHERE id = @id", cancellationToken, ("id", id)) > 0;

    public Task<RoleRecord?> GetRoleAsync(string idOrName, CancellationToken cancellationToken) =>
        db.QuerySingleAsync("SELECT id, name FROM roles WHERE id = @k OR name = @k ORDER BY id = @k DESC LIMIT 1", ReadRole, cancellationToken, ("k", idOrName));

    public async Task<IReadOnlyList<RoleRecord>> ListRolesAsync(string? name, CancellationToken cancellationToken) =>
        await db.QueryAsync("SELECT id, name FROM roles WHERE @n::text IS NULL OR name = @n ORDER BY name COLLATE \"C\"", ReadRole, cancellationToken, ("n", name));

    public Task<bool> InsertRoleAsync(RoleRecord role, CancellationToken cancellationToken) =>
        db.TryExecuteAsync("INSERT INTO roles (id, name) VALUES (@id, @n)", cancellationToken, ("id", role.Id), ("n", role.Name));

    public Task AssignRoleAsync(RoleAssignment assignment, CancellationToken cancellationToken) =>
        db.ExecuteAsync(
            "INSERT INTO role_assignments (project_id, user_id, role_id) VALUES (@p, @u, @r) ON CONFLICT DO NOTHING",
            cancellationToken,
            ("p", assignment.ProjectId), ("u", assignment.UserId), ("r", assignment.RoleId));

    public async Task<bool> UnassignRoleAsync(RoleAssignment assignment, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(
            "DELETE FROM role_assignments WHERE project_id = @p AND user_id = @u AND role_id = @r",
            cancellationToken,
            ("p", assignment.ProjectId), ("u", assignment.UserId), ("r", assignment.RoleId)) > 0;

    public async Task<IReadOnlyList<RoleRecord>> ListRolesForAsync(string projectId, string userId, CancellationToken cancellationToken) =>
        await db.QueryAsync(
            "SELECT r.id, r.name FROM role_assignments a JOIN roles r ON r.id = a.role_id WHERE a.project_id = @p AND a.user_id = @u ORDER BY r.name COLLATE \"C\"",
            ReadRole,
            cancellationToken,
            ("p", projectId), ("u", userId));

    public async Task<IReadOnlyList<RoleAssignment>> ListAssignmentsAsync(string? projectId, string? userId, CancellationToken cancellationToken) =>
        await db.QueryAsync(
            "SELECT project_id, user_id, role_id FROM role_assignments WHERE (@p::text IS NULL OR project_id = @p) AND (@u::text IS NULL OR user_id = @u)",
            r => new RoleAssignment(r.GetString(0), r.GetString(1), r.GetString(2)),
            cancellationToken,
            ("p", projectId), ("u", userId));

    public Task InsertTokenAsync(TokenRecord token, CancellationToken cancellationToken) =>
        db.ExecuteAsync(
            "INSERT INTO tokens (token_hash, user_id, project_id, issued_at, expires_at) VALUES (@h, @u, @p, @i, @e)",
            cancellationToken,
            ("h", token.TokenHash), ("u", token.UserId), ("p", token.ProjectId), ("i", Ms(token.IssuedAt)), ("e", Ms(token.ExpiresAt)));

    public Task<TokenRecord?> GetTokenAsync(string tokenHash, CancellationToken cancellationToken) =>
        db.QuerySingleAsync(
            "SELECT token_hash, user_id, project_id, issued_at, expires_at FROM tokens WHERE token_hash = @h",
            r => new TokenRecord(r.GetString(0), r.GetString(1), r.GetString(2), Time(r, 3), Time(r, 4)),
            cancellationToken,
            ("h", tokenHash));

    public async Task<bool> DeleteTokenAsync(string tokenHash, CancellationToken cancellationToken) =>
        await db.ExecuteAsync("DELETE FROM tokens WHERE token_hash = @h", cancellationToken, ("h", tokenHash)) > 0;

    public Task<int> PurgeExpiredTokensAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        db.ExecuteAsync("DELETE FROM tokens WHERE expires_at < @t", cancellationToken, ("t", Ms(now)));

    private static ProjectRecord ReadProject(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetBoolean(4));

    private static UserRecord ReadUser(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), StringOrNull(r, 3), r.GetString(4), r.GetBoolean(5));

    private static RoleRecord ReadRole(DbDataReader r) => new(r.GetString(0), r.GetString(1));
}
