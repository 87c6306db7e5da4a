using Hoard.Abstractions.Datastores;
using Npgsql;

namespace Hoard.Datastores.PostgreSql;

/// <summary>
/// Databases, users, access and root, as Trove's PostgreSQL guest has them: users are LOGIN roles, access to
/// a database is ALL on it (CONNECT, CREATE, TEMPORARY), root is a superuser role named root. Unlike Trove,
/// databases Hoard creates do not let PUBLIC connect, so access means something; and their public schema
/// lets whoever may connect create tables, as PostgreSQL did before 15.
/// </summary>
public sealed partial class PostgreSqlManager
{
    private const string RolesNamed = "SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1)";
    private const string DatabasesNamed = "SELECT datname::text FROM pg_database WHERE datname = ANY($1)";
    private const string TerminateSessionsOf = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()";

    // What Trove's root enable gives its root user (PgSqlAdmin.ADMIN_OPTIONS).
    private const string RootAttributes = "SUPERUSER CREATEDB CREATEROLE INHERIT REPLICATION BYPASSRLS LOGIN";

    private static readonly string[] ReservedUserNames = [.. PostgreSqlSchema.ReservedUsers.Select(n => n.ToLowerInvariant())];
    private static readonly string[] ReservedDatabaseNames = [.. PostgreSqlSchema.ReservedDatabases];

    public async Task<RootCredentials> EnableRootAsync(GuestInstance instance, string? password, CancellationToken cancellationToken)
    {
        if (password is not null)
        {
            ArgumentException.ThrowIfNullOrEmpty(password);
        }

        var rootPassword = password ?? Secrets.GeneratePassword();
        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        await using var transaction = await session.BeginAsync(cancellationToken);
        var exists = (await session.ExistingAsync(RolesNamed, [PostgreSqlSchema.RootUser], cancellationToken)).Count > 0;
        await session.ExecuteAsync(
            $"{(exists ? "ALTER" : "CREATE")} ROLE {Sql.Identifier(PostgreSqlSchema.RootUser)} WITH {RootAttributes} {Sql.PasswordClause(rootPassword)}",
            cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        _logger.RootEnabled(instance.Id);
        return new RootCredentials(PostgreSqlSchema.RootUser, rootPassword);
    }

    public async Task DisableRootAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        // Trove only gives root a new random password; Hoard's disabled root cannot log in at all, and its open
        // sessions end. The role stays (it may own objects), a superuser nobody can become.
        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        if ((await session.ExistingAsync(RolesNamed, [PostgreSqlSchema.RootUser], cancellationToken)).Count > 0)
        {
            await session.ExecuteAsync($"ALTER ROLE {Sql.Identifier(PostgreSqlSchema.RootUser)} WITH NOLOGIN PASSWORD NULL", cancellationToken);
            await session.ExecuteAsync(TerminateSessionsOf, cancellationToken, PostgreSqlSchema.RootUser);
        }

        _logger.RootDisabled(instance.Id);
    }

    public async Task<IReadOnlyList<DatabaseSpec>> ListDatabasesAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        return await session.QueryAsync(
            """
            SELECT datname::text, pg_encoding_to_char(encoding)::text, datcollate::text
            FROM pg_database
            WHERE NOT datistemplate AND datname <> ALL($1)
            ORDER BY datname COLLATE "C"
            """,
            r => new DatabaseSpec(r.GetString(0), r.GetString(1), r.GetString(2)),
            cancellationToken,
            (object)ReservedDatabaseNames);
    }

    public async Task CreateDatabasesAsync(GuestInstance instance, IReadOnlyList<DatabaseSpec> databases, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(databases);
        foreach (var database in databases)
        {
            RequireValid(PostgreSqlSchema.Rules.DatabaseName!, database.Name);
            if (PostgreSqlSchema.Rules.CheckCharacterSet(database) is { } problem)
            {
                throw DatastoreOperationException.Invalid(problem);
            }
        }

        RequireDistinct(databases.Select(d => d.Name), "database");
        if (databases.Count == 0)
        {
            return;
        }

        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        var existing = await session.ExistingAsync(DatabasesNamed, databases.Select(d => d.Name), cancellationToken);
        if (databases.FirstOrDefault(d => existing.Contains(d.Name)) is { } taken)
        {
            throw DatastoreOperationException.Conflict($"The database '{taken.Name}' already exists.");
        }

        // CREATE DATABASE cannot run in a transaction: on a failure, drop what this request created.
        var created = new List<string>();
        var current = databases[0].Name;
        try
        {
            foreach (var database in databases)
            {
                current = database.Name;
                await session.ExecuteAsync(CreateDatabaseStatement(database), cancellationToken);
                created.Add(database.Name);
                await session.ExecuteAsync($"REVOKE CONNECT, TEMPORARY ON DATABASE {Sql.Identifier(database.Name)} FROM PUBLIC", cancellationToken);

                // Only those given access can connect; let them create tables in its public schema.
                await using var inside = await OpenAdminAsync(instance, database.Name, cancellationToken);
                await inside.ExecuteAsync("GRANT USAGE, CREATE ON SCHEMA public TO PUBLIC", cancellationToken);
                _logger.DatabaseCreated(instance.Id, database.Name);
            }
        }
        catch (Exception e)
        {
            foreach (var name in created)
            {
                await TryDropDatabaseAsync(session, name);
            }

            throw e switch
            {
                PostgresException { SqlState: PostgresErrorCodes.DuplicateDatabase } => DatastoreOperationException.Conflict($"The database '{current}' already exists."),
                // An unknown encoding or locale, or one that does not fit the other (22xxx, 42xxx, 0A000).
                PostgresException p when p.SqlState.StartsWith("22", StringComparison.Ordinal) || p.SqlState.StartsWith("42", StringComparison.Ordinal) || p.SqlState == PostgresErrorCodes.FeatureNotSupported =>
                    DatastoreOperationException.Invalid($"The database '{current}' cannot be created: {p.MessageText}"),
                _ => e,
            };
        }
    }

    public async Task DeleteDatabaseAsync(GuestInstance instance, string name, CancellationToken cancellationToken)
    {
        RequireValid(PostgreSqlSchema.Rules.DatabaseName!, name);
        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        try
        {
            // FORCE ends the sessions connected to it, which would otherwise make the drop fail.
            await session.ExecuteAsync($"DROP DATABASE {Sql.Identifier(name)} WITH (FORCE)", cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidCatalogName)
        {
            throw DatastoreOperationException.NotFound($"The database '{name}' does not exist.");
        }

        _logger.DatabaseDropped(instance.Id, name);
    }

    public async Task<IReadOnlyList<UserInfo>> ListUsersAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);

        // A user's databases are those it was granted CONNECT on (by name, not through PUBLIC).
        return await session.QueryAsync(
            """
            SELECT r.rolname::text,
                   ARRAY(SELECT d.datname::text
                         FROM pg_database d, aclexplode(d.datacl) a
                         WHERE a.grantee = r.oid AND a.privilege_type = 'CONNECT'
                           AND NOT d.datistemplate AND d.datname <> ALL($2)
                         ORDER BY d.datname COLLATE "C")
            FROM pg_roles r
            WHERE r.rolcanlogin AND lower(r.rolname) <> ALL($1) AND r.rolname NOT LIKE 'pg\_%'
            ORDER BY r.rolname COLLATE "C"
            """,
            r => new UserInfo(r.GetString(0), null, r.GetFieldValue<string[]>(1)),
            cancellationToken,
            ReservedUserNames,
            ReservedDatabaseNames);
    }

    public async Task CreateUsersAsync(GuestInstance instance, IReadOnlyList<UserSpec> users, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(users);
        foreach (var user in users)
        {
            RequireUser(user.Ref);
            RequirePassword(user.Password);
            foreach (var database in user.Databases)
            {
                RequireValid(PostgreSqlSchema.Rules.DatabaseName!, database);
            }
        }

        RequireDistinct(users.Select(u => u.Name), "user");
        if (users.Count == 0)
        {
            return;
        }

        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        var existing = await session.ExistingAsync(RolesNamed, users.Select(u => u.Name), cancellationToken);
        if (users.FirstOrDefault(u => existing.Contains(u.Name)) is { } taken)
        {
            throw DatastoreOperationException.Conflict($"The user '{taken.Name}' already exists.");
        }

        await RequireDatabasesAsync(session, users.SelectMany(u => u.Databases), cancellationToken);
        try
        {
            // One transaction: all users are created with their access, or none is.
            await using var transaction = await session.BeginAsync(cancellationToken);
            foreach (var user in users)
            {
                await session.ExecuteAsync($"CREATE ROLE {Sql.Identifier(user.Name)} WITH LOGIN {Sql.PasswordClause(user.Password)}", cancellationToken);
                foreach (var database in user.Databases.Distinct(StringComparer.Ordinal))
                {
                    await session.ExecuteAsync($"GRANT ALL ON DATABASE {Sql.Identifier(database)} TO {Sql.Identifier(user.Name)}", cancellationToken);
                }
            }

            await transaction.CommitAsync(cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateObject)
        {
            throw DatastoreOperationException.Conflict($"A user of {string.Join(", ", users.Select(u => u.Name))} already exists.");
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidCatalogName)
        {
            throw DatastoreOperationException.NotFound($"A database of {string.Join(", ", users.SelectMany(u => u.Databases).Distinct())} does not exist.");
        }

        foreach (var user in users)
        {
            _logger.UserCreated(instance.Id, user.Name, user.Databases.Count == 0 ? "no database" : string.Join(", ", user.Databases));
        }
    }

    public async Task DeleteUserAsync(GuestInstance instance, UserRef user, CancellationToken cancellationToken)
    {
        RequireUser(user);
        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        await RequireUserExistsAsync(session, user.Name, cancellationToken);
        await session.ExecuteAsync(TerminateSessionsOf, cancellationToken, user.Name);

        // A role that owns objects or holds privileges cannot be dropped. What it owns goes to the admin (the
        // data stays), its privileges go; both per database, where its dependencies are recorded.
        var role = Sql.Identifier(user.Name);
        var dependent = await session.QueryAsync(
            """
            SELECT DISTINCT d.datname::text
            FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid JOIN pg_roles r ON r.oid = s.refobjid
            WHERE s.refclassid = 'pg_authid'::regclass AND r.rolname = $1 AND d.datallowconn AND d.datname <> $2
            """,
            r => r.GetString(0),
            cancellationToken,
            user.Name,
            PostgreSqlSchema.MaintenanceDatabase);
        foreach (var database in dependent)
        {
            await using var inside = await OpenAdminAsync(instance, database, cancellationToken);
            await inside.ExecuteAsync($"REASSIGN OWNED BY {role} TO CURRENT_USER; DROP OWNED BY {role}", cancellationToken);
        }

        try
        {
            // Here DROP OWNED also revokes its privileges on shared objects: databases' CONNECT and the like.
            await session.ExecuteAsync($"REASSIGN OWNED BY {role} TO CURRENT_USER; DROP OWNED BY {role}; DROP ROLE {role}", cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedObject)
        {
            throw DatastoreOperationException.NotFound($"The user '{user.Name}' does not exist.");
        }

        _logger.UserDropped(instance.Id, user.Name);
    }

    public async Task UpdateUserAsync(GuestInstance instance, UserRef user, UserChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        RequireUser(user);
        if (change.NewHost is not null)
        {
            throw DatastoreOperationException.NotSupported("PostgreSQL users have no host.");
        }

        if (change.NewName is not null)
        {
            RequireValid(PostgreSqlSchema.Rules.UserName, change.NewName);
        }

        if (change.NewPassword is not null)
        {
            RequirePassword(change.NewPassword);
        }

        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        await using var transaction = await session.BeginAsync(cancellationToken);
        await RequireUserExistsAsync(session, user.Name, cancellationToken);
        var name = user.Name;
        if (change.NewName is { } newName && newName != user.Name)
        {
            if ((await session.ExistingAsync(RolesNamed, [newName], cancellationToken)).Count > 0)
            {
                throw DatastoreOperationException.Conflict($"The user '{newName}' already exists.");
            }

            // SCRAM verifiers do not depend on the name (MD5 ones did), so the password survives the rename.
            await session.ExecuteAsync($"ALTER ROLE {Sql.Identifier(user.Name)} RENAME TO {Sql.Identifier(newName)}", cancellationToken);
            name = newName;
        }

        if (change.NewPassword is not null)
        {
            await session.ExecuteAsync($"ALTER ROLE {Sql.Identifier(name)} WITH {Sql.PasswordClause(change.NewPassword)}", cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        _logger.UserUpdated(instance.Id, user.Name, change.ToString());
    }

    public async Task ChangePasswordsAsync(GuestInstance instance, IReadOnlyList<PasswordChange> changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changes);
        foreach (var change in changes)
        {
            RequireUser(change.User);
            RequirePassword(change.Password);
        }

        if (changes.Count == 0)
        {
            return;
        }

        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        await using var transaction = await session.BeginAsync(cancellationToken);
        var existing = await session.ExistingAsync(RolesNamed, changes.Select(c => c.User.Name), cancellationToken);
        if (changes.FirstOrDefault(c => !existing.Contains(c.User.Name)) is { } missing)
        {
            throw DatastoreOperationException.NotFound($"The user '{missing.User.Name}' does not exist.");
        }

        foreach (var change in changes)
        {
            await session.ExecuteAsync($"ALTER ROLE {Sql.Identifier(change.User.Name)} WITH {Sql.PasswordClause(change.Password)}", cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        _logger.PasswordsChanged(instance.Id, changes.Count);
    }

    public async Task GrantAccessAsync(GuestInstance instance, UserRef user, IReadOnlyList<string> databases, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(databases);
        RequireUser(user);
        foreach (var database in databases)
        {
            RequireValid(PostgreSqlSchema.Rules.DatabaseName!, database);
        }

        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        await using var transaction = await session.BeginAsync(cancellationToken);
        await RequireUserExistsAsync(session, user.Name, cancellationToken);
        await RequireDatabasesAsync(session, databases, cancellationToken);
        foreach (var database in databases.Distinct(StringComparer.Ordinal))
        {
            await session.ExecuteAsync($"GRANT ALL ON DATABASE {Sql.Identifier(database)} TO {Sql.Identifier(user.Name)}", cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        _logger.AccessGranted(instance.Id, user.Name, string.Join(", ", databases));
    }

    public async Task RevokeAccessAsync(GuestInstance instance, UserRef user, string database, CancellationToken cancellationToken)
    {
        RequireUser(user);
        RequireValid(PostgreSqlSchema.Rules.DatabaseName!, database);
        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        await RequireUserExistsAsync(session, user.Name, cancellationToken);
        await RequireDatabasesAsync(session, [database], cancellationToken);
        await session.ExecuteAsync($"REVOKE ALL ON DATABASE {Sql.Identifier(database)} FROM {Sql.Identifier(user.Name)}", cancellationToken);

        // Revoking CONNECT does not end sessions already connected.
        await session.ExecuteAsync(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND datname = $2",
            cancellationToken,
            user.Name,
            database);
        _logger.AccessRevoked(instance.Id, user.Name, database);
    }

    private async Task<AdminSession> OpenAdminAsync(GuestInstance instance, string database, CancellationToken cancellationToken)
    {
        EndPointOf(instance);
        var files = InstanceFiles.For(instance);
        var password = await ReadAdminPasswordAsync(instance, files, cancellationToken);
        try
        {
            return await OpenAdminSessionAsync(instance, password, _options.CommandTimeout, cancellationToken, database);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && AdminSession.IsUnreachable(e))
        {
            var state = LivePid(files) is null ? "is not running" : "does not answer";
            throw new InvalidOperationException($"postgresql instance {instance.Id} {state} ({instance.Address}:{instance.Port}): {e.Message}", e);
        }
    }

    private static string CreateDatabaseStatement(DatabaseSpec database)
    {
        var statement = "CREATE DATABASE " + Sql.Identifier(database.Name);
        if (database.CharacterSet is null && database.Collation is null)
        {
            return statement;
        }

        // template1 has UTF8 and C.UTF-8; another encoding or locale needs the pristine template0. An
        // encoding other than UTF8 needs a locale that fits it: C fits all.
        statement += " TEMPLATE template0";
        if (database.CharacterSet is { } encoding)
        {
            statement += " ENCODING " + Sql.Literal(encoding);
        }

        var locale = database.Collation ?? (database.CharacterSet is { } e && !IsUtf8(e) ? "C" : null);
        if (locale is not null)
        {
            statement += $" LC_COLLATE {Sql.Literal(locale)} LC_CTYPE {Sql.Literal(locale)}";
        }

        return statement;
    }

    private static bool IsUtf8(string encoding)
    {
        var letters = new string([.. encoding.Where(char.IsAsciiLetterOrDigit)]).ToLowerInvariant();
        return letters is "utf8" or "unicode";
    }

    private static async Task TryDropDatabaseAsync(AdminSession session, string name)
    {
        try
        {
            using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await session.ExecuteAsync($"DROP DATABASE IF EXISTS {Sql.Identifier(name)} WITH (FORCE)", cleanup.Token);
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or InvalidOperationException)
        {
            // The request fails anyway with the first error; a leftover database shows in the list.
        }
    }

    private static async Task RequireUserExistsAsync(AdminSession session, string name, CancellationToken cancellationToken)
    {
        if ((await session.ExistingAsync(RolesNamed, [name], cancellationToken)).Count == 0)
        {
            throw DatastoreOperationException.NotFound($"The user '{name}' does not exist.");
        }
    }

    private static async Task RequireDatabasesAsync(AdminSession session, IEnumerable<string> databases, CancellationToken cancellationToken)
    {
        var wanted = databases.Distinct(StringComparer.Ordinal).ToList();
        if (wanted.Count == 0)
        {
            return;
        }

        var existing = await session.ExistingAsync(DatabasesNamed, wanted, cancellationToken);
        if (wanted.FirstOrDefault(d => !existing.Contains(d)) is { } missing)
        {
            throw DatastoreOperationException.NotFound($"The database '{missing}' does not exist.");
        }
    }

    /// <summary>Names reach the manager checked by the API; checked again, since a reserved one would reach the agent's own role.</summary>
    private static void RequireValid(NameRule rule, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (rule.Check(name) is { } problem)
        {
            throw DatastoreOperationException.Invalid(problem);
        }
    }

    private static void RequireUser(UserRef user)
    {
        ArgumentNullException.ThrowIfNull(user);
        RequireValid(PostgreSqlSchema.Rules.UserName, user.Name);
    }

    private static void RequirePassword(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        if (PostgreSqlSchema.Rules.CheckPassword(password) is { } problem)
        {
            throw DatastoreOperationException.Invalid(problem);
        }
    }

    private static void RequireDistinct(IEnumerable<string> names, string kind)
    {
        if (names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw DatastoreOperationException.Invalid($"The {kind} '{twice.Key}' is named twice in the request.");
        }
    }
}
