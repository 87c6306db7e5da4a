using Hoard.Abstractions.Storage;
using static Hoard.Storage.Redis.RedisDb;

namespace Hoard.Storage.Redis;

internal sealed class RedisTaskStore(RedisDb db) : ITaskStore
{
    public async Task<bool> InsertForInstanceAsync(TaskRecord task, string expectedInstanceTask, string newInstanceTask, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(task);
        return await db.RunAsync(
            RedisScripts.InsertTaskForInstance,
            Arg(("task", RedisRecords.Fields(task)), ("expected", expectedInstanceTask), ("new_task", newInstanceTask), ("now", Now())),
            cancellationToken) > 0;
    }

    public async Task<TaskRecord?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var h = await db.GetAsync(db.Keys.Key("task", id), cancellationToken);
        return h is null ? null : RedisRecords.Task(h);
    }

    public async Task<IReadOnlyList<TaskRecord>> ListUnfinishedAsync(CancellationToken cancellationToken)
    {
        var ids = await db.RangeAsync(db.Keys.Key("idx:unfinished-tasks"), double.NegativeInfinity, -1, cancellationToken);
        var rows = await db.GetAllAsync(ids.Select(id => db.Keys.Key("task", id)), cancellationToken);
        return [.. rows.Where(h => h is not null).Select(h => RedisRecords.Task(h!))];
    }

    public Task<bool> TryClaimAsync(string id, string? expectedOwner, DateTimeOffset? expectedLeaseUntil, string owner, DateTimeOffset leaseUntil, CancellationToken cancellationToken) =>
        LeaseAsync(cancellationToken, ("op", "claim"), ("id", id), ("expected_owner", expectedOwner), ("expected_until", Ms(expectedLeaseUntil)), ("owner", owner), ("lease_until", Ms(leaseUntil)));

    public Task<bool> RenewAsync(string id, string owner, DateTimeOffset leaseUntil, CancellationToken cancellationToken) =>
        LeaseAsync(cancellationToken, ("op", "renew"), ("id", id), ("owner", owner), ("lease_until", Ms(leaseUntil)));

    public Task<bool> AdvanceAsync(string id, string owner, int step, CancellationToken cancellationToken) =>
        LeaseAsync(cancellationToken, ("op", "advance"), ("id", id), ("owner", owner), ("step", Int(step)));

    public Task<bool> AdvanceAsync(string id, string owner, int step, string payload, CancellationToken cancellationToken) =>
        LeaseAsync(cancellationToken, ("op", "advance"), ("id", id), ("owner", owner), ("step", Int(step)), ("payload", payload));

    public Task<bool> FinishAsync(string id, string owner, string state, string? error, CancellationToken cancellationToken) =>
        LeaseAsync(cancellationToken, ("op", "finish"), ("id", id), ("owner", owner), ("state", state), ("error", error));

    private async Task<bool> LeaseAsync(CancellationToken cancellationToken, params (string Name, object? Value)[] fields) =>
        await db.RunAsync(RedisScripts.Lease, Arg([.. fields, ("now", Now())]), cancellationToken) > 0;
}
