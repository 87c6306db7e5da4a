using System.Text.Json;
using System.Text.Json.Nodes;
using Hoard.Abstractions.Storage;
using Hoard.Core.Backups;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hoard.Api.Apis;

/// <summary>
/// Backup schedules, Hoard's extension beyond Trove (docs/BACKUP_SCHEDULES.md): create, list (all or one instance's), show,
/// update and delete. Errors keep Trove's shape.
/// </summary>
public static class BackupSchedulesApi
{
    private const string Root = "backup_schedule";

    public static RouteGroupBuilder MapBackupSchedulesApi(this RouteGroupBuilder tenant)
    {
        tenant.MapPost("/backup_schedules", async (HttpContext http, BackupScheduleService schedules, CancellationToken ct) =>
        {
            var request = await ReadAsync(http, creating: true, ct);
            return Results.Json(new { backup_schedule = View(await schedules.CreateAsync(http.Caller().ProjectId, request, ct)) }, TroveHttp.Json);
        });
        tenant.MapGet("/backup_schedules", async (HttpContext http, BackupScheduleService schedules, string? instance_id, CancellationToken ct) =>
            Results.Json(new { backup_schedules = (await schedules.ListAsync(http.Caller().ProjectId, instance_id, ct)).Select(View) }, TroveHttp.Json));
        tenant.MapGet("/backup_schedules/{id}", async (HttpContext http, string id, BackupScheduleService schedules, CancellationToken ct) =>
            Results.Json(new { backup_schedule = View(await schedules.GetAsync(http.Caller().ProjectId, id, ct)) }, TroveHttp.Json));
        tenant.MapPut("/backup_schedules/{id}", async (HttpContext http, string id, BackupScheduleService schedules, CancellationToken ct) =>
        {
            _ = await schedules.GetAsync(http.Caller().ProjectId, id, ct); // another project's schedule is 404, before its body is judged
            var request = await ReadAsync(http, creating: false, ct);
            return Results.Json(new { backup_schedule = View(await schedules.UpdateAsync(http.Caller().ProjectId, id, request, ct)) }, TroveHttp.Json);
        });
        tenant.MapDelete("/backup_schedules/{id}", async (HttpContext http, string id, BackupScheduleService schedules, CancellationToken ct) =>
        {
            await schedules.DeleteAsync(http.Caller().ProjectId, id, ct);
            return Results.StatusCode(202);
        });
        return tenant;
    }

    /// <summary>
    /// Reads <c>{"backup_schedule": {...}}</c>. A create needs the instance, a name, a retention and exactly one of pattern
    /// and interval_minutes; an update takes any of them but the instance, and at most one of pattern and interval_minutes.
    /// </summary>
    private static async Task<BackupScheduleRequest> ReadAsync(HttpContext http, bool creating, CancellationToken ct)
    {
        var body = await TroveHttp.ReadObjectAsync(http.Request, ct);
        var v = new Validation();
        var o = v.RequiredObject(body, string.Empty, Root);
        v.ThrowIfFailed();
        v.NoAdditionalProperties(o!, Root, "instance", "name", "description", "pattern", "interval_minutes", "retention", "enabled");
        var instance = v.NonEmptyString(o!, Root, "instance", required: creating, maxLength: 64);
        if (instance is not null && !Guid.TryParse(instance, out _))
        {
            v.Fail(Validation.Path(Root, "instance"), $"'{instance}' is not a 'uuid'");
        }

        var name = v.NonEmptyString(o!, Root, "name", required: creating);
        var description = Description(v, o!);
        CronPattern? pattern = null;
        // Not Trove's non_empty_string: "* * * * *" has no letter or digit, and is a pattern.
        if (Text(v, o!, "pattern", 255) is { } text)
        {
            if (!CronPattern.TryParse(text, out pattern, out var why))
            {
                v.Fail(Validation.Path(Root, "pattern"), $"'{text}' is not a five-field cron pattern ({why})");
            }
        }

        // A week of minutes is the longest interval; anything longer reads better as a cron pattern.
        var interval = Integer(v, o!, "interval_minutes", 1, 7 * 24 * 60);
        var retention = Integer(v, o!, "retention", 1, 1000);
        bool? enabled = null;
        if (o!.TryGetPropertyValue("enabled", out var flag))
        {
            if (flag is JsonValue b && b.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
            {
                enabled = b.GetValue<bool>();
            }
            else
            {
                v.Fail(Validation.Path(Root, "enabled"), $"{Validation.Repr(flag)} is not of type 'boolean'");
            }
        }

        if (o.ContainsKey("pattern") && o.ContainsKey("interval_minutes"))
        {
            v.Fail(Root, "takes one of 'pattern' and 'interval_minutes', not both");
        }
        else if (creating && !o.ContainsKey("pattern") && !o.ContainsKey("interval_minutes"))
        {
            v.Fail(Root, "needs 'pattern' (a five-field cron pattern, UTC) or 'interval_minutes'");
        }

        if (creating && !o.ContainsKey("retention"))
        {
            v.Fail(Root, "'retention' is a required property");
        }

        v.ThrowIfFailed();
        return new BackupScheduleRequest
        {
            InstanceId = instance,
            Name = name,
            Description = description,
            Pattern = pattern,
            IntervalMinutes = interval,
            Retention = retention,
            Enabled = enabled,
        };
    }

    /// <summary>A description is any string up to 255 characters; the empty string clears it.</summary>
    private static string? Description(Validation v, JsonObject o) => Text(v, o, "description", 255);

    /// <summary>The string at <paramref name="key"/>, of at most <paramref name="maxLength"/> characters; null when absent or refused.</summary>
    private static string? Text(Validation v, JsonObject o, string key, int maxLength)
    {
        if (!o.TryGetPropertyValue(key, out var node))
        {
            return null;
        }

        if (node is JsonValue value && value.TryGetValue<string>(out var text))
        {
            if (text.Length <= maxLength)
            {
                return text;
            }

            v.Fail(Validation.Path(Root, key), $"{Validation.Repr(node)} is too long");
            return null;
        }

        v.Fail(Validation.Path(Root, key), $"{Validation.Repr(node)} is not of type 'string'");
        return null;
    }

    private static int? Integer(Validation v, JsonObject o, string key, int min, int max)
    {
        if (!o.TryGetPropertyValue(key, out var node))
        {
            return null;
        }

        var path = Validation.Path(Root, key);
        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.Number || !value.TryGetValue<int>(out var number))
        {
            v.Fail(path, $"{Validation.Repr(node)} is not of type 'integer'");
            return null;
        }

        if (number < min)
        {
            v.Fail(path, $"{number} is less than the minimum of {min}");
            return null;
        }

        if (number > max)
        {
            v.Fail(path, $"{number} is greater than the maximum of {max}");
            return null;
        }

        return number;
    }

    private static JsonObject View(BackupScheduleRecord s) => new()
    {
        ["id"] = s.Id,
        ["name"] = s.Name,
        ["description"] = s.Description,
        ["instance_id"] = s.InstanceId,
        ["project_id"] = s.ProjectId,
        ["pattern"] = s.Pattern,
        ["interval_minutes"] = s.IntervalMinutes,
        ["retention"] = s.Retention,
        ["enabled"] = s.Enabled,
        ["next_run_at"] = s.Enabled ? TroveHttp.Time(s.NextRunAt) : null,
        ["last_run_at"] = s.LastRunAt is { } last ? TroveHttp.Time(last) : null,
        ["last_backup_id"] = s.LastBackupId,
        ["last_error"] = s.LastError,
        ["created"] = TroveHttp.Time(s.CreatedAt),
        ["updated"] = TroveHttp.Time(s.UpdatedAt),
    };
}
