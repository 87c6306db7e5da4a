using Hoard.Abstractions.Storage;
using Hoard.Conformance;
using Hoard.Testing;
using Xunit;

namespace Hoard.Storage.Redis.Tests;

/// <summary>The Redis backend against the shared store contract, each test on a fresh database of a real redis-server.</summary>
[Collection(RedisServerCollection.Name)]
public sealed class RedisStoreConformanceTests(RedisTestServer server) : ManagementStoreConformance
{
    protected override async Task<IManagementStore> OpenEmptyStoreAsync() =>
        new RedisStorePlugin().Open(server.ConnectionString(await server.FreshDatabaseAsync()));
}
