using Hoard.Abstractions.Storage;
using Hoard.Conformance;
using Hoard.Testing;
using Npgsql;
using Xunit;

namespace Hoard.Storage.PostgreSql.Tests;

/// <summary>The PostgreSQL backend against the shared store contract, each test on a fresh database of a real server.</summary>
[Collection(PostgreSqlServerCollection.Name)]
public sealed class PostgreSqlStoreTests(PostgreSqlTestServer server) : ManagementStoreConformance
{
    private Uri _database = null!;

    protected override async Task<IManagementStore> OpenEmptyStoreAsync()
    {
        _database = await server.CreateDatabaseAsync();
        return new PostgreSqlStorePlugin().Open(_database);
    }

    [RequiresBinaryFact(PostgreSqlTestServer.PostgresBinary, PostgreSqlTestServer.InitDbBinary)]
    public async Task Data_survives_reopening_the_database()
    {
        var instance = NewInstance("p1");
        await Store.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), null, CancellationToken.None).Within(Timeouts.Short);
        await using var reopened = new PostgreSqlStorePlugin().Open(_database);
        await reopened.MigrateAsync(CancellationToken.None).Within(Timeouts.Short);
        var read = await reopened.Instances.GetAsync(instance.Id, CancellationToken.None).Within(Timeouts.Short);
        Assert.Equal(instance with { ServiceStatusUpdatedAt = instance.CreatedAt }, read);
    }

    [RequiresBinaryFact(PostgreSqlTestServer.PostgresBinary, PostgreSqlTestServer.InitDbBinary)]
    public async Task Stores_migrating_one_new_database_at_once_all_succeed_and_apply_each_script_once()
    {
        var database = await server.CreateDatabaseAsync();
        var stores = Enumerable.Range(0, 4).Select(_ => new PostgreSqlStorePlugin().Open(database)).ToList();
        try
        {
            await Task.WhenAll(stores.Select(s => Task.Run(() => s.MigrateAsync(CancellationToken.None)))).Within(Timeouts.Settle);
            var instance = NewInstance("p1");
            await stores[0].Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), null, CancellationToken.None).Within(Timeouts.Short);
            Assert.Equal(instance.Id, (await stores[3].Instances.GetAsync(instance.Id, CancellationToken.None).Within(Timeouts.Short))!.Id);
        }
        finally
        {
            foreach (var store in stores)
            {
                await store.DisposeAsync();
            }
        }

        await using var connection = new NpgsqlConnection(PostgreSqlStorePlugin.ToConnectionString(database).ToString());
        await connection.OpenAsync().Within(Timeouts.Short);
        await using var command = new NpgsqlCommand("SELECT version FROM schema_migrations ORDER BY version", connection);
        await using var reader = await command.ExecuteReaderAsync().Within(Timeouts.Short);
        var versions = new List<int>();
        while (await reader.ReadAsync())
        {
            versions.Add(reader.GetInt32(0));
        }

        Assert.Equal([1, 2, 3, 4, 5, 6, 7], versions);
    }

    [RequiresBinaryFact(PostgreSqlTestServer.PostgresBinary, PostgreSqlTestServer.InitDbBinary)]
    public async Task A_wrong_password_is_a_clear_error_naming_the_store_but_not_the_password()
    {
        var database = await server.CreateDatabaseAsync(password: "not-the-password");
        await using var store = new PostgreSqlStorePlugin().Open(database);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => store.MigrateAsync(CancellationToken.None).Within(Timeouts.Short));
        Assert.Contains("password authentication failed", e.Message, StringComparison.Ordinal);
        Assert.Contains($"{PostgreSqlTestServer.AdminUser}@{server.Address}:{PostgreSqlTestServer.Port}/", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", e.Message, StringComparison.Ordinal);
    }
}
