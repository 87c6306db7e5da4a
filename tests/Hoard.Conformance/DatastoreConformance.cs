using Hoard.Abstractions.Datastores;
using Hoard.Testing;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Hoard.Conformance;

/// <summary>
/// The contract every datastore plugin keeps, against its real engine. A plugin's test class inherits this,
/// says how to make the plugin and how to log in with the engine's own client (psql, mariadb, redis-cli); the
/// plugin is done when every test here passes. Each test gets a fresh instance on a loopback address of its own.
/// </summary>
public abstract class DatastoreConformance : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));
    private ILoggerFactory _loggerFactory = null!;

    protected IDatastorePlugin Plugin { get; private set; } = null!;

    protected IDatastoreManager Manager { get; private set; } = null!;

    protected GuestInstance Instance { get; private set; } = null!;

    /// <summary>Every line the manager logged, to check that no password reaches a log.</summary>
    protected CapturingLoggerProvider Logged { get; } = new();

    protected CancellationToken Ct => _timeout.Token;

    protected SchemaRules Schema => Plugin.Schema;

    protected abstract IDatastorePlugin CreatePlugin();

    /// <summary>
    /// Logs in as <paramref name="user"/> with the engine's own command-line client over TCP to the instance's
    /// address (into <paramref name="database"/> when given) and runs a trivial command: true when it worked.
    /// </summary>
    protected abstract Task<bool> CanLoginAsync(string user, string password, string? database);

    /// <summary>The first port of the plugin's tcp_ports, where clients connect.</summary>
    protected int Port => int.Parse(
        Plugin.Options.Single(o => o.Name == DatastoreOptionNames.TcpPorts).Default.Split(',')[0],
        System.Globalization.CultureInfo.InvariantCulture);

    public async Task InitializeAsync()
    {
        Plugin = CreatePlugin();
        _loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(Logged));
        Manager = Plugin.CreateManager(_loggerFactory);
        var versions = Plugin.DiscoverVersions();
        var version = (versions.Count > 0 ? versions[0] : null)
            ?? throw new InvalidOperationException($"{Plugin.Name} is not installed here; ./test.sh installs it");
        var directory = Path.Combine(Path.GetTempPath(), "hoard-conformance", Guid.NewGuid().ToString());
        // As the local compute driver makes it: the instance's own, private directory.
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Instance = new GuestInstance
        {
            Id = Path.GetFileName(directory),
            Datastore = Plugin.Name,
            Version = version.Name,
            Directory = directory,
            Address = await Loopback.FreeAddressAsync("127.88", Port, highestLastOctet: 198),
            Port = Port,
            RamMb = 512,
        };
    }

    public async Task DisposeAsync()
    {
        try
        {
            using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await Manager.DestroyAsync(Instance, cleanup.Token);
        }
        finally
        {
            if (Directory.Exists(Instance.Directory))
            {
                Directory.Delete(Instance.Directory, recursive: true);
            }

            _loggerFactory.Dispose();
            _timeout.Dispose();
        }
    }

    [Fact]
    public void Declares_the_seed_option_group()
    {
        var options = Plugin.Options.ToDictionary(o => o.Name);
        foreach (var name in new[] { "tcp_ports", "udp_ports", "root_on_create", "usage_timeout", "backup_strategy", "cluster_strategy" })
        {
            Assert.True(options.TryGetValue(name, out var option), $"[{Plugin.Name}] lacks {name}");
            Assert.Equal(OptionSide.Server, option!.Side);
        }

        foreach (var name in new[] { "mount_point", "backup_namespace", "restore_namespace" })
        {
            Assert.True(options.TryGetValue(name, out var option), $"[{Plugin.Name}] lacks {name}");
            Assert.Equal(OptionSide.Guest, option!.Side);
        }

        Assert.All(Plugin.Options, o => Assert.False(string.IsNullOrWhiteSpace(o.Help), $"{o.Name} has no help text"));
        Assert.InRange(Port, 1, 65535);
    }

    [Fact]
    public void Registers_the_installed_version_by_major_number()
    {
        var versions = Plugin.DiscoverVersions();
        Assert.NotEmpty(versions);
        Assert.All(versions, v => Assert.Matches(@"^\d+(\.\d+)?$", v.Name));
        Assert.All(versions, v => Assert.StartsWith(v.Name, v.Version, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Prepare_serves_on_its_own_address_only_and_is_idempotent()
    {
        await Manager.PrepareAsync(Instance, Ct);
        Assert.True(Manager.IsProcessAlive(Instance));
        Assert.Equal(ServiceStatus.Running, await Manager.ProbeAsync(Instance, Ct));

        // A retried prepare (the control plane resumes steps after a crash) finds it running and returns.
        await Manager.PrepareAsync(Instance, Ct);
        Assert.Equal(ServiceStatus.Running, await Manager.ProbeAsync(Instance, Ct));

        Assert.True(await Loopback.IsListeningAsync(Instance.Address, Port));
        var neighbour = Instance.Address[..(Instance.Address.LastIndexOf('.') + 1)] + (Instance.Address.EndsWith(".200", StringComparison.Ordinal) ? "201" : "200");
        Assert.False(await Loopback.IsListeningAsync(neighbour, Port), $"something answers on {neighbour}:{Port}: the server must bind only its own address");
    }

    [Fact]
    public async Task Nobody_logs_in_without_the_right_password()
    {
        await Manager.PrepareAsync(Instance, Ct);
        var root = await Manager.EnableRootAsync(Instance, "Given-Pa55word-for-root", Ct);
        Assert.Equal("Given-Pa55word-for-root", root.Password);
        Assert.True(await CanLoginAsync(root.Name, root.Password, null), "root logs in with its password");
        Assert.False(await CanLoginAsync(root.Name, "not-the-password", null), "a wrong password is refused");
        Assert.False(await CanLoginAsync(root.Name, string.Empty, null), "an empty password is refused");
        Assert.False(await CanLoginAsync("nobody", "whatever", null), "an unknown user is refused");
    }

    [Fact]
    public async Task Root_gets_a_generated_password_and_loses_access_when_disabled()
    {
        await Manager.PrepareAsync(Instance, Ct);
        var first = await Manager.EnableRootAsync(Instance, null, Ct);
        var second = await Manager.EnableRootAsync(Instance, null, Ct);
        Assert.True(first.Password.Length >= 16, "a generated password is long");
        Assert.NotEqual(first.Password, second.Password);
        Assert.False(await CanLoginAsync(second.Name, first.Password, null), "enabling again replaces the password");
        Assert.True(await CanLoginAsync(second.Name, second.Password, null));
        Assert.DoesNotContain(await Manager.ListUsersAsync(Instance, Ct), u => u.Name == second.Name);

        await Manager.DisableRootAsync(Instance, Ct);
        Assert.False(await CanLoginAsync(second.Name, second.Password, null), "a disabled root cannot log in");
        AssertNotLogged(first.Password, second.Password);
    }

    [Fact]
    public async Task Stop_and_start_keep_what_was_created()
    {
        await Manager.PrepareAsync(Instance, Ct);
        if (Schema.SupportsDatabases)
        {
            await Manager.CreateDatabasesAsync(Instance, [new DatabaseSpec("kept")], Ct);
        }

        await Manager.CreateUsersAsync(
            Instance,
            [new UserSpec { Name = "keeper", Password = "Keeper-pass-1", Host = Schema.DefaultHost, Databases = Schema.SupportsDatabases ? ["kept"] : [] }],
            Ct);

        await Manager.StopAsync(Instance, Ct);
        Assert.False(Manager.IsProcessAlive(Instance));
        Assert.Equal(ServiceStatus.Shutdown, await Manager.ProbeAsync(Instance, Ct));
        await Manager.StopAsync(Instance, Ct); // stopping a stopped server is fine

        await Manager.StartAsync(Instance, Ct);
        Assert.Equal(ServiceStatus.Running, await Manager.ProbeAsync(Instance, Ct));
        Assert.Contains(await Manager.ListUsersAsync(Instance, Ct), u => u.Name == "keeper");
        Assert.True(await CanLoginAsync("keeper", "Keeper-pass-1", Schema.SupportsDatabases ? "kept" : null), "the user and its access survive a restart");
        if (Schema.SupportsDatabases)
        {
            Assert.Contains(await Manager.ListDatabasesAsync(Instance, Ct), d => d.Name == "kept");
        }
    }

    [Fact]
    public async Task Databases_are_created_listed_and_dropped()
    {
        await Manager.PrepareAsync(Instance, Ct);
        if (!Schema.SupportsDatabases)
        {
            var refused = await Assert.ThrowsAsync<DatastoreOperationException>(() => Manager.CreateDatabasesAsync(Instance, [new DatabaseSpec("nope")], Ct));
            Assert.Equal(DatastoreOperationException.NotSupportedCode, refused.Code);
            return;
        }

        await Manager.CreateDatabasesAsync(Instance, [new DatabaseSpec("alpha"), new DatabaseSpec("beta")], Ct);
        Assert.Equal(["alpha", "beta"], (await Manager.ListDatabasesAsync(Instance, Ct)).Select(d => d.Name));

        var again = await Assert.ThrowsAsync<DatastoreOperationException>(() => Manager.CreateDatabasesAsync(Instance, [new DatabaseSpec("alpha")], Ct));
        Assert.Equal(DatastoreOperationException.ConflictCode, again.Code);

        await Manager.DeleteDatabaseAsync(Instance, "alpha", Ct);
        Assert.Equal(["beta"], (await Manager.ListDatabasesAsync(Instance, Ct)).Select(d => d.Name));
        var missing = await Assert.ThrowsAsync<DatastoreOperationException>(() => Manager.DeleteDatabaseAsync(Instance, "alpha", Ct));
        Assert.Equal(DatastoreOperationException.NotFoundCode, missing.Code);
    }

    [Fact]
    public async Task Users_log_in_change_passwords_and_are_deleted()
    {
        await Manager.PrepareAsync(Instance, Ct);
        string? database = null;
        if (Schema.SupportsDatabases)
        {
            database = "appdb";
            await Manager.CreateDatabasesAsync(Instance, [new DatabaseSpec(database)], Ct);
        }

        var user = new UserSpec { Name = "app", Host = Schema.DefaultHost, Password = "First-pass-42", Databases = database is null ? [] : [database] };
        await Manager.CreateUsersAsync(Instance, [user], Ct);
        var listed = Assert.Single(await Manager.ListUsersAsync(Instance, Ct), u => u.Name == "app");
        Assert.Equal(Schema.DefaultHost, listed.Host);
        Assert.Equal(database is null ? [] : [database], listed.Databases);
        Assert.True(await CanLoginAsync("app", "First-pass-42", database));

        var duplicate = await Assert.ThrowsAsync<DatastoreOperationException>(() => Manager.CreateUsersAsync(Instance, [user with { Password = "Other-pass-1" }], Ct));
        Assert.Equal(DatastoreOperationException.ConflictCode, duplicate.Code);
        Assert.True(await CanLoginAsync("app", "First-pass-42", database), "a refused duplicate changes nothing");

        await Manager.ChangePasswordsAsync(Instance, [new PasswordChange(user.Ref, "Second-pass-42")], Ct);
        Assert.False(await CanLoginAsync("app", "First-pass-42", database));
        Assert.True(await CanLoginAsync("app", "Second-pass-42", database));

        await Manager.DeleteUserAsync(Instance, user.Ref, Ct);
        Assert.DoesNotContain(await Manager.ListUsersAsync(Instance, Ct), u => u.Name == "app");
        Assert.False(await CanLoginAsync("app", "Second-pass-42", database));
        var missing = await Assert.ThrowsAsync<DatastoreOperationException>(() => Manager.DeleteUserAsync(Instance, user.Ref, Ct));
        Assert.Equal(DatastoreOperationException.NotFoundCode, missing.Code);
        AssertNotLogged("First-pass-42", "Second-pass-42");
    }

    [Fact]
    public async Task Access_is_granted_and_revoked_per_database()
    {
        await Manager.PrepareAsync(Instance, Ct);
        var user = new UserRef("reader", Schema.DefaultHost);
        if (!Schema.SupportsDatabases)
        {
            await Manager.CreateUsersAsync(Instance, [new UserSpec { Name = user.Name, Password = "Reader-pass-1" }], Ct);
            var refused = await Assert.ThrowsAsync<DatastoreOperationException>(() => Manager.GrantAccessAsync(Instance, user, ["x"], Ct));
            Assert.Equal(DatastoreOperationException.NotSupportedCode, refused.Code);
            return;
        }

        await Manager.CreateDatabasesAsync(Instance, [new DatabaseSpec("one"), new DatabaseSpec("two")], Ct);
        await Manager.CreateUsersAsync(Instance, [new UserSpec { Name = user.Name, Host = user.Host, Password = "Reader-pass-1", Databases = ["one"] }], Ct);
        Assert.False(await CanLoginAsync("reader", "Reader-pass-1", "two"), "no access to a database not granted");

        await Manager.GrantAccessAsync(Instance, user, ["two"], Ct);
        Assert.Equal(["one", "two"], Databases(await Manager.ListUsersAsync(Instance, Ct), "reader"));
        Assert.True(await CanLoginAsync("reader", "Reader-pass-1", "two"));

        await Manager.RevokeAccessAsync(Instance, user, "one", Ct);
        Assert.Equal(["two"], Databases(await Manager.ListUsersAsync(Instance, Ct), "reader"));
        Assert.False(await CanLoginAsync("reader", "Reader-pass-1", "one"), "revoked access is gone");

        var missing = await Assert.ThrowsAsync<DatastoreOperationException>(() => Manager.GrantAccessAsync(Instance, user, ["three"], Ct));
        Assert.Equal(DatastoreOperationException.NotFoundCode, missing.Code);
    }

    [Fact]
    public async Task A_user_can_be_renamed_with_a_new_password()
    {
        await Manager.PrepareAsync(Instance, Ct);
        var user = new UserSpec { Name = "before", Host = Schema.DefaultHost, Password = "Before-pass-1" };
        await Manager.CreateUsersAsync(Instance, [user], Ct);
        var change = new UserChange { NewName = "after", NewPassword = "After-pass-1" };
        if (!Schema.SupportsDatabases)
        {
            // Redis ACL users cannot be renamed; a password change is ChangePasswords.
            var refused = await Assert.ThrowsAsync<DatastoreOperationException>(() => Manager.UpdateUserAsync(Instance, user.Ref, change, Ct));
            Assert.Equal(DatastoreOperationException.NotSupportedCode, refused.Code);
            return;
        }

        await Manager.UpdateUserAsync(Instance, user.Ref, change, Ct);
        var names = (await Manager.ListUsersAsync(Instance, Ct)).Select(u => u.Name).ToList();
        Assert.Contains("after", names);
        Assert.DoesNotContain("before", names);
        Assert.True(await CanLoginAsync("after", "After-pass-1", null));
        Assert.False(await CanLoginAsync("before", "Before-pass-1", null));

        await Manager.CreateUsersAsync(Instance, [user], Ct);
        var taken = await Assert.ThrowsAsync<DatastoreOperationException>(() => Manager.UpdateUserAsync(Instance, user.Ref, new UserChange { NewName = "after" }, Ct));
        Assert.Equal(DatastoreOperationException.ConflictCode, taken.Code);
    }

    [Fact]
    public async Task Hostile_and_reserved_names_are_refused_by_the_rules()
    {
        foreach (var hostile in new[] { "x; DROP DATABASE y", "a'b", "a\"b", "a`b", "../etc", "a b", new string('n', 200), string.Empty })
        {
            Assert.NotNull(Schema.UserName.Check(hostile));
            if (Schema.DatabaseName is { } rule)
            {
                Assert.NotNull(rule.Check(hostile));
            }
        }

        Assert.NotNull(Schema.UserName.Check("root"));
        Assert.Null(Schema.UserName.Check("app_user1"));
        Assert.Equal(Schema.SupportsDatabases, Schema.DatabaseName is not null);
        if (Schema.DatabaseName is { } databases)
        {
            Assert.Null(databases.Check("app_db1"));
        }

        // The agent's own account is not the user's to see or touch.
        await Manager.PrepareAsync(Instance, Ct);
        Assert.All(await Manager.ListUsersAsync(Instance, Ct), u => Assert.Null(Schema.UserName.Check(u.Name)));
        Assert.All(await ListDatabasesOrEmptyAsync(), d => Assert.Null(Schema.DatabaseName!.Check(d.Name)));
    }

    [Fact]
    public async Task Destroy_stops_the_server_and_is_idempotent()
    {
        await Manager.PrepareAsync(Instance, Ct);
        await Manager.DestroyAsync(Instance, Ct);
        Assert.False(Manager.IsProcessAlive(Instance));
        Assert.False(await Loopback.IsListeningAsync(Instance.Address, Port));
        await Manager.DestroyAsync(Instance, Ct);
    }

    protected void AssertNotLogged(params string[] secrets)
    {
        Assert.NotEmpty(Logged.Lines);
        foreach (var (_, line) in Logged.Lines)
        {
            foreach (var secret in secrets)
            {
                Assert.DoesNotContain(secret, line, StringComparison.Ordinal);
            }
        }
    }

    private async Task<IReadOnlyList<DatabaseSpec>> ListDatabasesOrEmptyAsync() =>
        Schema.SupportsDatabases ? await Manager.ListDatabasesAsync(Instance, Ct) : [];

    private static IReadOnlyList<string> Databases(IReadOnlyList<UserInfo> users, string name) =>
        [.. users.Single(u => u.Name == name).Databases.Order(StringComparer.Ordinal)];
}
