using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Hoard.Cli.Commands;

/// <summary>`hoard log list|show|enable|disable|publish|discard|tail INSTANCE [NAME]`: an instance's database logs.</summary>
public static class LogCommand
{
    public static Command Create()
    {
        var command = new Command("log", "Show, switch, publish and read an instance's database logs (server, slow_query).");
        command.Subcommands.Add(InstanceVerb.Create("list", "List the instance's logs.", [], async (_, client, id, ct) =>
        {
            var table = new Table().AddColumns("Name", "Type", "Status", "Published", "Pending", "Container", "Prefix");
            foreach (var log in (await client.GetAsync($"/instances/{id}/log", ct))!["logs"]!.AsArray().OfType<JsonObject>())
            {
                table.AddRow([.. new[] { "name", "type", "status", "published", "pending", "container", "prefix" }.Select(k => Markup.Escape(Cli.Str(log[k])))]);
            }

            AnsiConsole.Write(table);
        }));

        foreach (var (verb, flag, description) in new[]
        {
            ("show", null, "Show one log."),
            ("enable", "enable", "Turn a USER log (slow_query) on."),
            ("disable", "disable", "Turn a USER log off."),
            ("publish", "publish", "Publish what the log gained since the last publish."),
            ("discard", "discard", "Delete the log's published parts."),
        })
        {
            var name = new Argument<string>("name") { Description = "The log's name (see hoard log list)." };
            command.Subcommands.Add(InstanceVerb.Create(verb, description, [name], async (parse, client, id, ct) =>
            {
                var body = new JsonObject { ["name"] = parse.GetValue(name) };
                if (flag is not null)
                {
                    body[flag] = 1;
                }

                var log = (await client.SendAsync(HttpMethod.Post, $"/instances/{id}/log", body, ct))!["log"]!.AsObject();
                var table = new Table().AddColumns("Field", "Value");
                foreach (var (key, value) in log)
                {
                    table.AddRow(Markup.Escape(key), Markup.Escape(Cli.Str(value)));
                }

                AnsiConsole.Write(table);
            }));
        }

        var tailName = new Argument<string>("name") { Description = "The log's name." };
        var lines = new Option<int>("--lines") { Description = "How many of the last published lines to print.", DefaultValueFactory = _ => 50 };
        command.Subcommands.Add(InstanceVerb.Create("tail", "Print the last published lines of a log (publish first).", [tailName, lines], async (parse, client, id, ct) =>
        {
            var wanted = parse.GetValue(lines);
            if (wanted < 1)
            {
                throw new ArgumentException("--lines must be at least 1");
            }

            var log = (await client.SendAsync(HttpMethod.Post, $"/instances/{id}/log", new JsonObject { ["name"] = parse.GetValue(tailName) }, ct))!["log"]!;
            var container = Cli.Str(log["container"]);
            if (container == "None")
            {
                throw new InvalidOperationException($"log '{parse.GetValue(tailName)}' of {id} has nothing published; run hoard log publish first");
            }

            var listing = JsonNode.Parse(await client.GetObjectStoreAsync($"/{Uri.EscapeDataString(container)}?format=json&prefix={Uri.EscapeDataString(Cli.Str(log["prefix"]))}", ct))!.AsArray();

            // From the newest part back until enough lines are in hand; parts are named in time order.
            var collected = new List<string>();
            foreach (var part in listing.Select(p => Cli.Str(p!["name"])).OrderDescending(StringComparer.Ordinal))
            {
                var text = Encoding.UTF8.GetString(await client.GetObjectStoreAsync($"/{Uri.EscapeDataString(container)}/{string.Join('/', part.Split('/').Select(Uri.EscapeDataString))}", ct));
                collected.InsertRange(0, text.TrimEnd('\n').Split('\n'));
                if (collected.Count >= wanted)
                {
                    break;
                }
            }

            foreach (var line in collected.Skip(Math.Max(0, collected.Count - wanted)))
            {
                Console.WriteLine(line);
            }
        }));
        return command;
    }
}
