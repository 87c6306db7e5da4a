using Hoard.Abstractions.Datastores;
using Hoard.Conformance;
using Hoard.Datastores.PostgreSql.Tests.Support;

namespace Hoard.Datastores.PostgreSql.Tests;

/// <summary>The datastore contract, against real PostgreSQL servers, logging in with the real psql.</summary>
public sealed class PostgreSqlConformanceTests : DatastoreConformance
{
    protected override IDatastorePlugin CreatePlugin() => new PostgreSqlPlugin();

    protected override Task<bool> CanLoginAsync(string user, string password, string? database) =>
        Psql.CanLoginAsync(Instance, user, password, database).Within(Timeouts.Cli);
}
