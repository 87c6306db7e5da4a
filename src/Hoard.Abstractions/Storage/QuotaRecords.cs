namespace Hoard.Abstractions.Storage;

/// <summary>The resources a project's quota limits, by Trove's names (quota/quota.py), plus Hoard's clusters.</summary>
public static class QuotaResources
{
    public const string Instances = "instances";

    /// <summary>Gigabytes of instance volumes (the sum of <see cref="InstanceRecord.VolumeSize"/>).</summary>
    public const string Volumes = "volumes";

    /// <summary>Megabytes of RAM: the sum of the instances' flavors' RAM.</summary>
    public const string Ram = "ram";

    public const string Backups = "backups";

    /// <summary>Hoard's: Trove 18 counts a cluster's members as instances but does not limit clusters.</summary>
    public const string Clusters = "clusters";

    /// <summary>Every resource, in the order quota show lists them (Trove's registration order, then Hoard's).</summary>
    public static readonly IReadOnlyList<string> All = [Instances, Ram, Backups, Volumes, Clusters];
}

/// <summary>
/// What a project holds, as its quota counts it: live instances (replicas and cluster members too) and clusters not being
/// deleted, their volume gigabytes and their flavors' RAM, and live backups not being deleted. Something being deleted no
/// longer counts: Trove frees the quota when it accepts the delete.
/// </summary>
public sealed record QuotaUsage(int Instances, int Volumes, int Ram, int Backups, int Clusters)
{
    public static readonly QuotaUsage Zero = new(0, 0, 0, 0, 0);

    public int Of(string resource) => resource switch
    {
        QuotaResources.Instances => Instances,
        QuotaResources.Volumes => Volumes,
        QuotaResources.Ram => Ram,
        QuotaResources.Backups => Backups,
        QuotaResources.Clusters => Clusters,
        _ => throw new ArgumentOutOfRangeException(nameof(resource), resource, "not a quota resource"),
    };
}

/// <summary>
/// A project's limits, one per resource; null means no limit (Trove's -1). With <see cref="ProjectOverrides"/> they are
/// the defaults, and the insert that checks them puts the project's own overrides in their place.
/// </summary>
public sealed record QuotaLimits(int? Instances, int? Volumes, int? Ram, int? Backups, int? Clusters)
{
    public static readonly QuotaLimits None = new(null, null, null, null, null);

    /// <summary>
    /// Whether these are the defaults, over which the store applies the project's overrides (<see cref="IQuotaStore"/>)
    /// read in the insert's own transaction (or script): a concurrent <see cref="IQuotaStore.SetLimitsAsync"/> is then
    /// either wholly before the insert's check or wholly after it, never read stale by a create that commits later.
    /// </summary>
    public bool ProjectOverrides { get; init; }

    /// <summary>These limits as defaults for the store to apply the project's overrides over, in the insert's transaction.</summary>
    public QuotaLimits WithProjectOverrides() => this with { ProjectOverrides = true };

    /// <summary>Whether an insert has anything to read for this quota: overrides to apply, or a limit to count against.</summary>
    public bool ChecksCreates => ProjectOverrides || LimitsCreates;

    public int? Of(string resource) => resource switch
    {
        QuotaResources.Instances => Instances,
        QuotaResources.Volumes => Volumes,
        QuotaResources.Ram => Ram,
        QuotaResources.Backups => Backups,
        QuotaResources.Clusters => Clusters,
        _ => throw new ArgumentOutOfRangeException(nameof(resource), resource, "not a quota resource"),
    };

    /// <summary>
    /// These limits with <paramref name="overrides"/> (resource → limit, -1 for none) in place of the ones they name: the
    /// effective limits, with no overrides left to apply.
    /// </summary>
    public QuotaLimits With(IReadOnlyDictionary<string, int> overrides)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        int? Pick(string resource, int? fallback) => overrides.TryGetValue(resource, out var limit) ? (limit < 0 ? null : limit) : fallback;
        return new(
            Pick(QuotaResources.Instances, Instances),
            Pick(QuotaResources.Volumes, Volumes),
            Pick(QuotaResources.Ram, Ram),
            Pick(QuotaResources.Backups, Backups),
            Pick(QuotaResources.Clusters, Clusters));
    }

    /// <summary>Whether an insert must count what the project holds (some resource it adds to has a limit).</summary>
    public bool LimitsCreates => Instances is not null || Volumes is not null || Ram is not null || Clusters is not null;

    /// <summary>
    /// The resources <paramref name="adding"/> would take over their limit, sorted (Trove's check_quotas): only resources
    /// that grow are checked, so a project already over a lowered limit can still delete and create nothing more.
    /// </summary>
    public IReadOnlyList<string> Overs(QuotaUsage used, QuotaUsage adding)
    {
        ArgumentNullException.ThrowIfNull(used);
        ArgumentNullException.ThrowIfNull(adding);
        return [.. QuotaResources.All
            .Where(r => adding.Of(r) > 0 && Of(r) is { } limit && (long)used.Of(r) + adding.Of(r) > limit)
            .Order(StringComparer.Ordinal)];
    }
}

/// <summary>What an insert checked against a quota did.</summary>
public sealed record QuotaInsert(bool Inserted, IReadOnlyList<string> OverQuota)
{
    public static readonly QuotaInsert Done = new(true, []);

    /// <summary>Refused for the insert's own reason (a full pool, a warm member taken), not the quota.</summary>
    public static readonly QuotaInsert Refused = new(false, []);

    public static QuotaInsert Over(IReadOnlyList<string> resources) => new(false, resources);
}

/// <summary>
/// Per-project quota limits set by an admin (Trove's quotas table), each overriding the [DEFAULT] max_*_per_tenant option
/// of its resource, and what a project holds. The limits are enforced by the inserts that add to them
/// (<see cref="IInstanceStore"/>, <see cref="IClusterStore"/>, <see cref="IBackupStore"/>), which read the overrides (given
/// <see cref="QuotaLimits.ProjectOverrides"/>) and count inside their own transaction.
/// </summary>
public interface IQuotaStore
{
    /// <summary>The project's overrides, resource → limit (-1: no limit); empty when it has none.</summary>
    Task<IReadOnlyDictionary<string, int>> GetLimitsAsync(string projectId, CancellationToken cancellationToken);

    /// <summary>Sets (inserts or replaces) the named overrides of the project, together; others stay as they are.</summary>
    Task SetLimitsAsync(string projectId, IReadOnlyDictionary<string, int> limits, CancellationToken cancellationToken);

    /// <summary>What the project holds now.</summary>
    Task<QuotaUsage> GetUsageAsync(string projectId, CancellationToken cancellationToken);
}
