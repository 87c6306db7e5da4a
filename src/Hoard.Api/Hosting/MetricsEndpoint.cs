using Hoard.Core.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Hoard.Api.Hosting;

/// <summary>
/// <c>[DEFAULT] metrics_enabled</c>: <c>GET /metrics</c> in Prometheus text format, through OpenTelemetry's exporter.
/// It reads the "Hoard" meter and ASP.NET Core's own <c>http.server.request.duration</c>, whose <c>http.route</c> is the
/// route template, never the path with its ids. Served outside the tenant routes and without a token, as Prometheus
/// scrapes; request tracing passes it by (<see cref="IsScrape"/>), so a scrape is never traced.
/// </summary>
internal static class MetricsEndpoint
{
    public const string Path = "/metrics";

    /// <summary>ASP.NET Core's meter of request durations and active requests.</summary>
    private const string AspNetCoreHosting = "Microsoft.AspNetCore.Hosting";

    public static IServiceCollection AddHoardMetrics(this IServiceCollection services)
    {
        services.AddSingleton<InstanceCensus>();
        services.AddSingleton<HoardGauges>();
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("hoard"))
            .WithMetrics(m => m
                .AddMeter(HoardMetrics.MeterName, AspNetCoreHosting)
                .AddPrometheusExporter());
        return services;
    }

    public static WebApplication UseHoardMetrics(this WebApplication app)
    {
        // The gauges exist before the first scrape, not on first use.
        _ = app.Services.GetRequiredService<HoardGauges>();
        app.MapPrometheusScrapingEndpoint(Path).WithMetadata(ScrapeMarker.Instance, new HttpMethodMetadata(["GET", "HEAD"]));
        return app;
    }

    /// <summary>Whether the request was routed to /metrics (by the endpoint, so /METRICS/ counts too).</summary>
    public static bool IsScrape(HttpContext http) => http.GetEndpoint()?.Metadata.GetMetadata<ScrapeMarker>() is not null;

    private sealed class ScrapeMarker
    {
        public static readonly ScrapeMarker Instance = new();
    }
}
