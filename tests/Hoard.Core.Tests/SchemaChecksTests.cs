using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Hoard.Abstractions.Datastores;
using Hoard.Core;
using Hoard.Core.Guests;
using Hoard.Core.Instances;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Hoard.Core.Tests;

public sealed class SchemaChecksTests
{
    /// <summary>A datastore with MySQL-like rules: users with hosts, databases, reserved names.</summary>
    private sealed class HostedEngine : IDatastorePlugin
    {
        public string Name => "hosted";

        public IReadOnlyList<DatastoreOption> Options { get; } = [];

        public SchemaRules Schema { get; } = new()
        {
            SupportsDatabases = true,
            SupportsHosts = true,
            DefaultHost = "%",
            DatabaseName = new NameRule { Kind = "database name", MaxLength = 64, Pattern = new Regex("^[A-Za-z0-9_-]+$"), PatternHelp = "letters", Reserved = new HashSet<string>(["mysql"]) },
            UserName = new NameRule { Kind = "user name", MaxLength = 16, Pattern = new Regex("^[A-Za-z0-9_-]+$"), PatternHelp = "letters", Reserved = new HashSet<string>(["root"]) },
            CheckHost = h => h == "%" || h.StartsWith("10.", StringComparison.Ordinal) ? null : $"'{h}' is not a valid hostname.",
        };

        public IReadOnlyList<DatastoreVersionInfo> DiscoverVersions() => [];

        public IDatastoreManager CreateManager(ILoggerFactory loggerFactory) => throw new NotSupportedException();
    }

    private sealed class KeyValueEngine : IDatastorePlugin
    {
        public string Name => "kv";

        public IReadOnlyList<DatastoreOption> Options { get; } = [];

        public SchemaRules Schema { get; } = new()
        {
            SupportsDatabases = false,
            UserName = new NameRule { Kind = "user name", MaxLength = 64, Pattern = new Regex("^[a-z]+$"), PatternHelp = "letters" },
        };

        public IReadOnlyList<DatastoreVersionInfo> DiscoverVersions() => [];

        public IDatastoreManager CreateManager(ILoggerFactory loggerFactory) => throw new NotSupportedException();
    }

    [Theory]
    [InlineData("bob", "bob", "%")]
    [InlineData("bob@%", "bob", "%")]
    [InlineData("bob@10.0.0.1", "bob", "10.0.0.1")]
    [InlineData("bob@", "bob@", "%")]
    public void A_user_in_a_url_is_split_at_the_last_at_sign_with_the_host_defaulting_to_percent(string id, string name, string host)
    {
        if (name.Contains('@', StringComparison.Ordinal))
        {
            // Trove keeps a trailing '@' in the name; such a name is then refused by the rules.
            Assert.Throws<ApiException>(() => SchemaService.ParseUser(new HostedEngine(), id));
            return;
        }

        Assert.Equal(new UserRef(name, host), SchemaService.ParseUser(new HostedEngine(), id));
    }

    [Fact]
    public void Engines_without_hosts_take_a_bare_name_or_a_percent_host_only()
    {
        Assert.Equal(new UserRef("bob"), SchemaService.ParseUser(new KeyValueEngine(), "bob"));
        Assert.Equal(new UserRef("bob"), SchemaService.ParseUser(new KeyValueEngine(), "bob@%"));
        var e = Assert.Throws<ApiException>(() => SchemaService.ParseUser(new KeyValueEngine(), "bob@10.0.0.1"));
        Assert.Equal(400, e.Status);
    }

    [Fact]
    public void Hostile_and_reserved_names_are_400s_that_name_the_problem()
    {
        var engine = new HostedEngine();
        var hostile = Assert.Throws<ApiException>(() => SchemaChecks.CheckDatabases(engine, [new DatabaseSpec("x; DROP DATABASE y")]));
        Assert.Equal(400, hostile.Status);
        Assert.Contains("not a valid database name", hostile.Message, StringComparison.Ordinal);
        var reserved = Assert.Throws<ApiException>(() => SchemaChecks.CheckUsers(engine, [new UserSpec { Name = "root", Host = "%", Password = "p-1" }]));
        Assert.Contains("reserved", reserved.Message, StringComparison.Ordinal);
        var host = Assert.Throws<ApiException>(() => SchemaChecks.CheckUsers(engine, [new UserSpec { Name = "bob", Host = "localhost", Password = "p-1" }]));
        Assert.Contains("'localhost' is not a valid hostname", host.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_refused_password_is_never_echoed()
    {
        var engine = new HostedEngine();
        var e = Assert.Throws<ApiException>(() => SchemaChecks.CheckUsers(engine, [new UserSpec { Name = "bob", Host = "%", Password = "bad\u0001secret-value" }]));
        Assert.DoesNotContain("secret-value", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Datastores_without_databases_refuse_them_as_trove_does()
    {
        var e = Assert.Throws<ApiException>(() => SchemaChecks.CheckInitial(new KeyValueEngine(), new InitialSchema([new DatabaseSpec("db")], [])));
        Assert.Equal(422, e.Status);
        Assert.Equal("Operation not supported for datastore kv.", e.Message);
    }

    [Fact]
    public void Initial_users_may_only_use_initial_databases_and_duplicates_are_refused()
    {
        var engine = new HostedEngine();
        var unknown = Assert.Throws<ApiException>(() => SchemaChecks.CheckInitial(engine, new InitialSchema([new DatabaseSpec("a")], [new UserSpec { Name = "u", Host = "%", Password = "p-1", Databases = ["b"] }])));
        Assert.Contains("b", unknown.Message, StringComparison.Ordinal);
        var twice = Assert.Throws<ApiException>(() => SchemaChecks.CheckInitial(engine, new InitialSchema([new DatabaseSpec("a"), new DatabaseSpec("a")], [])));
        Assert.Contains("share the same name", twice.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_initial_schema_is_sealed_in_the_task_payload_and_opens_only_with_the_same_key()
    {
        var secrets = new GuestSecrets(RandomNumberGenerator.GetBytes(GuestSecrets.KeyBytes));
        var schema = new InitialSchema([new DatabaseSpec("shop", "utf8mb4", null)], [new UserSpec { Name = "app", Host = "%", Password = "Sealed-pass-1", Databases = ["shop"] }]);

        var payload = schema.ToPayload(secrets);
        Assert.DoesNotContain("Sealed-pass-1", payload, StringComparison.Ordinal);
        Assert.DoesNotContain("shop", payload, StringComparison.Ordinal);

        var opened = InitialSchema.Open(payload, secrets);
        Assert.Equal("shop", Assert.Single(opened.Databases).Name);
        Assert.Equal("Sealed-pass-1", Assert.Single(opened.Users).Password);
        Assert.Equal(["shop"], opened.Users[0].Databases);

        var other = new GuestSecrets(RandomNumberGenerator.GetBytes(GuestSecrets.KeyBytes));
        Assert.ThrowsAny<CryptographicException>(() => InitialSchema.Open(payload, other));
        Assert.True(InitialSchema.Open("{}", secrets).IsEmpty);
        Assert.Equal("{}", InitialSchema.Empty.ToPayload(secrets));
    }
}
