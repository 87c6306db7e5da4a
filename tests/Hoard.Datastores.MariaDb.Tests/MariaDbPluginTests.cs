using System.Reflection;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Plugins;

namespace Hoard.Datastores.MariaDb.Tests;

public sealed class MariaDbPluginTests
{
    [Fact]
    public void The_registry_finds_the_plugin_through_the_assembly_attribute()
    {
        var attribute = Assert.Single(typeof(MariaDbPlugin).Assembly.GetCustomAttributes<HoardPluginAttribute>());
        Assert.Equal("mariadb", attribute.Name);
        Assert.Equal(PluginKind.Datastore, attribute.Kind);

        var plugin = Assert.IsAssignableFrom<IDatastorePlugin>(Activator.CreateInstance(attribute.PluginType));
        Assert.Equal("mariadb", plugin.Name);
    }

    [Fact]
    public void Options_are_troves_mariadb_defaults()
    {
        var options = new MariaDbPlugin().Options.ToDictionary(o => o.Name);

        Assert.Equal("3306", options["tcp_ports"].Default);
        Assert.Equal("mariabackup", options["backup_strategy"].Default);
        Assert.Equal("400", options["usage_timeout"].Default);
        Assert.Equal("false", options["root_on_create"].Default);
        Assert.Equal(OptionSide.Guest, options["mount_point"].Side);
    }

    [Theory]
    [InlineData("/usr/sbin/mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)", "10.11", "10.11.19")]
    [InlineData("mariadbd  Ver 11.4.2-MariaDB for Linux on x86_64 (MariaDB Server)\n", "11.4", "11.4.2")]
    public void Reads_the_version_mariadbd_prints(string output, string name, string version)
    {
        Assert.Equal(new DatastoreVersionInfo(name, version), MariaDbInstallation.ParseVersion(output));
    }

    [Theory]
    [InlineData("")]
    [InlineData("mariadbd: command not found")]
    [InlineData("mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)")]
    public void Ignores_output_without_a_mariadb_version(string output)
    {
        Assert.Null(MariaDbInstallation.ParseVersion(output));
    }

    [Fact]
    public void Reports_no_versions_where_nothing_is_installed()
    {
        var plugin = new MariaDbPlugin(new MariaDbManagerOptions { Prefixes = ["/nonexistent/mariadb"] });
        Assert.Empty(plugin.DiscoverVersions());
    }

    [RequiresBinaryFact("mariadbd")]
    public void Discovers_the_installed_version_once()
    {
        var plugin = new MariaDbPlugin();

        var version = Assert.Single(plugin.DiscoverVersions());

        Assert.Matches(@"^\d+\.\d+$", version.Name);
        Assert.StartsWith(version.Name + ".", version.Version, StringComparison.Ordinal);
        Assert.Same(plugin.DiscoverVersions()[0], version);
    }
}
