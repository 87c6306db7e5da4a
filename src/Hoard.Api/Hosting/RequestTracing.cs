using System.Diagnostics;
using Hoard.Abstractions.Tracing;
using Hoard.Core.Profiling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Hoard.Api.Hosting;

/// <summary>
/// Starts a trace for a request that asks for one as OSProfiler's WSGI middleware does: an <c>X-Trace-Info</c>
/// header signed (<c>X-Trace-HMAC</c>) with one of <c>[profiler] hmac_keys</c>. The request's point continues the
/// header's trace (its base_id is the W3C trace id) under the header's parent_id, and the response names the trace
/// in <c>X-Trace-ID</c>. Any other request, forged or malformed headers included, is served untraced.
/// </summary>
internal static class RequestTracing
{
    /// <summary>The response header naming the trace a traced request joined (what <c>hoard trace show</c> takes).</summary>
    public const string TraceIdHeader = "X-Trace-ID";

    public static IApplicationBuilder UseRequestTracing(this IApplicationBuilder app, Profiler profiler) =>
        app.Use(async (http, next) =>
        {
            var request = http.Request;
            if (MetricsEndpoint.IsScrape(http)
                || !request.Headers.TryGetValue(TraceHeader.InfoHeader, out var info)
                || TraceHeader.Verify(info.ToString(), request.Headers[TraceHeader.HmacHeader].ToString(), profiler.HmacKeys) is not { } header
                || !TraceIds.TryTraceId(header.BaseId, out var traceId))
            {
                await next(http);
                return;
            }

            // The remote parent's span id is never reported: the point's parent is the header's parent_id, set below.
            var parent = new ActivityContext(traceId, ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded, isRemote: true);
            using var activity = HoardTracing.Source.StartActivity(HoardTracing.Names.Http, ActivityKind.Server, parent);
            if (activity is null)
            {
                await next(http);
                return;
            }

            activity.SetCustomProperty(HoardTracing.ParentIdProperty, header.ParentId);
            activity.SetTag("request.method", request.Method);
            activity.SetTag("request.path", request.Path.Value);
            activity.SetTag("request.scheme", request.Scheme);
            http.Response.Headers[TraceIdHeader] = header.BaseId;
            try
            {
                await next(http);
                activity.SetTag("response.status", http.Response.StatusCode);
                if (http.Response.StatusCode >= 500)
                {
                    activity.SetTag(HoardTracing.ErrorTypeTag, "HTTPError");
                    activity.SetStatus(ActivityStatusCode.Error, $"HTTP {http.Response.StatusCode}");
                }
            }
            catch (Exception e)
            {
                activity.RecordError(e);
                throw;
            }
        });
}
