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
        root.Subcommands.Add(Verb("enable", "Enable root and print its password.", async (client, id, ct) =>
        {
            var user = (await client.SendAsync(HttpMethod.Post, $"/instances/{id}/root", new JsonObject(), ct))!["user"]!;
            var table = new Table().AddColumns("Field", "Value");
            table.AddRow("name", Markup.Escape(Cli.Str(user["name"])));
            table.AddRow("password", Markup.Escape(Cli.Str(user["password"])));
            AnsiConsole.Write(table);
        }));
        root.Subcommands.Add(Verb("show", "Show whether root has ever been enabled.", async (client, id, ct) =>
            Console.WriteLine($"rootEnabled: {Cli.Str((await client.GetAsync($"/instances/{id}/root", ct))!["rootEnabled"])}")));
        root.Subcommands.Add(Verb("disable", "Disable root.", async (client, id, ct) =>
        {
            await client.SendAsync(HttpMethod.Delete, $"/instances/{id}/root", null, ct);
            Console.WriteLine("Root disabled.");
        }));
        return root;
    }

    private static Command Verb(string name, string description, Func<Client.HoardClient, string, CancellationToken, Task> action)
    {
        var instance = new Argument<string>("instance") { Description = "Instance id or name." };
        var command = new Command(name, description) { instance };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var found = await client.FindInstanceAsync(parse.GetValue(instance)!, ct);
            await action(client, Cli.Str(found["id"]), ct);
            return 0;
        }));
        return command;
    }
}
