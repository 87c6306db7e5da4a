using System.Globalization;
using Hoard.Abstractions.Datastores;
using Hoard.Datastores.Redis.Resp;

namespace Hoard.Datastores.Redis;

/// <summary>
/// Backups as RDB snapshots: BGSAVE forks the server, so the snapshot is the data at one instant while writes go on;
/// the finished dump.rdb is streamed (its inode stays readable even if a later save replaces the file). A restore
/// installs the RDB as the base of a fresh multi-part AOF (the server's persistence), because Redis 7 with appendonly
/// ignores a dump.rdb when no AOF exists.
/// </summary>
public sealed partial class RedisManager : IDatastoreBackups
{
    private const string AofDirectory = "appendonlydir";
    private const string AofBase = "appendonly.aof.1.base.rdb";
    private const string AofIncrement = "appendonly.aof.1.incr.aof";
    private const string AofManifest = "appendonly.aof.manifest";
    private static readonly TimeSpan SnapshotPoll = TimeSpan.FromMilliseconds(20);

    public string BackupStrategy => "rdb-snapshot";

    public async Task<long> BackupAsync(GuestInstance instance, Stream destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(destination);
        var files = InstanceFiles.For(instance);

        // One admin connection for the request and the polls, rather than one per poll.
        await using var connection = await RespConnection.ConnectAsync(EndPointOf(instance), cancellationToken);
        await connection.AuthAsync(RedisConfig.AdminUser, await ReadAdminPasswordAsync(instance, files, cancellationToken), cancellationToken);
        var before = SaveCount(await PersistenceAsync(connection, cancellationToken));

        // SCHEDULE: if an AOF rewrite is running, the save starts when it ends instead of failing.
        await connection.ExecuteAsync(["BGSAVE", "SCHEDULE"], cancellationToken);

        // Done when a save finished after ours was asked for (rdb_saves counts the successful ones); failed when one we
        // saw running ended with an error.
        var seenRunning = false;
        while (true)
        {
            var info = await PersistenceAsync(connection, cancellationToken);
            var running = info.GetValueOrDefault("rdb_bgsave_in_progress") == "1";
            seenRunning |= running;
            if (!running && SaveCount(info) > before)
            {
                break;
            }

            if (!running && seenRunning && info.GetValueOrDefault("rdb_last_bgsave_status") != "ok")
            {
                throw new InvalidOperationException($"redis instance {instance.Id} failed its snapshot (rdb_last_bgsave_status {info.GetValueOrDefault("rdb_last_bgsave_status")}); see {files.LogFile}");
            }

            await Task.Delay(SnapshotPoll, cancellationToken);
        }

        await using var snapshot = new FileStream(Path.Combine(files.DataDirectory, "dump.rdb"), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        await snapshot.CopyToAsync(destination, 1 << 20, cancellationToken);
        return snapshot.Length;
    }

    public async Task RestoreAsync(GuestInstance instance, Stream source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(source);
        var files = InstanceFiles.For(instance);
        await StopAsync(instance, cancellationToken);

        // The new AOF is built beside the old one and swapped in whole, so a crash leaves one or the other.
        var incoming = Path.Combine(files.DataDirectory, AofDirectory + ".restoring");
        if (Directory.Exists(incoming))
        {
            Directory.Delete(incoming, recursive: true);
        }

        Directory.CreateDirectory(incoming, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await using (var rdb = new FileStream(Path.Combine(incoming, AofBase), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true))
        {
            await source.CopyToAsync(rdb, 1 << 20, cancellationToken);
            await rdb.FlushAsync(cancellationToken);
            rdb.Flush(flushToDisk: true);
        }

        await File.WriteAllTextAsync(Path.Combine(incoming, AofIncrement), string.Empty, cancellationToken);
        await File.WriteAllTextAsync(
            Path.Combine(incoming, AofManifest),
            string.Create(CultureInfo.InvariantCulture, $"file {AofBase} seq 1 type b\nfile {AofIncrement} seq 1 type i\n"),
            cancellationToken);

        var current = Path.Combine(files.DataDirectory, AofDirectory);
        if (Directory.Exists(current))
        {
            Directory.Delete(current, recursive: true);
        }

        Directory.Move(incoming, current);
        var dump = Path.Combine(files.DataDirectory, "dump.rdb");
        if (File.Exists(dump))
        {
            File.Delete(dump); // the data before the restore, not to be mistaken for it
        }

        await StartAsync(instance, cancellationToken);
    }

    private static async Task<Dictionary<string, string>> PersistenceAsync(RespConnection connection, CancellationToken cancellationToken)
    {
        var text = (await connection.ExecuteAsync(["INFO", "persistence"], cancellationToken)).Text ?? string.Empty;
        return text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Where(line => !line.StartsWith('#'))
            .Select(line => line.Split(':', 2))
            .Where(parts => parts.Length == 2)
            .ToDictionary(parts => parts[0], parts => parts[1], StringComparer.Ordinal);
    }

    private static long SaveCount(Dictionary<string, string> info) =>
        long.TryParse(info.GetValueOrDefault("rdb_saves"), CultureInfo.InvariantCulture, out var saves) ? saves : 0;
}
