using System.Collections.Concurrent;
using Hoard.Abstractions.Storage;
using Hoard.Core.Configuration;

namespace Hoard.Core.Identity;

/// <summary>Who a request acts as: the token's user, its project scope and roles.</summary>
public sealed record AuthContext(
    string UserId,
    string UserName,
    string ProjectId,
    string ProjectName,
    IReadOnlyList<RoleRecord> Roles,
    DateTimeOffset IssuedAt,
    DateTimeOffset ExpiresAt)
{
    public bool IsAdmin => Roles.Any(r => r.Name == IdentityService.AdminRole);
}

/// <summary>An issued token and what it grants.</summary>
public sealed record IssuedToken(string Token, AuthContext Context, UserRecord User, ProjectRecord Project);

/// <summary>Keystone's job, reduced to what Hoard needs: users, projects, roles and tokens.</summary>
public sealed class IdentityService(IManagementStore store, HoardOptions options, TimeProvider time)
{
    public const string DefaultDomainId = "default";
    public const string DefaultDomainName = "Default";
    public const string AdminRole = "admin";
    public const string MemberRole = "member";

    /// <summary>
    /// How long memory answers for a token before the store is asked again. Token validation is on every API call, so
    /// memory answers most; but replicas sharing a store each keep their own memory, and a token revoked (or a user
    /// removed) through one must be refused by the others too, within this time, not only once the token expires.
    /// </summary>
    public static readonly TimeSpan RecheckAfter = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, (AuthContext Context, DateTimeOffset CheckedAt)> _tokens = new(StringComparer.Ordinal);

    /// <summary>Creates the admin user, project and roles on first start. Returns true when it created the admin.</summary>
    public async Task<bool> BootstrapAsync(string adminPassword, CancellationToken cancellationToken)
    {
        // Replicas sharing a store may start together: each insert loses to an equal one quietly, and the winner's is read back.
        foreach (var role in new[] { AdminRole, MemberRole, "reader" })
        {
            if (await store.Identity.GetRoleAsync(role, cancellationToken) is null)
            {
                await store.Identity.InsertRoleAsync(new RoleRecord(NewId(), role), cancellationToken);
            }
        }

        var project = await store.Identity.GetProjectAsync("admin", cancellationToken);
        if (project is null)
        {
            var made = new ProjectRecord(NewId(), "admin", DefaultDomainId, "Bootstrap project for administering Hoard", true);
            project = await store.Identity.InsertProjectAsync(made, cancellationToken)
                ? made
                : await store.Identity.GetProjectAsync("admin", cancellationToken) ?? throw new InvalidOperationException("the admin project could not be made");
        }

        if (await store.Identity.GetUserAsync("admin", cancellationToken) is not null)
        {
            return false;
        }

        var user = new UserRecord(NewId(), "admin", DefaultDomainId, project.Id, PasswordHasher.Hash(adminPassword, options.PasswordHashIterations), true);
        if (!await store.Identity.InsertUserAsync(user, cancellationToken))
        {
            return false; // another replica made the admin user at the same moment
        }

        var admin = (await store.Identity.GetRoleAsync(AdminRole, cancellationToken))!;
        await store.Identity.AssignRoleAsync(new RoleAssignment(project.Id, user.Id, admin.Id), cancellationToken);
        return true;
    }

    /// <summary>Password authentication scoped to a project; null when any part does not match.</summary>
    public async Task<IssuedToken?> AuthenticateAsync(
        string userIdOrName,
        string password,
        string? projectIdOrName,
        CancellationToken cancellationToken)
    {
        var user = await store.Identity.GetUserAsync(userIdOrName, cancellationToken);
        if (user is null || !user.Enabled || !PasswordHasher.Verify(password, user.PasswordHash))
        {
            return null;
        }

        var projectKey = projectIdOrName ?? user.DefaultProjectId;
        var project = projectKey is null ? null : await store.Identity.GetProjectAsync(projectKey, cancellationToken);
        if (project is null || !project.Enabled)
        {
            return null;
        }

        var roles = await store.Identity.ListRolesForAsync(project.Id, user.Id, cancellationToken);
        if (roles.Count == 0)
        {
            return null;
        }

        var now = time.GetUtcNow();
        var token = Secrets.Token();
        var record = new TokenRecord(Secrets.Sha256Hex(token), user.Id, project.Id, now, now + options.TokenExpiration);
        await store.Identity.InsertTokenAsync(record, cancellationToken);
        var context = new AuthContext(user.Id, user.Name, project.Id, project.Name, roles, record.IssuedAt, record.ExpiresAt);
        _tokens[token] = (context, now);
        return new IssuedToken(token, context, user, project);
    }

    /// <summary>What a token grants, or null when it is unknown, revoked or expired.</summary>
    public async ValueTask<AuthContext?> ValidateAsync(string? token, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 256)
        {
            return null;
        }

        var now = time.GetUtcNow();
        if (_tokens.TryGetValue(token, out var cached))
        {
            if (cached.Context.ExpiresAt <= now)
            {
                _tokens.TryRemove(token, out _);
                return null;
            }

            if (now - cached.CheckedAt < RecheckAfter)
            {
                return cached.Context;
            }
        }

        var record = await store.Identity.GetTokenAsync(Secrets.Sha256Hex(token), cancellationToken);
        if (record is null || record.ExpiresAt <= now)
        {
            _tokens.TryRemove(token, out _);
            return null;
        }

        var user = await store.Identity.GetUserAsync(record.UserId, cancellationToken);
        var project = await store.Identity.GetProjectAsync(record.ProjectId, cancellationToken);
        if (user is null || project is null)
        {
            _tokens.TryRemove(token, out _);
            return null;
        }

        var roles = await store.Identity.ListRolesForAsync(project.Id, user.Id, cancellationToken);
        var context = new AuthContext(user.Id, user.Name, project.Id, project.Name, roles, record.IssuedAt, record.ExpiresAt);
        _tokens[token] = (context, now);
        return context;
    }

    public async Task<bool> RevokeAsync(string token, CancellationToken cancellationToken)
    {
        _tokens.TryRemove(token, out _);
        return await store.Identity.DeleteTokenAsync(Secrets.Sha256Hex(token), cancellationToken);
    }

    /// <summary>Forgets cached tokens of a user whose roles or existence changed.</summary>
    public void ForgetUser(string userId)
    {
        foreach (var (token, (context, _)) in _tokens)
        {
            if (context.UserId == userId)
            {
                _tokens.TryRemove(token, out _);
            }
        }
    }

    public string HashPassword(string password) => PasswordHasher.Hash(password, options.PasswordHashIterations);

    public static string NewId() => Guid.NewGuid().ToString("N");
}
