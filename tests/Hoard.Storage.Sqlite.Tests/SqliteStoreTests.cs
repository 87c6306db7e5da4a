using Hoard.Abstractions.Storage;
using Hoard.Conformance;
using Hoard.Storage.Sqlite;
using Xunit;

namespace Hoard.Storage.Sqlite.Tests;

/// <summary>The SQLite backend against the shared store contract, on a real database file.</summary>
public sealed class SqliteStoreTests : ManagementStoreConformance, IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "hoard-sqlite-" + Guid.NewGuid().ToString("N"));

    protected override Task<IManagementStore> OpenEmptyStoreAsync() =>
        Task.FromResult<IManagementStore>(new SqliteStorePlugin().Open(new Uri("sqlite://" + Path.Combine(_dir, "hoard.db"))));

    [Fact]
    public async Task Data_survives_reopening_the_file()
    {
        var instance = NewInstance("p1");
        await Store.Instances.InsertWithTaskAsync(instance, NewTask(instance.Id), null, CancellationToken.None);
        await using var reopened = new SqliteStorePlugin().Open(new Uri("sqlite://" + Path.Combine(_dir, "hoard.db")));
        await reopened.MigrateAsync(CancellationToken.None);
        Assert.Equal(instance.Id, (await reopened.Instances.GetAsync(instance.Id, CancellationToken.None))!.Id);
    }

    [Fact]
    public void A_connection_string_without_a_file_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new SqliteStorePlugin().Open(new Uri("sqlite:///")));
        Assert.Contains("names no file", e.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
