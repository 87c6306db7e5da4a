using System.CommandLine;
using Hoard.Abstractions.Plugins;
using Hoard.Core.Configuration;

namespace Hoard.Cli.Commands;

/// <summary>`hoard config sample`: every option with its default and help.</summary>
public static class ConfigCommand
{
    public static Command Create()
    {
        var sample = new Command("sample", "Print a sample configuration file with every option, its default and its help.");
        sample.SetAction(_ => Console.Write(new HoardConfiguration(HoardConfiguration.DatastoreGroups(PluginRegistry.FromApplicationDirectory())).Sample()));
        var config = new Command("config", "Configuration helpers.");
        config.Subcommands.Add(sample);
        return config;
    }
}
