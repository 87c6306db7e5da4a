using System.Text;
using Hoard.Abstractions.Backups;
using Xunit;

namespace Hoard.Abstractions.Tests;

public sealed class BackupKeyTests
{
    [Fact]
    public void A_configured_key_round_trips_and_its_id_is_a_short_fingerprint()
    {
        var key = BackupKey.Generate();
        var again = BackupKey.FromConfiguration(key.ToConfiguration());

        Assert.Equal(key.Id, again.Id);
        Assert.Matches("^[0-9a-f]{16}$", key.Id);
        Assert.NotEqual(key.Id, BackupKey.Generate().Id);
        Assert.DoesNotContain(key.ToConfiguration(), key.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not base64 !!")]
    [InlineData("AAAA")]
    [InlineData("")]
    public void A_key_that_is_not_32_bytes_of_base64_is_refused_clearly(string configured)
    {
        var e = Assert.Throws<ArgumentException>(() => BackupKey.FromConfiguration(configured));
        Assert.Contains("32", e.Message);
    }

    [Fact]
    public void Derived_keys_depend_on_master_and_purpose_and_nothing_else()
    {
        var master = Encoding.ASCII.GetBytes("a control plane master key of some length");
        var other = Encoding.ASCII.GetBytes("another control plane master key, different");

        Assert.Equal(BackupKey.Derive(master, "backups").Id, BackupKey.Derive(master, "backups").Id);
        Assert.NotEqual(BackupKey.Derive(master, "backups").Id, BackupKey.Derive(master, "other").Id);
        Assert.NotEqual(BackupKey.Derive(master, "backups").Id, BackupKey.Derive(other, "backups").Id);
    }
}
