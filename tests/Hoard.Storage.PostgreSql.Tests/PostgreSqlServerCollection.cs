using Hoard.Testing;
using Xunit;

namespace Hoard.Storage.PostgreSql.Tests;

/// <summary>One PostgreSQL server shared by the store tests; each test takes a fresh database of its own.</summary>
[CollectionDefinition(Name)]
public sealed class PostgreSqlServerCollection : ICollectionFixture<PostgreSqlTestServer>
{
    public const string Name = "postgresql server";
}
