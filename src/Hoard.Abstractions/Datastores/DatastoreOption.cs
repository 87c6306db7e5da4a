namespace Hoard.Abstractions.Datastores;

/// <summary>Which part of Hoard reads an option of a datastore's group (the split the plugin seed asks for).</summary>
public enum OptionSide
{
    /// <summary>Read by the control plane: API validation, the task engine, placement.</summary>
    Server,

    /// <summary>Handed to the guest agent in the instance's guest-info and read by the datastore manager.</summary>
    Guest,
}

/// <summary>
/// One option of a datastore's INI group (<c>[redis]</c>, <c>[postgresql]</c>, <c>[mariadb]</c>), with Trove's
/// name where Trove has one. A plugin declares its group; the configuration learns it from the plugin, so adding
/// an engine adds its options without touching shared code.
/// </summary>
public sealed record DatastoreOption(string Name, string Type, string Default, string Help, OptionSide Side = OptionSide.Server);

/// <summary>The option names every datastore group has, Trove's names (trove/common/cfg.py).</summary>
public static class DatastoreOptionNames
{
    public const string TcpPorts = "tcp_ports";
    public const string UdpPorts = "udp_ports";
    public const string RootOnCreate = "root_on_create";
    public const string UsageTimeout = "usage_timeout";
    public const string BackupStrategy = "backup_strategy";
    public const string ClusterStrategy = "cluster_strategy";
    public const string VolumeSupport = "volume_support";
    public const string MountPoint = "mount_point";
    public const string BackupNamespace = "backup_namespace";
    public const string RestoreNamespace = "restore_namespace";
    public const string SpareCopies = "spare_copies";
    public const string ClusterWarmMembers = "cluster_warm_members";
    public const string ClusterWarmFlavor = "cluster_warm_flavor";
    public const string LongQueryTime = "guest_log_long_query_time";

    /// <summary>The guest-side option of SQL datastores: the slow-query log's threshold when a user enables it (Trove's option and default).</summary>
    public static DatastoreOption LongQueryTimeOption { get; } = new(
        LongQueryTime,
        "integer",
        "1000",
        "Milliseconds a statement must run to land in the slow_query log once a user enables it (openstack database log set --enable).",
        OptionSide.Guest);

    /// <summary>
    /// The server-side options of datastores with clusters: cluster-mode servers kept built and running so a cluster
    /// create adopts them instead of starting servers (a new Redis master serves only about 2 s after it starts).
    /// </summary>
    public static IReadOnlyList<DatastoreOption> WarmMemberOptions { get; } =
    [
        new(ClusterWarmMembers, "integer", "0", "Cluster members kept built and running ahead of any cluster, so a cluster create adopts them instead of starting servers; 0 turns it off."),
        new(ClusterWarmFlavor, "string", "1", "Flavor (id or name) of the warm cluster members; a create adopts them only for clusters of this flavor."),
    ];

    /// <summary>
    /// The guest-side option of datastores that provision from a template data directory (see <c>IO.SpareCopies</c>).
    /// </summary>
    public static DatastoreOption SpareCopiesOption { get; } = new(
        SpareCopies,
        "integer",
        IO.SpareCopies.DefaultCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "Ready-made copies of each version's template data directory kept beside it, so a create takes one with a rename instead of copying (two absorb back-to-back creates); 0 turns them off.",
        OptionSide.Guest);

    /// <summary>
    /// The group every plugin starts from: the seed's server-side and guest-side options with the plugin's defaults.
    /// </summary>
    public static List<DatastoreOption> Common(
        string datastore,
        string tcpPorts,
        int usageTimeout,
        string backupStrategy,
        string clusterStrategy,
        string backupNamespace,
        string restoreNamespace) =>
    [
        new(TcpPorts, "list", tcpPorts, $"Ports a {datastore} instance listens on; the first is the one clients use."),
        new(UdpPorts, "list", string.Empty, $"UDP ports a {datastore} instance uses."),
        new(RootOnCreate, "bool", "false", "Enable root when an instance is created; the generated password is in the create response."),
        new(UsageTimeout, "seconds", usageTimeout.ToString(System.Globalization.CultureInfo.InvariantCulture), $"How long a {datastore} create may take before the instance goes to ERROR."),
        new(BackupStrategy, "string", backupStrategy, $"How {datastore} instances are backed up."),
        new(ClusterStrategy, "string", clusterStrategy, $"How {datastore} clusters are built; empty when the datastore has none."),
        new(VolumeSupport, "bool", "false", "Whether instances take a volume size (the local driver has no volumes)."),
        new(MountPoint, "path", string.Empty, "Where the engine keeps its data; empty means the data/ folder of the instance's own directory.", OptionSide.Guest),
        new(BackupNamespace, "string", backupNamespace, "Where the guest finds the backup strategy.", OptionSide.Guest),
        new(RestoreNamespace, "string", restoreNamespace, "Where the guest finds the restore strategy.", OptionSide.Guest),
    ];
}
