using System.CommandLine;
using Hoard.Cli.Client;
using Spectre.Console;

namespace Hoard.Cli.Commands;

/// <summary>`hoard catalogue list [--project P]` (admin): which pool holds each instance.</summary>
public static class CatalogueCommand
{
    public static Command Create()
    {
        var catalogue = new Command("catalogue", "Show which pool holds each instance (admin).");
        var project = new Option<string?>("--project") { Description = "Only this project's instances (project id)." };
        var list = new Command("list", "List catalogue entries: project, instance, pool.") { project };
        list.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var path = parse.GetValue(project) is { } p ? $"/mgmt/catalogue?project={Uri.EscapeDataString(p)}" : "/mgmt/catalogue";
            var table = new Table().AddColumns("Project", "Instance", "Pool");
            foreach (var e in await client.ListAllAsync(path, "catalogue", ct))
            {
                table.AddRow(Markup.Escape(Cli.Str(e["project"])), Markup.Escape(Cli.Str(e["instance"])), Markup.Escape(Cli.Str(e["pool"])));
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        catalogue.Subcommands.Add(list);
        return catalogue;
    }
}
