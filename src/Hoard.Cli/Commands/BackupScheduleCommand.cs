using System.CommandLine;
using System.Text.Json.Nodes;
using Hoard.Cli.Client;
using Spectre.Console;

namespace Hoard.Cli.Commands;

/// <summary>`hoard backup schedule create|list|show|delete`: backups taken on a schedule, keeping the newest few.</summary>
public static class BackupScheduleCommand
{
    public static Command Create()
    {
        var schedule = new Command("schedule", "Back an instance up on a cron pattern or an interval, keeping its newest backups.");
        schedule.Subcommands.Add(CreateCommand());
        schedule.Subcommands.Add(ListCommand());
        schedule.Subcommands.Add(ShowCommand());
        schedule.Subcommands.Add(DeleteCommand());
        return schedule;
    }

    private static Command CreateCommand()
    {
        var name = new Argument<string>("name") { Description = "Name of the schedule; its backups are named after it." };
        var instance = new Option<string>("--instance") { Description = "The instance to back up (id or name).", Required = true };
        var pattern = new Option<string?>("--pattern") { Description = "A five-field cron pattern in UTC, e.g. \"0 3 * * *\"." };
        var interval = new Option<int?>("--interval") { Description = "Minutes between backups (the first is taken right away)." };
        var retention = new Option<int>("--retention") { Description = "How many of its completed backups the schedule keeps.", Required = true };
        var description = new Option<string?>("--description") { Description = "What the schedule is for." };
        var disabled = new Option<bool>("--disabled") { Description = "Create it switched off." };
        var command = new Command("create", "Create a backup schedule; give --pattern or --interval.") { name, instance, pattern, interval, retention, description, disabled };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var target = await client.FindInstanceAsync(parse.GetValue(instance)!, ct);
            var body = new JsonObject
            {
                ["instance"] = target["id"]!.GetValue<string>(),
                ["name"] = parse.GetValue(name),
                ["retention"] = parse.GetValue(retention),
                ["enabled"] = !parse.GetValue(disabled),
            };
            if (parse.GetValue(pattern) is { } p)
            {
                body["pattern"] = p;
            }

            if (parse.GetValue(interval) is { } minutes)
            {
                body["interval_minutes"] = minutes;
            }

            if (parse.GetValue(description) is { } d)
            {
                body["description"] = d;
            }

            PoolCommand.Print((await client.SendAsync(HttpMethod.Post, "/backup_schedules", new JsonObject { ["backup_schedule"] = body }, ct))!["backup_schedule"]!.AsObject());
            return 0;
        }));
        return command;
    }

    private static Command ListCommand()
    {
        var instance = new Option<string?>("--instance") { Description = "Only the schedules of this instance (id or name)." };
        var command = new Command("list", "List backup schedules, oldest first.") { instance };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var path = "/backup_schedules";
            if (parse.GetValue(instance) is { } i)
            {
                path += $"?instance_id={(await client.FindInstanceAsync(i, ct))["id"]!.GetValue<string>()}";
            }

            var table = new Table().AddColumns("ID", "Name", "Instance", "Pattern / interval", "Retention", "Enabled", "Next run", "Last error");
            foreach (var s in (await client.GetAsync(path, ct))!["backup_schedules"]!.AsArray().OfType<JsonObject>())
            {
                table.AddRow(
                    Markup.Escape(Cli.Str(s["id"])),
                    Markup.Escape(Cli.Str(s["name"])),
                    Markup.Escape(Cli.Str(s["instance_id"])),
                    Markup.Escape(s["pattern"] is { } p ? Cli.Str(p) : $"every {Cli.Str(s["interval_minutes"])} min"),
                    Markup.Escape(Cli.Str(s["retention"])),
                    Markup.Escape(Cli.Str(s["enabled"])),
                    Markup.Escape(Cli.Str(s["next_run_at"])),
                    Markup.Escape(Cli.Str(s["last_error"])));
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static Command ShowCommand()
    {
        var id = new Argument<string>("schedule") { Description = "Schedule id or name." };
        var command = new Command("show", "Show a backup schedule: its timing, retention and last run.") { id };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            PoolCommand.Print(await FindAsync(client, parse.GetValue(id)!, ct));
            return 0;
        }));
        return command;
    }

    private static Command DeleteCommand()
    {
        var id = new Argument<string>("schedule") { Description = "Schedule id or name." };
        var command = new Command("delete", "Delete a backup schedule; the backups it made stay.") { id };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var schedule = await FindAsync(client, parse.GetValue(id)!, ct);
            await client.SendAsync(HttpMethod.Delete, $"/backup_schedules/{schedule["id"]!.GetValue<string>()}", null, ct);
            return 0;
        }));
        return command;
    }

    /// <summary>A schedule by id, or by name among the project's schedules.</summary>
    private static async Task<JsonObject> FindAsync(HoardClient client, string idOrName, CancellationToken ct)
    {
        if (Guid.TryParse(idOrName, out _))
        {
            return (await client.GetAsync($"/backup_schedules/{idOrName}", ct))!["backup_schedule"]!.AsObject();
        }

        var named = (await client.GetAsync("/backup_schedules", ct))!["backup_schedules"]!.AsArray().OfType<JsonObject>()
            .Where(s => s["name"]?.GetValue<string>() == idOrName).ToList();
        return named.Count switch
        {
            1 => named[0],
            0 => throw new HoardApiException(System.Net.HttpStatusCode.NotFound, $"no backup schedule with id or name '{idOrName}'"),
            _ => throw new HoardApiException(System.Net.HttpStatusCode.Conflict, $"{named.Count} backup schedules are named '{idOrName}'; use the id"),
        };
    }
}
