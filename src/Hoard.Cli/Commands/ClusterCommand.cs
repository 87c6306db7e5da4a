using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Hoard.Cli.Client;
using Spectre.Console;

namespace Hoard.Cli.Commands;

/// <summary>`hoard cluster create|list|show|grow|shrink|rebalance|delete|root`: clusters of instances (Redis Cluster).</summary>
public static class ClusterCommand
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    public static Command Create()
    {
        var cluster = new Command("cluster", "Create, list, show, grow, shrink, rebalance and delete clusters.");
        cluster.Subcommands.Add(CreateCommand());
        cluster.Subcommands.Add(ListCommand());
        cluster.Subcommands.Add(ShowCommand());
        cluster.Subcommands.Add(GrowCommand());
        cluster.Subcommands.Add(ShrinkCommand());
        cluster.Subcommands.Add(RebalanceCommand());
        cluster.Subcommands.Add(DeleteCommand());
        cluster.Subcommands.Add(RootVerbs());
        return cluster;
    }

    private static Command CreateCommand()
    {
        var name = new Argument<string>("name") { Description = "Name of the new cluster." };
        var datastore = new Option<string>("--datastore") { Description = "Datastore type, e.g. redis.", Required = true };
        var version = new Option<string?>("--datastore-version") { Description = "Datastore version (default: the datastore's default version)." };
        var flavor = new Option<string>("--flavor") { Description = "Flavor id or name of every member, e.g. 2 or m1.small.", Required = true };
        var masters = new Option<int>("--masters") { Description = "Number of masters; the hash slots are shared evenly among them.", Required = true };
        var replicas = new Option<int>("--replicas-per-master") { Description = "Replicas of each master (default 0)." };
        var size = new Option<int?>("--size") { Description = "Volume size in GB of every member, for datastores with volumes." };
        var wait = WaitOption("Wait until every member is ACTIVE and the cluster is built, showing progress.");
        masters.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
            {
                r.AddError("--masters must be at least 1.");
            }
        });
        replicas.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0)
            {
                r.AddError("--replicas-per-master cannot be negative.");
            }
        });
        var command = new Command("create", "Create a cluster.") { name, datastore, version, flavor, masters, replicas, size, wait };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var perMaster = parse.GetValue(replicas);
            var members = new JsonArray();
            for (var i = 0; i < parse.GetValue(masters) * (perMaster + 1); i++)
            {
                var member = new JsonObject { ["flavorRef"] = parse.GetValue(flavor) };
                if (parse.GetValue(size) is { } gb)
                {
                    member["volume"] = new JsonObject { ["size"] = gb };
                }

                members.Add(member);
            }

            // Trove's cluster create requires the version; the default one is looked up when none is given.
            var type = parse.GetValue(datastore)!;
            var body = new JsonObject
            {
                ["name"] = parse.GetValue(name),
                ["datastore"] = new JsonObject { ["type"] = type, ["version"] = parse.GetValue(version) ?? await client.DefaultDatastoreVersionAsync(type, ct) },
                ["instances"] = members,
            };

            if (perMaster > 0)
            {
                // Hoard's extension: of the members listed, one in (R + 1) is a master, the rest its replicas.
                body["replicas_per_master"] = perMaster;
            }

            var created = ClusterOf(await client.SendAsync(HttpMethod.Post, "/clusters", new JsonObject { ["cluster"] = body }, ct))
                ?? throw new HoardApiException(HttpStatusCode.InternalServerError, "the create answered without a cluster");
            if (!parse.GetValue(wait))
            {
                PrintCluster(created);
                return 0;
            }

            return await WaitAsync(client, created, "create", _ => true, ct);
        }));
        return command;
    }

    private static Command ListCommand()
    {
        var command = new Command("list", "List clusters.");
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var table = new Table().AddColumns("ID", "Name", "Datastore", "Version", "Task", "Members", "Address");
            foreach (var c in await client.ListClustersAsync(ct))
            {
                table.AddRow(
                    Markup.Escape(Cli.Str(c["id"])),
                    Markup.Escape(Cli.Str(c["name"])),
                    Markup.Escape(Cli.Str(c["datastore"]?["type"])),
                    Markup.Escape(Cli.Str(c["datastore"]?["version"])),
                    Markup.Escape(TaskName(c)),
                    Members(c).Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Markup.Escape(c["ip"] is JsonArray ip && ip.Count > 0 ? Cli.Str(ip[0]) : string.Empty));
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static Command ShowCommand() =>
        Verb("show", "Show a cluster and its members.", [], (_, _, cluster, _) =>
        {
            PrintCluster(cluster);
            return Task.FromResult(0);
        });

    private static Command GrowCommand()
    {
        var flavor = new Option<string>("--flavor") { Description = "Flavor id or name of the new members.", Required = true };
        var count = new Option<int>("--count") { Description = "How many members to add (default 1).", DefaultValueFactory = _ => 1 };
        var replica = new Option<bool>("--replica") { Description = "Add replicas (spread over the masters) instead of masters." };
        var wait = WaitOption("Wait until the new members are ACTIVE and in the cluster, showing progress.");
        count.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
            {
                r.AddError("--count must be at least 1.");
            }
        });
        return Verb("grow", "Add members to a cluster. New masters own no slots until a rebalance.", [flavor, count, replica, wait], async (parse, client, cluster, ct) =>
        {
            var added = new JsonArray();
            for (var i = 0; i < parse.GetValue(count); i++)
            {
                var member = new JsonObject { ["flavorRef"] = parse.GetValue(flavor) };
                if (parse.GetValue(replica))
                {
                    member["type"] = "replica";
                }

                added.Add(member);
            }

            var id = Cli.Str(cluster["id"]);
            var answer = ClusterOf(await client.SendAsync(HttpMethod.Post, $"/clusters/{id}", new JsonObject { ["grow"] = added }, ct));
            var expected = Members(cluster).Count + added.Count;
            return await AfterActionAsync(parse.GetValue(wait), client, answer ?? cluster, "grow", $"Growing {Cli.Str(cluster["name"])} by {added.Count}.", c => Members(c).Count >= expected, ct);
        });
    }

    private static Command ShrinkCommand()
    {
        var instances = new Argument<string[]>("instance") { Description = "Member id or name to remove (one or more).", Arity = ArgumentArity.OneOrMore };
        var wait = WaitOption("Wait until the members are gone, showing progress.");
        return Verb("shrink", "Remove members from a cluster. A master must own no slots (see rebalance --exclude).", [instances, wait], async (parse, client, cluster, ct) =>
        {
            var ids = (parse.GetValue(instances) ?? []).Select(i => Cli.Str(FindMember(cluster, i)["id"])).Distinct().ToList();
            var id = Cli.Str(cluster["id"]);
            JsonObject? answer;
            try
            {
                answer = ClusterOf(await client.SendAsync(HttpMethod.Post, $"/clusters/{id}", new JsonObject { ["shrink"] = IdList(ids) }, ct));
            }
            catch (HoardApiException e) when (e.Status == HttpStatusCode.Forbidden && e.Message.Contains("slot", StringComparison.OrdinalIgnoreCase))
            {
                throw new HoardApiException(e.Status, $"{e.Message} (drain it first: hoard cluster rebalance {Cli.Str(cluster["name"])} {string.Join(' ', ids.Select(i => "--exclude " + i))} --wait)");
            }

            return await AfterActionAsync(parse.GetValue(wait), client, answer ?? cluster, "shrink", $"Shrinking {Cli.Str(cluster["name"])} by {ids.Count}.", c => !Members(c).Any(m => ids.Contains(Cli.Str(m["id"]))), ct);
        });
    }

    private static Command RebalanceCommand()
    {
        var exclude = new Option<string[]>("--exclude") { Description = "A member (id or name) to drain to 0 slots (repeatable).", AllowMultipleArgumentsPerToken = true };
        var wait = WaitOption("Wait until the slots have moved, showing progress.");
        return Verb("rebalance", "Move slots, live, so that every master owns an even share.", [exclude, wait], async (parse, client, cluster, ct) =>
        {
            var body = new JsonObject();
            var excluded = (parse.GetValue(exclude) ?? []).Select(i => Cli.Str(FindMember(cluster, i)["id"])).Distinct().ToList();
            if (excluded.Count > 0)
            {
                body["exclude"] = IdList(excluded);
            }

            var id = Cli.Str(cluster["id"]);
            var answer = ClusterOf(await client.SendAsync(HttpMethod.Post, $"/clusters/{id}", new JsonObject { ["rebalance"] = body }, ct));
            return await AfterActionAsync(parse.GetValue(wait), client, answer ?? cluster, "rebalance", $"Rebalancing {Cli.Str(cluster["name"])}.", _ => true, ct);
        });
    }

    private static Command DeleteCommand()
    {
        var wait = WaitOption("Wait until the cluster is gone.");
        return Verb("delete", "Delete a cluster and every member.", [wait], async (parse, client, cluster, ct) =>
        {
            var id = Cli.Str(cluster["id"]);
            await client.SendAsync(HttpMethod.Delete, $"/clusters/{id}", null, ct);
            if (!parse.GetValue(wait))
            {
                Console.WriteLine($"Deleting {id}.");
                return 0;
            }

            return await WaitAsync(client, cluster, "delete", _ => true, ct);
        });
    }

    private static Command RootVerbs()
    {
        var root = new Command("root", "Manage the root account of a cluster (one account on every member).");
        var password = new Option<string?>("--password") { Description = "The root password to set (default: a generated one)." };
        root.Subcommands.Add(Verb("enable", "Enable root and print its password (or set --password).", [password], async (parse, client, cluster, ct) =>
        {
            var body = parse.GetValue(password) is { } given ? new JsonObject { ["password"] = given } : new JsonObject();
            var user = (await client.SendAsync(HttpMethod.Post, $"/clusters/{Cli.Str(cluster["id"])}/root", body, ct))!["user"]!;
            var table = new Table().AddColumns("Field", "Value");
            table.AddRow("name", Markup.Escape(Cli.Str(user["name"])));
            table.AddRow("password", Markup.Escape(Cli.Str(user["password"])));
            AnsiConsole.Write(table);
            return 0;
        }));
        root.Subcommands.Add(Verb("show", "Show whether root has ever been enabled.", [], async (_, client, cluster, ct) =>
        {
            Console.WriteLine($"rootEnabled: {Cli.Str((await client.GetAsync($"/clusters/{Cli.Str(cluster["id"])}/root", ct))!["rootEnabled"])}");
            return 0;
        }));
        return root;
    }

    /// <summary>A verb on one cluster: the cluster (id or name) is its first argument, handed over as shown by the API.</summary>
    private static Command Verb(string name, string description, IReadOnlyList<Symbol> symbols, Func<ParseResult, HoardClient, JsonObject, CancellationToken, Task<int>> action)
    {
        var cluster = new Argument<string>("cluster") { Description = "Cluster id or name." };
        var command = InstanceVerb.WithTarget(name, description, cluster, symbols);
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
            await action(parse, client, await client.FindClusterAsync(parse.GetValue(cluster)!, ct), ct)));
        return command;
    }

    private static Option<bool> WaitOption(string description) => new("--wait") { Description = description };

    private static async Task<int> AfterActionAsync(bool wait, HoardClient client, JsonObject cluster, string what, string started, Func<JsonObject, bool> reached, CancellationToken ct)
    {
        if (wait)
        {
            return await WaitAsync(client, cluster, what, reached, ct);
        }

        Console.WriteLine(started);
        return 0;
    }

    /// <summary>
    /// Polls the cluster with a live display (its task, members ACTIVE, the task's progress) until the task is NONE
    /// with every member ACTIVE and <paramref name="reached"/> true; for a delete, until the cluster is gone.
    /// A member in ERROR ends the wait with its fault and exit code 1.
    /// </summary>
    private static async Task<int> WaitAsync(HoardClient client, JsonObject cluster, string what, Func<JsonObject, bool> reached, CancellationToken ct)
    {
        var id = Cli.Str(cluster["id"]);
        var name = Markup.Escape(Cli.Str(cluster["name"]));
        var deleting = what == "delete";
        var clock = Stopwatch.StartNew();
        var current = cluster;
        var gone = false;
        var abandoned = false;
        JsonObject? failed = null;
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                // One bar for the members (ACTIVE out of all; for a delete, just a spinner), one for the task's own progress when it reports one.
                var task = ctx.AddTask($"{what} {name}", maxValue: 1);
                task.IsIndeterminate = deleting;
                ProgressTask? progress = null;
                var sawTask = false;
                while (true)
                {
                    try
                    {
                        current = (await client.GetAsync($"/clusters/{id}", ct))!["cluster"]!.AsObject();
                    }
                    catch (HoardApiException e) when (e.Status == HttpStatusCode.NotFound && deleting)
                    {
                        gone = true;
                        task.Description = $"{what} {name}: [bold]gone[/]";
                        task.IsIndeterminate = false;
                        task.Value = task.MaxValue;
                        return;
                    }

                    var taskName = TaskName(current);
                    var list = Members(current);
                    var active = list.Count(m => Status(m) == "ACTIVE");
                    task.Description = deleting
                        ? $"{what} {name}: [bold]{Markup.Escape(taskName)}[/], {list.Count} members left"
                        : $"{what} {name}: [bold]{Markup.Escape(taskName)}[/], members ACTIVE {active}/{list.Count}";
                    if (!deleting)
                    {
                        task.MaxValue = Math.Max(1, list.Count);
                        task.Value = active;
                    }

                    if (current["task"]?["progress"] is JsonObject p && p["total"] is JsonValue total)
                    {
                        var done = p["done"]?.GetValue<int>() ?? 0;
                        progress ??= ctx.AddTask("progress", maxValue: 1);
                        progress.MaxValue = Math.Max(1, total.GetValue<int>());
                        progress.Value = done;
                        progress.Description = $"{Markup.Escape(taskName.ToLowerInvariant())}: {done}/{total.GetValue<int>()} done";
                    }

                    sawTask |= taskName != "NONE";
                    if (!deleting && list.FirstOrDefault(m => Status(m) == "ERROR") is { } error)
                    {
                        failed = error;
                        return;
                    }

                    if (deleting && sawTask && taskName == "NONE")
                    {
                        // The delete stopped and the cluster is still there.
                        abandoned = true;
                        return;
                    }

                    if (!deleting && taskName == "NONE" && list.Count > 0 && active == list.Count && reached(current))
                    {
                        progress?.Value = progress.MaxValue;
                        return;
                    }

                    await Task.Delay(PollInterval, ct);
                }
            });

        var elapsed = $"{clock.Elapsed.TotalSeconds:0.00} s";
        if (gone)
        {
            AnsiConsole.MarkupLine($"{what}: {name} is gone after {elapsed}");
            return 0;
        }

        if (abandoned)
        {
            PrintCluster(current);
            await Console.Error.WriteLineAsync($"hoard: the delete of {Cli.Str(cluster["name"])} stopped after {elapsed}; the cluster is still there");
            return 1;
        }

        if (failed is not null)
        {
            PrintCluster(current);
            await Console.Error.WriteLineAsync($"hoard: member {Cli.Str(failed["name"])} ({Cli.Str(failed["id"])}) is ERROR: {await FaultAsync(client, id, failed, ct)}");
            return 1;
        }

        AnsiConsole.MarkupLine($"{what}: {name} is ready after {elapsed}");
        PrintCluster(current);
        return 0;
    }

    /// <summary>A member's fault message: from the cluster view if it has one, else from the member's own view.</summary>
    private static async Task<string> FaultAsync(HoardClient client, string clusterId, JsonObject member, CancellationToken ct)
    {
        if (member["fault"]?["message"] is JsonValue inline)
        {
            return Cli.Str(inline);
        }

        var memberId = Cli.Str(member["id"]);
        foreach (var path in new[] { $"/clusters/{clusterId}/instances/{memberId}", $"/instances/{memberId}" })
        {
            try
            {
                if ((await client.GetAsync(path, ct))?["instance"]?["fault"]?["message"] is JsonValue message)
                {
                    return Cli.Str(message);
                }
            }
            catch (HoardApiException)
            {
            }
        }

        return "no fault recorded";
    }

    private static void PrintCluster(JsonObject cluster)
    {
        var fields = new Table().AddColumns("Field", "Value");
        fields.AddRow("id", Markup.Escape(Cli.Str(cluster["id"])));
        fields.AddRow("name", Markup.Escape(Cli.Str(cluster["name"])));
        fields.AddRow("datastore", Markup.Escape($"{Cli.Str(cluster["datastore"]?["type"])} {Cli.Str(cluster["datastore"]?["version"])}".Trim()));
        var task = TaskName(cluster);
        if (cluster["task"]?["progress"] is JsonObject p)
        {
            task += $" ({Cli.Str(p["done"])}/{Cli.Str(p["total"])})";
        }

        fields.AddRow("task", Markup.Escape(task));
        fields.AddRow("created", Markup.Escape(Cli.Str(cluster["created"])));
        fields.AddRow("updated", Markup.Escape(Cli.Str(cluster["updated"])));
        fields.AddRow("ip", Markup.Escape(cluster["ip"] is JsonArray ips ? string.Join(", ", ips.Select(Cli.Str)) : string.Empty));
        AnsiConsole.Write(fields);

        var list = Members(cluster);
        var names = list.ToDictionary(m => Cli.Str(m["id"]), m => Cli.Str(m["name"]));
        var members = new Table().AddColumns("Name", "ID", "Status", "Role", "Slots", "Master", "Address");
        foreach (var m in list)
        {
            var master = Cli.Str(m["master_id"]);
            members.AddRow(
                Markup.Escape(Cli.Str(m["name"])),
                Markup.Escape(Cli.Str(m["id"])),
                Markup.Escape(Status(m)),
                Markup.Escape(Cli.Str(m["role"] ?? m["type"])),
                Markup.Escape(Cli.Str(m["slots"])),
                Markup.Escape(names.GetValueOrDefault(master, master)),
                Markup.Escape(m["ip"] is JsonArray ip && ip.Count > 0 ? Cli.Str(ip[0]) : string.Empty));
        }

        AnsiConsole.Write(members);
    }

    /// <summary>A member of the cluster by id or, failing that, by name.</summary>
    private static JsonObject FindMember(JsonObject cluster, string idOrName)
    {
        var list = Members(cluster);
        if (list.FirstOrDefault(m => Cli.Str(m["id"]) == idOrName) is { } byId)
        {
            return byId;
        }

        var named = list.Where(m => Cli.Str(m["name"]) == idOrName).ToList();
        return named.Count switch
        {
            1 => named[0],
            0 => throw new HoardApiException(HttpStatusCode.NotFound, $"cluster {Cli.Str(cluster["name"])} has no member with id or name '{idOrName}'"),
            _ => throw new HoardApiException(HttpStatusCode.Conflict, $"{named.Count} members of {Cli.Str(cluster["name"])} are named '{idOrName}'; use the id"),
        };
    }

    private static JsonArray IdList(IEnumerable<string> ids) => new([.. ids.Select(i => (JsonNode)new JsonObject { ["id"] = i })]);

    /// <summary>The cluster in an answer: {"cluster": VIEW}, or the bare view.</summary>
    private static JsonObject? ClusterOf(JsonObject? answer) =>
        answer?["cluster"] as JsonObject ?? (answer?.ContainsKey("id") == true ? answer : null);

    private static List<JsonObject> Members(JsonObject cluster) => cluster["instances"] is JsonArray a ? [.. a.OfType<JsonObject>()] : [];

    private static string TaskName(JsonObject cluster) => cluster["task"]?["name"] is JsonValue v ? Cli.Str(v) : "?";

    private static string Status(JsonObject member) => Cli.Str(member["status"]);
}
