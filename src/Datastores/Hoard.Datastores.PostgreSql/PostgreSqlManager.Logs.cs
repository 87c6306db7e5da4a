using System.Diagnostics;
using System.Globalization;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.IO;

namespace Hoard.Datastores.PostgreSql;

/// <summary>
/// Logs: the server log is the server's stderr (postgresql.log); the slow-query log is on while
/// log_min_duration_statement is set, through ALTER SYSTEM (postgresql.auto.conf, read after every other file, so
/// it takes effect at a reload and a restart keeps it). Its entries land in the server log; the agent copies the
/// "duration:" entries out into slow_query.log as the server log grows, so the slow-query log is a file of its own
/// without a restart for PostgreSQL's logging collector.
/// </summary>
public sealed partial class PostgreSqlManager : IDatastoreLogs
{
    private const string DurationMarker = " LOG:  duration: ";

    public IReadOnlyList<DatastoreLogDefinition> LogDefinitions(GuestInstance instance)
    {
        var files = InstanceFiles.For(instance);
        return
        [
            new(DatastoreLogNames.Server, DatastoreLogType.Sys, files.LogFile),
            new(DatastoreLogNames.SlowQuery, DatastoreLogType.User, files.SlowLogFile),
        ];
    }

    public async Task<bool> IsLogEnabledAsync(GuestInstance instance, string name, CancellationToken cancellationToken)
    {
        if (name != DatastoreLogNames.SlowQuery)
        {
            return true;
        }

        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        return await SlowLogThresholdAsync(session, cancellationToken) >= 0;
    }

    public async Task SetLogEnabledAsync(GuestInstance instance, string name, bool enabled, CancellationToken cancellationToken)
    {
        if (name != DatastoreLogNames.SlowQuery)
        {
            throw DatastoreOperationException.Invalid($"Log '{name}' cannot be enabled or disabled; only {DatastoreLogNames.SlowQuery} can.");
        }

        var threshold = enabled ? LongQueryTime(instance) : -1;
        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        if (enabled)
        {
            // Copy only what is logged from now on.
            var files = InstanceFiles.For(instance);
            PrivateFile.Write(files.SlowLogCursor, LogTail.Offset(files.LogFile).ToString(CultureInfo.InvariantCulture));
            await session.ExecuteAsync(string.Create(CultureInfo.InvariantCulture, $"ALTER SYSTEM SET log_min_duration_statement = {threshold}"), cancellationToken);
        }
        else
        {
            await session.ExecuteAsync("ALTER SYSTEM RESET log_min_duration_statement", cancellationToken);
        }

        await session.ExecuteAsync("SELECT pg_reload_conf()", cancellationToken);
        var started = Stopwatch.GetTimestamp();
        while (await SlowLogThresholdAsync(session, cancellationToken) != threshold)
        {
            if (Stopwatch.GetElapsedTime(started) > _options.CommandTimeout)
            {
                throw new TimeoutException($"postgresql instance {instance.Id} did not reload its configuration within {_options.CommandTimeout.TotalSeconds:F0} s");
            }

            await Task.Delay(ReloadPollDelay, cancellationToken);
        }
    }

    public async Task FlushLogAsync(GuestInstance instance, string name, CancellationToken cancellationToken)
    {
        if (name != DatastoreLogNames.SlowQuery)
        {
            return;
        }

        var files = InstanceFiles.For(instance);
        if (!File.Exists(files.LogFile))
        {
            return;
        }

        var cursorText = await PrivateFile.ReadTrimmedAsync(files.SlowLogCursor, cancellationToken);
        var cursor = long.TryParse(cursorText, CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
        await using var server = new FileStream(files.LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (cursor > server.Length)
        {
            cursor = 0; // the server log started over
        }

        server.Position = cursor;
        var copied = new List<string>();
        var inEntry = false;
        var consumed = cursor;
        using (var reader = new StreamReader(server, leaveOpen: true))
        {
            // Whole lines only: a line still being written is read next time.
            var rest = await reader.ReadToEndAsync(cancellationToken);
            var end = rest.LastIndexOf('\n');
            if (end < 0)
            {
                return;
            }

            consumed += System.Text.Encoding.UTF8.GetByteCount(rest.AsSpan(0, end + 1));
            foreach (var line in rest[..end].Split('\n'))
            {
                // A statement's further lines start with a tab; they belong to the entry above them.
                inEntry = line.Contains(DurationMarker, StringComparison.Ordinal) || (inEntry && line.StartsWith('\t'));
                if (inEntry)
                {
                    copied.Add(line);
                }
            }
        }

        if (copied.Count > 0)
        {
            await using var slow = new FileStream(files.SlowLogFile, new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, UnixCreateMode = PrivateFile.OwnerOnly });
            await slow.WriteAsync(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', copied) + "\n"), cancellationToken);
            await slow.FlushAsync(cancellationToken);
        }

        PrivateFile.Write(files.SlowLogCursor, consumed.ToString(CultureInfo.InvariantCulture));
    }

    private static async Task<long> SlowLogThresholdAsync(AdminSession session, CancellationToken cancellationToken) =>
        (await session.QueryAsync("SELECT setting::bigint FROM pg_settings WHERE name = 'log_min_duration_statement'", r => r.GetInt64(0), cancellationToken))[0];

    private static long LongQueryTime(GuestInstance instance)
    {
        var text = instance.Option(DatastoreOptionNames.LongQueryTime, "1000");
        return long.TryParse(text, CultureInfo.InvariantCulture, out var ms) && ms >= 0
            ? ms
            : throw DatastoreOperationException.Invalid($"[postgresql] {DatastoreOptionNames.LongQueryTime} = '{text}' is not a number of milliseconds.");
    }
}
