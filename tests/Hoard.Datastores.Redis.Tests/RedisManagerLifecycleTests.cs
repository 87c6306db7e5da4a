using System.Globalization;
using System.Net.Sockets;
using Hoard.Abstractions.Datastores;
using Hoard.Datastores.Redis.Resp;
using Hoard.Datastores.Redis.Tests.Support;

namespace Hoard.Datastores.Redis.Tests;

public sealed class RedisManagerLifecycleTests
{
    [RequiresBinaryFact("redis-server")]
    public async Task PreparedInstanceServesOnlyAuthenticatedClients()
    {
        await using var redis = await RedisTestInstance.CreateAsync();

        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();

        await using (var anonymous = await redis.ConnectAsync())
        {
            var ping = await anonymous.SendAsync(["PING"], redis.Ct).DefaultTimeout();
            Assert.Equal(RespKind.Error, ping.Kind);
            Assert.StartsWith("NOAUTH", ping.Text, StringComparison.Ordinal);

            var asDefault = await anonymous.SendAsync(["AUTH", "default", "x"], redis.Ct).DefaultTimeout();
            Assert.Equal(RespKind.Error, asDefault.Kind);
            Assert.StartsWith("WRONGPASS", asDefault.Text, StringComparison.Ordinal);

            var legacy = await anonymous.SendAsync(["AUTH", "x"], redis.Ct).DefaultTimeout();
            Assert.Equal(RespKind.Error, legacy.Kind);
        }

        Assert.Equal("PONG", (await redis.AdminCommandAsync("PING")).Text);
        Assert.True(redis.Manager.IsProcessAlive(redis.Instance));
        Assert.Equal(ServiceStatus.Running, await redis.Manager.ProbeAsync(redis.Instance, redis.Ct).DefaultTimeout());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(redis.Directory, "admin.secret")));
    }

    [RequiresBinaryFact("redis-server")]
    public async Task PrepareTwiceKeepsTheServerItsDataAndItsPassword()
    {
        await using var redis = await RedisTestInstance.CreateAsync();
        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();
        var password = await redis.AdminPasswordAsync();
        var pid = redis.ServerPid();
        await redis.AdminCommandAsync("SET", "greeting", "hello");

        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();

        Assert.Equal(password, await redis.AdminPasswordAsync());
        Assert.Equal(pid, redis.ServerPid());
        Assert.Equal("hello", (await redis.AdminCommandAsync("GET", "greeting")).Text);
        Assert.Equal(RedisTestInstance.GuestInfoText, await File.ReadAllTextAsync(Path.Combine(redis.Directory, "guest-info.json")).DefaultTimeout());
    }

    [RequiresBinaryFact("redis-server")]
    public async Task PrepareAfterAStopStartsTheSameInstanceAgain()
    {
        await using var redis = await RedisTestInstance.CreateAsync();
        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();
        var password = await redis.AdminPasswordAsync();
        await redis.AdminCommandAsync("SET", "greeting", "hello");
        await redis.Manager.StopAsync(redis.Instance, redis.Ct).DefaultTimeout();

        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();

        Assert.Equal(password, await redis.AdminPasswordAsync());
        Assert.Equal("hello", (await redis.AdminCommandAsync("GET", "greeting")).Text);
    }

    [RequiresBinaryFact("redis-server")]
    public async Task DataSurvivesStopAndStart()
    {
        await using var redis = await RedisTestInstance.CreateAsync();
        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.AdminCommandAsync("SET", "greeting", "hello");

        await redis.Manager.StopAsync(redis.Instance, redis.Ct).DefaultTimeout();

        Assert.False(redis.Manager.IsProcessAlive(redis.Instance));
        Assert.False(File.Exists(redis.PidFile));
        Assert.Equal(ServiceStatus.Shutdown, await redis.Manager.ProbeAsync(redis.Instance, redis.Ct).DefaultTimeout());
        Assert.False(await Loopback.IsListeningAsync(redis.Instance.Address, redis.Instance.Port));

        await redis.Manager.StartAsync(redis.Instance, redis.Ct).DefaultTimeout();

        Assert.Equal("hello", (await redis.AdminCommandAsync("GET", "greeting")).Text);
    }

    [RequiresBinaryFact("redis-server")]
    public async Task StopIsIdempotent()
    {
        await using var redis = await RedisTestInstance.CreateAsync();

        // Never prepared: nothing to stop.
        await redis.Manager.StopAsync(redis.Instance, redis.Ct).DefaultTimeout();

        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.Manager.StopAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.Manager.StopAsync(redis.Instance, redis.Ct).DefaultTimeout();

        Assert.False(redis.Manager.IsProcessAlive(redis.Instance));
    }

    [RequiresBinaryFact("redis-server")]
    public async Task StartBeforePrepareFailsClearly()
    {
        await using var redis = await RedisTestInstance.CreateAsync();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => redis.Manager.StartAsync(redis.Instance, redis.Ct)).DefaultTimeout();

        Assert.Contains("not prepared", error.Message, StringComparison.Ordinal);
    }

    [RequiresBinaryFact("redis-server")]
    public async Task ServerRunsDetachedInItsOwnSession()
    {
        await using var redis = await RedisTestInstance.CreateAsync();

        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();

        var pid = redis.ServerPid()!.Value;

        // /proc/PID/stat: "pid (comm) state ppid pgrp session ..."; comm may hold spaces, so split after ')'.
        var stat = await File.ReadAllTextAsync($"/proc/{pid}/stat").DefaultTimeout();
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
        var session = int.Parse(fields[3], CultureInfo.InvariantCulture);
        Assert.Equal(pid, session);
        Assert.NotEqual(Environment.ProcessId, parent);
    }

    [RequiresBinaryFact("redis-server")]
    public async Task ServerListensOnlyOnTheInstanceAddress()
    {
        // A port nothing listens on at 127.0.0.1, so a refusal there proves the bind.
        var port = 0;
        for (var attempt = 0; attempt < 50 && port == 0; attempt++)
        {
            var candidate = Random.Shared.Next(20000, 40000);
            if (!await Loopback.IsListeningAsync("127.0.0.1", candidate))
            {
                port = candidate;
            }
        }

        await using var redis = await RedisTestInstance.CreateAsync(port);
        var neighbour = await Loopback.FreeAddressAsync("127.77", port);

        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();

        Assert.True(await Loopback.IsListeningAsync(redis.Instance.Address, port));
        Assert.False(await Loopback.IsListeningAsync("127.0.0.1", port));
        Assert.False(await Loopback.IsListeningAsync(neighbour, port));
    }

    [RequiresBinaryFact("redis-server")]
    public async Task StartFailsFastWithTheServerLogWhenTheAddressIsTaken()
    {
        await using var redis = await RedisTestInstance.CreateAsync();
        using var squatter = new TcpListener(redis.EndPoint);
        squatter.Start();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => redis.Manager.PrepareAsync(redis.Instance, redis.Ct)).DefaultTimeout();

        Assert.Contains("Address already in use", error.Message, StringComparison.Ordinal);
        Assert.False(redis.Manager.IsProcessAlive(redis.Instance));
    }
}
