using Hoard.Testing;
using Xunit;

namespace Hoard.Storage.Redis.Tests;

/// <summary>One redis-server shared by the store tests; each test takes a database number of its own.</summary>
[CollectionDefinition(Name)]
public sealed class RedisServerCollection : ICollectionFixture<RedisTestServer>
{
    public const string Name = "redis-server";
}
