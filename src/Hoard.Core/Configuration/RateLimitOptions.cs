namespace Hoard.Core.Configuration;

/// <summary>
/// Trove's per-minute request rates (<c>[DEFAULT] http_*_rate</c>), counted per project on the Trove API. A null
/// rate is unlimited: Trove refuses 0 at start-up, Hoard reads 0 or -1 as "no limit".
/// </summary>
public sealed record RateLimitOptions(int? Get, int? Post, int? Put, int? Delete, int? MgmtPost)
{
    /// <summary>Trove's defaults: 200 requests a minute of each kind.</summary>
    public static readonly RateLimitOptions Default = new(200, 200, 200, 200, 200);

    public static IReadOnlyList<OptionDefinition> Definitions { get; } =
    [
        Definition("http_get_rate", "GET"),
        Definition("http_post_rate", "POST (mgmt POSTs excepted: they count against http_mgmt_post_rate only)"),
        Definition("http_put_rate", "PUT"),
        Definition("http_delete_rate", "DELETE"),
        Definition("http_mgmt_post_rate", "POST under /mgmt"),
    ];

    public static RateLimitOptions From(HoardConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(config);
        int? Rate(string name)
        {
            var rate = config.GetInt("DEFAULT", name);
            return rate < -1
                ? throw new ConfigurationException($"[DEFAULT] {name} must be a number of requests a minute, or 0 or -1 for no limit")
                : rate <= 0 ? null : rate;
        }

        return new(Rate("http_get_rate"), Rate("http_post_rate"), Rate("http_put_rate"), Rate("http_delete_rate"), Rate("http_mgmt_post_rate"));
    }

    private static OptionDefinition Definition(string name, string what) => new(
        "DEFAULT",
        name,
        "integer",
        "200",
        $"Most {what} requests one project may make to the Trove API in any minute (Trove's option of that name); one more answers Trove's 413 overLimit with Retry-After. GET /limits shows what is left. 0 or -1 means no limit.");
}
