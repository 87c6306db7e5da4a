using Hoard.Abstractions.Datastores;
using Hoard.Conformance;

namespace Hoard.Datastores.Redis.Tests;

/// <summary>The Redis plugin against the contract every datastore plugin keeps, with redis-cli as the client.</summary>
public sealed class RedisConformanceTests : DatastoreConformance
{
    protected override IDatastorePlugin CreatePlugin() => new RedisPlugin();

    protected override async Task<bool> CanLoginAsync(string user, string password, string? database)
    {
        // redis-cli takes the password from REDISCLI_AUTH, so it never shows on a command line.
        var result = await ProcessRunner.RunAsync(
            Binaries.Require("redis-cli"),
            ["-h", Instance.Address, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--user", user, "PING"],
            new Dictionary<string, string> { ["REDISCLI_AUTH"] = password },
            Timeouts.Short);
        return result.ExitCode == 0 && result.Stdout.Trim() == "PONG";
    }
}
