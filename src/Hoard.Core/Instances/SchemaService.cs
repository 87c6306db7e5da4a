using System.Text.Json;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Guest;
using Hoard.Abstractions.Plugins;
using Hoard.Core.Catalog;
using Hoard.Core.Guests;

namespace Hoard.Core.Instances;

/// <summary>One page of a listing, and the marker of the next page when there is one.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextMarker);

/// <summary>
/// Databases, users and user access of an instance (Trove's mysql extension routes, for every engine whose
/// plugin has them). Each request is checked against the plugin's rules, then answered by the instance's guest,
/// synchronously, so a refusal reaches the caller rather than a log: Trove casts these and loses the errors.
/// </summary>
public sealed class SchemaService(InstanceService instances, GuestHub hub, CatalogService catalog, PluginRegistry plugins)
{
    /// <summary>Trove's users_page_size and databases_page_size.</summary>
    public const int PageSize = 20;

    public async Task<Page<DatabaseSpec>> ListDatabasesAsync(string projectId, string id, string? marker, int? limit, CancellationToken cancellationToken)
    {
        var plugin = await ReadyAsync(projectId, id, cancellationToken);
        SchemaChecks.RequireDatabases(plugin);
        var all = await AllDatabasesAsync(id, cancellationToken);
        return Paginate(all, d => d.Name, marker, limit);
    }

    public async Task CreateDatabasesAsync(string projectId, string id, IReadOnlyList<DatabaseSpec> databases, CancellationToken cancellationToken)
    {
        var plugin = await ReadyAsync(projectId, id, cancellationToken);
        SchemaChecks.CheckDatabases(plugin, databases);
        if (databases.GroupBy(d => d.Name, StringComparer.Ordinal).Any(g => g.Count() > 1))
        {
            throw ApiException.BadRequest("Two or more databases share the same name in the request. Please correct the names or remove the duplicate entries.");
        }

        var existing = (await AllDatabasesAsync(id, cancellationToken)).Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        if (databases.FirstOrDefault(d => existing.Contains(d.Name)) is { } taken)
        {
            throw ApiException.BadRequest($"A database with the name \"{taken.Name}\" already exists.");
        }

        await CallAsync(id, GuestMethods.CreateDatabase, new DatabasesArguments(databases), cancellationToken);
    }

    public async Task DeleteDatabaseAsync(string projectId, string id, string name, CancellationToken cancellationToken)
    {
        var plugin = await ReadyAsync(projectId, id, cancellationToken);
        SchemaChecks.CheckDatabaseName(plugin, name);
        await CallAsync(id, GuestMethods.DeleteDatabase, new DatabaseArguments(name), cancellationToken);
    }

    public async Task<Page<UserInfo>> ListUsersAsync(string projectId, string id, string? marker, int? limit, CancellationToken cancellationToken)
    {
        var plugin = await ReadyAsync(projectId, id, cancellationToken);
        SchemaChecks.RequireUsers(plugin);
        var all = await AllUsersAsync(id, cancellationToken);
        return Paginate(all, u => new UserRef(u.Name, u.Host).ToString(), marker, limit);
    }

    public async Task<UserInfo> GetUserAsync(string projectId, string id, string userId, CancellationToken cancellationToken)
    {
        var plugin = await ReadyAsync(projectId, id, cancellationToken);
        var user = ParseUser(plugin, userId);
        return await FindUserAsync(id, user, userId, cancellationToken);
    }

    public async Task CreateUsersAsync(string projectId, string id, IReadOnlyList<UserSpec> users, CancellationToken cancellationToken)
    {
        var plugin = await ReadyAsync(projectId, id, cancellationToken);
        var withHosts = users.Select(u => u with { Host = plugin.Schema.HostOrDefault(u.Host) }).ToList();
        SchemaChecks.CheckUsers(plugin, withHosts);
        var existing = (await AllUsersAsync(id, cancellationToken)).Select(u => new UserRef(u.Name, u.Host)).ToHashSet();
        if (withHosts.FirstOrDefault(u => existing.Contains(u.Ref)) is { } taken)
        {
            throw ApiException.BadRequest($"A user with the name \"{taken.Name}\" already exists.");
        }

        await CallAsync(id, GuestMethods.CreateUser, new UsersArguments(withHosts), cancellationToken);
    }

    public async Task DeleteUserAsync(string projectId, string id, string userId, CancellationToken cancellationToken)
    {
        var plugin = await ReadyAsync(projectId, id, cancellationToken);
        var user = ParseUser(plugin, userId);
        await FindUserAsync(id, user, userId, cancellationToken);
        await CallAsync(id, GuestMethods.DeleteUser, new UserArguments { User = user }, cancellationToken);
    }

    /// <summary>Trove's update_attributes: a new name, host and/or password.</summary>
    public async Task UpdateUserAsync(string projectId, string id, string userId, UserChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var plugin = await ReadyAsync(projectId, id, cancellationToken);
        var user = ParseUser(plugin, userId);
        var renamed = new UserRef(change.NewName ?? user.Name, change.NewHost ?? user.Host);
        SchemaChecks.CheckUser(plugin, renamed);
        if (change.NewPassword is { } password)
        {
            SchemaChecks.CheckPassword(plugin, password);
        }

        var users = await AllUsersAsync(id, cancellationToken);
        _ = Find(users, user, userId);
        if (renamed != user && users.Any(u => new UserRef(u.Name, u.Host) == renamed))
        {
            throw ApiException.BadRequest($"A user with the name \"{renamed.Name}\" already exists.");
        }

        await CallAsync(id, GuestMethods.UpdateAttributes, new UserArguments { User = user, Change = change }, cancellationToken);
    }

    /// <summary>PUT /users: new passwords for several users; every one must exist, or nothing changes.</summary>
    public async Task ChangePasswordsAsync(string projectId, string id, IReadOnlyList<PasswordChange> changes, CancellationToken cancellationToken)
    {
        var plugin = await ReadyAsync(projectId, id, cancellationToken);
        var withHosts = changes.Select(c => c with { User = c.User with { Host = plugin.Schema.HostOrDefault(c.User.Host) } }).ToList();
        foreach (var change in withHosts)
        {
            SchemaChecks.CheckUser(plugin, change.User);
            SchemaChecks.CheckPassword(plugin, change.Password);
        }

        var existing = (await AllUsersAsync(id, cancellationToken)).Select(u => new UserRef(u.Name, u.Host)).ToHashSet();
        if (withHosts.FirstOrDefault(c => !existing.Contains(c.User)) is { } missing)
        {
            throw UserNotFound(missing.User.ToString());
        }

        if (withHosts.Count > 0)
        {
            await CallAsync(id, GuestMethods.ChangePasswords, new PasswordsArguments(withHosts), cancellationToken);
        }
    }

    public async Task<IReadOnlyList<string>> ListAccessAsync(string projectId, string id, string userId, CancellationToken cancellationToken)
    {
        var plugin = await ReadyAsync(projectId, id, cancellationToken);
        SchemaChecks.RequireDatabases(plugin);
        var user = ParseUser(plugin, userId);
        return (await FindUserAsync(id, user, userId, cancellationToken)).Databases;
    }

    public async Task GrantAccessAsync(string projectId, string id, string userId, IReadOnlyList<string> databases, CancellationToken cancellationToken)
    {
        var plugin = await ReadyAsync(projectId, id, cancellationToken);
        SchemaChecks.RequireDatabases(plugin);
        var user = ParseUser(plugin, userId);
        foreach (var database in databases)
        {
            SchemaChecks.CheckDatabaseName(plugin, database);
        }

        await FindUserAsync(id, user, userId, cancellationToken);
        var existing = (await AllDatabasesAsync(id, cancellationToken)).Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        if (databases.FirstOrDefault(d => !existing.Contains(d)) is { } missing)
        {
            throw DatabaseNotFound(missing);
        }

        await CallAsync(id, GuestMethods.GrantAccess, new UserArguments { User = user, Databases = databases }, cancellationToken);
    }

    public async Task RevokeAccessAsync(string projectId, string id, string userId, string database, CancellationToken cancellationToken)
    {
        var plugin = await ReadyAsync(projectId, id, cancellationToken);
        SchemaChecks.RequireDatabases(plugin);
        var user = ParseUser(plugin, userId);
        SchemaChecks.CheckDatabaseName(plugin, database);
        var found = await FindUserAsync(id, user, userId, cancellationToken);
        if (!found.Databases.Contains(database, StringComparer.Ordinal))
        {
            throw DatabaseNotFound(database);
        }

        await CallAsync(id, GuestMethods.RevokeAccess, new UserArguments { User = user, Database = database }, cancellationToken);
    }

    /// <summary>
    /// A user as written in a URL: Trove's <c>name@host</c>, split at the last '@', the host defaulting to '%'
    /// on engines whose users have hosts. On engines without hosts a trailing <c>@%</c> is accepted and dropped.
    /// </summary>
    public static UserRef ParseUser(IDatastorePlugin plugin, string userId)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        ArgumentNullException.ThrowIfNull(userId);
        var at = userId.LastIndexOf('@');
        var name = at <= 0 || at == userId.Length - 1 ? userId : userId[..at];
        var host = at <= 0 || at == userId.Length - 1 ? null : userId[(at + 1)..];
        if (!plugin.Schema.SupportsHosts && host == "%")
        {
            host = null;
        }

        var user = new UserRef(name, plugin.Schema.HostOrDefault(host));
        SchemaChecks.CheckUser(plugin, user);
        return user;
    }

    /// <summary>The datastore plugin of the caller's instance, once the instance is known to serve (Trove's 422 otherwise).</summary>
    private async Task<IDatastorePlugin> ReadyAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        var instance = await instances.RequireServingAsync(projectId, id, cancellationToken);
        var version = catalog.FindVersionById(instance.DatastoreVersionId)
            ?? throw new InvalidOperationException($"datastore version {instance.DatastoreVersionId} is not registered");
        return plugins.Get<IDatastorePlugin>(PluginKind.Datastore, version.Datastore.Name);
    }

    private async Task<UserInfo> FindUserAsync(string id, UserRef user, string userId, CancellationToken cancellationToken) =>
        Find(await AllUsersAsync(id, cancellationToken), user, userId);

    private static UserInfo Find(IReadOnlyList<UserInfo> users, UserRef user, string userId) =>
        users.FirstOrDefault(u => u.Name == user.Name && u.Host == user.Host) ?? throw UserNotFound(userId);

    private async Task<IReadOnlyList<DatabaseSpec>> AllDatabasesAsync(string id, CancellationToken cancellationToken)
    {
        var result = await CallAsync(id, GuestMethods.ListDatabases, null, cancellationToken);
        return result.Deserialize<DatabasesArguments>(GuestArguments.Json)?.Databases ?? [];
    }

    private async Task<IReadOnlyList<UserInfo>> AllUsersAsync(string id, CancellationToken cancellationToken)
    {
        var result = await CallAsync(id, GuestMethods.ListUsers, null, cancellationToken);
        return result.Deserialize<UserList>(GuestArguments.Json)?.Users ?? [];
    }

    /// <summary>Calls the guest; a datastore's refusal becomes Trove's answer for it.</summary>
    private async Task<JsonElement> CallAsync(string id, string method, object? args, CancellationToken cancellationToken)
    {
        try
        {
            return await hub.CallAsync(id, method, args, InstanceService.GuestCallTimeout, cancellationToken);
        }
        catch (GuestCallException e) when (e.Code is not null)
        {
            throw e.Code switch
            {
                // Trove answers "exists" with a 400 (DatabaseAlreadyExists, UserAlreadyExists).
                DatastoreOperationException.ConflictCode or DatastoreOperationException.InvalidCode => ApiException.BadRequest(e.Message),
                DatastoreOperationException.NotFoundCode => ApiException.NotFound(e.Message),
                _ => ApiException.Unprocessable(e.Message),
            };
        }
    }

    /// <summary>Trove's paging: at most <see cref="PageSize"/> items strictly after the marker, in key order.</summary>
    private static Page<T> Paginate<T>(IReadOnlyList<T> all, Func<T, string> key, string? marker, int? limit)
    {
        var size = Math.Min(limit ?? PageSize, PageSize);
        var after = all.Where(x => marker is null || string.CompareOrdinal(key(x), marker) > 0).OrderBy(key, StringComparer.Ordinal).ToList();
        if (after.Count > size)
        {
            var page = after.Take(size).ToList();
            return new Page<T>(page, key(page[^1]));
        }

        return new Page<T>(after, null);
    }

    private static ApiException UserNotFound(string userId) => ApiException.NotFound($"User {userId} cannot be found on the instance.");

    private static ApiException DatabaseNotFound(string name) => ApiException.NotFound($"Database {name} cannot be found on the instance.");

    private sealed record UserList(IReadOnlyList<UserInfo> Users);
}
