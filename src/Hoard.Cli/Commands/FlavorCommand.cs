using System.CommandLine;
using System.Text.Json.Nodes;
using Hoard.Cli.Client;
using Spectre.Console;

namespace Hoard.Cli.Commands;

/// <summary>`hoard flavor create|list|show|update|delete` (admin): sizes of instance, public or private to a project.</summary>
public static class FlavorCommand
{
    public static Command Create()
    {
        var flavor = new Command("flavor", "Manage flavors, the sizes of instance (admin).");
        flavor.Subcommands.Add(CreateCommand());
        flavor.Subcommands.Add(ListCommand());
        flavor.Subcommands.Add(ShowCommand());
        flavor.Subcommands.Add(UpdateCommand());
        flavor.Subcommands.Add(DeleteCommand());
        return flavor;
    }

    private static Command CreateCommand()
    {
        var name = new Argument<string>("name") { Description = "Name of the new flavor." };
        var id = new Option<string?>("--id") { Description = "Its id (default: a new UUID)." };
        var ram = new Option<int>("--ram") { Description = "Memory in MB.", Required = true };
        var vcpus = new Option<int>("--vcpus") { Description = "Virtual CPUs.", Required = true };
        var disk = new Option<int>("--disk") { Description = "Disk in GB (default 0)." };
        var project = new Option<string?>("--project") { Description = "Make it private to this project (id or name)." };
        var capability = new Option<string[]>("--capability") { Description = "A capability as key=value; repeatable." };
        var command = new Command("create", "Create a flavor.") { name, id, ram, vcpus, disk, project, capability };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var body = new JsonObject
            {
                ["name"] = parse.GetValue(name),
                ["ram"] = parse.GetValue(ram),
                ["vcpus"] = parse.GetValue(vcpus),
                ["disk"] = parse.GetValue(disk),
                ["capabilities"] = PoolCommand.ParseOptions(parse.GetValue(capability)),
            };
            if (parse.GetValue(id) is { } i)
            {
                body["id"] = i;
            }

            if (parse.GetValue(project) is { } p)
            {
                body["project"] = p;
            }

            PoolCommand.Print((await client.SendAsync(HttpMethod.Post, "/mgmt/flavors", new JsonObject { ["flavor"] = body }, ct))!["flavor"]!.AsObject());
            return 0;
        }));
        return command;
    }

    private static Command ListCommand()
    {
        var command = new Command("list", "List every flavor, public and private, with its pools.");
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var table = new Table().AddColumns("ID", "Name", "RAM", "vCPUs", "Disk", "Project", "Pools");
            foreach (var f in (await client.GetAsync("/mgmt/flavors", ct))!["flavors"]!.AsArray().OfType<JsonObject>())
            {
                table.AddRow(
                    Markup.Escape(Cli.Str(f["id"])),
                    Markup.Escape(Cli.Str(f["name"])),
                    Markup.Escape(Cli.Str(f["ram"])),
                    Markup.Escape(Cli.Str(f["vcpus"])),
                    Markup.Escape(Cli.Str(f["disk"])),
                    Markup.Escape(Cli.Str(f["project"])),
                    Markup.Escape(string.Join(", ", f["pools"]?.AsArray().Select(Cli.Str) ?? [])));
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static Command ShowCommand()
    {
        var id = new Argument<string>("flavor") { Description = "Flavor id or name." };
        var command = new Command("show", "Show a flavor.") { id };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            PoolCommand.Print((await client.GetAsync($"/mgmt/flavors/{Uri.EscapeDataString(parse.GetValue(id)!)}", ct))!["flavor"]!.AsObject());
            return 0;
        }));
        return command;
    }

    private static Command UpdateCommand()
    {
        var id = new Argument<string>("flavor") { Description = "Flavor id or name." };
        var name = new Option<string?>("--name") { Description = "New name." };
        var ram = new Option<int?>("--ram") { Description = "New memory in MB (new instances only)." };
        var vcpus = new Option<int?>("--vcpus") { Description = "New virtual CPUs (new instances only)." };
        var disk = new Option<int?>("--disk") { Description = "New disk in GB." };
        var project = new Option<string?>("--project") { Description = "Make it private to this project; an empty string makes it public." };
        var command = new Command("update", "Change a flavor.") { id, name, ram, vcpus, disk, project };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var body = new JsonObject();
            if (parse.GetValue(name) is { } n)
            {
                body["name"] = n;
            }

            if (parse.GetValue(ram) is { } r)
            {
                body["ram"] = r;
            }

            if (parse.GetValue(vcpus) is { } v)
            {
                body["vcpus"] = v;
            }

            if (parse.GetValue(disk) is { } d)
            {
                body["disk"] = d;
            }

            if (parse.GetValue(project) is { } p)
            {
                body["project"] = p;
            }

            var path = $"/mgmt/flavors/{Uri.EscapeDataString(parse.GetValue(id)!)}";
            PoolCommand.Print((await client.SendAsync(HttpMethod.Patch, path, new JsonObject { ["flavor"] = body }, ct))!["flavor"]!.AsObject());
            return 0;
        }));
        return command;
    }

    private static Command DeleteCommand()
    {
        var id = new Argument<string>("flavor") { Description = "Flavor id or name." };
        var command = new Command("delete", "Delete a flavor; its pools then host flavors without pools.") { id };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            await client.SendAsync(HttpMethod.Delete, $"/mgmt/flavors/{Uri.EscapeDataString(parse.GetValue(id)!)}", null, ct);
            return 0;
        }));
        return command;
    }
}
