using Hoard.Abstractions.Datastores;
using Hoard.Datastores.Redis.Tests.Support;

namespace Hoard.Datastores.Redis.Tests;

public sealed class RedisConfigurationTests
{
    [RequiresBinaryFact("redis-server")]
    public async Task DiscoveryReadsTheRulesFromTheServerAndLeavesOutWhatTheManagerOwns()
    {
        await using var redis = await PreparedAsync();
        var configuration = (IDatastoreConfiguration)redis.Manager;

        var parameters = (await configuration.DiscoverParametersAsync(redis.Instance, redis.Ct).DefaultTimeout()).ToDictionary(p => p.Name);

        var policy = parameters["maxmemory-policy"];
        Assert.Equal(ParameterTypes.String, policy.Type);
        Assert.Contains("allkeys-lru", policy.AllowedValues ?? []);
        Assert.Contains("noeviction", policy.AllowedValues ?? []);
        Assert.False(policy.RestartRequired);

        var hz = parameters["hz"];
        Assert.Equal(ParameterTypes.Integer, hz.Type);
        Assert.NotNull(hz.Min);
        Assert.False(hz.RestartRequired);

        Assert.Equal(ParameterTypes.Integer, parameters["maxmemory"].Type);
        Assert.Equal(ParameterTypes.Boolean, parameters["activedefrag"].Type);
        Assert.True(parameters["databases"].RestartRequired);
        foreach (var managed in new[] { "port", "bind", "dir", "dbfilename", "aclfile", "requirepass", "masterauth", "logfile", "pidfile", "daemonize", "save", "appendonly", "cluster-enabled", "tls-port", "unixsocket" })
        {
            Assert.DoesNotContain(managed, parameters.Keys);
        }

        // Probing for the rules left the running server as it was.
        Assert.Equal("noeviction", await ConfigGetAsync(redis, "maxmemory-policy"));
        Assert.Equal("", await ConfigGetAsync(redis, "ignore-warnings"));
    }

    [RequiresBinaryFact("redis-server")]
    public async Task ADynamicValueChangesTheRunningServerAtOnce()
    {
        await using var redis = await PreparedAsync();
        var configuration = (IDatastoreConfiguration)redis.Manager;

        var restart = await configuration.ApplyConfigurationAsync(
            redis.Instance, new Dictionary<string, string> { ["maxmemory-policy"] = "allkeys-lru", ["hz"] = "20" }, redis.Ct).DefaultTimeout();

        Assert.False(restart);
        Assert.Equal("allkeys-lru", await ConfigGetAsync(redis, "maxmemory-policy"));
        Assert.Equal("20", await ConfigGetAsync(redis, "hz"));
        var effective = await configuration.GetEffectiveConfigurationAsync(redis.Instance, redis.Ct).DefaultTimeout();
        Assert.Equal("allkeys-lru", effective["maxmemory-policy"]);
        Assert.DoesNotContain("port", effective.Keys);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(redis.Directory, "group.conf")));

        // Kept across a restart.
        await redis.Manager.StopAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.Manager.StartAsync(redis.Instance, redis.Ct).DefaultTimeout();
        Assert.Equal("allkeys-lru", await ConfigGetAsync(redis, "maxmemory-policy"));
        Assert.Equal("20", await ConfigGetAsync(redis, "hz"));
    }

    [RequiresBinaryFact("redis-server")]
    public async Task ARestartRequiredValueTakesEffectAfterARestartAndAnEmptyGroupRestoresTheDefaults()
    {
        await using var redis = await PreparedAsync();
        var configuration = (IDatastoreConfiguration)redis.Manager;

        var restart = await configuration.ApplyConfigurationAsync(
            redis.Instance, new Dictionary<string, string> { ["databases"] = "32", ["maxmemory-policy"] = "allkeys-lfu" }, redis.Ct).DefaultTimeout();

        Assert.True(restart);
        Assert.Equal("16", await ConfigGetAsync(redis, "databases"));
        Assert.Equal("allkeys-lfu", await ConfigGetAsync(redis, "maxmemory-policy"));
        await redis.Manager.StopAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.Manager.StartAsync(redis.Instance, redis.Ct).DefaultTimeout();
        Assert.Equal("32", await ConfigGetAsync(redis, "databases"));

        restart = await configuration.ApplyConfigurationAsync(redis.Instance, new Dictionary<string, string>(), redis.Ct).DefaultTimeout();

        Assert.True(restart);
        Assert.Equal("noeviction", await ConfigGetAsync(redis, "maxmemory-policy"));
        await redis.Manager.StopAsync(redis.Instance, redis.Ct).DefaultTimeout();
        await redis.Manager.StartAsync(redis.Instance, redis.Ct).DefaultTimeout();
        Assert.Equal("16", await ConfigGetAsync(redis, "databases"));
    }

    [RequiresBinaryFact("redis-server")]
    public async Task ParametersTheManagerOwnsAndValuesRedisRefusesAreRejectedAndChangeNothing()
    {
        await using var redis = await PreparedAsync();
        var configuration = (IDatastoreConfiguration)redis.Manager;

        var port = await Assert.ThrowsAsync<DatastoreOperationException>(() => configuration.ApplyConfigurationAsync(
            redis.Instance, new Dictionary<string, string> { ["port"] = "7000" }, redis.Ct).DefaultTimeout());
        var policy = await Assert.ThrowsAsync<DatastoreOperationException>(() => configuration.ApplyConfigurationAsync(
            redis.Instance, new Dictionary<string, string> { ["hz"] = "30", ["maxmemory-policy"] = "sometimes" }, redis.Ct).DefaultTimeout());

        Assert.Equal(DatastoreOperationException.InvalidCode, port.Code);
        Assert.Equal(DatastoreOperationException.InvalidCode, policy.Code);
        Assert.Equal("10", await ConfigGetAsync(redis, "hz"));
        Assert.DoesNotContain("hz", await File.ReadAllTextAsync(Path.Combine(redis.Directory, "group.conf")).DefaultTimeout());
    }

    private static async Task<RedisTestInstance> PreparedAsync()
    {
        var redis = await RedisTestInstance.CreateAsync();
        await redis.Manager.PrepareAsync(redis.Instance, redis.Ct).DefaultTimeout();
        return redis;
    }

    private static async Task<string?> ConfigGetAsync(RedisTestInstance redis, string name) =>
        (await redis.AdminCommandAsync("CONFIG", "GET", name)).Items?[1].Text;
}
