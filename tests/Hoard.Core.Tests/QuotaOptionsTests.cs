using Hoard.Abstractions.Storage;
using Hoard.Core.Configuration;
using Hoard.Core.Quotas;
using Xunit;

namespace Hoard.Core.Tests;

/// <summary>The quota defaults (Trove's options and values), an override on top of them, and Trove's over-quota message.</summary>
public sealed class QuotaOptionsTests
{
    [Fact]
    public void The_defaults_are_troves_and_minus_one_means_no_limit()
    {
        Assert.Equal(new QuotaLimits(10, 40, null, 50, 5), HoardOptions.From(new HoardConfiguration()).DefaultQuota);

        var config = HoardConfiguration.Load(null, new Dictionary<string, string?> { ["HOARD_DEFAULT_MAX_INSTANCES_PER_TENANT"] = "-1", ["HOARD_DEFAULT_MAX_RAM_PER_TENANT"] = "2048" });
        Assert.Equal(new QuotaLimits(null, 40, 2048, 50, 5), HoardOptions.From(config).DefaultQuota);
    }

    [Theory]
    [InlineData("HOARD_DEFAULT_MAX_INSTANCES_PER_TENANT", "max_instances_per_tenant")]
    [InlineData("HOARD_DEFAULT_MAX_CLUSTERS_PER_TENANT", "max_clusters_per_tenant")]
    public void A_default_below_minus_one_stops_the_server_naming_the_option(string variable, string option)
    {
        var config = HoardConfiguration.Load(null, new Dictionary<string, string?> { [variable] = "-2" });
        var e = Assert.Throws<ConfigurationException>(() => HoardOptions.From(config));
        Assert.Equal($"[DEFAULT] {option} must be -1 (no limit) or at least 0", e.Message);
    }

    [Fact]
    public void An_override_replaces_only_what_it_names_and_only_growing_resources_can_be_over()
    {
        var limits = new QuotaLimits(10, 40, null, 50, 5).With(new Dictionary<string, int> { ["instances"] = 3, ["volumes"] = -1, ["ram"] = 1024 });
        Assert.Equal(new QuotaLimits(3, null, 1024, 50, 5), limits);

        var used = new QuotaUsage(3, 100, 1024, 0, 5);
        Assert.Equal(["clusters", "instances", "ram"], limits.Overs(used, new QuotaUsage(1, 500, 1, 0, 1)));
        Assert.Empty(limits.Overs(used, new QuotaUsage(0, 10, 0, 0, 0))); // at its limits, but adding none of them
        Assert.Equal("Quota exceeded for resources: ['clusters', 'instances'].", QuotaService.Exceeded(["clusters", "instances"]).Message);
        Assert.Equal(413, QuotaService.Exceeded(["ram"]).Status);
    }
}
