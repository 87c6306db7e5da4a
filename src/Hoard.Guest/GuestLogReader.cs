using System.Security.Cryptography;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Guest;

namespace Hoard.Guest;

/// <summary>
/// The guest's half of the database log API: the state of each log and whole lines of it from an offset. The control
/// plane keeps what was published (Trove's guest keeps it in Swift instead), so the agent holds no storage credentials.
/// </summary>
internal static class GuestLogReader
{
    public static async Task<GuestLogList> ListAsync(IDatastoreLogs logs, GuestInstance instance, CancellationToken cancellationToken)
    {
        var states = new List<GuestLogState>();
        foreach (var definition in logs.LogDefinitions(instance))
        {
            states.Add(await StateAsync(logs, instance, definition, cancellationToken));
        }

        return new GuestLogList(states);
    }

    public static async Task<GuestLogState> EnableAsync(IDatastoreLogs logs, GuestInstance instance, GuestLogEnableArguments args, CancellationToken cancellationToken)
    {
        var definition = Find(logs, instance, args.Name);
        if (definition.Type == DatastoreLogType.Sys)
        {
            throw DatastoreOperationException.Invalid($"Cannot {(args.Enabled ? "enable" : "disable")} a SYSTEM log ('{args.Name}').");
        }

        await logs.SetLogEnabledAsync(instance, definition.Name, args.Enabled, cancellationToken);
        return await StateAsync(logs, instance, definition, cancellationToken);
    }

    public static async Task<GuestLogChunk> ReadAsync(IDatastoreLogs logs, GuestInstance instance, GuestLogReadArguments args, CancellationToken cancellationToken)
    {
        if (args.Offset < 0 || args.MaxBytes <= 0)
        {
            throw new ArgumentException("guest_log_read needs an offset of at least 0 and a positive byte limit");
        }

        var definition = Find(logs, instance, args.Name);
        var state = await StateAsync(logs, instance, definition, cancellationToken);
        if (!state.Exists || args.Offset >= state.Size)
        {
            return new GuestLogChunk(state, args.Offset, [], 0);
        }

        // Read against the size just reported, so the chunk and the state agree even while the server writes on.
        var buffer = new byte[(int)Math.Min(args.MaxBytes, state.Size - args.Offset)];
        await using (var file = new FileStream(definition.File, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            file.Position = args.Offset;
            await file.ReadExactlyAsync(buffer, cancellationToken);
        }

        // Whole lines only, unless one line alone is longer than the limit; a last line still being written waits.
        var end = Array.LastIndexOf(buffer, (byte)'\n') + 1;
        if (end == 0)
        {
            end = buffer.Length == args.MaxBytes ? buffer.Length : 0;
        }

        var data = buffer.AsSpan(0, end).ToArray();
        var lines = data.Count(b => b == (byte)'\n') + (data.Length > 0 && data[^1] != (byte)'\n' ? 1 : 0);
        return new GuestLogChunk(state, args.Offset, data, lines);
    }

    private static DatastoreLogDefinition Find(IDatastoreLogs logs, GuestInstance instance, string name) =>
        logs.LogDefinitions(instance).FirstOrDefault(d => d.Name == name)
        ?? throw DatastoreOperationException.NotFound($"Log '{name}' is not defined.");

    private static async Task<GuestLogState> StateAsync(IDatastoreLogs logs, GuestInstance instance, DatastoreLogDefinition definition, CancellationToken cancellationToken)
    {
        var enabled = definition.Type == DatastoreLogType.Sys || await logs.IsLogEnabledAsync(instance, definition.Name, cancellationToken);
        if (enabled)
        {
            await logs.FlushLogAsync(instance, definition.Name, cancellationToken);
        }

        var file = new FileInfo(definition.File);
        if (!file.Exists)
        {
            return new GuestLogState(definition.Name, TypeName(definition.Type), enabled, Exists: false, 0, string.Empty, Path.GetFileName(definition.File));
        }

        return new GuestLogState(definition.Name, TypeName(definition.Type), enabled, Exists: true, file.Length, await HeaderDigestAsync(definition.File, cancellationToken), file.Name);
    }

    private static string TypeName(DatastoreLogType type) => type == DatastoreLogType.Sys ? "SYS" : "USER";

    /// <summary>SHA-256 of the first line: a log that starts differently than when it was published was rotated.</summary>
    private static async Task<string> HeaderDigestAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var head = new byte[4096];
        var read = await file.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken);
        var newline = Array.IndexOf(head, (byte)'\n', 0, read);
        return Convert.ToHexStringLower(SHA256.HashData(head.AsSpan(0, newline < 0 ? read : newline + 1)));
    }
}
