using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Hoard.Cli.Client;
using Spectre.Console;

namespace Hoard.Cli.Commands;

/// <summary>`hoard pool create|list|show|update|delete` (admin): the places instances run, and the flavors they host.</summary>
public static class PoolCommand
{
    public static Command Create()
    {
        var pool = new Command("pool", "Manage pools, the places instances run (admin).");
        pool.Subcommands.Add(CreateCommand());
        pool.Subcommands.Add(ListCommand());
        pool.Subcommands.Add(ShowCommand());
        pool.Subcommands.Add(UpdateCommand());
        pool.Subcommands.Add(DeleteCommand());
        return pool;
    }

    private static Command CreateCommand()
    {
        var name = new Argument<string>("name") { Description = "Name of the new pool." };
        var uri = new Option<string>("--uri") { Description = "Where its instances run: local:///absolute/dir.", Required = true };
        var weight = new Option<int>("--weight") { Description = "Share of creates among the flavor's pools (default 100).", DefaultValueFactory = _ => 100 };
        var flavor = new Option<string?>("--flavor") { Description = "Flavor id whose instances it hosts (default: none, it hosts flavors without pools)." };
        var options = OptionsOption();
        var command = new Command("create", "Create a pool.") { name, uri, weight, flavor, options };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var body = new JsonObject
            {
                ["name"] = parse.GetValue(name),
                ["uri"] = parse.GetValue(uri),
                ["weight"] = parse.GetValue(weight),
                ["options"] = ParseOptions(parse.GetValue(options)),
            };
            if (parse.GetValue(flavor) is { } f)
            {
                body["flavor"] = f;
            }

            Print((await client.SendAsync(HttpMethod.Post, "/mgmt/pools", new JsonObject { ["pool"] = body }, ct))!["pool"]!.AsObject());
            return 0;
        }));
        return command;
    }

    private static Command ListCommand()
    {
        var flavor = new Option<string?>("--flavor") { Description = "Only the pools of this flavor id." };
        var command = new Command("list", "List pools.") { flavor };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var path = parse.GetValue(flavor) is { } f ? $"/mgmt/pools?flavor={Uri.EscapeDataString(f)}" : "/mgmt/pools";
            var table = new Table().AddColumns("Name", "URI", "Weight", "Flavor", "Instances", "Options");
            foreach (var p in await client.ListAllAsync(path, "pools", ct))
            {
                table.AddRow(
                    Markup.Escape(Cli.Str(p["name"])),
                    Markup.Escape(Cli.Str(p["uri"])),
                    Markup.Escape(Cli.Str(p["weight"])),
                    Markup.Escape(Cli.Str(p["flavor"])),
                    Markup.Escape(Cli.Str(p["instances"])),
                    Markup.Escape(Cli.Str(p["options"])));
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static Command ShowCommand()
    {
        var name = new Argument<string>("name") { Description = "Pool name." };
        var command = new Command("show", "Show a pool.") { name };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            Print((await client.GetAsync($"/mgmt/pools/{Uri.EscapeDataString(parse.GetValue(name)!)}", ct))!["pool"]!.AsObject());
            return 0;
        }));
        return command;
    }

    private static Command UpdateCommand()
    {
        var name = new Argument<string>("name") { Description = "Pool name." };
        var uri = new Option<string?>("--uri") { Description = "New URI (only while it hosts no instance)." };
        var weight = new Option<int?>("--weight") { Description = "New weight." };
        var flavor = new Option<string?>("--flavor") { Description = "New flavor id; an empty string takes the pool off its flavor." };
        var options = OptionsOption();
        var command = new Command("update", "Change a pool.") { name, uri, weight, flavor, options };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var body = new JsonObject();
            if (parse.GetValue(uri) is { } u)
            {
                body["uri"] = u;
            }

            if (parse.GetValue(weight) is { } w)
            {
                body["weight"] = w;
            }

            if (parse.GetValue(flavor) is { } f)
            {
                body["flavor"] = f;
            }

            if (parse.GetValue(options) is { Length: > 0 } o)
            {
                body["options"] = ParseOptions(o);
            }

            var path = $"/mgmt/pools/{Uri.EscapeDataString(parse.GetValue(name)!)}";
            Print((await client.SendAsync(HttpMethod.Patch, path, new JsonObject { ["pool"] = body }, ct))!["pool"]!.AsObject());
            return 0;
        }));
        return command;
    }

    private static Command DeleteCommand()
    {
        var name = new Argument<string>("name") { Description = "Pool name." };
        var command = new Command("delete", "Delete a pool that hosts no instance.") { name };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            await client.SendAsync(HttpMethod.Delete, $"/mgmt/pools/{Uri.EscapeDataString(parse.GetValue(name)!)}", null, ct);
            return 0;
        }));
        return command;
    }

    /// <summary>Repeated --option key=value; numbers and true/false are sent as JSON numbers and booleans.</summary>
    internal static Option<string[]> OptionsOption() => new("--option")
    {
        Description = "An option as key=value, e.g. capacity=20 or address_range=127.43.0.0/16; repeatable.",
        AllowMultipleArgumentsPerToken = false,
    };

    internal static JsonObject ParseOptions(string[]? pairs)
    {
        var options = new JsonObject();
        foreach (var pair in pairs ?? [])
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new InvalidOperationException($"--option '{pair}' is not key=value");
            }

            var value = pair[(eq + 1)..];
            options[pair[..eq]] = long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? JsonValue.Create(n)
                : value is "true" or "false" ? JsonValue.Create(value == "true")
                : JsonValue.Create(value);
        }

        return options;
    }

    internal static void Print(JsonObject item)
    {
        var table = new Table().AddColumns("Field", "Value");
        foreach (var (key, value) in item)
        {
            table.AddRow(Markup.Escape(key), Markup.Escape(value is JsonArray a ? string.Join(", ", a.Select(Cli.Str)) : Cli.Str(value)));
        }

        AnsiConsole.Write(table);
    }
}
