using System.CommandLine;
using System.Text.Json.Nodes;
using Hoard.Cli.Client;
using Spectre.Console;

namespace Hoard.Cli.Commands;

/// <summary>
/// `hoard backup create|list|show|delete`: backups of instances, restored with `hoard instance create --backup`; `hoard
/// backup schedule ...` takes them on a schedule (<see cref="BackupScheduleCommand"/>).
/// </summary>
public static class BackupCommand
{
    public static Command Create()
    {
        var backup = new Command("backup", "Create, list, show and delete backups (and schedules of them); restore one with instance create --backup.");
        backup.Subcommands.Add(CreateCommand());
        backup.Subcommands.Add(ListCommand());
        backup.Subcommands.Add(ShowCommand());
        backup.Subcommands.Add(DeleteCommand());
        backup.Subcommands.Add(BackupScheduleCommand.Create());
        return backup;
    }

    private static Command CreateCommand()
    {
        var name = new Argument<string>("name") { Description = "Name of the new backup." };
        var instance = new Option<string>("--instance") { Description = "The instance to back up (id or name).", Required = true };
        var description = new Option<string?>("--description") { Description = "What the backup is for." };
        var parent = new Option<string?>("--parent") { Description = "Take an incremental backup on this backup (its id), a completed backup of the same instance." };
        var incremental = new Option<bool>("--incremental") { Description = "Take an incremental backup on the instance's latest completed backup (a full one when it has none)." };
        var wait = new Option<bool>("--wait") { Description = "Wait until the backup is COMPLETED (or FAILED), showing progress." };
        var command = new Command("create", "Back up an instance.") { name, instance, description, parent, incremental, wait };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var target = await client.FindInstanceAsync(parse.GetValue(instance)!, ct);
            var body = new JsonObject { ["name"] = parse.GetValue(name), ["instance"] = target["id"]!.GetValue<string>() };
            if (parse.GetValue(description) is { } d)
            {
                body["description"] = d;
            }

            if (parse.GetValue(parent) is { } p)
            {
                body["parent_id"] = p;
            }

            if (parse.GetValue(incremental))
            {
                body["incremental"] = 1;
            }

            var created = (await client.SendAsync(HttpMethod.Post, "/backups", new JsonObject { ["backup"] = body }, ct))!["backup"]!.AsObject();
            if (!parse.GetValue(wait))
            {
                PoolCommand.Print(created);
                return 0;
            }

            var final = await WaitAsync(client, created["id"]!.GetValue<string>(), "backup", s => s is "COMPLETED" or "FAILED", ct);
            PoolCommand.Print(final);
            return final["status"]?.GetValue<string>() == "COMPLETED" ? 0 : 1;
        }));
        return command;
    }

    private static Command ListCommand()
    {
        var instance = new Option<string?>("--instance") { Description = "Only the backups of this instance (id or name)." };
        var command = new Command("list", "List backups, newest first.") { instance };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var path = "/backups";
            if (parse.GetValue(instance) is { } i)
            {
                path = $"/instances/{(await client.FindInstanceAsync(i, ct))["id"]!.GetValue<string>()}/backups";
            }

            var table = new Table().AddColumns("ID", "Name", "Instance", "Status", "Size (GB)", "Created");
            foreach (var b in await client.ListAllAsync(path, "backups", ct))
            {
                table.AddRow(
                    Markup.Escape(Cli.Str(b["id"])),
                    Markup.Escape(Cli.Str(b["name"])),
                    Markup.Escape(Cli.Str(b["instance_id"])),
                    Markup.Escape(Cli.Str(b["status"])),
                    Markup.Escape(Cli.Str(b["size"])),
                    Markup.Escape(Cli.Str(b["created"])));
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static Command ShowCommand()
    {
        var id = new Argument<string>("backup") { Description = "Backup id or name." };
        var command = new Command("show", "Show a backup.") { id };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            PoolCommand.Print(await FindAsync(client, parse.GetValue(id)!, ct));
            return 0;
        }));
        return command;
    }

    private static Command DeleteCommand()
    {
        var id = new Argument<string>("backup") { Description = "Backup id or name." };
        var wait = new Option<bool>("--wait") { Description = "Wait until it is gone." };
        var command = new Command("delete", "Delete a backup (refused while an incremental backup builds on it).") { id, wait };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var backup = await FindAsync(client, parse.GetValue(id)!, ct);
            var backupId = backup["id"]!.GetValue<string>();
            await client.SendAsync(HttpMethod.Delete, $"/backups/{backupId}", null, ct);
            if (parse.GetValue(wait))
            {
                await WaitAsync(client, backupId, "delete", s => s is "DELETED" or "DELETE_FAILED", ct);
            }

            return 0;
        }));
        return command;
    }

    /// <summary>A backup by id, or by name among the project's backups.</summary>
    internal static async Task<JsonObject> FindAsync(HoardClient client, string idOrName, CancellationToken ct)
    {
        if (Guid.TryParse(idOrName, out _))
        {
            return (await client.GetAsync($"/backups/{idOrName}", ct))!["backup"]!.AsObject();
        }

        var named = (await client.ListAllAsync("/backups", "backups", ct)).Where(b => b["name"]?.GetValue<string>() == idOrName).ToList();
        return named.Count switch
        {
            1 => named[0],
            0 => throw new HoardApiException(System.Net.HttpStatusCode.NotFound, $"no backup with id or name '{idOrName}'"),
            _ => throw new HoardApiException(System.Net.HttpStatusCode.Conflict, $"{named.Count} backups are named '{idOrName}'; use the id"),
        };
    }

    private static Task<JsonObject> WaitAsync(HoardClient client, string id, string what, Func<string, bool> done, CancellationToken ct) =>
        Cli.PollAsync(client, $"/backups/{id}", "backup", id, what, done, ct);
}
