using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Tracing;
using Hoard.Core.Configuration;
using Hoard.Core.Profiling;

namespace Hoard.Cli.Commands;

/// <summary>
/// `hoard trace show ID` and `hoard trace list`: traces read straight from the trace backend through its driver, as
/// the osprofiler CLI does, so they work whether or not a control plane is running.
/// </summary>
public static class TraceCommand
{
    public static Command Create()
    {
        var trace = new Command("trace", "Read profiler traces back from the trace backend.");
        trace.Subcommands.Add(Show());
        trace.Subcommands.Add(List());
        return trace;
    }

    private static (Option<string?> Connection, Option<string?> Config) BackendOptions() =>
        (new Option<string?>("--connection-string") { Description = "Trace backend, e.g. sqlite:///var/lib/hoard/traces.db, redis://127.0.0.1:6379/0, postgresql://user:pw@host/db or otlp://host:4318?query=http://jaeger:16686 (default: [profiler] connection_string, else DATA_DIR/traces.db)." },
         new Option<string?>("--config") { Description = "An INI configuration file to take [profiler] connection_string from." });

    private static Command Show()
    {
        var id = new Argument<string>("id") { Description = "The trace id (openstack --os-profile prints it as Trace ID; the API answers it in X-Trace-ID)." };
        var json = new Option<bool>("--json") { Description = "OSProfiler's JSON tree." };
        var dot = new Option<bool>("--dot") { Description = "A Graphviz graph." };
        var html = new Option<bool>("--html") { Description = "One self-contained HTML page: a collapsible timeline and the per-category stats." };
        var output = new Option<string?>("--output", "-o") { Description = "Write to this file instead of standard output." };
        var (connection, config) = BackendOptions();
        var show = new Command("show", "Show one trace as a tree with each point's timing and per-category stats.") { id, json, dot, html, output, connection, config };
        show.SetAction(async (parse, cancellationToken) => await WithDriverAsync(parse.GetValue(connection), parse.GetValue(config), async driver =>
        {
            var traceId = parse.GetValue(id)!;
            if (await driver.GetTraceAsync(traceId, cancellationToken) is not { } tree)
            {
                await Console.Error.WriteLineAsync($"hoard: trace {traceId} not found (was the request signed with one of the server's hmac_keys?)");
                return 1;
            }

            if (new[] { parse.GetValue(json), parse.GetValue(dot), parse.GetValue(html) }.Count(f => f) > 1)
            {
                await Console.Error.WriteLineAsync("hoard: give at most one of --json, --dot and --html");
                return 2;
            }

            var text = parse.GetValue(json) ? TraceTreeFormats.ToJson(tree).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n"
                : parse.GetValue(dot) ? TraceTreeFormats.ToDot(tree)
                : parse.GetValue(html) ? TraceTreeFormats.ToHtml(tree, traceId)
                : TraceTreeFormats.ToText(tree);
            if (parse.GetValue(output) is { Length: > 0 } file)
            {
                await File.WriteAllTextAsync(file, text, cancellationToken);
            }
            else
            {
                Console.Write(text);
            }

            return 0;
        }));
        return show;
    }

    private static Command List()
    {
        var errors = new Option<bool>("--error-trace") { Description = "Only traces with a failed point." };
        var (connection, config) = BackendOptions();
        var list = new Command("list", "List the traces in the backend, oldest first.") { errors, connection, config };
        list.SetAction(async (parse, cancellationToken) => await WithDriverAsync(parse.GetValue(connection), parse.GetValue(config), async driver =>
        {
            var traces = parse.GetValue(errors) ? await driver.ListErrorTracesAsync(cancellationToken) : await driver.ListTracesAsync(cancellationToken);
            Console.WriteLine($"{"base_id",-36}  timestamp");
            foreach (var t in traces)
            {
                Console.WriteLine($"{t.BaseId,-36}  {t.Timestamp.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff", CultureInfo.InvariantCulture)}");
            }

            return 0;
        }));
        return list;
    }

    private static async Task<int> WithDriverAsync(string? connection, string? configPath, Func<ITraceDriver, Task<int>> action)
    {
        try
        {
            if (string.IsNullOrEmpty(connection))
            {
                var environment = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
                    .ToDictionary(e => (string)e.Key, e => (string?)e.Value, StringComparer.Ordinal);
                var configuration = HoardConfiguration.Load(configPath, environment);
                connection = configuration.GetString(ProfilerOptions.Section, "connection_string");
                if (string.IsNullOrEmpty(connection))
                {
                    // What hoard serve uses then: the embedded backend in its data directory.
                    connection = HoardOptions.From(configuration).Profiler.ConnectionString;
                }
            }

            if (string.IsNullOrEmpty(connection) || !Uri.TryCreate(connection, UriKind.Absolute, out var uri))
            {
                throw new ConfigurationException("no trace backend: give --connection-string or set [profiler] connection_string");
            }

            await using (var driver = TraceDrivers.Open(uri, PluginRegistry.FromApplicationDirectory(), "connection string"))
            {
                return await action(driver);
            }
        }
        catch (ConfigurationException e)
        {
            await Console.Error.WriteLineAsync($"hoard: {e.Message}");
            return 2;
        }
        catch (NotSupportedException e)
        {
            // A backend that only exports (otlp:// without a query service) says where its traces can be read.
            await Console.Error.WriteLineAsync($"hoard: {e.Message}");
            return 2;
        }
    }
}
