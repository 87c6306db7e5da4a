using System.Globalization;
using Hoard.Abstractions.Datastores;
using Hoard.Datastores.Redis.Resp;
using Hoard.Datastores.Redis.Tests.Support;

namespace Hoard.Datastores.Redis.Tests;

/// <summary>RDB-snapshot backups of a server under write load, restored into another instance.</summary>
public sealed class RedisBackupTests
{
    [RequiresBinaryFact("redis-server")]
    public async Task ABackupTakenUnderWritesIsOneInstantAndRestoresIntoAnotherInstance()
    {
        await using var source = await RedisTestInstance.CreateAsync();
        await using var target = await RedisTestInstance.CreateAsync();
        await source.Manager.PrepareAsync(source.Instance, source.Ct).DefaultTimeout();
        await target.Manager.PrepareAsync(target.Instance, target.Ct).DefaultTimeout();
        await target.AdminCommandAsync("SET", "before-the-restore", "1");

        // The writer keeps an invariant in every transaction: counter n, and keys k1..kn. A snapshot of one instant
        // keeps it too; a copy made while writes went on would not.
        await using (var seed = await source.ConnectAsAdminAsync())
        {
            for (var i = 1; i <= 2000; i++)
            {
                await WriteAsync(seed, i, source.Ct);
            }
        }

        using var stop = new CancellationTokenSource();
        var written = 2000;
        var writer = Task.Run(async () =>
        {
            await using var connection = await source.ConnectAsAdminAsync();
            while (!stop.IsCancellationRequested && written < 200_000)
            {
                await WriteAsync(connection, written + 1, source.Ct);
                written++;
            }
        });

        var backups = (IDatastoreBackups)source.Manager;
        Assert.Equal("rdb-snapshot", backups.BackupStrategy);
        var file = Path.Combine(source.Directory, "backup.rdb");
        long size;
        await using (var destination = File.Create(file))
        {
            size = await backups.BackupAsync(source.Instance, destination, source.Ct).DefaultTimeout();
        }

        var writtenAtTheEndOfTheBackup = written;
        await Task.Delay(50);
        await stop.CancelAsync();
        await writer.DefaultTimeout();
        Assert.Equal(new FileInfo(file).Length, size);
        Assert.True(written > 2000, "the writer wrote nothing during the backup");

        await using (var backup = File.OpenRead(file))
        {
            await backups.RestoreAsync(target.Instance, backup, target.Ct).DefaultTimeout();
        }

        var n = long.Parse((await target.AdminCommandAsync("GET", "n")).Text!, CultureInfo.InvariantCulture);
        Assert.InRange(n, 2000, writtenAtTheEndOfTheBackup);
        Assert.Equal(n + 1, (await target.AdminCommandAsync("DBSIZE")).Integer); // n keys and the counter: one instant
        Assert.Equal($"v{n}", (await target.AdminCommandAsync("GET", $"k{n}")).Text);
        Assert.Equal(RespKind.Null, (await target.AdminCommandAsync("GET", "before-the-restore")).Kind);

        // The restored data is the instance's own now: it survives a restart (the AOF the restore built).
        await target.AdminCommandAsync("SET", "after-the-restore", "1");
        await target.Manager.StopAsync(target.Instance, target.Ct).DefaultTimeout();
        await target.Manager.StartAsync(target.Instance, target.Ct).DefaultTimeout();
        Assert.Equal(n + 2, (await target.AdminCommandAsync("DBSIZE")).Integer);
        Assert.Equal("1", (await target.AdminCommandAsync("GET", "after-the-restore")).Text);
    }

    private static async Task WriteAsync(RespConnection connection, int i, CancellationToken ct)
    {
        await connection.ExecuteAsync(["MULTI"], ct);
        await connection.ExecuteAsync(["SET", $"k{i}", $"v{i}"], ct);
        await connection.ExecuteAsync(["SET", "n", i.ToString(CultureInfo.InvariantCulture)], ct);
        await connection.ExecuteAsync(["EXEC"], ct);
    }
}
