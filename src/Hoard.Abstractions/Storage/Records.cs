namespace Hoard.Abstractions.Storage;

public sealed record ProjectRecord(string Id, string Name, string DomainId, string Description, bool Enabled);

public sealed record UserRecord(
    string Id,
    string Name,
    string DomainId,
    string? DefaultProjectId,
    string PasswordHash,
    bool Enabled);

public sealed record RoleRecord(string Id, string Name);

/// <summary>A role a user holds on a project.</summary>
public sealed record RoleAssignment(string ProjectId, string UserId, string RoleId);

/// <summary>An issued token. Only a hash of the token string is stored.</summary>
public sealed record TokenRecord(
    string TokenHash,
    string UserId,
    string ProjectId,
    DateTimeOffset IssuedAt,
    DateTimeOffset ExpiresAt);

/// <summary>A flavor: Trove's id, name and sizes, plus the seed's capabilities and an optional owning project.</summary>
public sealed record FlavorRecord(string Id, string Name, int RamMb, int Vcpus, int DiskGb)
{
    /// <summary>The project a private flavor belongs to; null for a public flavor.</summary>
    public string? ProjectId { get; init; }

    /// <summary>What the flavor offers, as a JSON object (the seed's capabilities).</summary>
    public string Capabilities { get; init; } = "{}";
}

/// <summary>A partial update of a flavor; null fields stay as they are. An empty <see cref="ProjectId"/> makes it public.</summary>
public sealed record FlavorChange
{
    public string? Name { get; init; }

    public int? RamMb { get; init; }

    public int? Vcpus { get; init; }

    public int? DiskGb { get; init; }

    public string? ProjectId { get; init; }

    public string? Capabilities { get; init; }
}

/// <summary>
/// A pool: a place instances run, named by a compute driver URI (<c>local:///abs/path</c>), chosen by weight among a
/// flavor's pools. A pool with no flavor hosts any flavor that has no pools of its own.
/// </summary>
public sealed record PoolRecord(string Name, string Uri, int Weight)
{
    /// <summary>The flavor (id) whose instances the pool hosts; null for a pool that hosts flavors without pools.</summary>
    public string? Flavor { get; init; }

    /// <summary>Driver and placement options as a JSON object, e.g. <c>{"capacity": 20, "address_range": "127.43.0.0/16"}</c>.</summary>
    public string Options { get; init; } = "{}";
}

/// <summary>A partial update of a pool; null fields stay as they are. An empty <see cref="Flavor"/> takes the pool off its flavor.</summary>
public sealed record PoolChange
{
    public string? Uri { get; init; }

    public int? Weight { get; init; }

    public string? Flavor { get; init; }

    public string? Options { get; init; }
}

/// <summary>What a pool delete did.</summary>
public enum PoolDeletion
{
    Deleted,

    /// <summary>There was no such pool; nothing changed.</summary>
    Missing,

    /// <summary>Refused: instances run in the pool.</summary>
    HostsInstances,

    /// <summary>Refused: the pool is the last one of its flavor.</summary>
    LastOfFlavor,
}

/// <summary>A catalogue entry: the pool an instance of a project runs in (the seed's p, p_q, p_p).</summary>
public sealed record CatalogueEntry(string ProjectId, string InstanceId, string Pool);

/// <summary>Where a catalogue page starts: after this (project, instance).</summary>
public sealed record CatalogueKey(string ProjectId, string InstanceId);

public sealed record DatastoreRecord(string Id, string Name, string? DefaultVersionId);

public sealed record DatastoreVersionRecord(
    string Id,
    string DatastoreId,
    string Name,
    string Version,
    bool Active);

/// <summary>
/// The long-running work an instance is doing, with Trove's InstanceTasks names (instance/tasks.py).
/// </summary>
public static class InstanceTasks
{
    public const string None = "NONE";
    public const string Building = "BUILDING";
    public const string Deleting = "DELETING";
    public const string Rebooting = "REBOOTING";
    public const string BuildingErrorServer = "BUILDING_ERROR_SERVER";
    public const string BuildingErrorTimeout = "BUILDING_ERROR_TIMEOUT_GA";

    /// <summary>Hoard's: a backup of the instance is being taken (the API shows status BACKUP, as Trove does for a running backup).</summary>
    public const string BackingUp = "BACKUP";

    public static bool IsError(string task) => task.Contains("ERROR", StringComparison.Ordinal);
}

/// <summary>The compute resource's own state, as Nova reports a server's.</summary>
public static class ServerStatuses
{
    public const string Build = "BUILD";
    public const string Active = "ACTIVE";
    public const string Error = "ERROR";
    public const string Deleted = "DELETED";
}

public sealed record InstanceRecord
{
    public required string Id { get; init; }

    public required string Name { get; init; }

    public required string ProjectId { get; init; }

    public required string FlavorId { get; init; }

    public required string DatastoreVersionId { get; init; }

    public int? VolumeSize { get; init; }

    public required string TaskStatus { get; init; }

    public required string ServiceStatus { get; init; }

    public required string ServerStatus { get; init; }

    public required string Pool { get; init; }

    public string? Address { get; init; }

    public int? Port { get; init; }

    /// <summary>SHA-256 (hex) of the guest secret the instance authenticates with.</summary>
    public required string SecretHash { get; init; }

    public bool RootEnabled { get; init; }

    public string? FaultMessage { get; init; }

    public string? FaultDetails { get; init; }

    public DateTimeOffset? FaultAt { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }

    public DateTimeOffset? ServiceStatusUpdatedAt { get; init; }

    public bool Deleted { get; init; }

    /// <summary>The cluster the instance is a member of, or null for a standalone instance.</summary>
    public string? ClusterId { get; init; }

    /// <summary>A cluster member's type as asked for: <see cref="ClusterMemberTypes"/>.</summary>
    public string? InstanceType { get; init; }

    /// <summary>For a replica member: the id of the master instance it was created to follow.</summary>
    public string? ReplicaOf { get; init; }

    /// <summary>A cluster member's node id in the engine's cluster (Redis CLUSTER MYID), once the cluster task learnt it.</summary>
    public string? ClusterNodeId { get; init; }

    /// <summary>The configuration group attached to the instance, or null.</summary>
    public string? ConfigurationId { get; init; }
}

/// <summary>A partial update of an instance; null fields stay as they are.</summary>
public sealed record InstanceChange
{
    public string? Name { get; init; }

    public string? TaskStatus { get; init; }

    public string? ServiceStatus { get; init; }

    public string? ServerStatus { get; init; }

    public string? Address { get; init; }

    public int? Port { get; init; }

    public bool? RootEnabled { get; init; }

    public string? ClusterNodeId { get; init; }

    /// <summary>Set to record a fault; an empty string clears it.</summary>
    public string? FaultMessage { get; init; }

    public string? FaultDetails { get; init; }

    public bool? Deleted { get; init; }
}

public static class TaskStates
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Done = "done";
    public const string Failed = "failed";
}

/// <summary>A durable task: one long operation, resumable step by step under a lease.</summary>
public sealed record TaskRecord
{
    public required string Id { get; init; }

    public required string Kind { get; init; }

    public required string InstanceId { get; init; }

    public required string State { get; init; }

    public int Step { get; init; }

    public string? LeaseOwner { get; init; }

    public DateTimeOffset? LeaseUntil { get; init; }

    public int Attempts { get; init; }

    public string? Error { get; init; }

    /// <summary>Task arguments as JSON.</summary>
    public string Payload { get; init; } = "{}";

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>Trove's ClusterTasks (cluster/tasks.py) as the API names them, plus Hoard's rebalance.</summary>
public static class ClusterTasks
{
    public const string None = "NONE";
    public const string Building = "BUILDING";
    public const string Deleting = "DELETING";
    public const string Growing = "GROWING_CLUSTER";
    public const string Shrinking = "SHRINKING_CLUSTER";
    public const string Rebalancing = "REBALANCING_CLUSTER";
}

/// <summary>What a cluster member was created as.</summary>
public static class ClusterMemberTypes
{
    /// <summary>Trove's type for a Redis cluster member: a master.</summary>
    public const string Member = "member";

    public const string Replica = "replica";

    /// <summary>A cluster-mode server built ahead of any cluster, running, for a create to adopt (no project until then).</summary>
    public const string Warm = "warm";
}

public sealed record ClusterRecord
{
    public required string Id { get; init; }

    public required string Name { get; init; }

    public required string ProjectId { get; init; }

    public required string DatastoreVersionId { get; init; }

    public required string TaskStatus { get; init; }

    /// <summary>The root password given to every member, sealed (never stored in clear); null until root is enabled.</summary>
    public string? RootSecret { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }

    public bool Deleted { get; init; }
}

/// <summary>
/// A member to add and the task that builds it; with no task, a warm instance (<see cref="ClusterMemberTypes.Warm"/>)
/// that the cluster adopts: its record takes the member's name, project and cluster.
/// </summary>
public sealed record NewMember(InstanceRecord Instance, TaskRecord? Task);
