using Hoard.Abstractions.Datastores;

namespace Hoard.Datastores.MariaDb.Tests;

public sealed class MariaDbSchemaTests
{
    private static SchemaRules Rules => new MariaDbPlugin().Schema;

    [Theory]
    [InlineData("app_db1")]
    [InlineData("ab")]
    [InlineData("we-ird#@db_1")]
    [InlineData("a?b")]
    public void Takes_troves_database_names(string name) => Assert.Null(Rules.DatabaseName!.Check(name));

    [Theory]
    [InlineData("a")] // Trove's pattern needs two characters
    [InlineData("a b")]
    [InlineData("my.db")]
    [InlineData("#ab")]
    [InlineData("a`b")]
    [InlineData("x; DROP DATABASE y")]
    [InlineData("mysql")]
    [InlineData("Information_Schema")]
    [InlineData("sys")]
    public void Refuses_other_database_names(string name) => Assert.NotNull(Rules.DatabaseName!.Check(name));

    [Fact]
    public void Database_names_are_at_most_64_characters()
    {
        Assert.Null(Rules.DatabaseName!.Check(new string('d', 64)));
        Assert.NotNull(Rules.DatabaseName.Check(new string('d', 65)));
    }

    [Theory]
    [InlineData("app_user1")]
    [InlineData("o.k-$#@x")]
    [InlineData("a")]
    public void Takes_user_names(string name) => Assert.Null(Rules.UserName.Check(name));

    [Theory]
    [InlineData("os_admin")]
    [InlineData("ROOT")]
    [InlineData("mariadb.sys")]
    [InlineData("a'b")]
    [InlineData("a\"b")]
    [InlineData("a`b")]
    [InlineData("a b")]
    [InlineData("a,b")]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData("a;b")]
    [InlineData("a%")]
    [InlineData("..")]
    [InlineData("seventeen-chars-x")] // Trove's limit is 16
    public void Refuses_other_user_names(string name) => Assert.NotNull(Rules.UserName.Check(name));

    [Theory]
    [InlineData("%")]
    [InlineData("10.0.0.1")]
    [InlineData("10.0.%")]
    [InlineData("192.168.%.%")]
    [InlineData("10.0.0.1%")]
    [InlineData("10.0.0.0/255.255.255.0")]
    public void Takes_hosts_mariadb_matches_against_addresses(string host)
    {
        Assert.True(Rules.SupportsHosts);
        Assert.Null(Rules.CheckHost(host));
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("%.example.com")]
    [InlineData("300.1.1.1")]
    [InlineData("10.0.0.0/24")]
    [InlineData("10.0.%.0/255.255.255.0")]
    [InlineData("::1")]
    [InlineData("1.2.3.4.5")]
    [InlineData("'")]
    [InlineData("")]
    public void Refuses_other_hosts(string host) => Assert.NotNull(Rules.CheckHost(host));

    [Fact]
    public void A_user_without_a_host_is_any_host() => Assert.Equal("%", Rules.DefaultHost);

    [Theory]
    [InlineData(null, null)]
    [InlineData("utf8mb4", null)]
    [InlineData("UTF8MB4", "utf8mb4_unicode_ci")]
    [InlineData(null, "latin1_german2_ci")]
    [InlineData("utf8", "utf8_general_ci")] // Trove's defaults: MariaDB reads utf8 as utf8mb3
    [InlineData("utf8mb3", "utf8_unicode_ci")]
    [InlineData("utf8mb4", "utf8mb4_uca1400_swedish_nopad_as_cs")]
    [InlineData("binary", "binary")]
    public void Takes_mariadbs_character_sets_and_collations(string? characterSet, string? collation) =>
        Assert.Null(Rules.CheckCharacterSet(new DatabaseSpec("db", characterSet, collation)));

    [Theory]
    [InlineData("klingon", null)]
    [InlineData(null, "utf8mb4_klingon_ci")]
    [InlineData("latin1", "utf8mb4_general_ci")]
    [InlineData("utf8mb4", "utf8mb4_0900_ai_ci")] // MySQL 8's, not MariaDB 10.11's
    [InlineData("utf8mb4'; DROP DATABASE x; --", null)]
    public void Refuses_unknown_or_mismatched_character_sets(string? characterSet, string? collation) =>
        Assert.NotNull(Rules.CheckCharacterSet(new DatabaseSpec("db", characterSet, collation)));

    [Fact]
    public void Identifiers_are_backtick_quoted_with_backticks_doubled()
    {
        Assert.Equal("`a``b`", Sql.Identifier("a`b"));
        Assert.Equal("`o.k`@`%`", Sql.Account("o.k", "%"));
    }

    [Fact]
    public void Grants_escape_the_wildcards_of_database_names()
    {
        Assert.Equal(@"`app\_db`.*", Sql.GrantTarget("app_db"));
        Assert.Equal("app_db", Sql.UnescapeWildcards(Sql.EscapeWildcards("app_db")));
        Assert.Equal("we-ird#@db_1", Sql.UnescapeWildcards(Sql.EscapeWildcards("we-ird#@db_1")));
    }

    [Fact]
    public void Passwords_go_to_the_server_as_their_native_password_hash()
    {
        // MariaDB's own SELECT PASSWORD('password').
        Assert.Equal("IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'", Sql.IdentifiedBy("password"));
        var bootstrap = TemplateStore.BootstrapSql("Template-secret-42");
        Assert.DoesNotContain("Template-secret-42", bootstrap, StringComparison.Ordinal);
        Assert.Contains("CREATE USER `os_admin`@`127.0.0.1` IDENTIFIED BY PASSWORD '*", bootstrap, StringComparison.Ordinal);
    }

    [Fact]
    public void The_buffer_pool_is_half_the_flavor_with_a_floor()
    {
        Assert.Equal(256, ServerConfig.BufferPoolMb(512));
        Assert.Equal(2048, ServerConfig.BufferPoolMb(4096));
        Assert.Equal(ServerConfig.MinBufferPoolMb, ServerConfig.BufferPoolMb(8));
    }
}
