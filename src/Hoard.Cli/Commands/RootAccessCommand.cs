using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Hoard.Cli.Commands;

/// <summary>`hoard root enable|show|disable INSTANCE`.</summary>
public static class RootAccessCommand
{
    public static Command Create()
    {
        var root = new Command("root", "Manage the root (superuser) account of an instance.");
        var password = new Option<string?>("--password") { Description = "The root password to set (default: a generated one)." };
        root.Subcommands.Add(InstanceVerb.Create("enable", "Enable root and print its password (or set --password).", [password], async (parse, client, id, ct) =>
        {
            var body = parse.GetValue(password) is { } given ? new JsonObject { ["password"] = given } : new JsonObject();
            var user = (await client.SendAsync(HttpMethod.Post, $"/instances/{id}/root", body, ct))!["user"]!;
            var table = new Table().AddColumns("Field", "Value");
            table.AddRow("name", Markup.Escape(Cli.Str(user["name"])));
            table.AddRow("password", Markup.Escape(Cli.Str(user["password"])));
            AnsiConsole.Write(table);
        }));
        root.Subcommands.Add(InstanceVerb.Create("show", "Show whether root has ever been enabled.", [], async (_, client, id, ct) =>
            Console.WriteLine($"rootEnabled: {Cli.Str((await client.GetAsync($"/instances/{id}/root", ct))!["rootEnabled"])}")));
        root.Subcommands.Add(InstanceVerb.Create("disable", "Disable root.", [], async (_, client, id, ct) =>
        {
            await client.SendAsync(HttpMethod.Delete, $"/instances/{id}/root", null, ct);
            Console.WriteLine("Root disabled.");
        }));
        return root;
    }
}
