using System.CommandLine;
using Hoard.Cli.Commands;

var root = new RootCommand("Hoard: databases as a service (Redis, PostgreSQL, MariaDB) behind a Trove-compatible API.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(ConfigCommand.Create());
root.Subcommands.Add(InstanceCommand.Create());
root.Subcommands.Add(ClusterCommand.Create());
root.Subcommands.Add(RootAccessCommand.Create());
root.Subcommands.Add(DatabaseCommand.Create());
root.Subcommands.Add(UserCommand.Create());
return await root.Parse(args).InvokeAsync();
