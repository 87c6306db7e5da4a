using Hoard.Abstractions.Compute;
using Hoard.Core.Configuration;
using Xunit;

namespace Hoard.Core.Tests;

public sealed class ConfigurationTests
{
    private static readonly Dictionary<string, string?> NoEnvironment = [];

    [Fact]
    public void Defaults_give_the_embedded_single_machine_setup()
    {
        var options = HoardOptions.From(new HoardConfiguration());
        Assert.Equal("127.0.0.1", options.ListenHost);
        Assert.Equal(8779, options.ListenPort);
        Assert.StartsWith("sqlite://", options.StoreConnection, StringComparison.Ordinal);
        Assert.Equal(Path.Combine(options.DataDir, "pools", "default"), options.LocalPoolDir);
        Assert.Equal("http://127.0.0.1:8779", options.PublicUrl);
    }

    [Fact]
    public void Ini_file_is_overridden_by_the_environment()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "# comment\n[DEFAULT]\nlisten = 127.0.0.9:9000\ninstances_page_size = 5\n\n[redis]\nusage_timeout = 90\n");
            var config = HoardConfiguration.Load(path, new Dictionary<string, string?> { ["HOARD_DEFAULT_LISTEN"] = "127.0.0.10:9001" });
            var options = HoardOptions.From(config);
            Assert.Equal("127.0.0.10", options.ListenHost);
            Assert.Equal(9001, options.ListenPort);
            Assert.Equal(5, options.InstancesPageSize);
            Assert.Equal(90, config.GetInt("redis", "usage_timeout"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("[DEFAULT]\nlisten_on = x\n", "unknown option 'listen_on' in [DEFAULT]")]
    [InlineData("[DEFAULT\nlisten = x\n", "malformed section header")]
    [InlineData("just words\n", "expected 'key = value'")]
    public void Mistakes_in_the_file_are_named(string text, string message)
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, text);
            var e = Assert.Throws<ConfigurationException>(() => HoardConfiguration.Load(path, NoEnvironment));
            Assert.Contains(message, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("DEFAULT", "listen", "nohost", "is not HOST:PORT")]
    [InlineData("DEFAULT", "listen", "127.0.0.1:99999", "is not HOST:PORT")]
    [InlineData("DEFAULT", "instances_page_size", "many", "is not an integer")]
    [InlineData("local", "address_range", "10.0.0.0/8", "is not a loopback CIDR")]
    public void Bad_values_are_named(string section, string name, string value, string message)
    {
        var config = new HoardConfiguration();
        config.Set(section, name, value, "test");
        var e = Assert.Throws<ConfigurationException>(() => HoardOptions.From(config));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sample_lists_every_option_with_its_help()
    {
        var config = new HoardConfiguration([new OptionDefinition("enginex", "tcp_ports", "list", "7000", "Ports of enginex.")]);
        var sample = config.Sample();
        Assert.Contains("[enginex]", sample, StringComparison.Ordinal);
        foreach (var option in config.Options)
        {
            Assert.Contains($"#{option.Name} = {option.Default}", sample, StringComparison.Ordinal);
            Assert.Contains(option.Help, sample, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_datastore_group_comes_from_its_plugin_and_typos_in_it_are_caught()
    {
        var config = new HoardConfiguration([new OptionDefinition("enginex", "root_on_create", "bool", "false", "Root at create.")]);
        Assert.False(config.GetBool("enginex", "root_on_create"));
        config.Set("enginex", "root_on_create", "true", "test");
        Assert.True(config.GetBool("enginex", "root_on_create"));
        var e = Assert.Throws<ConfigurationException>(() => config.Set("enginex", "root_on_craete", "true", "trove.conf"));
        Assert.Contains("unknown option 'root_on_craete' in [enginex]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Loopback_ranges_skip_network_and_broadcast_octets()
    {
        var addresses = LoopbackRange.Parse("127.42.0.0/23").Addresses().ToList();
        Assert.Equal("127.42.0.1", addresses[0]);
        Assert.DoesNotContain("127.42.0.255", addresses);
        Assert.DoesNotContain("127.42.1.0", addresses);
        Assert.Equal(508, addresses.Count);
    }
}
