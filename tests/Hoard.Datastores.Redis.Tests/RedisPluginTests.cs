using System.Reflection;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Plugins;
using Hoard.Datastores.Redis.Tests.Support;

namespace Hoard.Datastores.Redis.Tests;

public sealed class RedisPluginTests
{
    [Fact]
    public void TheRegistryFindsThePluginThroughTheAssemblyAttribute()
    {
        var attribute = Assert.Single(typeof(RedisPlugin).Assembly.GetCustomAttributes<HoardPluginAttribute>());
        Assert.Equal("redis", attribute.Name);
        Assert.Equal(PluginKind.Datastore, attribute.Kind);

        var plugin = Assert.IsAssignableFrom<IDatastorePlugin>(Activator.CreateInstance(attribute.PluginType));
        Assert.Equal("redis", plugin.Name);
    }

    [Fact]
    public void TheRedisGroupHasTroveRedisDefaults()
    {
        var options = new RedisPlugin().Options.ToDictionary(o => o.Name, o => o.Default);

        Assert.Equal("6379,16379", options["tcp_ports"]);
        Assert.Equal("false", options["root_on_create"]);
        Assert.Equal("60", options["usage_timeout"]);
        Assert.Equal("false", options["volume_support"]);
        Assert.Equal("RedisBackup", options["backup_strategy"]);
    }

    [Fact]
    public void RedisHasUsersButNoDatabases()
    {
        var schema = new RedisPlugin().Schema;

        Assert.False(schema.SupportsDatabases);
        Assert.Null(schema.DatabaseName);
        Assert.Null(schema.UserName.Check("cache-reader.1"));
        Assert.NotNull(schema.UserName.Check("hoard-admin"));
        Assert.NotNull(schema.UserName.Check("default"));
        Assert.NotNull(schema.UserName.Check("two words"));
    }

    [Theory]
    [InlineData("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d7c971a948f0", "7.0", "7.0.15")]
    [InlineData("Redis server v=7.2.4 sha=00000000:0 malloc=libc bits=64 build=1\n", "7.2", "7.2.4")]
    [InlineData("Redis server v=10.12.3 sha=0", "10.12", "10.12.3")]
    public void ReadsTheVersionRedisServerPrints(string output, string name, string version)
    {
        Assert.Equal(new DatastoreVersionInfo(name, version), RedisServerBinary.ParseVersion(output));
    }

    [Theory]
    [InlineData("")]
    [InlineData("redis-server: command not found")]
    [InlineData("Redis server v=7 sha=0")]
    public void IgnoresOutputWithoutAVersion(string output)
    {
        Assert.Null(RedisServerBinary.ParseVersion(output));
    }

    [Fact]
    public void ReportsNoVersionsWhenRedisServerIsMissing()
    {
        Assert.Empty(new RedisPlugin(() => null).DiscoverVersions());
        Assert.Empty(new RedisPlugin(() => "/nonexistent/redis-server").DiscoverVersions());
    }

    [RequiresBinaryFact("redis-server")]
    public void DiscoversTheInstalledVersionOnce()
    {
        Binaries.Require("redis-server");
        var plugin = new RedisPlugin();

        var versions = plugin.DiscoverVersions();

        var version = Assert.Single(versions);
        Assert.Matches(@"^\d+\.\d+$", version.Name);
        Assert.StartsWith(version.Name + ".", version.Version, StringComparison.Ordinal);
        Assert.Same(versions, plugin.DiscoverVersions());
    }
}
