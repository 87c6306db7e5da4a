using Hoard.Abstractions.Storage;
using static Hoard.Storage.Redis.RedisDb;

namespace Hoard.Storage.Redis;

internal sealed class RedisClusterStore(RedisDb db, RedisInstanceStore instances) : IClusterStore
{
    private RedisKeys Keys => db.Keys;

    public async Task<QuotaInsert> InsertAsync(ClusterRecord cluster, IReadOnlyList<NewMember> members, TaskRecord clusterTask, QuotaLimits quota, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(clusterTask);
        ArgumentNullException.ThrowIfNull(quota);
        return ToQuotaInsert(await db.EvaluateAsync(
            RedisScripts.InsertCluster,
            Arg(
                [("cluster", RedisRecords.Fields(cluster)), ("members", RedisRecords.Members(members)), ("task", RedisRecords.Fields(clusterTask)),
                 ("now", Now()), .. QuotaArgs(quota)]),
            cancellationToken));
    }

    public async Task<IReadOnlyList<InstanceRecord>> ListWarmAsync(string datastoreVersionId, string flavorId, CancellationToken cancellationToken)
    {
        var ids = await db.RangeAsync(Keys.Key("idx:warm-instances", datastoreVersionId, flavorId), double.NegativeInfinity, -1, cancellationToken);
        return await instances.ReadLiveAsync(ids, cancellationToken);
    }

    public async Task<ClusterRecord?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var h = await db.GetAsync(Keys.Key("cluster", id), cancellationToken);
        return h is not null && !BoolOf(h, "deleted") ? RedisRecords.Cluster(h) : null;
    }

    public async Task<IReadOnlyList<ClusterRecord>> ListAsync(string projectId, string? marker, int limit, CancellationToken cancellationToken)
    {
        if (limit == 0)
        {
            return [];
        }

        var after = 0d;
        if (marker is not null)
        {
            var seq = await db.Database.HashGetAsync(Keys.Key("cluster", marker), "seq");
            after = seq.HasValue ? (double)seq : 0;
        }

        var ids = await db.RangeAsync(Keys.Key("idx:project-clusters", projectId), after, limit, cancellationToken);
        var rows = await db.GetAllAsync(ids.Select(id => Keys.Key("cluster", id)), cancellationToken);
        return [.. rows.Where(h => h is not null && !BoolOf(h, "deleted")).Select(h => RedisRecords.Cluster(h!))];
    }

    public async Task<IReadOnlyList<InstanceRecord>> ListMembersAsync(string clusterId, CancellationToken cancellationToken)
    {
        var ids = await db.RangeAsync(Keys.Key("idx:cluster-members", clusterId), double.NegativeInfinity, -1, cancellationToken);
        return await instances.ReadLiveAsync(ids, cancellationToken);
    }

    public async Task<QuotaInsert> StartTaskAsync(string clusterId, string expectedTask, string newTask, TaskRecord clusterTask, IReadOnlyList<NewMember> newMembers, QuotaLimits quota, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(clusterTask);
        ArgumentNullException.ThrowIfNull(newMembers);
        ArgumentNullException.ThrowIfNull(quota);
        return ToQuotaInsert(await db.EvaluateAsync(
            RedisScripts.StartClusterTask,
            Arg(
                [("id", clusterId), ("expected", expectedTask), ("new_task", newTask), ("task", RedisRecords.Fields(clusterTask)),
                 ("members", RedisRecords.Members(newMembers)), ("now", Now()), .. QuotaArgs(quota)]),
            cancellationToken));
    }

    public Task<bool> SetTaskAsync(string clusterId, string? expectedTask, string newTask, CancellationToken cancellationToken) =>
        UpdateAsync(clusterId, expectedTask, new() { ["task_status"] = newTask }, cancellationToken);

    public Task<bool> SetRootSecretAsync(string clusterId, string sealedSecret, CancellationToken cancellationToken) =>
        UpdateAsync(clusterId, null, new() { ["root_secret"] = sealedSecret }, cancellationToken);

    public Task<bool> DeleteAsync(string clusterId, CancellationToken cancellationToken) =>
        UpdateAsync(clusterId, null, new() { ["deleted"] = "1" }, cancellationToken);

    public async Task<int> CountAsync(string projectId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return (int)await db.Database.SortedSetLengthAsync(Keys.Key("idx:project-clusters", projectId));
    }

    private async Task<bool> UpdateAsync(string clusterId, string? expectedTask, Dictionary<string, string> set, CancellationToken cancellationToken)
    {
        set["updated_at"] = Now();
        return await db.RunAsync(RedisScripts.UpdateCluster, Arg(("id", clusterId), ("expected", expectedTask), ("set", set)), cancellationToken) > 0;
    }
}
