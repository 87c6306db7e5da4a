using System.Collections.Concurrent;
using System.Text.Json;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Guest;
using Hoard.Core.Catalog;
using Hoard.Core.Guests;
using Hoard.Core.Instances;
using Microsoft.Extensions.Logging;

namespace Hoard.Core.Configurations;

/// <summary>
/// The parameters each datastore version accepts in a configuration group, with their rules — learnt from the engine
/// itself: a guest agent starts a scratch server of the version and asks it (Redis CONFIG GET *, PostgreSQL pg_settings,
/// MariaDB's system variables). Asked once per version; the answer is kept in memory and in DATA_DIR/parameters, so a
/// restarted control plane does not ask again. Delete that folder after upgrading an engine in place.
/// </summary>
public sealed partial class ParameterCatalog(InstanceTaskContext c, ILogger<ParameterCatalog> logger)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };
    private readonly ConcurrentDictionary<string, Lazy<Task<IReadOnlyList<ConfigurationParameter>>>> _known = new(StringComparer.Ordinal);

    /// <summary>The version's parameters, ordered by name.</summary>
    public async Task<IReadOnlyList<ConfigurationParameter>> GetAsync(DatastoreVersionView version, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(version);
        var lazy = _known.GetOrAdd(version.Version.Id, _ => new Lazy<Task<IReadOnlyList<ConfigurationParameter>>>(() => LoadAsync(version)));
        try
        {
            return await lazy.Value.WaitAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Not kept: the next request asks again (an agent may have been restarting).
            _known.TryRemove(new KeyValuePair<string, Lazy<Task<IReadOnlyList<ConfigurationParameter>>>>(version.Version.Id, lazy));
            throw ApiException.Unavailable($"The configuration parameters of {version.Datastore.Name} {version.Version.Name} could not be learnt from the engine: {e.Message}");
        }
    }

    private async Task<IReadOnlyList<ConfigurationParameter>> LoadAsync(DatastoreVersionView version)
    {
        var file = Path.Combine(c.Options.DataDir, "parameters", $"{version.Version.Id}.json");
        if (File.Exists(file))
        {
            try
            {
                if (JsonSerializer.Deserialize<List<ConfigurationParameter>>(await File.ReadAllTextAsync(file), Json) is { Count: > 0 } cached)
                {
                    return cached;
                }
            }
            catch (JsonException e)
            {
                LogCacheUnreadable(file, e.Message);
            }
        }

        // Not the caller's token: one request's cancel must not fail the others waiting on the same discovery.
        var timeout = c.UsageTimeout(version.Datastore.Name);
        var pool = await AgentPoolAsync(timeout);
        var reply = await c.Hub.CallAgentAsync(
            pool,
            GuestMethods.DiscoverParameters,
            new DiscoverParametersArguments(version.Datastore.Name, version.Version.Name, c.GuestOptions(version.Datastore.Name)),
            timeout,
            CancellationToken.None);
        var parameters = reply.Deserialize<DiscoveredParameters>(GuestArguments.Json)?.Parameters
            ?? throw new InvalidOperationException("the guest returned no parameters");
        var sorted = parameters.OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        var partial = file + ".partial";
        await File.WriteAllTextAsync(partial, JsonSerializer.Serialize(sorted, Json));
        File.Move(partial, file, overwrite: true);
        LogLearnt(version.Datastore.Name, version.Version.Name, sorted.Count, pool);
        return sorted;
    }

    /// <summary>A pool whose agent is connected, or the first pool with its agent started.</summary>
    private async Task<string> AgentPoolAsync(TimeSpan timeout)
    {
        var drivers = c.Pools.All;
        if (drivers.FirstOrDefault(d => c.Hub.IsConnected(d.Pool)) is { } connected)
        {
            return connected.Pool;
        }

        var first = drivers.FirstOrDefault() ?? throw new InvalidOperationException("there is no compute pool to ask");
        await first.EnsureAgentAsync(CancellationToken.None);
        await c.Hub.WaitForAgentAsync(first.Pool, timeout, CancellationToken.None);
        return first.Pool;
    }

    [LoggerMessage(1600, LogLevel.Information, "Learnt {Count} configuration parameters of {Datastore} {Version} from the agent of pool {Pool}")]
    private partial void LogLearnt(string datastore, string version, int count, string pool);

    [LoggerMessage(1601, LogLevel.Warning, "Ignored the unreadable parameter cache {File}: {Reason}")]
    private partial void LogCacheUnreadable(string file, string reason);
}
