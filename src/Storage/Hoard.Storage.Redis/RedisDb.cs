using System.Globalization;
using System.Text.Json;
using Hoard.Abstractions.Storage;
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

    /// <summary>Runs a script whose answer is not a number (an array, or a number or an array).</summary>
    public async Task<RedisResult> EvaluateAsync(string script, Dictionary<string, object> argument, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return await Database.ScriptEvaluateAsync(script, null, [Keys.Prefix, JsonSerializer.Serialize(argument)]);
    }

    /// <summary>
    /// A quota-checked insert's answer: 1 inserted, 0 refused for the insert's own reason, an array the resources over quota.
    /// </summary>
    public static QuotaInsert ToQuotaInsert(RedisResult result) =>
        result.Resp2Type == ResultType.Array
            ? QuotaInsert.Over([.. ((RedisResult[])result!).Select(r => r.ToString())])
            : (long)result > 0 ? QuotaInsert.Done : QuotaInsert.Refused;

    /// <summary>
    /// A quota as script arguments: A.quota, the limits that are set (no field: no limit), or null when there is nothing to
    /// check; and A.overrides, true when the script is to put the project's overrides (its quota hash, read in the script)
    /// in their place.
    /// </summary>
    public static (string Name, object? Value)[] QuotaArgs(QuotaLimits? quota)
    {
        if (quota is null || (!quota.ProjectOverrides && QuotaResources.All.All(r => quota.Of(r) is null)))
        {
            return [("quota", null)];
        }

        var limits = QuotaResources.All.Where(r => quota.Of(r) is not null).ToDictionary(r => r, r => quota.Of(r)!.Value, StringComparer.Ordinal);
        return [("quota", limits), ("overrides", quota.ProjectOverrides ? true : null)];
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

    /// <summary>
    /// A page of an index whose members are record keys and whose scores are all 0 (so it orders by member): the keys
    /// after <paramref name="afterKey"/> (exclusive; from the start when null), at most <paramref name="limit"/> (0 or
    /// less: all), then their records. Two round trips, ZRANGEBYLEX and one batch, however large the index.
    /// </summary>
    public async Task<IReadOnlyList<Dictionary<string, string>>> PageAsync(string index, string? afterKey, int limit, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var members = await Database.SortedSetRangeByValueAsync(
            index,
            afterKey is null ? RedisValue.Null : (RedisValue)afterKey,
            RedisValue.Null,
            afterKey is null ? Exclude.None : Exclude.Start,
            Order.Ascending,
            0,
            limit <= 0 ? -1 : limit);
        var rows = await GetAllAsync(members.Select(m => m.ToString()), cancellationToken);
        return [.. rows.OfType<Dictionary<string, string>>()];
    }

    /// <summary>
    /// Unlinks every key of the prefix whose name after it matches <paramref name="pattern"/> (a glob: the prefix's own
    /// glob characters are escaped), found by SCAN rather than KEYS so the server never blocks on the whole keyspace.
    /// </summary>
    public async Task UnlinkMatchingAsync(string pattern, CancellationToken cancellationToken)
    {
        foreach (var batch in (await ScanAsync(pattern, cancellationToken)).Chunk(1000))
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Database.ExecuteAsync("UNLINK", [.. batch.Cast<object>()]);
        }
    }

    /// <summary>Keys of the prefix matching <paramref name="pattern"/>, found by SCAN.</summary>
    public async Task<List<string>> ScanAsync(string pattern, CancellationToken cancellationToken)
    {
        var match = GlobEscape(Keys.Prefix) + pattern;
        var keys = new List<string>();
        var cursor = "0";
        do
        {
            cancellationToken.ThrowIfCancellationRequested();
            var reply = (RedisResult[])(await Database.ExecuteAsync("SCAN", cursor, "MATCH", match, "COUNT", "1000"))!;
            cursor = reply[0].ToString();
            keys.AddRange(((RedisResult[])reply[1]!).Select(key => key.ToString()));
        }
        while (cursor != "0");
        return keys;
    }

    public static string GlobEscape(string literal)
    {
        var escaped = new System.Text.StringBuilder(literal.Length);
        foreach (var c in literal)
        {
            if (c is '\\' or '*' or '?' or '[' or ']')
            {
                escaped.Append('\\');
            }

            escaped.Append(c);
        }

        return escaped.ToString();
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
