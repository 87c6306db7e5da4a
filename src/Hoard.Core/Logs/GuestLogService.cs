using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Guest;
using Hoard.Core.Configuration;
using Hoard.Core.Guests;
using Hoard.Core.Instances;
using Microsoft.Extensions.Logging;
using Hoard.Abstractions.Storage;
using Hoard.Core.Catalog;

namespace Hoard.Core.Logs;

/// <summary>One log as Trove shows it (guest_log.py show()).</summary>
public sealed record LogView(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("published")] long Published,
    [property: JsonPropertyName("pending")] long Pending,
    [property: JsonPropertyName("container")] string Container,
    [property: JsonPropertyName("prefix")] string Prefix,
    [property: JsonPropertyName("metafile")] string Metafile);

/// <summary>What a log action asks for (Trove's body flags); none of them is a show.</summary>
public sealed record LogAction(bool Enable, bool Disable, bool Publish, bool Discard);

/// <summary>
/// Trove's database log API over the guest's logs: list, enable/disable, publish (the lines new since the last
/// publish, as parts of at most guest_log_limit bytes, into the project's log container) and discard. What was
/// published is known from the metafile in the container, as Trove's guest knows it, so it survives restarts.
/// </summary>
public sealed partial class GuestLogService(
    InstanceService instances, CatalogService catalog, GuestHub hub, ObjectStore objects, HoardOptions options, TimeProvider time, ILogger<GuestLogService> logger)
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _publishing = new(StringComparer.Ordinal);

    /// <summary>The Swift account of a project.</summary>
    public static string Account(string projectId) => "AUTH_" + projectId;

    public async Task<IReadOnlyList<LogView>> ListAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        var instance = await TargetAsync(projectId, id, cancellationToken);
        var list = await CallAsync<GuestLogList>(id, GuestMethods.GuestLogList, null, cancellationToken);
        return [.. list.Logs.Select(state => View(instance, state, ReadMeta(instance, state.Name)))];
    }

    public async Task<LogView> ActionAsync(string projectId, string id, string name, LogAction action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (action.Enable && action.Disable)
        {
            throw ApiException.BadRequest($"Cannot enable and disable log '{name}'.");
        }

        var instance = await TargetAsync(projectId, id, cancellationToken);
        // One action at a time per instance (keyed by the instance, never by a caller's log name, so the map stays small).
        var gate = _publishing.GetOrAdd(instance.Id, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            var state = await StateAsync(id, name, cancellationToken);
            var enable = action.Enable || (action.Publish && !action.Disable);
            if (state.Type == "SYS" && !action.Publish && (action.Enable || action.Disable))
            {
                throw ApiException.BadRequest($"Cannot {(action.Enable ? "enable" : "disable")} a SYSTEM log ('{name}').");
            }

            if (state.Type == "USER" && ((enable && !state.Enabled) || (action.Disable && state.Enabled)))
            {
                state = await CallAsync<GuestLogState>(id, GuestMethods.GuestLogEnable, new GuestLogEnableArguments(name, enable), cancellationToken);
                LogSwitched(id, name, state.Enabled);
            }

            var meta = ReadMeta(instance, name);
            if (action.Discard)
            {
                Discard(instance, name);
                meta = null;
            }

            if (action.Publish)
            {
                meta = await PublishAsync(instance, state, meta, cancellationToken);
                state = await StateAsync(id, name, cancellationToken);
            }

            return View(instance, state, meta);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The caller's instance, if it serves (another project's is a 404 from the instance lookup).</summary>
    private async Task<LogTarget> TargetAsync(string projectId, string id, CancellationToken cancellationToken)
    {
        var record = await instances.RequireServingAsync(projectId, id, cancellationToken);
        var datastore = catalog.FindVersionById(record.DatastoreVersionId)?.Datastore.Name
            ?? throw ApiException.Unprocessable($"Instance {id} has a datastore version this server does not know.");
        return new LogTarget(record.Id, Account(record.ProjectId), datastore);
    }

    private async Task<GuestLogState> StateAsync(string id, string name, CancellationToken cancellationToken)
    {
        var list = await CallAsync<GuestLogList>(id, GuestMethods.GuestLogList, null, cancellationToken);
        return list.Logs.FirstOrDefault(l => l.Name == name)
            ?? throw ApiException.NotFound($"Log '{name}' is not defined; this instance has {string.Join(", ", list.Logs.Select(l => $"'{l.Name}'"))}.");
    }

    private async Task<LogMeta?> PublishAsync(LogTarget instance, GuestLogState state, LogMeta? meta, CancellationToken cancellationToken)
    {
        var account = instance.Account;
        var prefix = Prefix(instance, state.Name);
        if (meta is not null && Rotated(state, meta))
        {
            LogRotated(instance.Id, state.Name, meta.LogSize, state.Size);
            Discard(instance, state.Name);
            meta = null;
        }

        var offset = meta?.LogSize ?? 0;
        if (!state.Exists || offset >= state.Size)
        {
            return meta;
        }

        var (parts, bytes) = (0, 0L);
        var last = objects.List(account, options.GuestLogContainer, prefix)?.Select(o => o.LastModified).DefaultIfEmpty().Max() ?? default;
        while (offset < state.Size)
        {
            var chunk = await CallAsync<GuestLogChunk>(instance.Id, GuestMethods.GuestLogRead, new GuestLogReadArguments(state.Name, offset, options.GuestLogLimit), cancellationToken);
            if (chunk.Data.Length == 0 || chunk.State.HeaderDigest != state.HeaderDigest)
            {
                break; // the rest is a line still being written, or the log was rotated meanwhile (the next publish sees it)
            }

            // Parts are named and ordered by time (the stock client sorts them by last_modified): strictly increasing.
            var now = time.GetUtcNow();
            last = now > last ? now : last.AddTicks(10);
            var part = prefix + "log-" + ObjectStore.ListingTime(last);
            var deleteAt = options.GuestLogExpiry is { } expiry ? last + expiry : (DateTimeOffset?)null;
            objects.Put(account, options.GuestLogContainer, part, chunk.Data, last, deleteAt, "text/plain",
                new Dictionary<string, string> { ["lines"] = chunk.Lines.ToString(CultureInfo.InvariantCulture) });
            offset += chunk.Data.Length;
            (parts, bytes) = (parts + 1, bytes + chunk.Data.Length);
            meta = new LogMeta(state.Name, state.Type, state.File, offset, state.HeaderDigest);
            objects.Put(account, options.GuestLogContainer, MetafileName(instance, state.Name), JsonSerializer.SerializeToUtf8Bytes(meta), last, deleteAt, "application/json");
        }

        LogPublished(instance.Id, state.Name, parts, bytes);
        return meta;
    }

    private void Discard(LogTarget instance, string name)
    {
        var account = instance.Account;
        var parts = objects.DeletePrefix(account, options.GuestLogContainer, Prefix(instance, name));
        LogDiscarded(instance.Id, name, parts);
        if (objects.ContainerExists(account, options.GuestLogContainer))
        {
            objects.Delete(account, options.GuestLogContainer, MetafileName(instance, name));
        }
    }

    private LogMeta? ReadMeta(LogTarget instance, string name)
    {
        var account = instance.Account;
        if (!objects.ContainerExists(account, options.GuestLogContainer))
        {
            return null;
        }

        var bytes = objects.Read(account, options.GuestLogContainer, MetafileName(instance, name));
        try
        {
            return bytes is null ? null : JsonSerializer.Deserialize<LogMeta>(bytes);
        }
        catch (JsonException)
        {
            return null; // unreadable: treated as never published, so the next publish starts over
        }
    }

    private static bool Rotated(GuestLogState state, LogMeta meta) =>
        meta.LogSize > 0 && (state.Size < meta.LogSize || state.HeaderDigest != meta.HeaderDigest);

    private LogView View(LogTarget instance, GuestLogState state, LogMeta? meta)
    {
        var published = meta?.LogSize ?? 0;
        var rotated = meta is not null && Rotated(state, meta);
        var status = state.Type == "USER" && !state.Enabled ? "Disabled"
            : !state.Exists ? (published > 0 ? "Rotated" : "Enabled")
            : rotated ? "Rotated"
            : state.Size > published ? (published > 0 ? "Partial" : "Ready")
            : published > 0 ? "Published" : "Enabled";
        return new LogView(
            state.Name,
            state.Type,
            status,
            published,
            rotated || !state.Exists ? state.Size : Math.Max(0, state.Size - published),
            published > 0 ? options.GuestLogContainer : "None",
            published > 0 ? Prefix(instance, state.Name) : "None",
            MetafileName(instance, state.Name));
    }

    /// <summary>Trove's object prefix: &lt;instance id&gt;/&lt;datastore&gt;-&lt;log&gt;/.</summary>
    private static string Prefix(LogTarget instance, string name) => $"{instance.Id}/{instance.Datastore}-{name}/";

    private static string MetafileName(LogTarget instance, string name) => Prefix(instance, name).TrimEnd('/') + "_metafile";

    private async Task<T> CallAsync<T>(string id, string method, object? args, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            var reply = await hub.CallAsync(id, method, args, InstanceService.GuestCallTimeout, cancellationToken);
            return reply.Deserialize<T>(GuestArguments.Json) ?? throw new GuestCallException($"the guest returned no {typeof(T).Name}");
        }
        catch (GuestCallException e) when (e.Code is not null)
        {
            throw e.Code switch
            {
                DatastoreOperationException.InvalidCode => ApiException.BadRequest(e.Message),
                DatastoreOperationException.NotFoundCode => ApiException.NotFound(e.Message),
                _ => ApiException.Unprocessable(e.Message),
            };
        }
    }

    [LoggerMessage(2300, LogLevel.Information, "Log {Log} of instance {Instance} switched; enabled: {Enabled}")]
    private partial void LogSwitched(string instance, string log, bool enabled);

    [LoggerMessage(2301, LogLevel.Information, "Published log {Log} of instance {Instance}: {Parts} part(s), {Bytes} bytes")]
    private partial void LogPublished(string instance, string log, int parts, long bytes);

    [LoggerMessage(2302, LogLevel.Information, "Discarded {Parts} published part(s) of log {Log} of instance {Instance}")]
    private partial void LogDiscarded(string instance, string log, int parts);

    [LoggerMessage(2303, LogLevel.Information, "Log {Log} of instance {Instance} was rotated ({Published} bytes published, {Size} now); publishing it afresh")]
    private partial void LogRotated(string instance, string log, long published, long size);

    /// <summary>An instance as the log API needs it: its id, its project's account and its datastore's name.</summary>
    private sealed record LogTarget(string Id, string Account, string Datastore);

    /// <summary>Trove's metafile: what of the log was published (log_size bytes) and its first line's digest then.</summary>
    private sealed record LogMeta(
        [property: JsonPropertyName("log_name")] string LogName,
        [property: JsonPropertyName("log_type")] string LogType,
        [property: JsonPropertyName("log_file")] string LogFile,
        [property: JsonPropertyName("log_size")] long LogSize,
        [property: JsonPropertyName("log_header_digest")] string HeaderDigest);
}
