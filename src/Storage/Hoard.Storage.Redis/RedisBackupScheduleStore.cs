using Hoard.Abstractions.Storage;
using StackExchange.Redis;
using static Hoard.Storage.Redis.RedisDb;

namespace Hoard.Storage.Redis;

/// <summary>
/// Backup schedules: a hash per schedule, sorted-set indexes by creation time (all, per project, per instance) and one by
/// next run time holding the enabled ones. Every write is one script; a claim compares next_run_at and moves it in one.
/// </summary>
internal sealed class RedisBackupScheduleStore(RedisDb db) : IBackupScheduleStore
{
    private RedisKeys Keys => db.Keys;

    public async Task InsertAsync(BackupScheduleRecord schedule, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        await db.RunAsync(RedisScripts.InsertSchedule, Arg(("schedule", RedisRecords.Fields(schedule))), cancellationToken);
    }

    public async Task<BackupScheduleRecord?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var h = await db.GetAsync(Keys.Key("schedule", id), cancellationToken);
        return h is null ? null : RedisRecords.BackupSchedule(h);
    }

    public async Task<IReadOnlyList<BackupScheduleRecord>> ListAsync(string? projectId, string? instanceId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var index = (projectId, instanceId) switch
        {
            (_, not null) => Keys.Key("idx:instance-schedules", instanceId),
            (not null, null) => Keys.Key("idx:project-schedules", projectId),
            _ => Keys.Key("idx:schedules"),
        };
        var ids = await db.Database.SortedSetRangeByRankAsync(index);
        return await ReadAsync(ids, s => projectId is null || s.ProjectId == projectId, cancellationToken);
    }

    public async Task<bool> UpdateAsync(BackupScheduleRecord schedule, bool moveNextRun, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        var fields = RedisRecords.Fields(schedule);
        string[] changeable = moveNextRun
            ? ["name", "description", "pattern", "interval_minutes", "retention", "enabled", "updated_at", "next_run_at"]
            : ["name", "description", "pattern", "interval_minutes", "retention", "enabled", "updated_at"];
        var set = changeable.Where(fields.ContainsKey).ToDictionary(f => f, f => fields[f], StringComparer.Ordinal);
        var unset = changeable.Where(f => !fields.ContainsKey(f)).ToList();
        return await db.RunAsync(RedisScripts.UpdateSchedule, Arg(("id", schedule.Id), ("set", set), ("unset", unset)), cancellationToken) > 0;
    }

    public async Task<IReadOnlyList<BackupScheduleRecord>> ListDueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var ids = await db.Database.SortedSetRangeByScoreAsync(
            Keys.Key("idx:due-schedules"), double.NegativeInfinity, now.ToUnixTimeMilliseconds(), Exclude.None, Order.Ascending, 0, limit > 0 ? limit : -1);
        return await ReadAsync(ids, s => s.Enabled && s.NextRunAt <= now, cancellationToken);
    }

    public async Task<bool> TryClaimAsync(string id, DateTimeOffset expectedNextRunAt, DateTimeOffset nextRunAt, CancellationToken cancellationToken) =>
        await db.RunAsync(RedisScripts.ClaimSchedule, Arg(("id", id), ("expected", Ms(expectedNextRunAt)), ("next", Ms(nextRunAt))), cancellationToken) > 0;

    public async Task<bool> RecordRunAsync(string id, BackupScheduleRun run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        var set = new Dictionary<string, string>(StringComparer.Ordinal) { ["last_run_at"] = Ms(run.At), ["updated_at"] = Ms(run.At) };
        var unset = new List<string>();
        void Put(string field, string? value)
        {
            if (value is null)
            {
                unset.Add(field);
            }
            else
            {
                set[field] = value;
            }
        }

        Put("last_backup_id", run.BackupId);
        Put("last_error", run.Error);
        if (run.Disable)
        {
            set["enabled"] = "0";
        }

        return await db.RunAsync(RedisScripts.UpdateSchedule, Arg(("id", id), ("set", set), ("unset", unset)), cancellationToken) > 0;
    }

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken) =>
        await db.RunAsync(RedisScripts.DeleteSchedule, Arg(("id", id)), cancellationToken) > 0;

    public async Task<int> DeleteForInstanceAsync(string instanceId, CancellationToken cancellationToken) =>
        (int)await db.RunAsync(RedisScripts.DeleteInstanceSchedules, Arg(("instance", instanceId)), cancellationToken);

    private async Task<IReadOnlyList<BackupScheduleRecord>> ReadAsync(RedisValue[] ids, Func<BackupScheduleRecord, bool> keep, CancellationToken cancellationToken)
    {
        var rows = await db.GetAllAsync(ids.Select(id => Keys.Key("schedule", id.ToString())), cancellationToken);
        return [.. rows.Where(h => h is not null).Select(h => RedisRecords.BackupSchedule(h!)).Where(keep)];
    }
}
