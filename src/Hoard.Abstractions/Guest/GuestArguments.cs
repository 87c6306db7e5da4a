using System.Text.Json;
using Hoard.Abstractions.Clusters;
using Hoard.Abstractions.Datastores;

namespace Hoard.Abstractions.Guest;

/// <summary>
/// The arguments of the guest RPC methods, one record per shape, serialised with <see cref="Json"/> on both
/// ends. Passwords travel in them over the agent's own connection and are never logged by either end.
/// </summary>
public static class GuestArguments
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Reads a call's arguments; a missing or malformed body is an <see cref="ArgumentException"/>.</summary>
    public static T Read<T>(JsonElement? args)
        where T : class
    {
        if (args is not { ValueKind: JsonValueKind.Object } element)
        {
            throw new ArgumentException($"the call carries no {typeof(T).Name}");
        }

        try
        {
            return element.Deserialize<T>(Json) ?? throw new ArgumentException($"the call carries no {typeof(T).Name}");
        }
        catch (JsonException e)
        {
            // JsonException's message names the path, never the value.
            throw new ArgumentException($"malformed {typeof(T).Name}: {e.Path}", e);
        }
    }
}

/// <summary>prepare: what to create once the server runs (Trove's databases, users and root_on_create password).</summary>
public sealed record PrepareArguments
{
    public string? RootPassword { get; init; }

    public IReadOnlyList<DatabaseSpec> Databases { get; init; } = [];

    public IReadOnlyList<UserSpec> Users { get; init; } = [];

    /// <summary>Set for a cluster member: the server starts in cluster mode, sharing the secret with the other members.</summary>
    public ClusterMembership? Cluster { get; init; }

    public override string ToString() => $"prepare ({Databases.Count} database(s), {Users.Count} user(s), root: {RootPassword is not null}, cluster: {Cluster?.ClusterId ?? "none"})";
}

public sealed record DatabasesArguments(IReadOnlyList<DatabaseSpec> Databases);

public sealed record DatabaseArguments(string Name);

public sealed record UsersArguments(IReadOnlyList<UserSpec> Users)
{
    public override string ToString() => $"{Users.Count} user(s)";
}

/// <summary>One user, and what to do to it: a change (update_attributes), databases (grant) or a database (revoke).</summary>
public sealed record UserArguments
{
    public required UserRef User { get; init; }

    public UserChange? Change { get; init; }

    public IReadOnlyList<string> Databases { get; init; } = [];

    public string? Database { get; init; }
}

public sealed record PasswordsArguments(IReadOnlyList<PasswordChange> Changes)
{
    public override string ToString() => $"{Changes.Count} password change(s)";
}

/// <summary>cluster_meet: the node to meet.</summary>
public sealed record MeetArguments(string Ip, int Port);

/// <summary>cluster_addslots: an inclusive slot range.</summary>
public sealed record AddSlotsArguments(int FirstSlot, int LastSlot);

/// <summary>remove_nodes: the node ids to forget.</summary>
public sealed record RemoveNodesArguments(IReadOnlyList<string> NodeIds);

/// <summary>cluster_replicate: the master to follow.</summary>
public sealed record ReplicateArguments(string MasterNodeId);

/// <summary>get_node_id_for_removal's answer: null while the node owns slots.</summary>
public sealed record NodeIdForRemoval(string? NodeId);

/// <summary>create_backup: seal a backup of the instance into backup storage.</summary>
/// <param name="BackupId">The backup's id (its folder in storage).</param>
/// <param name="Storage">The backup storage connection string ([DEFAULT] backup_storage).</param>
/// <param name="Key">The backup key, base64 (never logged).</param>
public sealed record CreateBackupArguments(string BackupId, string Storage, string Key)
{
    /// <summary>For an incremental backup: the backup it builds on.</summary>
    public string? ParentId { get; init; }

    /// <summary>For an incremental backup: the parent's resume point (its stored metadata's), where this one starts.</summary>
    public string? ParentResumePoint { get; init; }

    public override string ToString() => ParentId is null ? $"backup {BackupId} to {Storage}" : $"incremental backup {BackupId} on {ParentId} to {Storage}";
}

/// <summary>What create_backup stored: where, how many bytes, the SHA-256 over them, and where an increment on it would start.</summary>
public sealed record BackupResult(string Location, long Size, string Checksum, long PlaintextSize, string? ResumePoint = null);

/// <summary>One stored backup of a chain a restore applies: where it is and the SHA-256 it must have.</summary>
public sealed record StoredBackupRef(string BackupId, string Location, string Checksum);

/// <summary>
/// restore_backup: check a stored backup against its checksum and key, then put its data in the instance. An empty
/// <c>Location</c> means the backup's id in <c>Storage</c>.
/// </summary>
public sealed record RestoreBackupArguments(string BackupId, string Location, string Checksum, string Storage, string Key)
{
    /// <summary>
    /// For an incremental backup: the backups it builds on, the full one first, its parent last; the restore applies
    /// them in that order and this backup on top. Empty for a full backup.
    /// </summary>
    public IReadOnlyList<StoredBackupRef> Ancestors { get; init; } = [];

    public override string ToString() => Ancestors.Count == 0 ? $"restore of backup {BackupId}" : $"restore of backup {BackupId} on {Ancestors.Count} earlier backup(s)";
}

/// <summary>apply_configuration: the instance's configuration group values (empty: none), replacing the previous ones.</summary>
public sealed record ConfigurationArguments(IReadOnlyDictionary<string, string> Values);

/// <summary>What apply_configuration did: true when values wait for a restart (the instance reports RESTART_REQUIRED until then).</summary>
public sealed record ConfigurationApplied(bool RestartRequired);

/// <summary>get_configuration: the running server's value of every parameter a group can set.</summary>
public sealed record EffectiveConfiguration(IReadOnlyDictionary<string, string> Values);

/// <summary>discover_parameters: the engine and version to ask, with the datastore's guest-side options.</summary>
public sealed record DiscoverParametersArguments(string Datastore, string Version, IReadOnlyDictionary<string, string> Options);

/// <summary>The parameters a datastore version accepts in a configuration group, with their rules.</summary>
public sealed record DiscoveredParameters(IReadOnlyList<Hoard.Abstractions.Datastores.ConfigurationParameter> Parameters);

/// <summary>One log of an instance as the guest sees it: its file's size and the digest of its first line (to tell a rotation).</summary>
/// <param name="Type">"SYS" or "USER", Trove's names.</param>
/// <param name="File">The log file's name on the guest (no directory), for the metafile.</param>
public sealed record GuestLogState(string Name, string Type, bool Enabled, bool Exists, long Size, string HeaderDigest, string File);

/// <summary>guest_log_list's answer.</summary>
public sealed record GuestLogList(IReadOnlyList<GuestLogState> Logs);

/// <summary>guest_log_enable: turn a USER log on or off.</summary>
public sealed record GuestLogEnableArguments(string Name, bool Enabled);

/// <summary>guest_log_read: whole lines of a log from a byte offset, at most <c>MaxBytes</c> of them (one longer line is cut).</summary>
public sealed record GuestLogReadArguments(string Name, long Offset, int MaxBytes);

/// <summary>guest_log_read's answer: the log's state and the bytes read from the offset (empty at the end), with their line count.</summary>
public sealed record GuestLogChunk(GuestLogState State, long Offset, byte[] Data, int Lines);
