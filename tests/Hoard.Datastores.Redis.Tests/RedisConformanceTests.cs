using Hoard.Abstractions.Datastores;
using Hoard.Conformance;

namespace Hoard.Datastores.Redis.Tests;

/// <summary>The Redis plugin against the contract every datastore plugin keeps, with redis-cli as the client.</summary>
public sealed class RedisConformanceTests : DatastoreConformance
{
    protected override IDatastorePlugin CreatePlugin() => new RedisPlugin();

    protected override Task<bool> CanLoginAsync(string user, string password, string? database) =>
        EngineClients.CanLoginAsync("redis", Instance.Address, Port, user, password);
}
