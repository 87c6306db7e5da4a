using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Hoard.Cli.Commands;

/// <summary>
/// `hoard user create|list|show|update|delete|grant|revoke|access INSTANCE ...`: the users of an instance and
/// their access to databases. A MariaDB user is NAME with --host (default '%'); PostgreSQL and Redis users have no host.
/// </summary>
public static class UserCommand
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    public static Command Create()
    {
        var user = new Command("user", "Manage the users of an instance and their access to databases.");

        var name = NameArgument();
        var password = new Option<string?>("--password") { Description = "The user's password (default: a generated one, printed once)." };
        var host = HostOption();
        var databases = new Option<string[]>("--database") { Description = "A database the user may use (repeatable).", AllowMultipleArgumentsPerToken = true };
        user.Subcommands.Add(InstanceVerb.Create("create", "Create a user.", [name, password, host, databases], async (parse, client, id, ct) =>
        {
            var generated = parse.GetValue(password) is null;
            var secret = parse.GetValue(password) ?? RandomNumberGenerator.GetString(Alphabet, 24);
            var item = new JsonObject
            {
                ["name"] = parse.GetValue(name),
                ["password"] = secret,
                ["databases"] = new JsonArray([.. (parse.GetValue(databases) ?? []).Select(d => (JsonNode)new JsonObject { ["name"] = d })]),
            };
            if (parse.GetValue(host) is { } h)
            {
                item["host"] = h;
            }

            await client.SendAsync(HttpMethod.Post, $"/instances/{id}/users", new JsonObject { ["users"] = new JsonArray(item) }, ct);
            Console.WriteLine($"Created user {parse.GetValue(name)}.");
            if (generated)
            {
                Console.WriteLine($"password: {secret}");
            }
        }));

        user.Subcommands.Add(InstanceVerb.Create("list", "List the users and the databases each may use.", [], async (_, client, id, ct) =>
        {
            var table = new Table().AddColumns("Name", "Host", "Databases");
            foreach (var u in await client.ListAllAsync($"/instances/{id}/users", "users", ct))
            {
                table.AddRow(Markup.Escape(Cli.Str(u["name"])), Markup.Escape(Cli.Str(u["host"])), Markup.Escape(Databases(u["databases"])));
            }

            AnsiConsole.Write(table);
        }));

        var shown = NameArgument();
        var shownHost = HostOption();
        user.Subcommands.Add(InstanceVerb.Create("show", "Show a user.", [shown, shownHost], async (parse, client, id, ct) =>
        {
            var u = (await client.GetAsync($"/instances/{id}/users/{UserId(parse.GetValue(shown)!, parse.GetValue(shownHost))}", ct))!["user"]!;
            var table = new Table().AddColumns("Field", "Value");
            table.AddRow("name", Markup.Escape(Cli.Str(u["name"])));
            table.AddRow("host", Markup.Escape(Cli.Str(u["host"])));
            table.AddRow("databases", Markup.Escape(Databases(u["databases"])));
            AnsiConsole.Write(table);
        }));

        var updated = NameArgument();
        var updatedHost = HostOption();
        var newName = new Option<string?>("--new-name") { Description = "Rename the user." };
        var newPassword = new Option<string?>("--new-password") { Description = "Set a new password." };
        var newHost = new Option<string?>("--new-host") { Description = "Move the user to another host (MariaDB)." };
        user.Subcommands.Add(InstanceVerb.Create("update", "Rename a user, change its host or password.", [updated, updatedHost, newName, newPassword, newHost], async (parse, client, id, ct) =>
        {
            var attributes = new JsonObject();
            if (parse.GetValue(newName) is { } n) attributes["name"] = n;
            if (parse.GetValue(newPassword) is { } p) attributes["password"] = p;
            if (parse.GetValue(newHost) is { } h) attributes["host"] = h;
            if (attributes.Count == 0)
            {
                throw new Client.HoardApiException(System.Net.HttpStatusCode.BadRequest, "nothing to update: give --new-name, --new-password or --new-host");
            }

            await client.SendAsync(HttpMethod.Put, $"/instances/{id}/users/{UserId(parse.GetValue(updated)!, parse.GetValue(updatedHost))}", new JsonObject { ["user"] = attributes }, ct);
            Console.WriteLine($"Updated user {parse.GetValue(updated)}.");
        }));

        var deleted = NameArgument();
        var deletedHost = HostOption();
        user.Subcommands.Add(InstanceVerb.Create("delete", "Delete a user.", [deleted, deletedHost], async (parse, client, id, ct) =>
        {
            await client.SendAsync(HttpMethod.Delete, $"/instances/{id}/users/{UserId(parse.GetValue(deleted)!, parse.GetValue(deletedHost))}", null, ct);
            Console.WriteLine($"Deleted user {parse.GetValue(deleted)}.");
        }));

        var granted = NameArgument();
        var grantedHost = HostOption();
        var grantDatabases = new Argument<string[]>("databases") { Description = "Databases to give access to.", Arity = ArgumentArity.OneOrMore };
        user.Subcommands.Add(InstanceVerb.Create("grant", "Give a user access to databases.", [granted, grantedHost, grantDatabases], async (parse, client, id, ct) =>
        {
            var body = new JsonObject { ["databases"] = new JsonArray([.. parse.GetValue(grantDatabases)!.Select(d => (JsonNode)new JsonObject { ["name"] = d })]) };
            await client.SendAsync(HttpMethod.Put, $"/instances/{id}/users/{UserId(parse.GetValue(granted)!, parse.GetValue(grantedHost))}/databases", body, ct);
            Console.WriteLine($"Granted {parse.GetValue(granted)} access to {string.Join(", ", parse.GetValue(grantDatabases)!)}.");
        }));

        var revoked = NameArgument();
        var revokedHost = HostOption();
        var revokeDatabase = new Argument<string>("database") { Description = "Database to take access to away." };
        user.Subcommands.Add(InstanceVerb.Create("revoke", "Take a user's access to a database away.", [revoked, revokedHost, revokeDatabase], async (parse, client, id, ct) =>
        {
            await client.SendAsync(HttpMethod.Delete, $"/instances/{id}/users/{UserId(parse.GetValue(revoked)!, parse.GetValue(revokedHost))}/databases/{Uri.EscapeDataString(parse.GetValue(revokeDatabase)!)}", null, ct);
            Console.WriteLine($"Revoked {parse.GetValue(revoked)}'s access to {parse.GetValue(revokeDatabase)}.");
        }));

        var accessed = NameArgument();
        var accessedHost = HostOption();
        user.Subcommands.Add(InstanceVerb.Create("access", "List the databases a user may use.", [accessed, accessedHost], async (parse, client, id, ct) =>
        {
            var result = await client.GetAsync($"/instances/{id}/users/{UserId(parse.GetValue(accessed)!, parse.GetValue(accessedHost))}/databases", ct);
            var table = new Table().AddColumn("Database");
            foreach (var db in result!["databases"]!.AsArray())
            {
                table.AddRow(Markup.Escape(Cli.Str(db!["name"])));
            }

            AnsiConsole.Write(table);
        }));
        return user;
    }

    private static Argument<string> NameArgument() => new("name") { Description = "User name." };

    private static Option<string?> HostOption() => new("--host") { Description = "The user's host (MariaDB; default '%')." };

    /// <summary>A user in a URL as Trove's client writes it: name@host, escaped.</summary>
    private static string UserId(string name, string? host) => Uri.EscapeDataString(host is null ? name : $"{name}@{host}");

    private static string Databases(JsonNode? databases) =>
        string.Join(", ", databases?.AsArray().Select(d => Cli.Str(d?["name"])) ?? []);
}
