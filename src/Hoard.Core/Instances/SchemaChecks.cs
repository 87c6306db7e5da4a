using Hoard.Abstractions.Datastores;

namespace Hoard.Core.Instances;

/// <summary>
/// Checks databases, users, hosts and passwords against a datastore's <see cref="SchemaRules"/> before any
/// guest is asked, so a hostile or reserved name is a 400 that never reaches an engine. Messages name what
/// is wrong and never echo a password.
/// </summary>
public static class SchemaChecks
{
    /// <summary>The databases and users of an instance create body.</summary>
    public static void CheckInitial(IDatastorePlugin plugin, InitialSchema schema)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        ArgumentNullException.ThrowIfNull(schema);
        if (schema.Databases.Count > 0)
        {
            CheckDatabases(plugin, schema.Databases);
            if (schema.Databases.GroupBy(d => d.Name, StringComparer.Ordinal).Any(g => g.Count() > 1))
            {
                throw ApiException.BadRequest("Two or more databases share the same name in the initial databases list. Please correct the names or remove the duplicate entries.");
            }
        }

        if (schema.Users.Count > 0)
        {
            CheckUsers(plugin, schema.Users);
            var known = schema.Databases.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
            if (schema.Users.SelectMany(u => u.Databases).FirstOrDefault(d => !known.Contains(d)) is { } unknown)
            {
                throw ApiException.BadRequest($"The database {unknown} given to a user is not in the initial databases list.");
            }
        }
    }

    public static void CheckDatabases(IDatastorePlugin plugin, IReadOnlyList<DatabaseSpec> databases)
    {
        var rules = RequireDatabases(plugin);
        foreach (var database in databases)
        {
            Throw(rules.DatabaseName!.Check(database.Name));
            Throw(rules.CheckCharacterSet(database));
        }
    }

    public static void CheckUsers(IDatastorePlugin plugin, IReadOnlyList<UserSpec> users)
    {
        var rules = RequireUsers(plugin);
        foreach (var user in users)
        {
            CheckUser(plugin, user.Ref);
            Throw(rules.CheckPassword(user.Password));
            if (user.Databases.Count > 0)
            {
                var databases = RequireDatabases(plugin).DatabaseName!;
                foreach (var database in user.Databases)
                {
                    Throw(databases.Check(database));
                }
            }
        }

        if (users.GroupBy(u => u.Ref).Any(g => g.Count() > 1))
        {
            throw ApiException.BadRequest("Two or more users share the same name and host in the initial users list. Please correct the names or remove the duplicate entries.");
        }
    }

    public static void CheckUser(IDatastorePlugin plugin, UserRef user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var rules = RequireUsers(plugin);
        Throw(rules.UserName.Check(user.Name));
        if (user.Host is not null)
        {
            Throw(rules.SupportsHosts ? rules.CheckHost(user.Host) : $"{plugin.Name} users have no host; '{user.Host}' cannot be given.");
        }
    }

    public static void CheckDatabaseName(IDatastorePlugin plugin, string name) => Throw(RequireDatabases(plugin).DatabaseName!.Check(name));

    public static void CheckPassword(IDatastorePlugin plugin, string password) => Throw(RequireUsers(plugin).CheckPassword(password));

    public static SchemaRules RequireDatabases(IDatastorePlugin plugin)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        return plugin.Schema.SupportsDatabases && plugin.Schema.DatabaseName is not null
            ? plugin.Schema
            : throw NotSupported(plugin);
    }

    public static SchemaRules RequireUsers(IDatastorePlugin plugin)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        return plugin.Schema.SupportsUsers ? plugin.Schema : throw NotSupported(plugin);
    }

    /// <summary>Trove's refusal for a datastore without the feature (extensions/common/models.py).</summary>
    public static ApiException NotSupported(IDatastorePlugin plugin) =>
        ApiException.Unprocessable($"Operation not supported for datastore {plugin.Name}.");

    private static void Throw(string? problem)
    {
        if (problem is not null)
        {
            throw ApiException.BadRequest(problem);
        }
    }
}
