using System.Globalization;
using System.Text.Json;
using StackExchange.Redis;

namespace Hoard.Storage.Redis;

/// <summary>The store's connection: runs the scripts, and reads records in one pipelined batch.</summary>
internal sealed class RedisDb(IDatabase database, RedisKeys keys)
{
    public IDatabase Database { get; } = database;

    public RedisKeys Keys { get; } = keys;

    public async Task<long> RunAsync(string script, Dictionary<string, object> argument, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var result = await Database.ScriptEvaluateAsync(script, null, [Keys.Prefix, JsonSerializer.Serialize(argument)]);
        return (long)result;
    }

    /// <summary>The records under the keys, in order (null where there is none): one round trip for them all.</summary>
    public async Task<IReadOnlyList<Dictionary<string, string>?>> GetAllAsync(IEnumerable<string> recordKeys, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var batch = Database.CreateBatch();
        var reads = recordKeys.Select(key => batch.HashGetAllAsync(key)).ToList();
        if (reads.Count == 0)
        {
            return [];
        }

        batch.Execute();
        var entries = await Task.WhenAll(reads);
        return [.. entries.Select(ToFields)];
    }

    public async Task<Dictionary<string, string>?> GetAsync(string key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ToFields(await Database.HashGetAllAsync(key));
    }

    /// <summary>Ids from a sorted set, after <paramref name="afterScore"/> (exclusive), at most <paramref name="limit"/> (negative: all).</summary>
    public async Task<string[]> RangeAsync(string index, double afterScore, int limit, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var ids = await Database.SortedSetRangeByScoreAsync(index, afterScore, double.PositiveInfinity, Exclude.Start, Order.Ascending, 0, limit < 0 ? -1 : limit);
        return [.. ids.Select(id => id.ToString())];
    }

    public static Dictionary<string, string>? ToFields(HashEntry[] entries) =>
        entries.Length == 0 ? null : entries.ToDictionary(e => e.Name.ToString(), e => e.Value.ToString(), StringComparer.Ordinal);

    /// <summary>A JSON argument for a script: null values are left out, so the script sees them as nil.</summary>
    public static Dictionary<string, object> Arg(params (string Name, object? Value)[] fields)
    {
        var arg = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var (name, value) in fields)
        {
            if (value is not null)
            {
                arg[name] = value;
            }
        }

        return arg;
    }

    public static string Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

    public static string? Ms(DateTimeOffset? t) => t is { } v ? Ms(v) : null;

    public static string Now() => Ms(DateTimeOffset.UtcNow);

    public static string Int(int i) => i.ToString(CultureInfo.InvariantCulture);

    public static string? Int(int? i) => i is { } v ? Int(v) : null;

    public static string Bool(bool b) => b ? "1" : "0";

    public static DateTimeOffset Time(Dictionary<string, string> h, string field) =>
        DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(h[field], CultureInfo.InvariantCulture));

    public static DateTimeOffset? TimeOrNull(Dictionary<string, string> h, string field) =>
        h.TryGetValue(field, out var v) ? DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(v, CultureInfo.InvariantCulture)) : null;

    public static int IntOf(Dictionary<string, string> h, string field) => int.Parse(h[field], CultureInfo.InvariantCulture);

    public static int? IntOrNull(Dictionary<string, string> h, string field) =>
        h.TryGetValue(field, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : null;

    public static string? StringOrNull(Dictionary<string, string> h, string field) => h.TryGetValue(field, out var v) ? v : null;

    public static bool BoolOf(Dictionary<string, string> h, string field) => h.TryGetValue(field, out var v) && v == "1";

    public static double Score(Dictionary<string, string>? h) =>
        h is not null && h.TryGetValue("seq", out var seq) ? double.Parse(seq, CultureInfo.InvariantCulture) : 0;
}
