using System.Globalization;
using System.Threading.RateLimiting;
using Hoard.Api.Apis;
using Hoard.Core.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Hoard.Api.Hosting;

/// <summary>
/// Trove's rate limits (<c>[DEFAULT] http_*_rate</c>), one sliding one-minute window per project and kind of request:
/// GET, POST, PUT, DELETE and POST under /mgmt (which counts against that limit only). Only the Trove tenant routes
/// are counted, after the token is checked, so the project is the token's and no one can spend another's budget.
/// </summary>
/// <remarks>
/// ASP.NET Core's rate-limiting middleware runs before endpoint filters, so before the token is known; the same
/// partitioned limiters of System.Threading.RateLimiting are used here from a filter instead. A sliding window (in
/// twelve five-second segments) gives "N in any minute", as Trove's message says; an idle project's limiters are
/// dropped by the partitioned limiter, so memory stays bounded by active projects.
/// </remarks>
public sealed class ProjectRateLimiter : IDisposable
{
    private const int SegmentsPerMinute = 12;

    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    /// <summary>Permits come back one segment at a time: the earliest a refused caller can hope for one.</summary>
    private static readonly TimeSpan Segment = Window / SegmentsPerMinute;

    private readonly RateRule[] _rules;
    private readonly PartitionedRateLimiter<(string Project, int Rule)> _limiter;
    private readonly TimeProvider _time;

    public ProjectRateLimiter(HoardOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        var rates = options.RateLimits;

        // Trove's DEFAULT_LIMITS, in its order (GET /limits lists them so).
        _rules =
        [
            new("POST", "*", ".*", rates.Post),
            new("PUT", "*", ".*", rates.Put),
            new("DELETE", "*", ".*", rates.Delete),
            new("GET", "*", ".*", rates.Get),
            new("POST", "*/mgmt", "^/mgmt", rates.MgmtPost),
        ];
        _time = time;
        _limiter = PartitionedRateLimiter.Create<(string Project, int Rule), (string, int)>(key =>
            _rules[key.Rule].Value is int value
                ? RateLimitPartition.GetSlidingWindowLimiter(key, _ => new SlidingWindowRateLimiterOptions
                {
                    PermitLimit = value,
                    Window = Window,
                    SegmentsPerWindow = SegmentsPerMinute,
                    QueueLimit = 0,

                    // The partitioned limiter's own timer slides every partition's window.
                    AutoReplenishment = false,
                })
                : RateLimitPartition.GetNoLimiter(key));
    }

    /// <summary>A Trove rate limit: the request kind it counts (verb, uri, regex as Trove shows them) and its rate, null for none.</summary>
    private sealed record RateRule(string Verb, string Uri, string Regex, int? Value);

    /// <summary>Counts a request of <paramref name="project"/>; null if it may go on, else Trove's 413.</summary>
    public IResult? Check(string project, string method, bool mgmt)
    {
        var rule = RuleFor(method, mgmt);
        if (rule < 0 || _rules[rule].Value is not int value)
        {
            return null;
        }

        using var lease = _limiter.AttemptAcquire((project, rule));
        if (lease.IsAcquired)
        {
            return null;
        }

        var retry = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : Segment;
        var seconds = ((int)Math.Ceiling(retry.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var r = _rules[rule];
        return new OverLimit(seconds, new
        {
            overLimit = new
            {
                code = 413,
                message = "This request was rate-limited.",
                details = $"Only {value} {r.Verb} request(s) can be made to {r.Uri} every minute.",
                retryAfter = seconds,
            },
        });
    }

    /// <summary>Trove's rate entries of <c>GET /limits</c> for <paramref name="project"/>; an unlimited kind shows -1.</summary>
    public IEnumerable<Dictionary<string, object>> Entries(string project)
    {
        var now = _time.GetUtcNow();
        for (var i = 0; i < _rules.Length; i++)
        {
            var rule = _rules[i];
            var remaining = rule.Value is null ? -1 : (int)(_limiter.GetStatistics((project, i))?.CurrentAvailablePermits ?? rule.Value.Value);
            yield return new Dictionary<string, object>
            {
                ["nextAvailable"] = (remaining == 0 ? now + Segment : now).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
                ["remaining"] = remaining,
                ["unit"] = "MINUTE",
                ["value"] = rule.Value ?? -1,
                ["verb"] = rule.Verb,
                ["uri"] = rule.Uri,
                ["regex"] = rule.Regex,
            };
        }
    }

    public void Dispose() => _limiter.Dispose();

    private static int RuleFor(string method, bool mgmt) => method switch
    {
        "POST" => mgmt ? 4 : 0,
        "PUT" => 1,
        "DELETE" => 2,
        "GET" => 3,
        _ => -1,
    };

    /// <summary>The endpoint filter of the tenant group: after <c>TenantFilter</c>, so the caller is known.</summary>
    public static ValueTask<object?> LimitAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        var limiter = http.RequestServices.GetRequiredService<ProjectRateLimiter>();
        var tenant = http.Request.RouteValues["tenant"] as string;
        var mgmt = http.Request.Path.StartsWithSegments($"/v1.0/{tenant}/mgmt", StringComparison.OrdinalIgnoreCase);
        return limiter.Check(http.Caller().ProjectId, http.Request.Method, mgmt) is { } refused
            ? ValueTask.FromResult<object?>(refused)
            : next(context);
    }

    /// <summary>Trove's OverLimitFault: 413, the overLimit body and a Retry-After header.</summary>
    private sealed class OverLimit(string retryAfter, object body) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = retryAfter;
            return Results.Json(body, TroveHttp.Json, statusCode: StatusCodes.Status413RequestEntityTooLarge).ExecuteAsync(httpContext);
        }
    }
}
