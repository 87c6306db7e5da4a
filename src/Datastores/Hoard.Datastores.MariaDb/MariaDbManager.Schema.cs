using Hoard.Abstractions.Datastores;
using MySqlConnector;

namespace Hoard.Datastores.MariaDb;

/// <summary>Databases, users, access and root, with Trove's semantics (trove/guestagent/datastore/mysql_common/service.py).</summary>
public sealed partial class MariaDbManager
{
    public Task<RootCredentials> EnableRootAsync(GuestInstance instance, string? password, CancellationToken cancellationToken)
    {
        if (password is not null)
        {
            ArgumentException.ThrowIfNullOrEmpty(password);
        }

        var rootPassword = password ?? Secrets.GeneratePassword();
        var root = Sql.Account(MariaDbSchema.RootUser, MariaDbSchema.AnyHost);

        // As Trove: root@'%' with every privilege and the grant option; enabling again only sets a new password.
        return RunAsync(
            instance,
            async (connection, ct) =>
            {
                await Sql.ExecuteAsync(connection, $"CREATE USER IF NOT EXISTS {root} {Sql.IdentifiedBy(rootPassword)}", ct);
                await Sql.ExecuteAsync(connection, $"ALTER USER {root} {Sql.IdentifiedBy(rootPassword)} ACCOUNT UNLOCK", ct);
                await Sql.ExecuteAsync(connection, $"GRANT ALL PRIVILEGES ON *.* TO {root} WITH GRANT OPTION", ct);
                _logger.RootEnabled(instance.Id);
                return new RootCredentials(MariaDbSchema.RootUser, rootPassword);
            },
            cancellationToken);
    }

    public Task DisableRootAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        // Trove's disable_root sets a new password nobody knows and keeps the account, so objects root defined
        // (views, routines with DEFINER=root) keep working. Locking it as well refuses even a login that raced.
        var root = Sql.Account(MariaDbSchema.RootUser, MariaDbSchema.AnyHost);
        return RunAsync(
            instance,
            async (connection, ct) =>
            {
                if (await UserExistsAsync(connection, MariaDbSchema.RootUser, MariaDbSchema.AnyHost, ct))
                {
                    await Sql.ExecuteAsync(connection, $"ALTER USER {root} {Sql.IdentifiedBy(Secrets.GeneratePassword())} ACCOUNT LOCK", ct);
                }

                _logger.RootDisabled(instance.Id);
                return true;
            },
            cancellationToken);
    }

    public Task<IReadOnlyList<DatabaseSpec>> ListDatabasesAsync(GuestInstance instance, CancellationToken cancellationToken) =>
        RunAsync(
            instance,
            async (connection, ct) =>
            {
                var rows = await Sql.QueryAsync(
                    connection,
                    "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA",
                    r => new DatabaseSpec(r.GetString(0), r.GetString(1), r.GetString(2)),
                    ct);
                return (IReadOnlyList<DatabaseSpec>)[.. rows.Where(d => !MariaDbSchema.ReservedDatabases.Contains(d.Name)).OrderBy(d => d.Name, StringComparer.Ordinal)];
            },
            cancellationToken);

    public Task CreateDatabasesAsync(GuestInstance instance, IReadOnlyList<DatabaseSpec> databases, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(databases);
        foreach (var database in databases)
        {
            RequireDatabaseName(database.Name);
            if (MariaDbSchema.CheckCharacterSet(database) is { } problem)
            {
                throw DatastoreOperationException.Invalid(problem);
            }
        }

        if (databases.GroupBy(d => d.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw DatastoreOperationException.Conflict($"The database '{twice.Key}' is named twice in the request.");
        }

        return RunAsync(
            instance,
            async (connection, ct) =>
            {
                // Checked before creating any, so a request with one existing name creates nothing.
                var existing = await DatabaseNamesAsync(connection, ct);
                if (databases.FirstOrDefault(d => existing.Contains(d.Name)) is { } taken)
                {
                    throw DatastoreOperationException.Conflict($"A database with the name \"{taken.Name}\" already exists.");
                }

                foreach (var database in databases)
                {
                    try
                    {
                        await Sql.ExecuteAsync(connection, CreateDatabaseStatement(database), ct);
                    }
                    catch (MySqlException e) when (e.ErrorCode == MySqlErrorCode.DatabaseCreateExists)
                    {
                        throw DatastoreOperationException.Conflict($"A database with the name \"{database.Name}\" already exists.");
                    }

                    _logger.DatabaseCreated(instance.Id, database.Name);
                }

                return true;
            },
            cancellationToken);
    }

    public Task DeleteDatabaseAsync(GuestInstance instance, string name, CancellationToken cancellationToken)
    {
        RequireDatabaseName(name);
        return RunAsync(
            instance,
            async (connection, ct) =>
            {
                try
                {
                    await Sql.ExecuteAsync(connection, $"DROP DATABASE {Sql.Identifier(name)}", ct);
                }
                catch (MySqlException e) when (e.ErrorCode == MySqlErrorCode.DatabaseDropExists)
                {
                    throw DatabaseNotFound(name);
                }

                // DROP DATABASE leaves the grants on it behind; without this, a later database of the same name
                // would be open to every user who once had access, and users would list a database that is gone.
                foreach (var (user, host) in await GranteesAsync(connection, name, ct))
                {
                    await Sql.ExecuteAsync(connection, $"REVOKE ALL PRIVILEGES ON {Sql.GrantTarget(name)} FROM {Sql.Account(user, host)}", ct);
                }

                _logger.DatabaseDropped(instance.Id, name);
                return true;
            },
            cancellationToken);
    }

    public Task<IReadOnlyList<UserInfo>> ListUsersAsync(GuestInstance instance, CancellationToken cancellationToken) =>
        RunAsync(
            instance,
            async (connection, ct) =>
            {
                // As Trove: accounts for localhost are the engine's own (mariadb.sys); roles are not users.
                var users = await Sql.QueryAsync(
                    connection,
                    "SELECT User, Host FROM mysql.user WHERE is_role = 'N' AND Host <> 'localhost'",
                    r => (User: r.GetString(0), Host: r.GetString(1)),
                    ct);
                var access = (await Sql.QueryAsync(
                        connection,
                        "SELECT User, Host, Db FROM mysql.db",
                        r => (User: r.GetString(0), Host: r.GetString(1), Database: Sql.UnescapeWildcards(r.GetString(2))),
                        ct))
                    .ToLookup(a => (a.User, a.Host), a => a.Database);
                return (IReadOnlyList<UserInfo>)[.. users
                    .Where(u => !MariaDbSchema.ReservedUsers.Contains(u.User))
                    .OrderBy(u => u.User, StringComparer.Ordinal)
                    .ThenBy(u => u.Host, StringComparer.Ordinal)
                    .Select(u => new UserInfo(u.User, u.Host, [.. access[(u.User, u.Host)].Distinct().Order(StringComparer.Ordinal)]))];
            },
            cancellationToken);

    public Task CreateUsersAsync(GuestInstance instance, IReadOnlyList<UserSpec> users, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(users);
        foreach (var user in users)
        {
            RequireUser(user.Ref);
            ArgumentException.ThrowIfNullOrEmpty(user.Password);
            foreach (var database in user.Databases)
            {
                RequireDatabaseName(database);
            }
        }

        if (users.GroupBy(u => (u.Name, Host: HostOf(u.Ref))).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw DatastoreOperationException.Conflict($"The user {twice.Key.Name}@{twice.Key.Host} is named twice in the request.");
        }

        return RunAsync(
            instance,
            async (connection, ct) =>
            {
                // Everything is checked before anything is created: a refused request changes nothing.
                foreach (var user in users)
                {
                    if (await UserExistsAsync(connection, user.Name, HostOf(user.Ref), ct))
                    {
                        throw UserExists(user.Ref);
                    }
                }

                await RequireDatabasesAsync(connection, users.SelectMany(u => u.Databases), ct);
                foreach (var user in users)
                {
                    var account = Sql.Account(user.Name, HostOf(user.Ref));
                    try
                    {
                        await Sql.ExecuteAsync(connection, $"CREATE USER {account} {Sql.IdentifiedBy(user.Password)}", ct);
                    }
                    catch (MySqlException e) when (e.ErrorCode == MySqlErrorCode.CannotUser)
                    {
                        throw UserExists(user.Ref);
                    }

                    foreach (var database in user.Databases.Distinct(StringComparer.Ordinal))
                    {
                        await Sql.ExecuteAsync(connection, $"GRANT ALL PRIVILEGES ON {Sql.GrantTarget(database)} TO {account}", ct);
                    }

                    _logger.UserCreated(instance.Id, user.Ref);
                }

                return true;
            },
            cancellationToken);
    }

    public Task DeleteUserAsync(GuestInstance instance, UserRef user, CancellationToken cancellationToken)
    {
        RequireUser(user);
        return RunAsync(
            instance,
            async (connection, ct) =>
            {
                try
                {
                    await Sql.ExecuteAsync(connection, $"DROP USER {Sql.Account(user.Name, HostOf(user))}", ct);
                }
                catch (MySqlException e) when (e.ErrorCode == MySqlErrorCode.CannotUser)
                {
                    throw UserNotFound(user);
                }

                _logger.UserDropped(instance.Id, user);
                return true;
            },
            cancellationToken);
    }

    public Task UpdateUserAsync(GuestInstance instance, UserRef user, UserChange change, CancellationToken cancellationToken)
    {
        RequireUser(user);
        ArgumentNullException.ThrowIfNull(change);
        var newName = change.NewName ?? user.Name;
        var newHost = change.NewHost ?? HostOf(user);
        RequireUser(new UserRef(newName, newHost));
        if (change.NewPassword is not null)
        {
            ArgumentException.ThrowIfNullOrEmpty(change.NewPassword);
        }

        return RunAsync(
            instance,
            async (connection, ct) =>
            {
                if (!await UserExistsAsync(connection, user.Name, HostOf(user), ct))
                {
                    throw UserNotFound(user);
                }

                var account = Sql.Account(user.Name, HostOf(user));
                if (newName != user.Name || newHost != HostOf(user))
                {
                    if (await UserExistsAsync(connection, newName, newHost, ct))
                    {
                        throw UserExists(new UserRef(newName, newHost));
                    }

                    // RENAME USER carries the account's grants along, as Trove relies on.
                    var renamed = Sql.Account(newName, newHost);
                    try
                    {
                        await Sql.ExecuteAsync(connection, $"RENAME USER {account} TO {renamed}", ct);
                    }
                    catch (MySqlException e) when (e.ErrorCode == MySqlErrorCode.CannotUser)
                    {
                        throw UserExists(new UserRef(newName, newHost));
                    }

                    account = renamed;
                }

                if (change.NewPassword is { } password)
                {
                    await Sql.ExecuteAsync(connection, $"ALTER USER {account} {Sql.IdentifiedBy(password)}", ct);
                }

                _logger.UserUpdated(instance.Id, user, change);
                return true;
            },
            cancellationToken);
    }

    public Task ChangePasswordsAsync(GuestInstance instance, IReadOnlyList<PasswordChange> changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changes);
        foreach (var change in changes)
        {
            RequireUser(change.User);
            ArgumentException.ThrowIfNullOrEmpty(change.Password);
        }

        if (changes.Count == 0)
        {
            return Task.CompletedTask;
        }

        return RunAsync(
            instance,
            async (connection, ct) =>
            {
                foreach (var change in changes)
                {
                    if (!await UserExistsAsync(connection, change.User.Name, HostOf(change.User), ct))
                    {
                        throw UserNotFound(change.User);
                    }
                }

                // One statement: all the passwords change, or none.
                var accounts = changes.Select(c => $"{Sql.Account(c.User.Name, HostOf(c.User))} {Sql.IdentifiedBy(c.Password)}");
                await Sql.ExecuteAsync(connection, "ALTER USER " + string.Join(", ", accounts), ct);
                _logger.PasswordsChanged(instance.Id, changes.Count);
                return true;
            },
            cancellationToken);
    }

    public Task GrantAccessAsync(GuestInstance instance, UserRef user, IReadOnlyList<string> databases, CancellationToken cancellationToken)
    {
        RequireUser(user);
        ArgumentNullException.ThrowIfNull(databases);
        foreach (var database in databases)
        {
            RequireDatabaseName(database);
        }

        return RunAsync(
            instance,
            async (connection, ct) =>
            {
                if (!await UserExistsAsync(connection, user.Name, HostOf(user), ct))
                {
                    throw UserNotFound(user);
                }

                await RequireDatabasesAsync(connection, databases, ct);
                var account = Sql.Account(user.Name, HostOf(user));
                foreach (var database in databases.Distinct(StringComparer.Ordinal))
                {
                    await Sql.ExecuteAsync(connection, $"GRANT ALL PRIVILEGES ON {Sql.GrantTarget(database)} TO {account}", ct);
                }

                _logger.AccessGranted(instance.Id, user, string.Join(", ", databases));
                return true;
            },
            cancellationToken);
    }

    public Task RevokeAccessAsync(GuestInstance instance, UserRef user, string database, CancellationToken cancellationToken)
    {
        RequireUser(user);
        RequireDatabaseName(database);
        return RunAsync(
            instance,
            async (connection, ct) =>
            {
                if (!await UserExistsAsync(connection, user.Name, HostOf(user), ct))
                {
                    throw UserNotFound(user);
                }

                // As Trove's API: revoking access the user does not have is "database not found".
                if (!(await GranteesAsync(connection, database, ct)).Contains((user.Name, HostOf(user))))
                {
                    throw DatabaseNotFound(database);
                }

                await Sql.ExecuteAsync(connection, $"REVOKE ALL PRIVILEGES ON {Sql.GrantTarget(database)} FROM {Sql.Account(user.Name, HostOf(user))}", ct);
                _logger.AccessRevoked(instance.Id, user, database);
                return true;
            },
            cancellationToken);
    }

    private static string HostOf(UserRef user) => user.Host ?? MariaDbSchema.AnyHost;

    private static string CreateDatabaseStatement(DatabaseSpec database)
    {
        // With neither, the server's defaults apply: utf8mb4 and utf8mb4_general_ci (see ServerConfig).
        var statement = $"CREATE DATABASE {Sql.Identifier(database.Name)}";
        if (database.CharacterSet is { } characterSet)
        {
            statement += $" CHARACTER SET {Sql.Literal(MariaDbCollations.ResolveCharacterSet(characterSet)!)}";
        }

        if (database.Collation is { } collation)
        {
            statement += $" COLLATE {Sql.Literal(collation.ToLowerInvariant())}";
        }

        return statement;
    }

    /// <summary>Names reach a manager checked, but the manager still refuses a reserved one: the agent's own are not the user's.</summary>
    private static void RequireDatabaseName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (MariaDbSchema.Rules.DatabaseName!.Check(name) is { } problem)
        {
            throw DatastoreOperationException.Invalid(problem);
        }
    }

    private static void RequireUser(UserRef user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var problem = MariaDbSchema.Rules.UserName.Check(user.Name) ?? (user.Host is { } host ? MariaDbSchema.CheckHost(host) : null);
        if (problem is not null)
        {
            throw DatastoreOperationException.Invalid(problem);
        }
    }

    private static DatastoreOperationException UserExists(UserRef user) =>
        DatastoreOperationException.Conflict($"A user with the name \"{user.Name}\" and host \"{HostOf(user)}\" already exists.");

    private static DatastoreOperationException UserNotFound(UserRef user) =>
        DatastoreOperationException.NotFound($"User {user.Name}@{HostOf(user)} cannot be found on the instance.");

    private static DatastoreOperationException DatabaseNotFound(string database) =>
        DatastoreOperationException.NotFound($"Database {database} cannot be found on the instance.");

    private static async Task<bool> UserExistsAsync(MySqlConnection connection, string user, string host, CancellationToken cancellationToken) =>
        (await Sql.QueryAsync(
            connection,
            "SELECT 1 FROM mysql.user WHERE User = @user AND Host = @host",
            r => true,
            cancellationToken,
            ("@user", user),
            ("@host", host))).Count > 0;

    private static async Task<HashSet<string>> DatabaseNamesAsync(MySqlConnection connection, CancellationToken cancellationToken) =>
        [.. await Sql.QueryAsync(connection, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA", r => r.GetString(0), cancellationToken)];

    private static async Task RequireDatabasesAsync(MySqlConnection connection, IEnumerable<string> databases, CancellationToken cancellationToken)
    {
        var wanted = databases.Distinct(StringComparer.Ordinal).ToList();
        if (wanted.Count == 0)
        {
            return;
        }

        var existing = await DatabaseNamesAsync(connection, cancellationToken);
        if (wanted.FirstOrDefault(d => !existing.Contains(d)) is { } missing)
        {
            throw DatabaseNotFound(missing);
        }
    }

    /// <summary>The accounts with privileges on <paramref name="database"/> (the mysql.db rows its grants made).</summary>
    private static async Task<HashSet<(string User, string Host)>> GranteesAsync(MySqlConnection connection, string database, CancellationToken cancellationToken) =>
        [.. await Sql.QueryAsync(
            connection,
            "SELECT User, Host FROM mysql.db WHERE Db = @pattern",
            r => (r.GetString(0), r.GetString(1)),
            cancellationToken,
            ("@pattern", Sql.EscapeWildcards(database)))];

    /// <summary>Runs <paramref name="work"/> over one fresh admin connection, within the command timeout.</summary>
    private async Task<T> RunAsync<T>(GuestInstance instance, Func<MySqlConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        var endPoint = EndPointOf(instance);
        var files = InstanceFiles.For(instance);
        var password = await ReadAdminPasswordAsync(instance, files, cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.CommandTimeout);
        MySqlConnection connection;
        try
        {
            connection = await OpenAsync(endPoint, password, deadline.Token);
        }
        catch (MySqlException e) when (e.ErrorCode is MySqlErrorCode.UnableToConnectToHost)
        {
            throw new InvalidOperationException($"mariadb instance {instance.Id} is not reachable at {endPoint}: {e.Message}", e);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"mariadb instance {instance.Id} at {endPoint} did not answer within {_options.CommandTimeout.TotalSeconds:F0} s");
        }

        await using (connection)
        {
            try
            {
                return await work(connection, deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"mariadb instance {instance.Id} at {endPoint} did not finish within {_options.CommandTimeout.TotalSeconds:F0} s");
            }
        }
    }
}
