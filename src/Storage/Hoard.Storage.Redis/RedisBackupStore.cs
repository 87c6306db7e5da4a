using Hoard.Abstractions.Storage;
using StackExchange.Redis;
using static Hoard.Storage.Redis.RedisDb;

namespace Hoard.Storage.Redis;

/// <summary>
/// Backups. Each write is one script, so a child's parent check and its parent's child check run one after the other on
/// the server: a parent being deleted cannot gain a child.
/// </summary>
internal sealed class RedisBackupStore(RedisDb db) : IBackupStore
{
    private static readonly string[] BusyStates = [BackupStates.New, BackupStates.Building, BackupStates.Saving, BackupStates.Deleting];

    private RedisKeys Keys => db.Keys;

    public async Task<BackupInsert> InsertWithTaskAsync(BackupRecord backup, TaskRecord task, QuotaLimits? quota, bool claimInstance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(backup);
        ArgumentNullException.ThrowIfNull(task);
        var argument = Arg(
            [("backup", RedisRecords.Fields(backup)), ("task", RedisRecords.Fields(task)), ("completed", BackupStates.Completed),
             ("deleting", BackupStates.Deleting), ("claim", claimInstance ? "1" : null), ("none", InstanceTasks.None),
             ("backing_up", InstanceTasks.BackingUp), ("now", Now()), .. QuotaArgs(quota)]);
        return await db.RunAsync(RedisScripts.InsertBackupWithTask, argument, cancellationToken) switch
        {
            1 => BackupInsert.Inserted,
            0 => BackupInsert.ParentUnusable,
            2 => BackupInsert.OverQuota,
            3 => BackupInsert.InstanceBusy,
            var other => throw new InvalidOperationException($"the backup insert script answered {other}"),
        };
    }

    public async Task<BackupRecord?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var h = await db.GetAsync(Keys.Key("backup", id), cancellationToken);
        return h is not null && !BoolOf(h, "deleted") ? RedisRecords.Backup(h) : null;
    }

    /// <summary>
    /// A page is three round trips whatever its position: the marker's sequence number (HGET), the ids before it
    /// (ZREVRANGEBYSCORE on the index that holds only what is asked for), and one pipelined batch of HGETALLs.
    /// </summary>
    public async Task<IReadOnlyList<BackupRecord>> ListAsync(string? projectId, string? instanceId, string? marker, int limit, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var index = (projectId, instanceId) switch
        {
            (null, null) => Keys.Key("idx:backups"),
            (_, null) => Keys.Key("idx:project-backups", projectId),
            (null, _) => Keys.Key("idx:instance-backups", instanceId),
            _ => Keys.Key("idx:project-instance-backups", projectId, instanceId),
        };

        // Like the instance lists: a marker marked deleted still marks its place; an unknown one starts at the newest.
        var before = double.PositiveInfinity;
        if (marker is not null)
        {
            var seq = await db.Database.HashGetAsync(Keys.Key("backup", marker), "seq");
            before = seq.HasValue ? (double)seq : double.PositiveInfinity;
        }

        var ids = await db.Database.SortedSetRangeByScoreAsync(
            index, double.NegativeInfinity, before, Exclude.Stop, Order.Descending, 0, limit > 0 ? limit : -1);
        var rows = await db.GetAllAsync(ids.Select(id => Keys.Key("backup", id.ToString())), cancellationToken);
        return [.. rows.Where(h => h is not null && !BoolOf(h, "deleted")).Select(h => RedisRecords.Backup(h!))];
    }

    public async Task<bool> UpdateAsync(string id, BackupChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var set = new Dictionary<string, string>(StringComparer.Ordinal) { ["updated_at"] = Now() };
        var unset = new List<string>();
        if (change.State is not null) set["state"] = change.State;
        if (change.Size is { } size) set["size"] = RedisRecords.Long(size)!;
        if (change.Checksum is not null) set["checksum"] = change.Checksum;
        if (change.Location is not null) set["location"] = change.Location;
        if (change.FaultMessage is not null)
        {
            if (change.FaultMessage.Length == 0)
            {
                unset.Add("fault_message");
            }
            else
            {
                set["fault_message"] = change.FaultMessage;
            }
        }

        if (change.Deleted is true) set["deleted"] = "1";
        return await db.RunAsync(RedisScripts.UpdateBackup, Arg(("id", id), ("set", set), ("unset", unset)), cancellationToken) > 0;
    }

    public async Task<BackupDeletion> StartDeleteAsync(string id, TaskRecord task, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(task);
        var argument = Arg(
            ("id", id), ("task", RedisRecords.Fields(task)), ("busy", BusyStates), ("deleting", BackupStates.Deleting), ("now", Now()));
        return await db.RunAsync(RedisScripts.StartBackupDelete, argument, cancellationToken) switch
        {
            0 => BackupDeletion.Missing,
            1 => BackupDeletion.Started,
            2 => BackupDeletion.Busy,
            3 => BackupDeletion.HasChildren,
            var other => throw new InvalidOperationException($"the backup delete script answered {other}"),
        };
    }

    public async Task<int> CountAsync(string projectId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return (int)await db.Database.SortedSetLengthAsync(Keys.Key("idx:project-backups", projectId));
    }
}
