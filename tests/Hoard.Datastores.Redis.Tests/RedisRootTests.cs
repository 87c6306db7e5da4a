using Hoard.Datastores.Redis.Tests.Support;

namespace Hoard.Datastores.Redis.Tests;

public sealed class RedisRootTests
{
    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task EnableRootGivesCredentialsThatWorkWithRedisCli()
    {
        await using var redis = await RedisTestInstance.CreateAsync();
        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();

        var root = await redis.Manager.EnableRootAsync(redis.Instance, null, redis.Ct).DefaultTimeout();

        Assert.Equal("root", root.Name);
        Assert.Matches("^[A-Za-z0-9_-]{24,}$", root.Password);
        Assert.Equal("PONG", await redis.RedisCliAsync(root.Name, root.Password, "PING"));
        Assert.Equal("OK", await redis.RedisCliAsync(root.Name, root.Password, "SET", "k", "v"));
        Assert.Equal("v", await redis.RedisCliAsync(root.Name, root.Password, "GET", "k"));
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task RootSurvivesARestart()
    {
        await using var redis = await RedisTestInstance.CreateAsync();
        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();
        var root = await redis.Manager.EnableRootAsync(redis.Instance, null, redis.Ct).DefaultTimeout();

        await redis.Manager.StopAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();

        Assert.Equal("PONG", await redis.RedisCliAsync(root.Name, root.Password, "PING"));
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task DisableRootRemovesTheUserForGood()
    {
        await using var redis = await RedisTestInstance.CreateAsync();
        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();
        var root = await redis.Manager.EnableRootAsync(redis.Instance, null, redis.Ct).DefaultTimeout();

        await redis.Manager.DisableRootAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.Manager.DisableRootAsync(redis.Instance, redis.Ct).DefaultTimeout();

        Assert.Contains("WRONGPASS", await redis.RedisCliAsync(root.Name, root.Password, "PING"), StringComparison.Ordinal);
        await redis.Manager.StopAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.Manager.StartAsync(redis.Instance, redis.Ct).DefaultTimeout();
        Assert.Contains("WRONGPASS", await redis.RedisCliAsync(root.Name, root.Password, "PING"), StringComparison.Ordinal);
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task EnableRootWithAGivenPasswordReplacesTheOldOne()
    {
        await using var redis = await RedisTestInstance.CreateAsync();
        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();
        var first = await redis.Manager.EnableRootAsync(redis.Instance, null, redis.Ct).DefaultTimeout();

        var second = await redis.Manager.EnableRootAsync(redis.Instance, "chosen by the user: ünïcode & spaces", redis.Ct).DefaultTimeout();

        Assert.Equal("chosen by the user: ünïcode & spaces", second.Password);
        Assert.Equal("PONG", await redis.RedisCliAsync("root", second.Password, "PING"));
        Assert.Contains("WRONGPASS", await redis.RedisCliAsync("root", first.Password, "PING"), StringComparison.Ordinal);
    }

    [RequiresBinaryFact("redis-server", "redis-cli")]
    public async Task PasswordsReachNeitherLogsNorFilesInPlainText()
    {
        await using var redis = await RedisTestInstance.CreateAsync();
        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();
        var generated = await redis.Manager.EnableRootAsync(redis.Instance, null, redis.Ct).DefaultTimeout();
        var chosen = await redis.Manager.EnableRootAsync(redis.Instance, "my-own-root-password", redis.Ct).DefaultTimeout();
        await redis.Manager.ProbeAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.Manager.StopAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.Manager.StartAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.Manager.DisableRootAsync(redis.Instance, redis.Ct).DefaultTimeout();
        var admin = await redis.AdminPasswordAsync();

        string[] secrets = [admin, generated.Password, chosen.Password];
        Assert.NotEmpty(redis.Logs.Lines);
        foreach (var line in redis.Logs.Lines)
        {
            Assert.DoesNotContain(secrets, secret => line.Line.Contains(secret, StringComparison.Ordinal));
        }

        foreach (var file in new[] { "users.acl", "redis.conf", "redis.log" })
        {
            var text = await File.ReadAllTextAsync(Path.Combine(redis.Directory, file)).DefaultTimeout();
            Assert.DoesNotContain(secrets, secret => text.Contains(secret, StringComparison.Ordinal));
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(redis.Directory, "users.acl")));
    }
}
