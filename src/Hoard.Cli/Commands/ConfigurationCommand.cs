using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hoard.Cli.Client;
using Spectre.Console;

namespace Hoard.Cli.Commands;

/// <summary>
/// `hoard configuration ...`: configuration groups — named parameter values for one datastore version, attached to its
/// instances; the parameters each version accepts; an instance's effective configuration.
/// </summary>
public static class ConfigurationCommand
{
    public static Command Create()
    {
        var configuration = new Command("configuration", "Configuration groups: create, change, attach to instances; the parameters a datastore version accepts.");
        configuration.Subcommands.Add(CreateCommand());
        configuration.Subcommands.Add(ListCommand());
        configuration.Subcommands.Add(ShowCommand());
        configuration.Subcommands.Add(SetCommand("set", "Add or change values of a group (the others stay); every attached instance gets them.", merge: true));
        configuration.Subcommands.Add(SetCommand("replace", "Replace all values of a group; every attached instance gets them.", merge: false));
        configuration.Subcommands.Add(DeleteCommand());
        configuration.Subcommands.Add(AttachCommand());
        configuration.Subcommands.Add(DetachCommand());
        configuration.Subcommands.Add(InstancesCommand());
        configuration.Subcommands.Add(DefaultCommand());
        configuration.Subcommands.Add(ParametersCommand());
        return configuration;
    }

    private static Argument<string[]> ValuesArgument() => new("values")
    {
        Description = "The values: one JSON object ('{\"maxmemory-policy\": \"allkeys-lru\"}') or name=value pairs (numbers and true/false are typed).",
        Arity = ArgumentArity.OneOrMore,
    };

    private static Command CreateCommand()
    {
        var name = new Argument<string>("name") { Description = "Name of the new group." };
        var values = ValuesArgument();
        var datastore = new Option<string>("--datastore") { Description = "The datastore (redis, postgresql, mariadb).", Required = true };
        var version = new Option<string?>("--datastore-version") { Description = "The datastore version (default: the datastore's default)." };
        var description = new Option<string?>("--description") { Description = "What the group is for." };
        var command = new Command("create", "Create a configuration group.") { name, values, datastore, version, description };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var body = new JsonObject
            {
                ["name"] = parse.GetValue(name),
                ["values"] = ParseValues(parse.GetValue(values)!),
                ["datastore"] = new JsonObject { ["type"] = parse.GetValue(datastore) },
            };
            if (parse.GetValue(version) is { } v)
            {
                body["datastore"]!["version"] = v;
            }

            if (parse.GetValue(description) is { } d)
            {
                body["description"] = d;
            }

            Print((await client.SendAsync(HttpMethod.Post, "/configurations", new JsonObject { ["configuration"] = body }, ct))!["configuration"]!.AsObject());
            return 0;
        }));
        return command;
    }

    private static Command ListCommand()
    {
        var command = new Command("list", "List configuration groups.");
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var table = new Table().AddColumns("ID", "Name", "Description", "Datastore", "Version");
            foreach (var c in await client.ListAllAsync("/configurations", "configurations", ct))
            {
                table.AddRow(
                    Markup.Escape(Cli.Str(c["id"])),
                    Markup.Escape(Cli.Str(c["name"])),
                    Markup.Escape(Cli.Str(c["description"])),
                    Markup.Escape(Cli.Str(c["datastore_name"])),
                    Markup.Escape(Cli.Str(c["datastore_version_name"])));
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static Command ShowCommand()
    {
        var id = new Argument<string>("configuration") { Description = "Group id or name." };
        var command = new Command("show", "Show a configuration group and its values.") { id };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            Print(await FindAsync(client, parse.GetValue(id)!, ct));
            return 0;
        }));
        return command;
    }

    private static Command SetCommand(string verb, string help, bool merge)
    {
        var id = new Argument<string>("configuration") { Description = "Group id or name." };
        var values = ValuesArgument();
        var command = new Command(verb, help) { id, values };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var groupId = (await FindAsync(client, parse.GetValue(id)!, ct))["id"]!.GetValue<string>();
            var body = new JsonObject { ["configuration"] = new JsonObject { ["values"] = ParseValues(parse.GetValue(values)!) } };
            await client.SendAsync(merge ? HttpMethod.Patch : HttpMethod.Put, $"/configurations/{groupId}", body, ct);
            Print(await FindAsync(client, groupId, ct));
            return 0;
        }));
        return command;
    }

    private static Command DeleteCommand()
    {
        var id = new Argument<string>("configuration") { Description = "Group id or name." };
        var command = new Command("delete", "Delete a configuration group (refused while an instance has it attached).") { id };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var groupId = (await FindAsync(client, parse.GetValue(id)!, ct))["id"]!.GetValue<string>();
            await client.SendAsync(HttpMethod.Delete, $"/configurations/{groupId}", null, ct);
            return 0;
        }));
        return command;
    }

    private static Command AttachCommand()
    {
        var instance = new Argument<string>("instance") { Description = "Instance id or name." };
        var id = new Argument<string>("configuration") { Description = "Group id or name." };
        var command = new Command("attach", "Attach a group to an instance: dynamic values apply at once, the others after a restart (status RESTART_REQUIRED).") { instance, id };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var target = (await client.FindInstanceAsync(parse.GetValue(instance)!, ct))["id"]!.GetValue<string>();
            var groupId = (await FindAsync(client, parse.GetValue(id)!, ct))["id"]!.GetValue<string>();
            await client.SendAsync(HttpMethod.Put, $"/instances/{target}", new JsonObject { ["instance"] = new JsonObject { ["configuration"] = groupId } }, ct);
            return 0;
        }));
        return command;
    }

    private static Command DetachCommand()
    {
        var instance = new Argument<string>("instance") { Description = "Instance id or name." };
        var command = new Command("detach", "Detach an instance's group: its values go back to the defaults.") { instance };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var target = (await client.FindInstanceAsync(parse.GetValue(instance)!, ct))["id"]!.GetValue<string>();
            await client.SendAsync(HttpMethod.Put, $"/instances/{target}", new JsonObject { ["instance"] = new JsonObject { ["configuration"] = null } }, ct);
            return 0;
        }));
        return command;
    }

    private static Command InstancesCommand()
    {
        var id = new Argument<string>("configuration") { Description = "Group id or name." };
        var command = new Command("instances", "List the instances a group is attached to.") { id };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var groupId = (await FindAsync(client, parse.GetValue(id)!, ct))["id"]!.GetValue<string>();
            var table = new Table().AddColumns("ID", "Name");
            foreach (var i in (await client.GetAsync($"/configurations/{groupId}/instances", ct))!["instances"]!.AsArray())
            {
                table.AddRow(Markup.Escape(Cli.Str(i?["id"])), Markup.Escape(Cli.Str(i?["name"])));
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static Command DefaultCommand()
    {
        var instance = new Argument<string>("instance") { Description = "Instance id or name." };
        var command = new Command("default", "Show the running server's value of every parameter a group can set.") { instance };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var target = (await client.FindInstanceAsync(parse.GetValue(instance)!, ct))["id"]!.GetValue<string>();
            PoolCommand.Print((await client.GetAsync($"/instances/{target}/configuration", ct))!["instance"]!["configuration"]!.AsObject());
            return 0;
        }));
        return command;
    }

    private static Command ParametersCommand()
    {
        var datastore = new Option<string>("--datastore") { Description = "The datastore.", Required = true };
        var version = new Option<string?>("--datastore-version") { Description = "The datastore version (default: the datastore's default)." };
        var name = new Argument<string?>("name") { Description = "One parameter to show.", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("parameters", "List the parameters a datastore version accepts, with their rules (learnt from the engine).") { name, datastore, version };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var ds = parse.GetValue(datastore)!;
            var v = parse.GetValue(version) ?? await client.DefaultDatastoreVersionAsync(ds, ct);
            var path = $"/datastores/{Uri.EscapeDataString(ds)}/versions/{Uri.EscapeDataString(v)}/parameters";
            if (parse.GetValue(name) is { } one)
            {
                PoolCommand.Print((await client.GetAsync($"{path}/{Uri.EscapeDataString(one)}", ct))!);
                return 0;
            }

            var table = new Table().AddColumns("Name", "Type", "Min", "Max", "Restart required", "Allowed values");
            foreach (var p in (await client.GetAsync(path, ct))!["configuration-parameters"]!.AsArray())
            {
                table.AddRow(
                    Markup.Escape(Cli.Str(p?["name"])),
                    Markup.Escape(Cli.Str(p?["type"])),
                    Markup.Escape(Cli.Str(p?["min"])),
                    Markup.Escape(Cli.Str(p?["max"])),
                    Markup.Escape(Cli.Str(p?["restart_required"])),
                    Markup.Escape(p?["allowed_values"] is JsonArray allowed ? string.Join(", ", allowed.Select(Cli.Str)) : string.Empty));
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    /// <summary>One JSON object, or name=value pairs with numbers and booleans typed as the API expects them.</summary>
    internal static JsonObject ParseValues(IReadOnlyList<string> args)
    {
        if (args.Count == 1 && args[0].TrimStart().StartsWith('{'))
        {
            try
            {
                return JsonNode.Parse(args[0]) as JsonObject ?? throw new ArgumentException("the values are not a JSON object");
            }
            catch (JsonException e)
            {
                throw new ArgumentException($"the values are not valid JSON: {e.Message}");
            }
        }

        var values = new JsonObject();
        foreach (var pair in args)
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new ArgumentException($"'{pair}' is not name=value");
            }

            var text = pair[(equals + 1)..];
            values[pair[..equals]] = text switch
            {
                "true" => true,
                "false" => false,
                _ when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer) => integer,
                _ when decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number) => number,
                _ => text,
            };
        }

        return values;
    }

    /// <summary>A group by id, or by name among the project's groups.</summary>
    internal static async Task<JsonObject> FindAsync(HoardClient client, string idOrName, CancellationToken ct)
    {
        if (Guid.TryParse(idOrName, out _))
        {
            return (await client.GetAsync($"/configurations/{idOrName}", ct))!["configuration"]!.AsObject();
        }

        var named = (await client.ListAllAsync("/configurations", "configurations", ct)).Where(c => c["name"]?.GetValue<string>() == idOrName).ToList();
        return named.Count switch
        {
            1 => (await client.GetAsync($"/configurations/{named[0]["id"]!.GetValue<string>()}", ct))!["configuration"]!.AsObject(),
            0 => throw new HoardApiException(System.Net.HttpStatusCode.NotFound, $"no configuration group with id or name '{idOrName}'"),
            _ => throw new HoardApiException(System.Net.HttpStatusCode.Conflict, $"{named.Count} configuration groups are named '{idOrName}'; use the id"),
        };
    }

    private static void Print(JsonObject group)
    {
        var shown = group.DeepClone().AsObject();
        if (shown["values"] is JsonObject values)
        {
            shown["values"] = values.ToJsonString();
        }

        PoolCommand.Print(shown);
    }
}
