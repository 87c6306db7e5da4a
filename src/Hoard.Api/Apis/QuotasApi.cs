using System.Text.Json;
using System.Text.Json.Nodes;
using Hoard.Core;
using Hoard.Core.Quotas;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hoard.Api.Apis;

/// <summary>
/// Trove's quota routes (extensions/mgmt/quota): <c>GET|PUT /mgmt/quotas/{project}</c>, the project by id or name. Unlike
/// the other mgmt routes a member may read their own project's quota (Trove's show), so these are mapped outside the
/// admin-only group; a PUT still needs the admin role, refused before the body is read.
/// </summary>
public static class QuotasApi
{
    public static RouteGroupBuilder MapQuotasApi(this RouteGroupBuilder tenant)
    {
        tenant.MapGet("/mgmt/quotas/{project}", async (HttpContext http, string project, QuotaService quotas, CancellationToken ct) =>
        {
            var found = await quotas.ProjectToReadAsync(http.Caller(), project, ct);
            var lines = await quotas.ShowAsync(found.Id, ct);
            return Results.Json(
                new { quotas = lines.Select(l => new { resource = l.Resource, in_use = l.InUse, reserved = l.Reserved, limit = l.Limit }) },
                TroveHttp.Json);
        });
        tenant.MapPut("/mgmt/quotas/{project}", async (HttpContext http, string project, QuotaService quotas, CancellationToken ct) =>
        {
            var caller = http.Caller();
            if (!caller.IsAdmin)
            {
                throw ApiException.Forbidden("You are not authorized to perform the requested action: the admin role is required.");
            }

            var limits = ReadLimits(await TroveHttp.ReadObjectAsync(http.Request, ct));
            var set = await quotas.UpdateAsync(caller, project, limits, ct);
            return Results.Json(new { quotas = set }, TroveHttp.Json);
        });
        return tenant;
    }

    /// <summary>The body's <c>{"quotas": {resource: limit}}</c> in its order; a limit is an integer or null (skipped, as Trove does).</summary>
    private static List<KeyValuePair<string, int?>> ReadLimits(JsonObject body)
    {
        var v = new Validation();
        v.NoAdditionalProperties(body, string.Empty, "quotas");
        var quotas = v.RequiredObject(body, string.Empty, "quotas");
        var limits = new List<KeyValuePair<string, int?>>();
        foreach (var (resource, node) in quotas ?? [])
        {
            var path = Validation.Path("quotas", resource);
            if (node is null)
            {
                limits.Add(new(resource, null));
            }
            else if (node is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<double>(out var number) && Math.Floor(number) == number)
            {
                if (number > int.MaxValue)
                {
                    v.Fail(path, $"{Validation.Repr(node)} is greater than the maximum of {int.MaxValue}");
                }
                else
                {
                    // Anything below -1 is Trove's "too small", whatever its size.
                    limits.Add(new(resource, (int)Math.Max(number, int.MinValue)));
                }
            }
            else
            {
                v.Fail(path, $"{Validation.Repr(node)} is not of type 'integer'");
            }
        }

        v.ThrowIfFailed();
        return limits;
    }
}
