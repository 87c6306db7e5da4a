using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Hoard.Cli.Commands;

/// <summary>`hoard database create|list|delete INSTANCE ...`: the databases (schemas) of an instance.</summary>
public static class DatabaseCommand
{
    public static Command Create()
    {
        var database = new Command("database", "Create, list and delete the databases of an instance.");

        var name = new Argument<string>("name") { Description = "Database name." };
        var characterSet = new Option<string?>("--character-set") { Description = "Character set, e.g. utf8mb4 (MariaDB) or UTF8 (PostgreSQL)." };
        var collate = new Option<string?>("--collate") { Description = "Collation, e.g. utf8mb4_general_ci." };
        var create = InstanceVerb.Create("create", "Create a database.", [name, characterSet, collate], async (parse, client, id, ct) =>
        {
            var item = new JsonObject { ["name"] = parse.GetValue(name) };
            if (parse.GetValue(characterSet) is { } cs)
            {
                item["character_set"] = cs;
            }

            if (parse.GetValue(collate) is { } co)
            {
                item["collate"] = co;
            }

            await client.SendAsync(HttpMethod.Post, $"/instances/{id}/databases", new JsonObject { ["databases"] = new JsonArray(item) }, ct);
            Console.WriteLine($"Created database {parse.GetValue(name)}.");
        });
        database.Subcommands.Add(create);

        database.Subcommands.Add(InstanceVerb.Create("list", "List the databases.", [], async (_, client, id, ct) =>
        {
            var table = new Table().AddColumn("Name");
            foreach (var db in await client.ListAllAsync($"/instances/{id}/databases", "databases", ct))
            {
                table.AddRow(Markup.Escape(Cli.Str(db["name"])));
            }

            AnsiConsole.Write(table);
        }));

        var dropped = new Argument<string>("name") { Description = "Database name." };
        database.Subcommands.Add(InstanceVerb.Create("delete", "Delete a database and everything in it.", [dropped], async (parse, client, id, ct) =>
        {
            await client.SendAsync(HttpMethod.Delete, $"/instances/{id}/databases/{Uri.EscapeDataString(parse.GetValue(dropped)!)}", null, ct);
            Console.WriteLine($"Deleted database {parse.GetValue(dropped)}.");
        }));
        return database;
    }
}
