using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Plugins;

namespace Hoard.Datastores.PostgreSql.Tests;

/// <summary>What the plugin declares: its name, option group and versions.</summary>
public sealed class PostgreSqlPluginTests
{
    [Fact]
    public void Declares_itself_as_the_postgresql_datastore_with_troves_defaults()
    {
        var declared = Assert.Single(
            typeof(PostgreSqlPlugin).Assembly.GetCustomAttributes(typeof(HoardPluginAttribute), inherit: false).Cast<HoardPluginAttribute>());
        Assert.Equal(("postgresql", PluginKind.Datastore, typeof(PostgreSqlPlugin)), (declared.Name, declared.Kind, declared.PluginType));

        var options = new PostgreSqlPlugin().Options.ToDictionary(o => o.Name, o => o.Default);
        Assert.Equal("5432", options["tcp_ports"]);
        Assert.Equal("120", options["usage_timeout"]);
        Assert.Equal("PgBaseBackup", options["backup_strategy"]);
        Assert.Equal("false", options["root_on_create"]);
        Assert.Equal(string.Empty, options["mount_point"]);
    }

    [Theory]
    [InlineData("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", "15", "15.18")]
    [InlineData("postgres (PostgreSQL) 17.2\n", "17", "17.2")]
    [InlineData("postgres (PostgreSQL) 9.6.24\n", "9.6", "9.6.24")]
    public void Reads_the_version_postgres_reports(string output, string name, string version) =>
        Assert.Equal(new DatastoreVersionInfo(name, version), PostgreSqlInstallation.ParseVersion(output));

    [Fact]
    public void Refuses_a_version_name_that_is_not_a_version()
    {
        Assert.Null(PostgreSqlInstallation.ParseVersion("redis-server v=7.0.15"));
        Assert.Throws<ArgumentException>(() => PostgreSqlInstallation.Locate(PostgreSqlInstallation.DefaultRoot, "../../../bin"));
        Assert.Throws<InvalidOperationException>(() => PostgreSqlInstallation.Locate(PostgreSqlInstallation.DefaultRoot, "99"));
    }

    [Fact]
    public void Memory_settings_take_a_quarter_and_three_quarters_of_the_flavor()
    {
        var settings = MemorySettings.For(512);
        Assert.Equal(128 * 1024, settings.SharedBuffersKb);
        Assert.Equal(384 * 1024, settings.EffectiveCacheSizeKb);
        Assert.Equal(32 * 1024, settings.MaintenanceWorkMemKb);
        Assert.InRange(settings.WorkMemKb, 256, 4 * 1024);

        // Tiny flavors stay within PostgreSQL's minimums.
        var tiny = MemorySettings.For(1);
        Assert.True(tiny.SharedBuffersKb >= 128 && tiny.MaintenanceWorkMemKb >= 1024 && tiny.WorkMemKb >= 64);
    }
}
