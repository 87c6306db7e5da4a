using Hoard.Core.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hoard.Api.Apis;

/// <summary>GET / — the API versions document, unauthenticated, as Trove serves it.</summary>
public static class VersionsApi
{
    public static IEndpointRouteBuilder MapVersionsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", (HoardOptions o) => Results.Json(new
        {
            versions = new[]
            {
                new { id = "v1.0", status = "CURRENT", updated = "2012-08-01T00:00:00Z", links = new[] { new { rel = "self", href = $"{o.PublicUrl}/v1.0/" } } },
            },
        }));
        return app;
    }
}
