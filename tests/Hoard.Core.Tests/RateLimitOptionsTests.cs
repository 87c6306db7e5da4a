using Hoard.Core.Configuration;
using Xunit;

namespace Hoard.Core.Tests;

/// <summary>Trove's rate options: its defaults, 0 and -1 for no limit, and a bad value naming the option.</summary>
public sealed class RateLimitOptionsTests
{
    [Fact]
    public void The_defaults_are_troves_and_zero_or_minus_one_means_no_limit()
    {
        Assert.Equal(new RateLimitOptions(200, 200, 200, 200, 200), HoardOptions.From(new HoardConfiguration()).RateLimits);

        var config = HoardConfiguration.Load(null, new Dictionary<string, string?>
        {
            ["HOARD_DEFAULT_HTTP_GET_RATE"] = "0",
            ["HOARD_DEFAULT_HTTP_POST_RATE"] = "-1",
            ["HOARD_DEFAULT_HTTP_MGMT_POST_RATE"] = "7",
        });
        Assert.Equal(new RateLimitOptions(null, null, 200, 200, 7), HoardOptions.From(config).RateLimits);
    }

    [Fact]
    public void A_rate_below_minus_one_stops_the_server_naming_the_option()
    {
        var config = HoardConfiguration.Load(null, new Dictionary<string, string?> { ["HOARD_DEFAULT_HTTP_PUT_RATE"] = "-5" });
        var e = Assert.Throws<ConfigurationException>(() => HoardOptions.From(config));
        Assert.Equal("[DEFAULT] http_put_rate must be a number of requests a minute, or 0 or -1 for no limit", e.Message);
    }
}
