using Hoard.Abstractions.Storage;
using static Hoard.Storage.Redis.RedisDb;

namespace Hoard.Storage.Redis;

internal sealed class RedisInstanceStore(RedisDb db) : IInstanceStore
{
    private RedisKeys Keys => db.Keys;

    public async Task<QuotaInsert> InsertWithTaskAsync(InstanceRecord instance, TaskRecord task, int? poolCapacity, QuotaLimits quota, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(quota);
        var argument = Arg(
            [("instance", RedisRecords.Fields(instance)), ("task", RedisRecords.Fields(task)), ("capacity", Int(poolCapacity)), .. QuotaArgs(quota)]);
        return ToQuotaInsert(await db.EvaluateAsync(RedisScripts.InsertInstanceWithTask, argument, cancellationToken));
    }

    public async Task<InstanceRecord?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var h = await db.GetAsync(Keys.Key("instance", id), cancellationToken);
        return h is not null && !BoolOf(h, "deleted") ? RedisRecords.Instance(h) : null;
    }

    /// <summary>
    /// A page is three round trips whatever its position: the marker's sequence number (HGET), the ids after it
    /// (ZRANGEBYSCORE on the index that already holds only what is asked for), and one pipelined batch of HGETALLs.
    /// </summary>
    public async Task<IReadOnlyList<InstanceRecord>> ListAsync(string? projectId, string? marker, int limit, bool includeClustered, CancellationToken cancellationToken)
    {
        if (limit == 0)
        {
            return [];
        }

        var index = (projectId, includeClustered) switch
        {
            (null, true) => Keys.Key("idx:instances"),
            (null, false) => Keys.Key("idx:standalone-instances"),
            (_, true) => Keys.Key("idx:project-instances", projectId),
            (_, false) => Keys.Key("idx:project-standalone-instances", projectId),
        };
        return await PageAsync(index, marker, limit, cancellationToken);
    }

    private async Task<IReadOnlyList<InstanceRecord>> PageAsync(string index, string? marker, int limit, CancellationToken cancellationToken)
    {
        // Like SQL's COALESCE((SELECT seq ... WHERE id = marker), 0): an unknown marker starts at the beginning,
        // a deleted one still marks its place.
        var after = 0d;
        if (marker is not null)
        {
            var seq = await db.Database.HashGetAsync(Keys.Key("instance", marker), "seq");
            after = seq.HasValue ? (double)seq : 0;
        }

        var ids = await db.RangeAsync(index, after, limit, cancellationToken);
        return await ReadLiveAsync(ids, cancellationToken);
    }

    internal async Task<IReadOnlyList<InstanceRecord>> ReadLiveAsync(IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        var rows = await db.GetAllAsync(ids.Select(id => Keys.Key("instance", id)), cancellationToken);
        return [.. rows.Where(h => h is not null && !BoolOf(h, "deleted")).Select(h => RedisRecords.Instance(h!))];
    }

    public Task<bool> UpdateAsync(string id, InstanceChange change, CancellationToken cancellationToken) =>
        UpdateCoreAsync(id, null, change, cancellationToken);

    public Task<bool> UpdateIfTaskAsync(string id, string expectedTask, InstanceChange change, CancellationToken cancellationToken) =>
        UpdateCoreAsync(id, expectedTask, change, cancellationToken);

    private async Task<bool> UpdateCoreAsync(string id, string? expectedTask, InstanceChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var now = Now();
        var set = new Dictionary<string, string>(StringComparer.Ordinal) { ["updated_at"] = now };
        var unset = new List<string>();
        if (change.Name is not null) set["name"] = change.Name;
        if (change.TaskStatus is not null) set["task_status"] = change.TaskStatus;
        if (change.ServiceStatus is not null)
        {
            set["service_status"] = change.ServiceStatus;
            set["service_status_updated_at"] = now;
        }

        if (change.ServerStatus is not null) set["server_status"] = change.ServerStatus;
        if (change.Address is not null) set["address"] = change.Address;
        if (change.Port is { } port) set["port"] = Int(port);
        if (change.RootEnabled is { } root) set["root_enabled"] = Bool(root);
        if (change.ClusterNodeId is not null) set["cluster_node_id"] = change.ClusterNodeId;
        if (change.FaultMessage is not null)
        {
            if (change.FaultMessage.Length == 0)
            {
                unset.AddRange(["fault_message", "fault_details", "fault_at"]);
            }
            else
            {
                set["fault_message"] = change.FaultMessage;
                set["fault_details"] = change.FaultDetails ?? string.Empty;
                set["fault_at"] = now;
            }
        }

        if (change.Deleted is true)
        {
            // A deleted instance gives its address back to the pool.
            set["deleted"] = "1";
            set.Remove("address");
            unset.Add("address");
        }

        var result = await db.RunAsync(RedisScripts.UpdateInstance, Arg(("id", id), ("expected", expectedTask), ("set", set), ("unset", unset)), cancellationToken);
        if (result < 0)
        {
            // SQLite's unique (pool, address) index refuses this update the same way.
            throw new InvalidOperationException($"address {change.Address} is held by another live instance of the pool");
        }

        return result > 0;
    }

    public async Task<IReadOnlyList<string>> ListAddressesAsync(string pool, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var addresses = await db.Database.HashKeysAsync(Keys.Key("addresses", pool));
        return [.. addresses.Select(a => a.ToString())];
    }

    public async Task<bool> TryAssignAddressAsync(string id, string pool, string address, int port, CancellationToken cancellationToken)
    {
        var set = new Dictionary<string, string>(StringComparer.Ordinal) { ["address"] = address, ["port"] = Int(port), ["updated_at"] = Now() };
        return await db.RunAsync(RedisScripts.UpdateInstance, Arg(("id", id), ("pool", pool), ("set", set), ("unset", Array.Empty<string>())), cancellationToken) > 0;
    }

    public async Task<int> CountAsync(string? projectId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var index = projectId is null ? Keys.Key("idx:instances") : Keys.Key("idx:project-instances", projectId);
        return (int)await db.Database.SortedSetLengthAsync(index);
    }
}
