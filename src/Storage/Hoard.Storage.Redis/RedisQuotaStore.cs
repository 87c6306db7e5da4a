using System.Globalization;
using Hoard.Abstractions.Storage;
using StackExchange.Redis;
using static Hoard.Storage.Redis.RedisDb;

namespace Hoard.Storage.Redis;

/// <summary>Quota overrides, one hash per project (resource → limit); the inserts that enforce them count in their script.</summary>
internal sealed class RedisQuotaStore(RedisDb db) : IQuotaStore
{
    public async Task<IReadOnlyDictionary<string, int>> GetLimitsAsync(string projectId, CancellationToken cancellationToken)
    {
        var h = await db.GetAsync(db.Keys.Key("quota", projectId), cancellationToken);
        return h is null
            ? new Dictionary<string, int>(StringComparer.Ordinal)
            : h.ToDictionary(e => e.Key, e => int.Parse(e.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture), StringComparer.Ordinal);
    }

    public async Task SetLimitsAsync(string projectId, IReadOnlyDictionary<string, int> limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(limits);
        cancellationToken.ThrowIfCancellationRequested();
        if (limits.Count > 0)
        {
            // One HSET sets every field at once.
            await db.Database.HashSetAsync(db.Keys.Key("quota", projectId), [.. limits.Select(e => new HashEntry(e.Key, Int(e.Value)))]);
        }
    }

    public async Task<QuotaUsage> GetUsageAsync(string projectId, CancellationToken cancellationToken)
    {
        var u = (RedisResult[])(await db.EvaluateAsync(RedisScripts.QuotaUsage, Arg(("project", projectId)), cancellationToken))!;
        return new QuotaUsage((int)u[0], (int)u[1], (int)u[2], (int)u[3], (int)u[4]);
    }
}
