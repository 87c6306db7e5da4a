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
        var command = WithTarget(name, description, instance, symbols);
        command.SetAction((parse, ct) => Cli.RunAsync(async client =>
        {
            var found = await client.FindInstanceAsync(parse.GetValue(instance)!, ct);
            await action(parse, client, Cli.Str(found["id"]), ct);
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// A command whose first argument names what it acts on (an instance, a cluster), followed by
    /// <paramref name="symbols"/>: arguments in their order, then options.
    /// </summary>
    public static Command WithTarget(string name, string description, Argument<string> target, IReadOnlyList<Symbol> symbols)
    {
        var command = new Command(name, description) { target };
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

        return command;
    }
}
