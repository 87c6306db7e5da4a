using Hoard.Core.Guests;
using Hoard.Core.Identity;
using Xunit;

namespace Hoard.Core.Tests;

public sealed class IdentityTests
{
    [Fact]
    public void Password_hashes_are_salted_and_verify_only_the_right_password()
    {
        var a = PasswordHasher.Hash("s3cret", 1000);
        var b = PasswordHasher.Hash("s3cret", 1000);
        Assert.NotEqual(a, b);
        Assert.DoesNotContain("s3cret", a, StringComparison.Ordinal);
        Assert.True(PasswordHasher.Verify("s3cret", a));
        Assert.False(PasswordHasher.Verify("s3cret ", a));
        Assert.False(PasswordHasher.Verify("s3cret", "plain-text"));
    }

    [Fact]
    public void Guest_secrets_are_stable_per_instance_and_key()
    {
        var key = new byte[GuestSecrets.KeyBytes];
        var secrets = new GuestSecrets(key);
        Assert.Equal(secrets.GuestSecret("i1"), secrets.GuestSecret("i1"));
        Assert.NotEqual(secrets.GuestSecret("i1"), secrets.GuestSecret("i2"));
        Assert.NotEqual(secrets.GuestSecret("i1"), secrets.RootPassword("i1")[..24]);
        key[0] = 1;
        Assert.NotEqual(secrets.GuestSecret("i1"), new GuestSecrets(key).GuestSecret("i1"));
    }
}
