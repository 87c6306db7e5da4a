using System.Diagnostics.Metrics;
using Hoard.Abstractions.Storage;
using Hoard.Core.Catalog;
using Hoard.Core.Instances;
using Microsoft.Extensions.Logging;

namespace Hoard.Core.Metrics;

/// <summary>
/// Instances per datastore and API status (ACTIVE, BUILD, ERROR, ...) for the <see cref="HoardMetrics.Names.Instances"/>
/// gauge. A scrape never waits on the store: it reads the last count, and starts a new one in the background when that
/// count is older than <see cref="MaxAge"/>. A store that is down fails the count, not the scrape; the count's age
/// (<see cref="HoardMetrics.Names.InstanceCountAge"/>) then grows, which is what tells the numbers are stale.
/// </summary>
public sealed partial class InstanceCensus(IManagementStore store, CatalogService catalog, TimeProvider time, ILogger<InstanceCensus> logger)
{
    /// <summary>How old a count may be before a scrape asks for a new one; scrapes in between cost no store call.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan CountTimeout = TimeSpan.FromSeconds(10);

    // Every (datastore, status) ever counted stays on the page, at 0 when none is left, so a series ends at 0 rather than vanishing.
    private readonly Dictionary<(string Datastore, string Status), long> _seen = [];
    private readonly Lock _lock = new();
    private Measurement<long>[] _counts = [];
    private DateTimeOffset? _countedAt;
    private int _counting;

    /// <summary>The last count, one measurement per (datastore, status); starts a fresh count when it is stale.</summary>
    public IEnumerable<Measurement<long>> Observe()
    {
        var countedAt = CountedAt;
        if ((countedAt is null || time.GetUtcNow() - countedAt >= MaxAge) && Interlocked.CompareExchange(ref _counting, 1, 0) == 0)
        {
            _ = Task.Run(CountAsync);
        }

        return Volatile.Read(ref _counts);
    }

    /// <summary>Seconds since the last successful count; nothing before the first.</summary>
    public IEnumerable<Measurement<double>> ObserveAge() =>
        CountedAt is { } at ? [new Measurement<double>(Math.Max(0, (time.GetUtcNow() - at).TotalSeconds))] : [];

    private DateTimeOffset? CountedAt
    {
        get
        {
            lock (_lock)
            {
                return _countedAt;
            }
        }
    }

    /// <summary>Counts now (the background count a stale scrape starts).</summary>
    public async Task CountAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(CountTimeout);
            var instances = await store.Instances.ListAsync(null, null, int.MaxValue, includeClustered: true, timeout.Token);
            var counts = instances
                .GroupBy(i => (Datastore: catalog.FindVersionById(i.DatastoreVersionId)?.Datastore.Name ?? "unknown", Status: InstanceStatus.ApiStatus(i)))
                .ToDictionary(g => g.Key, g => (long)g.Count());
            lock (_lock)
            {
                foreach (var key in _seen.Keys)
                {
                    _seen[key] = 0;
                }

                foreach (var (key, count) in counts)
                {
                    _seen[key] = count;
                }

                Volatile.Write(ref _counts, [.. _seen.Select(e => new Measurement<long>(
                    e.Value,
                    new KeyValuePair<string, object?>(HoardMetrics.Names.Datastore, e.Key.Datastore),
                    new KeyValuePair<string, object?>(HoardMetrics.Names.Status, e.Key.Status)))]);
                _countedAt = time.GetUtcNow();
            }
        }
        catch (Exception e)
        {
            LogCountFailed(e.GetType().Name, e.Message);
        }
        finally
        {
            Volatile.Write(ref _counting, 0);
        }
    }

    [LoggerMessage(2100, LogLevel.Warning, "Could not count instances for /metrics ({Error}: {Message}); the gauge keeps its last count")]
    private partial void LogCountFailed(string error, string message);
}
