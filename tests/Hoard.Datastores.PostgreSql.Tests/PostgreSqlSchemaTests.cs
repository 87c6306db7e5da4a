using Hoard.Abstractions.Datastores;
using Hoard.Datastores.PostgreSql.Tests.Support;

namespace Hoard.Datastores.PostgreSql.Tests;

/// <summary>Databases, users, access and root against real postgres servers, checked with the real psql.</summary>
public sealed class PostgreSqlSchemaTests
{
    [PostgresFact]
    public async Task Only_users_given_access_connect_and_they_can_create_tables()
    {
        await using var instance = await PostgreSqlTestInstance.CreateAsync();
        await instance.PrepareAsync();
        var manager = instance.Manager;
        await manager.CreateDatabasesAsync(instance.Instance, [new DatabaseSpec("app"), new DatabaseSpec("other")], instance.Ct).Within(Timeouts.Short);
        await manager.CreateUsersAsync(
            instance.Instance,
            [
                new UserSpec { Name = "alice", Password = "Alice-pass-1", Databases = ["app"] },
                new UserSpec { Name = "bob", Password = "Bob-pass-1" },
            ],
            instance.Ct).Within(Timeouts.Short);

        var table = await instance.PsqlAsync("alice", "Alice-pass-1", "app", "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('hi'); SELECT body FROM notes;");
        Assert.Equal("hi", table.Stdout.Trim());
        Assert.False(await Psql.CanLoginAsync(instance.Instance, "alice", "Alice-pass-1", "other").Within(Timeouts.Cli));
        Assert.False(await Psql.CanLoginAsync(instance.Instance, "bob", "Bob-pass-1", "app").Within(Timeouts.Cli), "PUBLIC may not connect to a database Hoard created");
        Assert.True(await Psql.CanLoginAsync(instance.Instance, "bob", "Bob-pass-1", null).Within(Timeouts.Cli), "a user without databases still logs in");

        // Databases are the admin's; a granted user creates in them but owns nothing else.
        Assert.Equal("os_admin|os_admin", await instance.AdminSqlAsync("SELECT string_agg(pg_get_userbyid(datdba), '|' ORDER BY datname) FROM pg_database WHERE datname IN ('app', 'other')"));
    }

    [PostgresFact]
    public async Task Deleting_a_user_that_owns_tables_hands_them_to_the_admin()
    {
        await using var instance = await PostgreSqlTestInstance.CreateAsync();
        await instance.PrepareAsync();
        var manager = instance.Manager;
        await manager.CreateDatabasesAsync(instance.Instance, [new DatabaseSpec("app")], instance.Ct).Within(Timeouts.Short);
        await manager.CreateUsersAsync(instance.Instance, [new UserSpec { Name = "alice", Password = "Alice-pass-1", Databases = ["app"] }], instance.Ct).Within(Timeouts.Short);
        var created = await instance.PsqlAsync("alice", "Alice-pass-1", "app", "CREATE TABLE ledger (amount int); INSERT INTO ledger VALUES (7);");
        Assert.True(created.ExitCode == 0, created.ToString());

        await manager.DeleteUserAsync(instance.Instance, new UserRef("alice"), instance.Ct).Within(Timeouts.Short);

        Assert.DoesNotContain(await manager.ListUsersAsync(instance.Instance, instance.Ct).Within(Timeouts.Short), u => u.Name == "alice");
        Assert.Equal("os_admin|7", await instance.AdminSqlAsync("SELECT tableowner || '|' || (SELECT amount FROM ledger) FROM pg_tables WHERE tablename = 'ledger'", "app"));
        Assert.Equal("0", await instance.AdminSqlAsync("SELECT count(*) FROM pg_roles WHERE rolname = 'alice'"));
    }

    [PostgresFact]
    public async Task Names_and_passwords_that_need_quoting_are_kept_exactly()
    {
        await using var instance = await PostgreSqlTestInstance.CreateAsync();
        await instance.PrepareAsync();
        var manager = instance.Manager;
        const string database = "My-App.Db$1";
        const string user = "Mixed.Case-User$";
        const string password = "it's a \"quoted\" \\back\\slash; DROP ROLE os_admin; --";
        Assert.Null(PostgreSqlSchema.Rules.DatabaseName!.Check(database));
        Assert.Null(PostgreSqlSchema.Rules.UserName.Check(user));

        // Same letters, other case: another name, as PostgreSQL compares quoted identifiers exactly.
        await manager.CreateDatabasesAsync(instance.Instance, [new DatabaseSpec(database), new DatabaseSpec(database.ToLowerInvariant())], instance.Ct).Within(Timeouts.Short);
        await manager.CreateUsersAsync(instance.Instance, [new UserSpec { Name = user, Password = password, Databases = [database] }], instance.Ct).Within(Timeouts.Short);

        Assert.Equal([database, database.ToLowerInvariant()], (await manager.ListDatabasesAsync(instance.Instance, instance.Ct).Within(Timeouts.Short)).Select(d => d.Name));
        var listed = Assert.Single(await manager.ListUsersAsync(instance.Instance, instance.Ct).Within(Timeouts.Short));
        Assert.Equal(user, listed.Name);
        Assert.Equal([database], listed.Databases);
        Assert.True(await Psql.CanLoginAsync(instance.Instance, user, password, database).Within(Timeouts.Cli));
        Assert.False(await Psql.CanLoginAsync(instance.Instance, user, password, database.ToLowerInvariant()).Within(Timeouts.Cli));

        // A password beyond ASCII goes to the server as a literal, which hashes it after SASLprep, as psql does.
        const string renamed = "Renamed.User-2";
        const string unicodePassword = "pässwörd-ü-€";
        await manager.UpdateUserAsync(instance.Instance, new UserRef(user), new UserChange { NewName = renamed, NewPassword = unicodePassword }, instance.Ct).Within(Timeouts.Short);
        Assert.True(await Psql.CanLoginAsync(instance.Instance, renamed, unicodePassword, database).Within(Timeouts.Cli));
        Assert.False(await Psql.CanLoginAsync(instance.Instance, renamed, password, database).Within(Timeouts.Cli));
        Assert.Equal("t", await instance.AdminSqlAsync("SELECT count(*) = 1 FROM pg_roles WHERE rolname = 'os_admin'"));
    }

    [PostgresFact]
    public async Task Character_set_and_collation_are_applied_listed_and_checked()
    {
        await using var instance = await PostgreSqlTestInstance.CreateAsync();
        await instance.PrepareAsync();
        var manager = instance.Manager;
        await manager.CreateDatabasesAsync(
            instance.Instance,
            [new DatabaseSpec("plain"), new DatabaseSpec("latin", CharacterSet: "LATIN1"), new DatabaseSpec("bytewise", Collation: "C")],
            instance.Ct).Within(Timeouts.Short);

        var listed = (await manager.ListDatabasesAsync(instance.Instance, instance.Ct).Within(Timeouts.Short)).ToDictionary(d => d.Name);
        Assert.Equal(new DatabaseSpec("latin", "LATIN1", "C"), listed["latin"]);
        Assert.Equal(new DatabaseSpec("plain", "UTF8", "C.UTF-8"), listed["plain"]);
        Assert.Equal(new DatabaseSpec("bytewise", "UTF8", "C"), listed["bytewise"]);

        // The engine's refusal is an "invalid" one, and nothing of the request stays behind.
        var unknownLocale = await Assert.ThrowsAsync<DatastoreOperationException>(
            () => manager.CreateDatabasesAsync(instance.Instance, [new DatabaseSpec("first"), new DatabaseSpec("second", Collation: "xx_YY.UTF-8")], instance.Ct).Within(Timeouts.Short));
        Assert.Equal(DatastoreOperationException.InvalidCode, unknownLocale.Code);
        Assert.Contains("second", unknownLocale.Message, StringComparison.Ordinal);
        var unknownEncoding = await Assert.ThrowsAsync<DatastoreOperationException>(
            () => manager.CreateDatabasesAsync(instance.Instance, [new DatabaseSpec("third", CharacterSet: "KLINGON")], instance.Ct).Within(Timeouts.Short));
        Assert.Equal(DatastoreOperationException.InvalidCode, unknownEncoding.Code);
        Assert.Equal(["bytewise", "latin", "plain"], (await manager.ListDatabasesAsync(instance.Instance, instance.Ct).Within(Timeouts.Short)).Select(d => d.Name));

        Assert.NotNull(PostgreSqlSchema.Rules.CheckCharacterSet(new DatabaseSpec("x", CharacterSet: "UTF8'; DROP DATABASE y; --")));
        Assert.NotNull(PostgreSqlSchema.Rules.CheckCharacterSet(new DatabaseSpec("x", Collation: "C' LC_CTYPE 'C")));
    }

    [PostgresFact]
    public async Task Root_is_a_superuser_until_disabled_and_hidden_from_the_user_list()
    {
        await using var instance = await PostgreSqlTestInstance.CreateAsync();
        await instance.PrepareAsync();
        var manager = instance.Manager;
        var root = await manager.EnableRootAsync(instance.Instance, null, instance.Ct).Within(Timeouts.Short);
        Assert.Equal("root", root.Name);
        var superuser = await instance.PsqlAsync(root.Name, root.Password, null, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
        Assert.Equal("t", superuser.Stdout.Trim());
        Assert.Empty(await manager.ListUsersAsync(instance.Instance, instance.Ct).Within(Timeouts.Short));

        await manager.DisableRootAsync(instance.Instance, instance.Ct).Within(Timeouts.Short);
        Assert.False(await Psql.CanLoginAsync(instance.Instance, root.Name, root.Password, null).Within(Timeouts.Cli));
        await manager.DisableRootAsync(instance.Instance, instance.Ct).Within(Timeouts.Short);

        var again = await manager.EnableRootAsync(instance.Instance, "Root-again-1", instance.Ct).Within(Timeouts.Short);
        Assert.True(await Psql.CanLoginAsync(instance.Instance, again.Name, "Root-again-1", null).Within(Timeouts.Cli));
    }

    [PostgresFact]
    public async Task No_password_reaches_the_agent_log_or_the_server_log()
    {
        await using var instance = await PostgreSqlTestInstance.CreateAsync();
        await instance.PrepareAsync();
        var manager = instance.Manager;
        string[] passwords = ["Secret-one-111", "Secret-two-222", "Sécret-three-333", "Secret-root-444", "Secret-five-555"];
        await manager.CreateDatabasesAsync(instance.Instance, [new DatabaseSpec("db")], instance.Ct).Within(Timeouts.Short);
        await manager.CreateUsersAsync(instance.Instance, [new UserSpec { Name = "u1", Password = passwords[0], Databases = ["db"] }], instance.Ct).Within(Timeouts.Short);
        await Assert.ThrowsAsync<DatastoreOperationException>(
            () => manager.CreateUsersAsync(instance.Instance, [new UserSpec { Name = "u1", Password = passwords[1] }], instance.Ct).Within(Timeouts.Short));
        await manager.ChangePasswordsAsync(instance.Instance, [new PasswordChange(new UserRef("u1"), passwords[2])], instance.Ct).Within(Timeouts.Short);
        await manager.EnableRootAsync(instance.Instance, passwords[3], instance.Ct).Within(Timeouts.Short);
        await manager.UpdateUserAsync(instance.Instance, new UserRef("u1"), new UserChange { NewPassword = passwords[4] }, instance.Ct).Within(Timeouts.Short);
        Assert.False(await Psql.CanLoginAsync(instance.Instance, "u1", passwords[0], "db").Within(Timeouts.Cli), "a failed login is logged by the server, without the password");
        await manager.StopAsync(instance.Instance, instance.Ct).Within(Timeouts.Cli);

        var adminPassword = await instance.AdminPasswordAsync();
        var serverLog = await File.ReadAllTextAsync(instance.ServerLog).Within(Timeouts.Short);
        Assert.NotEmpty(instance.Logs.Lines);
        Assert.Contains("password authentication failed", serverLog, StringComparison.Ordinal);
        foreach (var secret in passwords.Append(adminPassword))
        {
            Assert.DoesNotContain(secret, serverLog, StringComparison.Ordinal);
            Assert.All(instance.Logs.Lines, l => Assert.DoesNotContain(secret, l.Line, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Rules_refuse_what_quoting_alone_should_not_have_to_handle()
    {
        var users = PostgreSqlSchema.Rules.UserName;
        var databases = PostgreSqlSchema.Rules.DatabaseName!;
        foreach (var name in new[] { "abc\n", "a\0b", "-x", ".x", "1x", "x y", "x/y", "é", "x\"y", "x'y" })
        {
            Assert.NotNull(users.Check(name));
            Assert.NotNull(databases.Check(name));
        }

        foreach (var reserved in new[] { "root", "ROOT", "os_admin", "postgres", "public", "none", "current_user", "session_user", "current_role" })
        {
            Assert.NotNull(users.Check(reserved));
        }

        foreach (var reserved in new[] { "postgres", "os_admin", "template0", "Template1" })
        {
            Assert.NotNull(databases.Check(reserved));
        }

        Assert.NotNull(users.Check("pg_monitor2"));
        Assert.Null(databases.Check("pg_data"));
        Assert.Null(users.Check(new string('u', 63)));
        Assert.NotNull(users.Check(new string('u', 64)));
        Assert.False(PostgreSqlSchema.Rules.SupportsHosts);
        Assert.Null(PostgreSqlSchema.Rules.DefaultHost);
    }

    [Fact]
    public void Identifiers_and_literals_are_quoted_by_doubling()
    {
        Assert.Equal("\"a\"\"b\"", Sql.Identifier("a\"b"));
        Assert.Equal("'it''s \\ fine'", Sql.Literal("it's \\ fine"));
        Assert.Throws<ArgumentException>(() => Sql.Identifier("a\0b"));
        Assert.StartsWith("PASSWORD 'SCRAM-SHA-256$4096:", Sql.PasswordClause("plain-ascii"), StringComparison.Ordinal);
        Assert.Equal("PASSWORD 'pässwörd'", Sql.PasswordClause("pässwörd"));
    }
}
