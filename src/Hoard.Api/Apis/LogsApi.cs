using System.Text.Json.Nodes;
using Hoard.Core;
using Hoard.Core.Logs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hoard.Api.Apis;

/// <summary>Trove's database log routes: list an instance's logs, and show, enable, disable, publish or discard one.</summary>
public static class LogsApi
{
    private static readonly string[] Flags = ["enable", "disable", "publish", "discard"];

    public static RouteGroupBuilder MapLogsApi(this RouteGroupBuilder tenant)
    {
        tenant.MapGet("/instances/{id}/log", async (HttpContext http, string id, GuestLogService logs, CancellationToken ct) =>
            Results.Json(new { logs = await logs.ListAsync(http.Caller().ProjectId, id, ct) }, TroveHttp.Json));
        tenant.MapPost("/instances/{id}/log", async (HttpContext http, string id, GuestLogService logs, CancellationToken ct) =>
        {
            var body = await TroveHttp.ReadObjectAsync(http.Request, ct);
            var v = new Validation();
            v.NoAdditionalProperties(body, string.Empty, ["name", .. Flags]);
            var name = v.NonEmptyString(body, string.Empty, "name", required: true);
            var flags = new Dictionary<string, bool>(StringComparer.Ordinal);
            foreach (var flag in Flags)
            {
                flags[flag] = Flag(v, body, flag);
            }

            v.ThrowIfFailed();
            var action = new LogAction(flags["enable"], flags["disable"], flags["publish"], flags["discard"]);
            return Results.Json(new { log = await logs.ActionAsync(http.Caller().ProjectId, id, name!, action, ct) }, TroveHttp.Json);
        });
        return tenant;
    }

    /// <summary>Trove's boolean_string: an integer 0 or 1 (the stock client sends 1); JSON true and false are taken too.</summary>
    private static bool Flag(Validation v, JsonObject body, string key)
    {
        if (!body.TryGetPropertyValue(key, out var node) || node is null)
        {
            return false;
        }

        if (node is JsonValue value)
        {
            if (value.TryGetValue<bool>(out var b))
            {
                return b;
            }

            if (value.TryGetValue<long>(out var n) && n is 0 or 1)
            {
                return n == 1;
            }
        }

        v.Fail(key, $"{Validation.Repr(node)} is not 0 or 1");
        return false;
    }
}
