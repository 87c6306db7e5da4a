using Hoard.Abstractions.Storage;
using static Hoard.Storage.Redis.RedisDb;

namespace Hoard.Storage.Redis;

/// <summary>
/// Configuration groups. A delete and an attach are each one script, so a delete's check for attached instances and an
/// attach's check that the group is live run one after the other on the server: a group being deleted cannot gain an
/// instance.
/// </summary>
internal sealed class RedisConfigurationStore(RedisDb db) : IConfigurationStore
{
    private RedisKeys Keys => db.Keys;

    public async Task InsertAsync(ConfigurationRecord configuration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        await db.RunAsync(RedisScripts.InsertConfiguration, Arg(("rec", RedisRecords.Fields(configuration))), cancellationToken);
    }

    public async Task<ConfigurationRecord?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var h = await db.GetAsync(Keys.Key("configuration", id), cancellationToken);
        return h is not null && !BoolOf(h, "deleted") ? RedisRecords.Configuration(h) : null;
    }

    /// <summary>
    /// A page is three round trips whatever its position: the marker's sequence number (HGET), the ids after it
    /// (ZRANGEBYSCORE on the index that holds only what is asked for), and one pipelined batch of HGETALLs.
    /// </summary>
    public async Task<IReadOnlyList<ConfigurationRecord>> ListAsync(string? projectId, string? marker, int limit, CancellationToken cancellationToken)
    {
        var index = projectId is null ? Keys.Key("idx:configurations") : Keys.Key("idx:project-configurations", projectId);

        // Like the instance lists: a marker marked deleted still marks its place; an unknown one starts at the oldest.
        var after = 0d;
        if (marker is not null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var seq = await db.Database.HashGetAsync(Keys.Key("configuration", marker), "seq");
            after = seq.HasValue ? (double)seq : 0;
        }

        var ids = await db.RangeAsync(index, after, limit > 0 ? limit : -1, cancellationToken);
        var rows = await db.GetAllAsync(ids.Select(id => Keys.Key("configuration", id)), cancellationToken);
        return [.. rows.Where(h => h is not null && !BoolOf(h, "deleted")).Select(h => RedisRecords.Configuration(h!))];
    }

    public async Task<bool> UpdateAsync(string id, ConfigurationChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var set = new Dictionary<string, string>(StringComparer.Ordinal) { ["updated_at"] = Ms(change.UpdatedAt) };
        var unset = new List<string>();
        if (change.Name is not null) set["name"] = change.Name;
        if (change.Description is not null)
        {
            if (change.Description.Length == 0)
            {
                unset.Add("description");
            }
            else
            {
                set["description"] = change.Description;
            }
        }

        if (change.Values is not null) set["values"] = change.Values;
        return await db.RunAsync(RedisScripts.UpdateConfiguration, Arg(("id", id), ("set", set), ("unset", unset)), cancellationToken) > 0;
    }

    public async Task<ConfigurationDeletion> DeleteAsync(string id, CancellationToken cancellationToken) =>
        await db.RunAsync(RedisScripts.DeleteConfiguration, Arg(("id", id), ("now", Now())), cancellationToken) switch
        {
            0 => ConfigurationDeletion.Missing,
            1 => ConfigurationDeletion.Deleted,
            2 => ConfigurationDeletion.InUse,
            var other => throw new InvalidOperationException($"the configuration delete script answered {other}"),
        };

    public async Task<IReadOnlyList<string>> ListInstancesAsync(string id, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var ids = await db.Database.SortedSetRangeByRankAsync(Keys.Key("idx:configuration-instances", id));
        return [.. ids.Select(i => i.ToString())];
    }

    public async Task<ConfigurationAttach> AttachAsync(string instanceId, string? expectedConfigurationId, string? configurationId, CancellationToken cancellationToken)
    {
        var argument = Arg(("instance", instanceId), ("expected", expectedConfigurationId), ("configuration", configurationId), ("now", Now()));
        return await db.RunAsync(RedisScripts.AttachConfiguration, argument, cancellationToken) switch
        {
            0 => ConfigurationAttach.MissingInstance,
            1 => ConfigurationAttach.Done,
            2 => ConfigurationAttach.MissingConfiguration,
            3 => ConfigurationAttach.Changed,
            var other => throw new InvalidOperationException($"the configuration attach script answered {other}"),
        };
    }
}
