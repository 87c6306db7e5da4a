using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Hoard.Cli.Client;
using Spectre.Console;

namespace Hoard.Cli.Commands;

/// <summary>`hoard instance create|list|show|delete`.</summary>
public static class InstanceCommand
{
    public static Command Create()
    {
        var instance = new Command("instance", "Create, list, show and delete database instances.");
        instance.Subcommands.Add(CreateCommand());
        instance.Subcommands.Add(ListCommand());
        instance.Subcommands.Add(ShowCommand());
        instance.Subcommands.Add(DeleteCommand());
        return instance;
    }

    private static Command CreateCommand()
    {
        var name = new Argument<string>("name") { Description = "Name of the new instance." };
        var datastore = new Option<string>("--datastore") { Description = "Datastore type, e.g. redis.", Required = true };
        var version = new Option<string?>("--datastore-version") { Description = "Datastore version (default: the newest installed)." };
        var flavor = new Option<string>("--flavor") { Description = "Flavor id or name, e.g. 2 or m1.small.", Required = true };
        var size = new Option<int?>("--size") { Description = "Volume size in GB, for datastores with volumes." };
        var wait = new Option<bool>("--wait") { Description = "Wait until the instance is ACTIVE (or ERROR), showing progress." };
        var databases = new Option<string[]>("--database") { Description = "A database to create with the instance (repeatable).", AllowMultipleArgumentsPerToken = true };
        var users = new Option<string[]>("--user") { Description = "A user to create with the instance, as NAME:PASSWORD; it may use every --database (repeatable).", AllowMultipleArgumentsPerToken = true };
        var backup = new Option<string?>("--backup") { Description = "Start with the data of this backup (id or name); the datastore version must be the backup's." };
        var command = new Command("create", "Create an instance.") { name, datastore, version, flavor, size, wait, databases, users, backup };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var body = new JsonObject
            {
                ["name"] = parse.GetValue(name),
                ["flavorRef"] = parse.GetValue(flavor),
                ["datastore"] = new JsonObject { ["type"] = parse.GetValue(datastore) },
            };
            if (parse.GetValue(version) is { } v)
            {
                body["datastore"]!["version"] = v;
            }

            if (parse.GetValue(size) is { } gb)
            {
                body["volume"] = new JsonObject { ["size"] = gb };
            }

            var names = parse.GetValue(databases) ?? [];
            if (names.Length > 0)
            {
                body["databases"] = new JsonArray([.. names.Select(d => (JsonNode)new JsonObject { ["name"] = d })]);
            }

            if (parse.GetValue(users) is { Length: > 0 } given)
            {
                // As the openstack client's --users: NAME:PASSWORD, with access to the databases of the create.
                body["users"] = new JsonArray([.. given.Select(u =>
                {
                    var colon = u.IndexOf(':', StringComparison.Ordinal);
                    if (colon <= 0 || colon == u.Length - 1)
                    {
                        throw new HoardApiException(System.Net.HttpStatusCode.BadRequest, "--user takes NAME:PASSWORD");
                    }

                    return (JsonNode)new JsonObject
                    {
                        ["name"] = u[..colon],
                        ["password"] = u[(colon + 1)..],
                        ["databases"] = new JsonArray([.. names.Select(d => (JsonNode)new JsonObject { ["name"] = d })]),
                    };
                })]);
            }

            if (parse.GetValue(backup) is { } from)
            {
                body["restorePoint"] = new JsonObject { ["backupRef"] = (await BackupCommand.FindAsync(client, from, ct))["id"]!.GetValue<string>() };
            }

            var created = (await client.SendAsync(HttpMethod.Post, "/instances", new JsonObject { ["instance"] = body }, ct))!["instance"]!.AsObject();
            var id = created["id"]!.GetValue<string>();
            if (!parse.GetValue(wait))
            {
                Cli.PrintInstance(created);
                return 0;
            }

            var final = await WaitAsync(client, id, "create", s => s is "ACTIVE" or "ERROR", ct);
            Cli.PrintInstance(final);
            return final["status"]?.GetValue<string>() == "ACTIVE" ? 0 : 1;
        }));
        return command;
    }

    /// <summary>Polls the instance, showing its status and elapsed time, until <paramref name="done"/> says so.</summary>
    internal static Task<JsonObject> WaitAsync(HoardClient client, string id, string what, Func<string, bool> done, CancellationToken ct) =>
        Cli.PollAsync(client, $"/instances/{id}", "instance", id, what, done, ct);

    private static Command ListCommand()
    {
        var command = new Command("list", "List instances.");
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var table = new Table().AddColumns("ID", "Name", "Datastore", "Version", "Status", "Address", "Flavor");
            foreach (var i in await client.ListInstancesAsync(ct))
            {
                table.AddRow(
                    Markup.Escape(Cli.Str(i["id"])),
                    Markup.Escape(Cli.Str(i["name"])),
                    Markup.Escape(Cli.Str(i["datastore"]?["type"])),
                    Markup.Escape(Cli.Str(i["datastore"]?["version"])),
                    Markup.Escape(Cli.Str(i["status"])),
                    Markup.Escape(i["ip"] is JsonArray ip && ip.Count > 0 ? Cli.Str(ip[0]) : string.Empty),
                    Markup.Escape(Cli.Str(i["flavor"]?["id"])));
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static Command ShowCommand()
    {
        var id = new Argument<string>("instance") { Description = "Instance id or name." };
        var command = new Command("show", "Show an instance.") { id };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            Cli.PrintInstance(await client.FindInstanceAsync(parse.GetValue(id)!, ct));
            return 0;
        }));
        return command;
    }

    private static Command DeleteCommand()
    {
        var id = new Argument<string>("instance") { Description = "Instance id or name." };
        var wait = new Option<bool>("--wait") { Description = "Wait until the instance is gone." };
        var command = new Command("delete", "Delete an instance and everything it had.") { id, wait };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var instance = await client.FindInstanceAsync(parse.GetValue(id)!, ct);
            var instanceId = Cli.Str(instance["id"]);
            await client.SendAsync(HttpMethod.Delete, $"/instances/{instanceId}", null, ct);
            if (parse.GetValue(wait))
            {
                await WaitAsync(client, instanceId, "delete", s => s is "DELETED" or "ERROR", ct);
            }
            else
            {
                Console.WriteLine($"Deleting {instanceId}.");
            }

            return 0;
        }));
        return command;
    }
}

/// <summary>What the commands share: connecting, error reporting, printing.</summary>
internal static class Cli
{
    public static async Task<int> RunAsync(Func<HoardClient, Task<int>> action)
    {
        try
        {
            using var client = await HoardClient.ConnectAsync(ClientSettings.Load(), CancellationToken.None);
            return await action(client);
        }
        catch (HoardApiException e)
        {
            await Console.Error.WriteLineAsync($"hoard: {e.Message} (HTTP {(int)e.Status})");
            return 1;
        }
        catch (Exception e) when (e is InvalidOperationException or HttpRequestException or ArgumentException)
        {
            await Console.Error.WriteLineAsync($"hoard: {e.Message}");
            return 1;
        }
    }

    /// <summary>
    /// Polls a resource (its <paramref name="path"/>, the object under <paramref name="key"/>), showing its status and
    /// elapsed time, until <paramref name="done"/> says so; a 404 while deleting reads as DELETED.
    /// </summary>
    public static async Task<JsonObject> PollAsync(HoardClient client, string path, string key, string id, string what, Func<string, bool> done, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        JsonObject? current = null;
        await AnsiConsole.Status().Spinner(Spinner.Known.Dots).StartAsync($"{what}: waiting for {id}", async ctx =>
        {
            var delay = TimeSpan.FromMilliseconds(20);
            while (true)
            {
                try
                {
                    current = (await client.GetAsync(path, ct))![key]!.AsObject();
                }
                catch (HoardApiException e) when (e.Status == System.Net.HttpStatusCode.NotFound && what == "delete")
                {
                    current = new JsonObject { ["id"] = id, ["status"] = "DELETED" };
                }

                var status = current["status"]?.GetValue<string>() ?? "?";
                ctx.Status($"{what}: {id} is [bold]{Markup.Escape(status)}[/] ({clock.Elapsed.TotalSeconds:0.0} s)");
                if (done(status))
                {
                    return;
                }

                await Task.Delay(delay, ct);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 500));
            }
        });
        AnsiConsole.MarkupLine($"{what}: {Markup.Escape(id)} is [bold]{Markup.Escape(current!["status"]?.GetValue<string>() ?? "?")}[/] after {clock.Elapsed.TotalSeconds:0.00} s");
        return current!;
    }

    public static string Str(JsonNode? node) => node switch
    {
        null => string.Empty,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => node.ToJsonString(),
    };

    public static void PrintInstance(JsonObject instance)
    {
        var table = new Table().AddColumns("Field", "Value");
        foreach (var (key, value) in instance.Where(p => p.Key != "links"))
        {
            var text = value switch
            {
                JsonObject o when o.ContainsKey("id") => Str(o["id"]),
                JsonObject o => string.Join(", ", o.Where(p => p.Key != "links").Select(p => $"{p.Key}={Str(p.Value)}")),
                JsonArray a => string.Join(", ", a.Select(x => x is JsonObject ox ? Str(ox["address"] ?? ox["id"]) : Str(x))),
                _ => Str(value),
            };
            table.AddRow(Markup.Escape(key), Markup.Escape(text));
        }

        AnsiConsole.Write(table);
    }
}
