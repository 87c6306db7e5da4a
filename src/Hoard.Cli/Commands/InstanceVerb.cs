using System.CommandLine;

namespace Hoard.Cli.Commands;

/// <summary>A verb on one instance: the instance (id or name) is its first argument.</summary>
internal static class InstanceVerb
{
    public static Command Create(
        string name,
        string description,
        IReadOnlyList<Symbol> symbols,
        Func<ParseResult, Client.HoardClient, string, CancellationToken, Task> action)
    {
        var instance = new Argument<string>("instance") { Description = "Instance id or name." };
        var command = new Command(name, description) { instance };
        foreach (var symbol in symbols)
        {
            switch (symbol)
            {
                case Argument argument:
                    command.Arguments.Add(argument);
                    break;
                case Option option:
                    command.Options.Add(option);
                    break;
            }
        }

        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var found = await client.FindInstanceAsync(parse.GetValue(instance)!, ct);
            await action(parse, client, Cli.Str(found["id"]), ct);
            return 0;
        }));
        return command;
    }
}
