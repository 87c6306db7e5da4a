using Hoard.Abstractions.Datastores;
using Hoard.Datastores.Redis.Tests.Support;

namespace Hoard.Datastores.Redis.Tests;

public sealed class RedisManagerCrashTests
{
    [RequiresBinaryFact("redis-server")]
    public async Task IsProcessAliveFollowsTheServerProcess()
    {
        await using var redis = await RedisTestInstance.CreateAsync();
        Assert.False(redis.Manager.IsProcessAlive(redis.Instance));

        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();
        Assert.True(redis.Manager.IsProcessAlive(redis.Instance));

        await redis.KillServerAsync();

        Assert.False(redis.Manager.IsProcessAlive(redis.Instance));
        Assert.Equal(ServiceStatus.Shutdown, await redis.Manager.ProbeAsync(redis.Instance, redis.Ct).DefaultTimeout());
    }

    [RequiresBinaryFact("redis-server")]
    public async Task AStalePidFileNamingAnotherProcessIsNotTakenForTheServer()
    {
        await using var redis = await RedisTestInstance.CreateAsync();
        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.KillServerAsync();

        // After a crash the pid may be reused; here it names the test process itself.
        await File.WriteAllTextAsync(redis.PidFile, $"{Environment.ProcessId}\n").DefaultTimeout();

        Assert.False(redis.Manager.IsProcessAlive(redis.Instance));
        await redis.Manager.StopAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.Manager.StartAsync(redis.Instance, redis.Ct).DefaultTimeout();
        Assert.True(redis.Manager.IsProcessAlive(redis.Instance));
        Assert.NotEqual(Environment.ProcessId, redis.ServerPid());
    }

    [RequiresBinaryFact("redis-server")]
    public async Task StopKillsAServerThatAnswersNothing()
    {
        var options = new RedisManagerOptions
        {
            CommandTimeout = TimeSpan.FromMilliseconds(300),
            ProbeTimeout = TimeSpan.FromMilliseconds(300),
            StopTimeout = TimeSpan.FromSeconds(1),
        };
        await using var redis = await RedisTestInstance.CreateAsync(options: options);
        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();
        redis.FreezeServer();

        Assert.Equal(ServiceStatus.Unknown, await redis.Manager.ProbeAsync(redis.Instance, redis.Ct).DefaultTimeout());

        await redis.Manager.StopAsync(redis.Instance, redis.Ct).DefaultTimeout();

        Assert.False(redis.Manager.IsProcessAlive(redis.Instance));
        Assert.False(File.Exists(redis.PidFile));
        Assert.Contains(redis.Logs.Lines, line => line.Line.Contains("sending SIGKILL", StringComparison.Ordinal));
    }

    [RequiresBinaryFact("redis-server")]
    public async Task StartReportsWhatRedisServerSaidAboutABrokenConfig()
    {
        await using var redis = await RedisTestInstance.CreateAsync();
        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.Manager.StopAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await File.AppendAllTextAsync(Path.Combine(redis.Directory, "redis.conf"), "no-such-directive yes\n").DefaultTimeout();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => redis.Manager.StartAsync(redis.Instance, redis.Ct)).DefaultTimeout();

        Assert.Contains("no-such-directive", error.Message, StringComparison.Ordinal);
        Assert.False(redis.Manager.IsProcessAlive(redis.Instance));
    }

    [RequiresBinaryFact("redis-server")]
    public async Task StartAfterAKillRecoversTheDataFromTheAppendOnlyFile()
    {
        await using var redis = await RedisTestInstance.CreateAsync();
        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.AdminCommandAsync("SET", "greeting", "hello");
        await redis.AdminCommandAsync("RPUSH", "queue", "a", "b", "c");
        var killed = redis.ServerPid();

        await redis.KillServerAsync();
        await redis.Manager.StartAsync(redis.Instance, redis.Ct).DefaultTimeout();

        Assert.NotEqual(killed, redis.ServerPid());
        Assert.Equal("hello", (await redis.AdminCommandAsync("GET", "greeting")).Text);
        Assert.Equal(3, (await redis.AdminCommandAsync("LLEN", "queue")).Integer);
        Assert.Equal(ServiceStatus.Running, await redis.Manager.ProbeAsync(redis.Instance, redis.Ct).DefaultTimeout());
    }
}
