using Hoard.Abstractions.Datastores;
using Hoard.Conformance;
using Hoard.Datastores.MariaDb.Tests.Support;

namespace Hoard.Datastores.MariaDb.Tests;

/// <summary>The datastore contract, against the real mariadbd, logging in with the stock mariadb client.</summary>
public sealed class MariaDbConformanceTests : DatastoreConformance
{
    protected override IDatastorePlugin CreatePlugin() => new MariaDbPlugin();

    protected override Task<bool> CanLoginAsync(string user, string password, string? database) =>
        MariaDbClient.CanLoginAsync(Instance.Address, Instance.Port, user, password, database);
}
