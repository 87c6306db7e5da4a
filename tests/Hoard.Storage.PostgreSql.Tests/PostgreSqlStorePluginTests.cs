using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Storage;
using Xunit;

namespace Hoard.Storage.PostgreSql.Tests;

/// <summary>Translating <c>postgresql://</c> connection strings to Npgsql's; no server needed.</summary>
public sealed class PostgreSqlStorePluginTests
{
    [Fact]
    public void A_connection_string_becomes_npgsql_keywords_with_user_and_password_decoded()
    {
        var builder = PostgreSqlStorePlugin.ToConnectionString(new Uri("postgresql://ann%40corp:p%40ss%3Aw%2Frd@db.example:6432/hoard?sslmode=require"));
        Assert.Equal(("db.example", 6432, "hoard", "ann@corp", "p@ss:w/rd"), (builder.Host, builder.Port, builder.Database, builder.Username, builder.Password));
        Assert.Equal(Npgsql.SslMode.Require, builder.SslMode);
    }

    [Fact]
    public void The_port_defaults_to_5432()
    {
        Assert.Equal(5432, PostgreSqlStorePlugin.ToConnectionString(new Uri("postgresql://u:p@localhost/hoard")).Port);
    }

    [Fact]
    public void A_connection_string_without_a_database_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new PostgreSqlStorePlugin().Open(new Uri("postgresql://u:secret@localhost:5432/")));
        Assert.Contains("names no database", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_option_is_refused_by_name()
    {
        var e = Assert.Throws<ArgumentException>(() => PostgreSqlStorePlugin.ToConnectionString(new Uri("postgresql://u:p@localhost/hoard?nonsense=1")));
        Assert.Contains("nonsense", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_plugin_registry_finds_the_store_for_the_postgresql_scheme()
    {
        var registry = new PluginRegistry([typeof(PostgreSqlStorePlugin).Assembly]);
        var factory = registry.Get<IManagementStoreFactory>(PluginKind.Store, "postgresql");
        Assert.IsType<PostgreSqlStorePlugin>(factory);
        Assert.Equal("postgresql", factory.Scheme);
    }
}
