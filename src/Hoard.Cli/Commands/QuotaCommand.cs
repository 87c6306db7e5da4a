using System.CommandLine;
using System.Text.Json.Nodes;
using Hoard.Cli.Client;
using Spectre.Console;

namespace Hoard.Cli.Commands;

/// <summary>
/// `hoard quota show [PROJECT]|update PROJECT RESOURCE LIMIT`: a project's quota (Trove's mgmt/quotas). Anyone may show
/// their own project's; showing another's, and every update, needs the admin role — the API decides, and its refusal is
/// printed as it gave it.
/// </summary>
public static class QuotaCommand
{
    public static Command Create()
    {
        var quota = new Command("quota", "Show a project's quota, or change one of its limits (admin).");
        quota.Subcommands.Add(ShowCommand());
        quota.Subcommands.Add(UpdateCommand());
        return quota;
    }

    private static Command ShowCommand()
    {
        var project = new Argument<string?>("project") { Description = "Project id or name (default: the project you are signed in to).", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("show", "Show each resource's use and limit (-1: no limit).") { project };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            // The API takes the project by id or by name, so the signed-in project's name will do.
            var target = parse.GetValue(project) ?? ClientSettings.Load().ProjectName;
            var table = new Table().AddColumns("Resource", "In Use", "Reserved", "Limit");
            foreach (var line in (await client.GetAsync(PathOf(target), ct))!["quotas"]!.AsArray().OfType<JsonObject>())
            {
                table.AddRow([.. new[] { "resource", "in_use", "reserved", "limit" }.Select(k => Markup.Escape(Cli.Str(line[k])))]);
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static Command UpdateCommand()
    {
        var project = new Argument<string>("project") { Description = "Project id or name." };
        var resource = new Argument<string>("resource") { Description = "instances, ram, backups, volumes or clusters." };
        var limit = new Argument<int>("limit") { Description = "The new limit; -1 for none." };
        var command = new Command("update", "Set one of a project's limits (admin).") { project, resource, limit };
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var body = new JsonObject { ["quotas"] = new JsonObject { [parse.GetValue(resource)!] = parse.GetValue(limit) } };
            var set = (await client.SendAsync(HttpMethod.Put, PathOf(parse.GetValue(project)!), body, ct))!["quotas"]!.AsObject();
            var table = new Table().AddColumns("Resource", "Limit");
            foreach (var (name, value) in set)
            {
                table.AddRow(Markup.Escape(name), Markup.Escape(Cli.Str(value)));
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static string PathOf(string project) => $"/mgmt/quotas/{Uri.EscapeDataString(project)}";
}
