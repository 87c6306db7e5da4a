using System.CommandLine;
using Hoard.Cli.Commands;
using Spectre.Console;

// Tables wrap at the terminal's width; with output redirected there is no terminal, so COLUMNS (as shells set it) decides.
if (int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out var columns) && columns >= 40)
{
    AnsiConsole.Profile.Width = columns;
}

var root = new RootCommand("Hoard: databases as a service (Redis, PostgreSQL, MariaDB) behind a Trove-compatible API.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(ConfigCommand.Create());
root.Subcommands.Add(InstanceCommand.Create());
root.Subcommands.Add(ClusterCommand.Create());
root.Subcommands.Add(RootAccessCommand.Create());
root.Subcommands.Add(DatabaseCommand.Create());
root.Subcommands.Add(UserCommand.Create());
root.Subcommands.Add(PoolCommand.Create());
root.Subcommands.Add(FlavorCommand.Create());
root.Subcommands.Add(CatalogueCommand.Create());
root.Subcommands.Add(BackupCommand.Create());
root.Subcommands.Add(ConfigurationCommand.Create());
root.Subcommands.Add(LogCommand.Create());
root.Subcommands.Add(QuotaCommand.Create());
root.Subcommands.Add(TraceCommand.Create());
return await root.Parse(args).InvokeAsync();
