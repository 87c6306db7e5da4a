using System.Globalization;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.IO;

namespace Hoard.Datastores.MariaDb;

/// <summary>
/// Logs: the server log is mariadbd's stdout and stderr (its error log, mariadb.log); the slow-query log is the
/// server's own slow_query_log, written to slow_query.log in the data directory. A user's switch goes to the running
/// server (SET GLOBAL: new sessions follow the threshold at once) and to logs.cnf, which my.cnf includes after the
/// configuration group's file, so a restart keeps it.
/// </summary>
public sealed partial class MariaDbManager : IDatastoreLogs
{
    public IReadOnlyList<DatastoreLogDefinition> LogDefinitions(GuestInstance instance)
    {
        var files = InstanceFiles.For(instance);
        return
        [
            new(DatastoreLogNames.Server, DatastoreLogType.Sys, files.LogFile),
            new(DatastoreLogNames.SlowQuery, DatastoreLogType.User, files.SlowLogFile),
        ];
    }

    public async Task<bool> IsLogEnabledAsync(GuestInstance instance, string name, CancellationToken cancellationToken) =>
        name != DatastoreLogNames.SlowQuery
        || await RunAsync(instance, async (connection, ct) => (await Sql.QueryAsync(connection, "SELECT @@GLOBAL.slow_query_log", r => Convert.ToInt64(r.GetValue(0), CultureInfo.InvariantCulture), ct))[0] == 1, cancellationToken);

    public async Task SetLogEnabledAsync(GuestInstance instance, string name, bool enabled, CancellationToken cancellationToken)
    {
        if (name != DatastoreLogNames.SlowQuery)
        {
            throw DatastoreOperationException.Invalid($"Log '{name}' cannot be enabled or disabled; only {DatastoreLogNames.SlowQuery} can.");
        }

        var text = instance.Option(DatastoreOptionNames.LongQueryTime, "1000");
        if (!long.TryParse(text, CultureInfo.InvariantCulture, out var ms) || ms < 0)
        {
            throw DatastoreOperationException.Invalid($"[mariadb] {DatastoreOptionNames.LongQueryTime} = '{text}' is not a number of milliseconds.");
        }

        var seconds = ms / 1000m;
        var files = InstanceFiles.For(instance);
        await PrivateFile.WriteAsync(files.LogsConfig, ServerConfig.RenderLogs(instance, enabled ? seconds : null), overwrite: true, cancellationToken);
        await RunAsync(
            instance,
            async (connection, ct) =>
            {
                if (enabled)
                {
                    await Sql.ExecuteAsync(connection, string.Create(CultureInfo.InvariantCulture, $"SET GLOBAL long_query_time = {seconds}"), ct);
                }

                await Sql.ExecuteAsync(connection, $"SET GLOBAL slow_query_log = {(enabled ? "ON" : "OFF")}", ct);
                return true;
            },
            cancellationToken);
    }

    // The server writes the slow-query log itself.
    public Task FlushLogAsync(GuestInstance instance, string name, CancellationToken cancellationToken) => Task.CompletedTask;
}
