using System.Globalization;
using System.Text;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.IO;
using Hoard.Datastores.Redis.Resp;

namespace Hoard.Datastores.Redis;

/// <summary>
/// Logs: the server log is redis.log; the slow-query log is Redis' SLOWLOG (which the server always keeps, in memory,
/// for commands slower than slowlog-log-slower-than, a configuration group's to set) written out as lines to
/// slowlog.log while the log is enabled.
/// </summary>
/// <remarks>
/// Enabled means a marker file in the instance directory, so it survives restarts of server and agent and takes
/// effect at once. Redis numbers SLOWLOG entries from 0 again after a restart, so the cursor of what was written out
/// is kept with the server's run_id.
/// </remarks>
public sealed partial class RedisManager : IDatastoreLogs
{
    private const int SlowLogBatch = 1024;

    public IReadOnlyList<DatastoreLogDefinition> LogDefinitions(GuestInstance instance)
    {
        var files = InstanceFiles.For(instance);
        return
        [
            new(DatastoreLogNames.Server, DatastoreLogType.Sys, files.LogFile),
            new(DatastoreLogNames.SlowQuery, DatastoreLogType.User, files.SlowLogFile),
        ];
    }

    public Task<bool> IsLogEnabledAsync(GuestInstance instance, string name, CancellationToken cancellationToken) =>
        Task.FromResult(name != DatastoreLogNames.SlowQuery || File.Exists(InstanceFiles.For(instance).SlowLogEnabled));

    public async Task SetLogEnabledAsync(GuestInstance instance, string name, bool enabled, CancellationToken cancellationToken)
    {
        RequireSlowLog(name);
        var files = InstanceFiles.For(instance);
        if (!enabled)
        {
            File.Delete(files.SlowLogEnabled);
            return;
        }

        if (File.Exists(files.SlowLogEnabled))
        {
            return;
        }

        // Only what is slow from now on: the entries the server holds already were logged while the log was off.
        using var deadline = CommandDeadline(cancellationToken);
        await using var connection = await ConnectAsAdminAsync(instance, deadline.Token);
        var (runId, entries) = await ReadSlowLogAsync(connection, deadline.Token);
        var last = entries.Count == 0 ? -1 : entries.Max(e => e.Id);
        PrivateFile.Write(files.SlowLogCursor, string.Create(CultureInfo.InvariantCulture, $"{runId} {last}"));
        PrivateFile.Write(files.SlowLogEnabled, "on");
    }

    public async Task FlushLogAsync(GuestInstance instance, string name, CancellationToken cancellationToken)
    {
        var files = InstanceFiles.For(instance);
        if (name != DatastoreLogNames.SlowQuery || !File.Exists(files.SlowLogEnabled))
        {
            return;
        }

        using var deadline = CommandDeadline(cancellationToken);
        await using var connection = await ConnectAsAdminAsync(instance, deadline.Token);
        var (runId, entries) = await ReadSlowLogAsync(connection, deadline.Token);
        var cursor = (await PrivateFile.ReadTrimmedAsync(files.SlowLogCursor, cancellationToken))?.Split(' ');
        var after = cursor is [var seenRun, var seenId] && seenRun == runId && long.TryParse(seenId, CultureInfo.InvariantCulture, out var id) ? id : -1;
        var fresh = entries.Where(e => e.Id > after).OrderBy(e => e.Id).ToList();
        if (fresh.Count == 0)
        {
            return;
        }

        var text = new StringBuilder();
        foreach (var entry in fresh)
        {
            text.Append(DateTimeOffset.FromUnixTimeSeconds(entry.Time).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture))
                .Append(CultureInfo.InvariantCulture, $" id={entry.Id} duration_us={entry.DurationMicroseconds} client={entry.Client} command:");
            foreach (var argument in entry.Arguments)
            {
                // One entry, one line: Redis' own redaction already hides AUTH and ACL passwords.
                text.Append(' ').Append(argument.Replace('\n', ' ').Replace('\r', ' '));
            }

            text.Append('\n');
        }

        await using (var stream = new FileStream(files.SlowLogFile, new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, UnixCreateMode = PrivateFile.OwnerOnly }))
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()), cancellationToken);
            await stream.FlushAsync(cancellationToken);
        }

        PrivateFile.Write(files.SlowLogCursor, string.Create(CultureInfo.InvariantCulture, $"{runId} {fresh[^1].Id}"));
    }

    private static void RequireSlowLog(string name)
    {
        if (name != DatastoreLogNames.SlowQuery)
        {
            throw DatastoreOperationException.Invalid($"Log '{name}' cannot be enabled or disabled; only {DatastoreLogNames.SlowQuery} can.");
        }
    }

    private static async Task<(string RunId, List<SlowLogEntry> Entries)> ReadSlowLogAsync(RespConnection connection, CancellationToken cancellationToken)
    {
        var info = (await connection.ExecuteAsync(["INFO", "server"], cancellationToken)).Text ?? string.Empty;
        var runId = info.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("run_id:", StringComparison.Ordinal))?["run_id:".Length..] ?? "unknown";
        var reply = await connection.ExecuteAsync(["SLOWLOG", "GET", SlowLogBatch.ToString(CultureInfo.InvariantCulture)], cancellationToken);
        var entries = new List<SlowLogEntry>();
        foreach (var item in reply.Items ?? [])
        {
            if (item.Items is { Count: >= 4 } fields)
            {
                entries.Add(new SlowLogEntry(
                    fields[0].Integer,
                    fields[1].Integer,
                    fields[2].Integer,
                    [.. (fields[3].Items ?? []).Select(a => a.Text ?? string.Empty)],
                    fields.Count > 4 ? fields[4].Text ?? string.Empty : string.Empty));
            }
        }

        return (runId, entries);
    }

    private sealed record SlowLogEntry(long Id, long Time, long DurationMicroseconds, IReadOnlyList<string> Arguments, string Client);
}
